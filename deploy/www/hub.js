// The hub connection, built as the Kendo seed builds it but with the transport chosen in
// the page's URL (?transport=LongPolling|ServerSentEvents) and without skipNegotiation,
// which @microsoft/signalr only allows with WebSockets (FastCGI cannot carry those).

export const TRANSPORTS = ['LongPolling', 'ServerSentEvents'];

/** The transport named by ?transport=, LongPolling when absent or unknown. */
export function transportFromQuery(search) {
	const name = new URLSearchParams(search).get('transport');
	return TRANSPORTS.includes(name) ? name : TRANSPORTS[0];
}

/** /meetings, or /meetings?group=NAME when the page has ?group= (POLLHUB_GROUP_PARAM=group). */
export function hubUrlFromQuery(search) {
	const group = new URLSearchParams(search).get('group');
	return group ? `/meetings?group=${encodeURIComponent(group)}` : '/meetings';
}

// Reconnect attempts after 0, 1, 2, 5, 10 and 30 s (the client's default waits 2 s, then
// 10 s), then give up: the page shows "disconnected".
const RECONNECT_DELAYS_MS = [0, 1000, 2000, 5000, 10000, 30000];

export function buildHub(url, transport) {
	return new signalR.HubConnectionBuilder()
		.withUrl(url, { transport: signalR.HttpTransportType[transport] })
		.withAutomaticReconnect(RECONNECT_DELAYS_MS)
		.configureLogging(signalR.LogLevel.Warning)
		.build();
}

/**
 * Calls onState('connected' | 'reconnecting' | 'disconnected', detail) as the connection
 * changes. The caller reports the outcome of start() itself.
 */
export function watchConnection(hub, onState) {
	hub.onreconnecting((err) => onState('reconnecting', err && err.message));
	hub.onreconnected(() => onState('connected'));
	hub.onclose((err) => onState('disconnected', err && err.message));
}
