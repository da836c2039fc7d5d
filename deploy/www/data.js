// The meetings DataSource: Kendo's `signalr` transport over the hub, configured as the
// Kendo Scheduler seed page configures it (promise, hub, client and server method names,
// schema model with the `ID` id and fields mapped from the hub's PascalCase names).

export const meetingModel = {
	id: 'ID',
	fields: {
		ID: { editable: false, nullable: true },
		start: { type: 'date', from: 'Start' },
		end: { type: 'date', from: 'End' },
		title: { type: 'string', from: 'Title', defaultValue: 'No title' },
		description: { type: 'string', from: 'Description' },
		// The seed types this as int (the Telerik demo hub's `int?`); pollhub's IDs are UUID
		// strings, and a number field would turn a stored RecurrenceID into NaN (sent as null).
		recurrenceID: { type: 'string', from: 'RecurrenceID' },
		recurrenceRule: { type: 'string', from: 'RecurrenceRule' },
		recurrenceException: { type: 'string', from: 'RecurrenceException' },
		isAllDay: { type: 'boolean', from: 'IsAllDay' },
		startTimezone: { type: 'string', from: 'StartTimezone' },
		endTimezone: { type: 'string', from: 'EndTimezone' },
	},
};

const methods = { read: 'read', create: 'create', update: 'update', destroy: 'destroy' };

/**
 * What `read` sends: the visible range as the hub's { Start, End } (UTC ISO 8601, End
 * exclusive), as Telerik's "Scheduler SignalR DataSource with server filtering" sends it.
 * The hub answers with the meetings that overlap it and the recurring series that reach
 * into it, so a calendar of years is read a week at a time. Kendo's own query (a filter
 * the page never sets) is left out; create, update and destroy send the meeting as it is.
 */
export function rangeParameterMap(visibleRange) {
	return (data, type) => {
		if (type !== 'read') return data;
		const { start, end } = visibleRange();
		return { Start: start.toISOString(), End: end.toISOString() };
	};
}

/**
 * events: { change, push, error } handlers of the DataSource; visibleRange() returns the
 * { start, end } Dates a read asks for (serverFiltering: every read() asks the hub again).
 */
export function meetingDataSource(hub, hubStart, events, visibleRange) {
	return new kendo.data.DataSource({
		type: 'signalr',
		schema: { model: meetingModel },
		serverFiltering: true,
		transport: {
			signalr: {
				promise: hubStart,
				hub,
				server: { ...methods },
				client: { ...methods },
			},
			parameterMap: rangeParameterMap(visibleRange),
		},
		change: events.change,
		push: events.push,
		error: events.error,
	});
}
