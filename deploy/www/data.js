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

/** events: { change, push, error } handlers of the DataSource. */
export function meetingDataSource(hub, hubStart, events) {
	return new kendo.data.DataSource({
		type: 'signalr',
		schema: { model: meetingModel },
		transport: {
			signalr: {
				promise: hubStart,
				hub,
				server: { ...methods },
				client: { ...methods },
			},
		},
		change: events.change,
		push: events.push,
		error: events.error,
	});
}
