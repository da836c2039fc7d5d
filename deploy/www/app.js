// The demo page: a week calendar over the meetings DataSource. Every change made here
// goes to the hub through the DataSource's SignalR transport; every change made in
// another window arrives as a DataSource push and is drawn (and announced) here.
import { buildHub, hubUrlFromQuery, transportFromQuery, watchConnection } from './hub.js';
import { meetingDataSource } from './data.js';
import { createWeekView } from './week.js';
import { createEditor } from './editor.js';
import { addDays, addMinutes, nextHour, startOfWeek, timeZone } from './dates.js';

const FLASH_MS = 2400;	/* .meeting.flash in app.css */
const PUSH_WORDS = { create: 'New meeting', update: 'Changed', destroy: 'Deleted' };
const TRANSPORT_LABELS = { LongPolling: 'long polling', ServerSentEvents: 'server-sent events' };

const transport = transportFromQuery(location.search);
const hub = buildHub(hubUrlFromQuery(location.search), transport);
const notification = $('#notification').kendoNotification({
	position: { pinned: true, bottom: 16, right: 16 },
	stacking: 'up',
	autoHideAfter: 4000,
	width: 300,
}).data('kendoNotification');

let weekStart = startOfWeek(new Date());
const flash = new Set();
let saving = Promise.resolve();
let readQueued = false;	// a read of the week shown waits in `saving`
let reading = false;	// a read is out: an error now is the read's

function showConnection(state, detail) {
	document.body.dataset.connection = state;
	const pill = document.getElementById('connection-state');
	pill.className = `connection ${state}`;
	pill.textContent = state === 'disconnected' ? 'disconnected · reload' : state;
	pill.title = detail || '';
	if (state === 'connected') notification.success(`Connected over ${TRANSPORT_LABELS[transport]}`);
	else if (state === 'reconnecting') notification.warning('Connection lost, reconnecting…');
	else notification.showText(`Disconnected${detail ? `: ${detail}` : ''}`, 'error');
}

watchConnection(hub, showConnection);
hub.on('notify', showAdminMessage);
// As the seed: the DataSource waits on this promise before every call; a failed start
// is reported here (the transport itself has no handler for it).
const hubStart = hub.start()
	.then(() => showConnection('connected'))
	.catch((err) => showConnection('disconnected', err.message));

// The DataSource reads the week shown (Monday 00:00 to the next Monday 00:00, local time).
const meetings = meetingDataSource(hub, hubStart, { change: draw, push: onPush, error: onError },
	() => ({ start: weekStart, end: addDays(weekStart, 7) }));
const view = createWeekView(document.getElementById('week'), {
	onSlot: (start) => editor.open(null, { start, end: addMinutes(start, 60) }),
	onOpen: (meeting) => editor.open(meeting),
	onMove: (meeting, start, end) => save(() => assign(meeting, { start, end })),
});
const editor = createEditor(document.getElementById('editor'), {
	onSave: (meeting, values) => save(() => assign(meeting || meetings.add({}), values))
		.then((saved) => { if (!meeting && saved && saved.ID) arrived(saved, true); }),
	onDelete: (meeting) => save(() => meetings.remove(meeting)),
});

function draw() {
	view.render(Array.from(meetings.data()), flash);
}

/** Sets fields one by one (a new model from add({}) has every field's default, as a
 *  Scheduler's new event has); returns the model. */
function assign(meeting, values) {
	for (const [field, value] of Object.entries(values)) meeting.set(field, value);
	return meeting;
}

/**
 * Reads the week shown from the hub (the range is taken when the read is sent: see
 * data.js). Queued behind the syncs, as a read that replaced the data while a create was
 * in flight would lose the new meeting's model; several navigations while one read waits
 * send one read, for the week shown by then. Resolves to whether that read succeeded.
 */
function readWeek() {
	if (readQueued) return saving;
	readQueued = true;
	saving = saving.then(() => {
		readQueued = false;
		reading = true;
		return meetings.read();
	}).then(() => {
		reading = false;
		return true;
	}, () => {
		reading = false;
		return false;	// reported by onError
	});
	return saving;
}

/** Applies a change to the DataSource and syncs, one sync at a time (a second sync
 *  while a create is in flight would send that create again). Resolves to what
 *  change() returned once synced, to undefined if the sync failed. */
function save(change) {
	let result;
	saving = saving.then(() => {
		result = change();
		return meetings.sync();
	}).then(() => result, () => { /* reported by onError */ });
	return saving;
}

function onError(e) {
	const message = e.xhr && e.xhr.message ? e.xhr.message : e.errorThrown || 'request failed';
	if (reading) {
		notification.showText(`Could not read the calendar: ${message}`, 'error');
		return;
	}
	notification.showText(`Not saved: ${message}`, 'error');
	// The failed changes would be re-sent with the next sync: drop them instead.
	setTimeout(() => { meetings.cancelChanges(); draw(); });
}

