// A Kendo DataSource bound to pollhub's MeetingHub exactly as the Kendo Scheduler seed
// binds it (type "signalr"; promise = hub.start(); client and server methods read,
// create, update, destroy; the seed's schema model), exposed as window.harness for
// tests/browser/datasource.test.mjs. ?transport= picks LongPolling or ServerSentEvents.

const transport = new URLSearchParams(location.search).get('transport') || 'LongPolling';
const hub = new signalR.HubConnectionBuilder()
	.withUrl('/meetings', { transport: signalR.HttpTransportType[transport] })
	.withAutomaticReconnect()
	.build();

// Every hub invocation the transport makes, as sent (JSON), for the test to inspect.
const calls = [];
const invoke = hub.invoke.bind(hub);
hub.invoke = (...args) => {
	calls.push(JSON.parse(JSON.stringify(args)));
	return invoke(...args);
};

const hubStart = hub.start();
const pushes = [];
const errors = [];

const dataSource = new kendo.data.DataSource({
	type: 'signalr',
	push: (e) => pushes.push({ type: e.type, ids: e.items.map((item) => item.ID), at: Date.now() }),
	error: (e) => errors.push(e.xhr && e.xhr.message ? e.xhr.message : String(e.errorThrown)),
	transport: {
		signalr: {
			promise: hubStart,
			hub,
			server: { read: 'read', update: 'update', destroy: 'destroy', create: 'create' },
			client: { read: 'read', update: 'update', destroy: 'destroy', create: 'create' },
		},
	},
	schema: {
		model: {
			id: 'ID',
			fields: {
				ID: { editable: false, nullable: true },
				start: { type: 'date', from: 'Start' },
				end: { type: 'date', from: 'End' },
				title: { type: 'string', from: 'Title' },
				description: { type: 'string', from: 'Description' },
				recurrenceID: { type: 'number', from: 'RecurrenceID' },
				recurrenceRule: { type: 'string', from: 'RecurrenceRule' },
				recurrenceException: { type: 'string', from: 'RecurrenceException' },
				isAllDay: { type: 'boolean', from: 'IsAllDay' },
				startTimezone: { type: 'string', from: 'StartTimezone' },
				endTimezone: { type: 'string', from: 'EndTimezone' },
			},
		},
	},
});

/** A model as plain JSON, dates as ISO strings, for comparisons in the test. */
function rowOf(model) {
	return {
		ID: model.ID,
		title: model.title,
		description: model.description,
		start: model.start.toISOString(),
		end: model.end.toISOString(),
		isAllDay: model.isAllDay,
		dirty: model.dirty,
	};
}

/** Test values to model values: ISO strings to Date objects. */
function fieldsOf(values) {
	const fields = { ...values };
	for (const name of ['start', 'end']) if (name in fields) fields[name] = new Date(fields[name]);
	return fields;
}

function assign(model, values) {
	for (const [name, value] of Object.entries(fieldsOf(values))) model.set(name, value);
}

const rows = () => Array.from(dataSource.data(), rowOf);
const sync = () => Promise.resolve(dataSource.sync());

window.harness = {
	transport,
	pushes,
	errors,
	calls,
	ready: hubStart.then(() => dataSource.read()).then(() => hub.connection.transport.constructor.name),
	rows,
	hasChanges: () => dataSource.hasChanges(),
	read: () => Promise.resolve(dataSource.read()).then(rows),
	// As the Scheduler creates an event: a model with every field's default, then set.
	create: (values) => {
		const model = dataSource.add({});
		assign(model, values);
		return sync().then(() => rowOf(model));
	},
	update: (id, values) => {
		const model = dataSource.get(id);
		assign(model, values);
		return sync().then(() => rowOf(model));
	},
	destroy: (id) => {
		dataSource.remove(dataSource.get(id));
		return sync().then(() => rows());
	},
};
