// The products page: a grid of ProductHub's products (a ListView of rows under sortable
// headers, and a Pager) over one DataSource. A cell edited here, a row added or deleted,
// goes to the hub at once (autoSync); another window's change arrives as a DataSource
// push and is drawn (and announced) here. Paging, sorting and filtering are the
// server's: each is one read.
import { buildHub, transportFromQuery, watchConnection } from './hub.js';
import { productDataSource } from './products-data.js';

const FLASH_MS = 2400;	/* .product-row.flash in products.css */
const FILTER_DELAY_MS = 250;
const PUSH_WORDS = { create: 'New product', update: 'Changed', destroy: 'Deleted' };
const TRANSPORT_LABELS = { LongPolling: 'long polling', ServerSentEvents: 'server-sent events' };
const FIELDS = ['ProductName', 'UnitPrice', 'UnitsInStock', 'Category'];	/* editable, in order */
const NUMBER_FIELDS = new Set(['UnitPrice', 'UnitsInStock']);

const params = new URLSearchParams(location.search);
const transport = transportFromQuery(location.search);
/** /products, or /products?group=NAME when the page has ?group= (POLLHUB_GROUP_PARAM=group). */
const hubUrl = params.get('group') ? `/products?group=${encodeURIComponent(params.get('group'))}` : '/products';
const hub = buildHub(hubUrl, transport);
const notification = $('#notification').kendoNotification({
	position: { pinned: true, bottom: 16, right: 16 },
	stacking: 'up',
	autoHideAfter: 4000,
	width: 300,
}).data('kendoNotification');

const flash = new Set();
let editing = null;	/* { uid, field } of the cell being edited */

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
const hubStart = hub.start()
	.then(() => showConnection('connected'))
	.catch((err) => showConnection('disconnected', err.message));

const products = productDataSource(hub, hubStart, { change: onChange, push: onPush, error: onError });

// --- Rows ------------------------------------------------------------------------------

const escape = (s) => kendo.htmlEncode(s == null ? '' : String(s));
const price = (v) => (v == null || Number.isNaN(v) ? '' : kendo.toString(v, 'n2'));
const stock = (v) => (v == null || Number.isNaN(v) ? '' : kendo.toString(v, 'n0'));
const created = (d) => (d ? kendo.toString(d, 'yyyy-MM-dd HH:mm:ss') : '');

/** One row; every value goes through htmlEncode (another user's text, never HTML). */
function rowHtml(p) {
	const cell = (field, text, cls = '') =>
		`<span role="cell" class="cell ${cls}" data-field="${field}" tabindex="0" title="Click to change">${text}</span>`;
	const lit = flash.has(p.uid);
	return `<div role="row" class="product-row${lit ? ' flash' : ''}" data-uid="${p.uid}" data-id="${escape(p.ID)}">`
		+ cell('ProductName', escape(p.ProductName), 'name')
		+ cell('UnitPrice', escape(price(p.UnitPrice)), 'num')
		+ cell('UnitsInStock', escape(stock(p.UnitsInStock)), 'num')
		+ cell('Category', escape(p.Category))
		+ `<span role="cell" class="cell created">${escape(created(p.CreatedAt))}</span>`
		+ '<span role="cell" class="cell actions"><button type="button" class="delete k-button k-button-md k-button-flat'
		+ ' k-button-flat-error k-rounded-md k-icon-button" title="Delete" aria-label="Delete">'
		+ `${kendo.ui.icon('trash')}</button></span></div>`;
}

const list = $('#rows').kendoListView({
	dataSource: products,
	contentElement: '',	// the rows straight in #rows (role="rowgroup")
	template: rowHtml,
	bordered: false,
	autoBind: false,
}).data('kendoListView');

$('#pager').kendoPager({
	dataSource: products,
	buttonCount: 5,
	info: true,
	pageSizes: false,
	input: false,
	refresh: false,
	messages: { display: '{0} – {1} of {2} products', empty: 'No products' },
});

function onChange() {
	editing = null;
	document.getElementById('empty').hidden = products.view().length > 0;
	showSort();
}

// --- Sorting and filtering: each a read by the server -----------------------------------

function showSort() {
	const [sort] = products.sort() || [];
	for (const th of document.querySelectorAll('.product-head [data-field]')) {
		const dir = sort && sort.field === th.dataset.field ? sort.dir : '';
		th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none');
		th.dataset.dir = dir;
	}
}

/** A header sorts by its column: ascending, then descending (Created: newest first). */
function sortBy(field) {
	const [sort] = products.sort() || [];
	const first = field === 'CreatedAt' ? 'desc' : 'asc';
	const dir = sort && sort.field === field ? (sort.dir === 'asc' ? 'desc' : 'asc') : first;
	products.sort({ field, dir });
}

let filterTimer;
function filterBy(text) {
	clearTimeout(filterTimer);
	filterTimer = setTimeout(() => {
		const value = text.trim();
		// Kendo's filter as the Grid's filter row sends it; the server ignores case.
		products.filter(value ? { field: 'ProductName', operator: 'contains', value } : []);
	}, FILTER_DELAY_MS);
}

// --- Editing: a cell, a new row, a delete; autoSync sends each at once --------------------

