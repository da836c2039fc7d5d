// The products DataSource: Kendo's `signalr` transport over ProductHub, configured as
// Telerik's Grid SignalR demo configures its Grid's (autoSync, a push handler, the model
// with the `ID` id, new rows first by CreatedAt desc), with server paging, sorting and
// filtering: each page, sort and filter is one `read` whose argument is Kendo's
// { take, skip, page, pageSize, sort, filter }, answered { Data, Total }.

export const productModel = {
	id: 'ID',
	fields: {
		ID: { editable: false, nullable: true },
		ProductName: { type: 'string' },
		UnitPrice: { type: 'number', nullable: true },
		UnitsInStock: { type: 'number', nullable: true },
		Category: { type: 'string', nullable: true },
		CreatedAt: { type: 'date', editable: false },
	},
};

export const PAGE_SIZE = 10;

const methods = { read: 'read', create: 'create', update: 'update', destroy: 'destroy' };

/**
 * The rows of an answer. A read answers { Data, Total } (schema data "Data"), but create,
 * update and destroy answer one product and the pushes carry one: with `data: "Data"`
 * Kendo would find no rows in those (a created row would get no ID, a push would add
 * nothing), so an answer without Data is its own row.
 */
function rowsOf(answer) {
	return answer && !Array.isArray(answer) && 'Data' in answer ? answer.Data : answer;
}

/** events: { change, push, error, requestStart } handlers of the DataSource. */
export function productDataSource(hub, hubStart, events) {
	return new kendo.data.DataSource({
		type: 'signalr',
		autoSync: true,
		pageSize: PAGE_SIZE,
		serverPaging: true,
		serverSorting: true,
		serverFiltering: true,
		sort: [{ field: 'CreatedAt', dir: 'desc' }],
		schema: {
			data: rowsOf,
			total: 'Total',
			model: productModel,
		},
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
		requestStart: events.requestStart,
	});
}
