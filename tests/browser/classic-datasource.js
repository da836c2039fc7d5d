// A Kendo DataSource bound, as the Kendo Scheduler seed binds it, to the seed's classic
// (ASP.NET SignalR 2.x) hub proxy: $.hubConnection(hubUrl, { useDefaultPath: false }),
// createHubProxy("meetings"), promise = connection.start(...), hub = the proxy. Built at
// script time like the Scheduler at DOM-ready, so its push handlers are registered before
// the (load-deferred) start sends connectionData. Exposed as window.harness for
// tests/browser/classic-datasource.test.mjs. ?start=jsonp (the seed's { jsonp: true }) or
// a transport name.
/* global $, kendo */
var hubUrl = "/meetings";
var connection = $.hubConnection(hubUrl, { useDefaultPath: false });
var hub = connection.createHubProxy("meetings");
var mode = new URLSearchParams(location.search).get("start") || "jsonp";
var hubStart = connection.start(mode === "jsonp" ? { jsonp: true } : { transport: mode });

var pushes = [];
var errors = [];
var dataSource = new kendo.data.DataSource({
	type: "signalr",
	push: function (e) { pushes.push({ type: e.type, ids: e.items.map(function (i) { return i.ID; }), at: Date.now() }); },
	error: function (e) { errors.push(e.errorThrown && e.errorThrown.message ? e.errorThrown.message : String(e.errorThrown || e.xhr)); },
	transport: {
		signalr: {
			promise: hubStart,
			hub: hub,
			server: { read: "read", update: "update", destroy: "destroy", create: "create" },
			client: { read: "read", update: "update", destroy: "destroy", create: "create" },
		},
	},
	schema: {
		model: {
			id: "ID",
			fields: {
				ID: { editable: false, nullable: true },
				start: { type: "date", from: "Start" },
				end: { type: "date", from: "End" },
				title: { type: "string", from: "Title" },
				description: { type: "string", from: "Description" },
				recurrenceId: { type: "string", from: "RecurrenceID" },
				recurrenceRule: { type: "string", from: "RecurrenceRule" },
				recurrenceException: { type: "string", from: "RecurrenceException" },
				isAllDay: { type: "boolean", from: "IsAllDay" },
				startTimezone: { type: "string", from: "StartTimezone" },
				endTimezone: { type: "string", from: "EndTimezone" },
			},
		},
	},
});

function rowOf(model) {
	return {
		ID: model.ID, title: model.title, description: model.description,
		start: model.start.toISOString(), end: model.end.toISOString(), isAllDay: model.isAllDay, dirty: model.dirty,
	};
}
function assign(model, values) {
	Object.keys(values).forEach(function (name) {
		model.set(name, name === "start" || name === "end" ? new Date(values[name]) : values[name]);
	});
}
function rows() { return Array.from(dataSource.data(), rowOf); }
function sync() { return Promise.resolve(dataSource.sync()); }

var harness = {
	pushes: pushes,
	errors: errors,
	ready: new Promise(function (resolve, reject) {
		hubStart.done(function () { dataSource.read().then(function () { resolve(connection.transport.name); }); })
			.fail(function (e) { reject(new Error(e && e.message ? e.message : String(e))); });
	}),
	rows: rows,
	hasChanges: function () { return dataSource.hasChanges(); },
	read: function () { return Promise.resolve(dataSource.read()).then(rows); },
	create: function (values) {
		var model = dataSource.add({});
		assign(model, values);
		return sync().then(function () { return rowOf(model); });
	},
	update: function (id, values) {
		var model = dataSource.get(id);
		assign(model, values);
		return sync().then(function () { return rowOf(model); });
	},
	destroy: function (id) {
		dataSource.remove(dataSource.get(id));
		return sync().then(rows);
	},
};
