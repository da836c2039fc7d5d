// The Kendo Scheduler seed's classic (ASP.NET SignalR 2.x) client, as the seed writes it,
// against pollhub's /meetings, exposed as window.harness for tests/browser/classic.test.mjs.
// ?start= picks the start options: jsonp ({ jsonp: true }, the seed's), longPolling,
// serverSentEvents ({ transport: ... }) or auto (start() without options); ?hub= an absolute
// hub URL (a page on another origin) or another hub's path; ?proxy= the proxy's hub name.
/* global $ */
var hubUrl = new URLSearchParams(location.search).get("hub") || "/meetings";	// ?hub=: another origin's
var connection = $.hubConnection(hubUrl, { useDefaultPath: false });
// ?proxy=: another hub of pollhub.hubs, by its name (productHub), on its own connection.
var hub = connection.createHubProxy(new URLSearchParams(location.search).get("proxy") || "meetings");

var harness = {
	pushes: [],	// { type, item, at }
	errors: [],
	states: [],
	ready: null,	// the transport's name once started
	startError: null,
	reconnects: 0,
	invoke: function (method) {
		var args = Array.prototype.slice.call(arguments);
		return new Promise(function (resolve, reject) {
			hub.invoke.apply(hub, args)
				.done(function (r) { resolve(r === undefined ? null : r); })
				.fail(function (e) { reject(new Error(e && e.message ? e.message : String(e))); });
		});
	},
	seen: function (type, id) {
		return harness.pushes.filter(function (p) { return p.type === type && p.item && p.item.ID === id; }).length;
	},
	token: function () { return connection.token; },
	messageId: function () { return connection.messageId; },
};

// Handlers before start(): they decide connectionData ([{"name":"meetings"}]).
["create", "update", "destroy"].forEach(function (type) {
	hub.on(type, function (item) { harness.pushes.push({ type: type, item: item, at: Date.now() }); });
});
connection.error(function (e) { harness.errors.push(e && e.message ? e.message : String(e)); });
connection.stateChanged(function (s) { harness.states.push(s.newState); });
connection.reconnected(function () { harness.reconnects++; });

var mode = new URLSearchParams(location.search).get("start") || "jsonp";
var options = mode === "jsonp" ? { jsonp: true } : mode === "auto" ? undefined : { transport: mode };
var hubStart = options ? connection.start(options) : connection.start();
hubStart
	.done(function () { harness.ready = connection.transport.name; })
	.fail(function (e) { harness.startError = e && e.message ? e.message : String(e); });