function startEdit(cellNode) {
	const row = cellNode.closest('.product-row');
	const model = row && products.getByUid(row.dataset.uid);
	const field = cellNode.dataset.field;
	if (!model || !FIELDS.includes(field) || cellNode.querySelector('input')) return;
	editing = { uid: model.uid, field };
	const value = model.get(field);
	const input = document.createElement('input');
	input.className = 'k-input-inner';
	input.setAttribute('aria-label', field);
	if (NUMBER_FIELDS.has(field)) {
		input.type = 'number';
		input.min = '0';
		input.step = field === 'UnitPrice' ? '0.01' : '1';
	}
	input.value = value == null ? '' : String(value);
	const box = document.createElement('span');
	box.className = 'k-textbox k-input k-input-sm k-rounded-md k-input-solid';
	box.append(input);
	cellNode.replaceChildren(box);
	input.focus();
	input.select();
	let done = false;
	const finish = (save) => {
		if (done) return;
		done = true;
		editing = null;
		if (save) commit(model, field, input.value);
		list.refresh();
	};
	input.addEventListener('keydown', (e) => {
		if (e.key === 'Enter') finish(true);
		else if (e.key === 'Escape') finish(false);
	});
	input.addEventListener('blur', () => finish(true));
}

/** Sets the field if it changed: the DataSource (autoSync) sends the update. */
function commit(model, field, text) {
	const value = NUMBER_FIELDS.has(field)
		? (text.trim() === '' ? null : Number(text))
		: (text.trim() === '' && field !== 'ProductName' ? null : text.trim());
	const old = model.get(field);
	if (value === old || (value == null && old == null)) return;
	model.set(field, value);
}

function addProduct(form) {
	const text = (name) => form.elements[name].value.trim();
	const number = (name) => (text(name) === '' ? null : Number(text(name)));
	if (!text('ProductName')) {
		notification.showText('A product needs a name.', 'warning');
		form.elements.ProductName.focus();
		return;
	}
	// One insert with every field (autoSync sends it as one create), first on the page as
	// the server will sort it (CreatedAt desc).
	const model = products.insert(0, {
		ProductName: text('ProductName'),
		UnitPrice: number('UnitPrice'),
		UnitsInStock: number('UnitsInStock'),
		Category: text('Category') || null,
	});
	arrived(model);
	form.reset();
	form.elements.ProductName.focus();
}

function onError(e) {
	const message = e.xhr && e.xhr.message ? e.xhr.message : e.errorThrown || 'request failed';
	notification.showText(`Not saved: ${message}`, 'error');
	// autoSync would send the failed change again with the next one: drop it instead.
	setTimeout(() => products.cancelChanges());
}

function onPush(e) {
	for (const item of e.items) {
		// showText: the name is another user's text, never HTML (info() would render it).
		notification.showText(`${PUSH_WORDS[e.type] || e.type}: ${item.ProductName || '(no name)'}`, 'info');
		if (e.type !== 'destroy') arrived(item);
	}
	if (e.type !== 'destroy') list.refresh();
	document.getElementById('empty').hidden = products.view().length > 0;
}

/** Highlights a row that was just added here or pushed (by its uid: a row added here
 *  has no ID until the hub answers). */
function arrived(item) {
	const uid = item.uid;
	flash.add(uid);
	setTimeout(() => {
		flash.delete(uid);
		const node = document.querySelector(`.product-row[data-uid="${CSS.escape(uid)}"]`);
		if (node) node.classList.remove('flash');
	}, FLASH_MS);
}

function wire() {
	$('#filter').kendoTextBox({ placeholder: 'Filter by name', clearButton: true });
	document.getElementById('filter').addEventListener('input', (e) => filterBy(e.target.value));
	for (const th of document.querySelectorAll('.product-head [data-field]')) {
		th.addEventListener('click', () => sortBy(th.dataset.field));
	}
	const rows = document.getElementById('rows');
	rows.addEventListener('click', (e) => {
		const del = e.target.closest('.delete');
		if (del) {
			const model = products.getByUid(del.closest('.product-row').dataset.uid);
			if (model) products.remove(model);
			return;
		}
		const cell = e.target.closest('.cell[data-field]');
		if (cell) startEdit(cell);
	});
	rows.addEventListener('keydown', (e) => {
		const cell = e.target.closest && e.target.closest('.cell[data-field]');
		if (cell && e.target === cell && (e.key === 'Enter' || e.key === 'F2')) startEdit(cell);
	});
	const form = document.getElementById('new-product');
	for (const input of form.querySelectorAll('input')) input.classList.add('k-input', 'k-input-md', 'k-rounded-md');
	$('#add-product').kendoButton({ themeColor: 'primary', icon: 'plus' });
	form.addEventListener('submit', (e) => {
		e.preventDefault();
		addProduct(form);
	});
	const select = document.getElementById('transport');
	select.value = transport;
	select.addEventListener('change', () => {
		params.set('transport', select.value);
		location.search = params.toString();
	});
	// The calendar, with the same transport and group.
	document.getElementById('to-meetings').href = `index.html${location.search}`;
	document.getElementById('connection-state').addEventListener('click', () => {
		if (document.body.dataset.connection === 'disconnected') location.reload();
	});
}

wire();
showSort();
// Pushes missed while the connection was down are lost: read the page again.
hub.onreconnected(() => products.read());
products.read().then(() => { document.body.dataset.loaded = 'true'; });
// For the browser test and the curious: the DataSource and the hub.
window.productsPage = { products, hub };