function onPush(e) {
	for (const item of e.items) {
		// showText: the title is another user's text, never HTML (info() would render it).
		notification.showText(`${PUSH_WORDS[e.type] || e.type}: ${item.title || '(no title)'}`, 'info');
		if (e.type === 'destroy' && editor.editing() && editor.editing().ID === item.ID) {
			editor.close();
			notification.warning('The meeting you were editing was deleted in another window.');
		}
	}
	draw();
	// The last meeting that arrived in the week shown: scrolled to if it is off-screen,
	// highlighted either way.
	if (e.type !== 'destroy') for (const item of e.items) arrived(item, false);
}

/**
 * Highlights a meeting that was just created here (mine) or pushed, scrolling the grid to
 * it when it lies outside the visible hours; a meeting created here in another week
 * brings that week up first.
 */
function arrived(item, mine) {
	const model = item.ID && meetings.get(item.ID);
	if (!model) return;
	if (mine && model.start && (model.start < weekStart || model.start >= addDays(weekStart, 7))) {
		showWeek(startOfWeek(model.start));
	}
	flash.add(model.ID);
	setTimeout(() => {
		flash.delete(model.ID);
		for (const node of document.querySelectorAll(`.meeting[data-id="${CSS.escape(model.ID)}"], `
			+ `.more-chip[data-ids~="${CSS.escape(model.ID)}"]`)) node.classList.remove('flash');
	}, FLASH_MS);
	draw();
	view.reveal(model.ID);
}

/**
 * Messages an administrator sends from psql with pollhub.send_to_group(group, 'notify',
 * '["text"]') or send_to_connection(id, 'notify', …) (README "Administering with psql"):
 * shown in a banner until dismissed, as text (textContent: never HTML).
 */
function showAdminMessage(...args) {
	const text = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
	document.getElementById('admin-message-text').textContent = text;
	const banner = document.getElementById('admin-message');
	banner.hidden = false;
	banner.classList.remove('arrived');
	void banner.offsetWidth;	// restart the animation for a second message
	banner.classList.add('arrived');
}

/** Shows the week starting at `start` (a Monday, 00:00) with what the DataSource holds of
 *  it, and reads it from the hub; returns the read's promise (see readWeek). */
function showWeek(start) {
	weekStart = start;
	const end = addDays(start, 6);
	document.getElementById('week-label').textContent =
		`${kendo.toString(start, 'd MMM')} – ${kendo.toString(end, 'd MMM yyyy')}`;
	showTimeZone();
	view.show(start);
	draw();
	return readWeek();
}

/** The zone the grid's hours are in: the browser's (the DataSource turns the hub's UTC
 *  instants into local dates). */
function showTimeZone() {
	const zone = timeZone();
	const label = document.getElementById('time-zone');
	label.textContent = zone.name && zone.name !== 'UTC' ? `Times in ${zone.name} (${zone.offset})` : `Times in ${zone.offset}`;
	label.title = `Times are in this browser's time zone${zone.name ? `, ${zone.name}` : ''} (${zone.offset} now)`;
}

function wireToolbar() {
	$('#prev-week').kendoButton({ fillMode: 'flat' }).on('click', () => showWeek(addDays(weekStart, -7)));
	$('#next-week').kendoButton({ fillMode: 'flat' }).on('click', () => showWeek(addDays(weekStart, 7)));
	$('#today').kendoButton().on('click', () => showWeek(startOfWeek(new Date())));
	$('#new-meeting').kendoButton({ themeColor: 'primary', icon: 'plus' }).on('click', () => {
		const start = nextHour();
		editor.open(null, { start, end: addMinutes(start, 60) });
	});
	const select = document.getElementById('transport');
	select.value = transport;
	select.addEventListener('change', () => {
		const params = new URLSearchParams(location.search);
		params.set('transport', select.value);
		location.search = params.toString();
	});
	// The products grid, with the same transport and group.
	document.getElementById('to-products').href = `products.html${location.search}`;
	document.getElementById('admin-message-close').addEventListener('click', () => {
		document.getElementById('admin-message').hidden = true;
	});
	document.getElementById('connection-state').addEventListener('click', () => {
		if (document.body.dataset.connection === 'disconnected') location.reload();
	});
}

wireToolbar();
showWeek(weekStart).then((read) => { if (read) document.body.dataset.loaded = 'true'; });
view.scrollToHour(7.5);
// Pushes missed while the connection was down are lost: read the week shown again.
hub.onreconnected(() => readWeek());
setInterval(draw, 60 * 1000);	// the "now" line
