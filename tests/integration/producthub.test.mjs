// ProductHub (sql/migrations/019_producthub.sql, sql/functions/85_producthub.sql): the
// second hub, written in SQL, at /products. Through @microsoft/signalr: create and the
// server's read with Kendo's take/skip/sort/filter ({ Data, Total }), update and
// destroy, pushes to the group's other members and not to a MeetingHub connection of a
// group of the same name, validation errors naming the field, a hostile filter refused
// and a hostile value kept as data. Through the classic protocol as jquery.signalR 2.4.3
// speaks it (its proxy `productHub`, lower-cased in connectionData and in H).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll, waitFor, sleep, transportName } from './stack.mjs';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_Z_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const FIELDS = ['ID', 'ProductName', 'UnitPrice', 'UnitsInStock', 'CreatedAt', 'Category'];
const failed = (method, detail) =>
	`An unexpected error occurred invoking '${method}' on the server. HubException: ${detail}`;

async function rejects(promise, what) {
	try {
		await promise;
	} catch (e) {
		return e.message;
	}
	throw new Error(`${what}: the invocation must be rejected`);
}

/** Kendo's read argument for a page, as the DataSource sends it with server paging. */
const page = (n, size, extra = {}) => ({ take: size, skip: (n - 1) * size, page: n, pageSize: size, ...extra });

describe(`ProductHub at /products (${transportName})`, { timeout: 120000 }, () => {
	let stack;
	let products;	// the hub's URL for group 'shop'
	let a;
	let b;
	let meetings;	// a MeetingHub connection in a group also named 'shop'
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '5', POLLHUB_GROUP_PARAM: 'group' } });
		products = `${stack.url}/products?group=shop`;
		[a, b, meetings] = await Promise.all([connect(products), connect(products),
			connect(`${stack.url}/meetings?group=shop`)]);
		// 30 products of the group (oldest first: CreatedAt a minute apart), and some of
		// another group, which no read of 'shop' may see.
		await stack.psql(`INSERT INTO producthub.products (group_name, product_name, unit_price,
			units_in_stock, category, created_at)
			SELECT 'shop', (ARRAY['Chai', 'Chang', 'Tofu'])[1 + i % 3] || ' ' || i, i * 1.25, i,
				(ARRAY['Beverages', 'Produce'])[1 + i % 2], '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute'
			  FROM generate_series(1, 30) i;
			INSERT INTO producthub.products (group_name, product_name) SELECT 'elsewhere', 'Chai ' || i
			  FROM generate_series(1, 5) i`);
	});
	after(async () => {
		await stopAll(a, b, meetings);
		await stack?.stop();
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test('the hub is a row of pollhub.hubs; negotiate at its path', async () => {
		assert.equal(await stack.psql(`SELECT name || ' ' || path || ' ' || schema_name FROM pollhub.hubs
			WHERE name = 'ProductHub'`), 'ProductHub /products producthub');
		const res = await fetch(`${stack.url}/products/negotiate?negotiateVersion=1`, { method: 'POST' });
		assert.equal(res.status, 200);
		const body = await res.json();
		assert.ok(body.connectionToken, JSON.stringify(body));
		await fetch(`${stack.url}/products?id=${encodeURIComponent(body.connectionToken)}`, { method: 'DELETE' });
		assert.equal(await stack.psql(`SELECT DISTINCT hub FROM pollhub.connections
			WHERE group_name = 'ProductHub/shop'`), 'ProductHub');
	});

	test('read: the whole group as an array, or a page as { Data, Total }', async () => {
		const all = await a.invoke('read');
		assert.ok(Array.isArray(all), JSON.stringify(all).slice(0, 200));
		assert.equal(all.length, 30);
		assert.deepEqual(Object.keys(all[0]), FIELDS, 'the columns of producthub.product, in order');
		assert.match(all[0].ID, UUID_RE);
		assert.match(all[0].CreatedAt, ISO_Z_RE);

		// The demo grid's first read: newest first, ten rows.
		const first = await a.invoke('read', page(1, 10, { sort: [{ field: 'CreatedAt', dir: 'desc' }] }));
		assert.deepEqual(Object.keys(first), ['Data', 'Total']);
		assert.equal(first.Total, 30);
		assert.deepEqual(first.Data.map((p) => p.UnitsInStock), [30, 29, 28, 27, 26, 25, 24, 23, 22, 21]);
		assert.equal(first.Data[0].UnitPrice, 37.5);
		assert.equal(first.Data[0].CreatedAt, '2026-01-01T00:30:00.000Z');
		const third = await a.invoke('read', page(3, 10, { sort: [{ field: 'CreatedAt', dir: 'desc' }] }));
		assert.deepEqual(third.Data.map((p) => p.UnitsInStock), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);

		// Sorted by name, filtered by Kendo's `contains` (case ignored, as the grid's filter).
		const named = await a.invoke('read', page(1, 5, {
			sort: [{ field: 'ProductName', dir: 'asc' }],
			filter: { logic: 'and', filters: [{ field: 'ProductName', operator: 'contains', value: 'CHAI' }] },
		}));
		assert.equal(named.Total, 10);
		assert.deepEqual(named.Data.map((p) => p.ProductName), ['Chai 12', 'Chai 15', 'Chai 18', 'Chai 21', 'Chai 24']);

		// read() narrows a `contains` on ProductName through the trigram index by what it
		// implies (lower(name) LIKE '%chai%'); the answer is the filter's, whatever its form.
		const count = async (filter) => (await a.invoke('read', page(1, 1, { filter }))).Total;
		const leaf = (value, extra = {}) => ({ field: 'ProductName', operator: 'contains', value, ...extra });
		assert.equal(await count(leaf('chai')), 10);
		assert.equal(await count(leaf('CHAI', { ignoreCase: false })), 0);
		assert.equal(await count(leaf('Chai', { ignoreCase: false })), 10);
		assert.equal(await count({ logic: 'or', filters: [leaf('chai'), leaf('tofu')] }), 20);
		assert.equal(await count({ logic: 'and', filters: [leaf('chai'), { field: 'UnitsInStock', operator: 'lt', value: 10 }] }), 3);
		assert.equal(await count({ logic: 'and', filters: [{ logic: 'or', filters: [leaf('ai 1'), leaf('ng 2')] }] }), 6);
		assert.equal(await count(leaf('i 2')), 3);	// Chai 21, 24, 27
		assert.equal(await count(leaf('u')), 10);	// one letter: no trigram, no narrowing

		// Nested and/or over numbers and text, sorted by price descending.
		const mixed = await a.invoke('read', page(1, 100, {
			sort: [{ field: 'UnitPrice', dir: 'desc' }],
			filter: { logic: 'and', filters: [
				{ field: 'UnitPrice', operator: 'gte', value: 20 },
				{ logic: 'or', filters: [
					{ field: 'Category', operator: 'eq', value: 'produce' },
					{ field: 'ProductName', operator: 'startswith', value: 'tofu' },
				] },
			] },
		}));
		const expect = [];
		for (let i = 30; i >= 16; i--) if (i % 2 === 1 || i % 3 === 2) expect.push(i);
		assert.deepEqual(mixed.Data.map((p) => p.UnitsInStock), expect);
		assert.equal(mixed.Total, expect.length);

		// Method names ignore case; an empty query is the whole group.
		assert.equal((await a.invoke('READ', {})).length, 30);
	});

	test('create answers the stored product and pushes it to the others in the group only', async () => {
		for (const c of [a, b, meetings]) c.pushes.clear();
		const made = await a.invoke('create', {
			ID: 'ignored', ProductName: '  Ikura ', UnitPrice: 31.005, UnitsInStock: 31, Category: 'Seafood',
			CreatedAt: '2000-01-01T00:00:00.000Z',
		});
		assert.match(made.ID, UUID_RE);
		assert.deepEqual(Object.keys(made), FIELDS);
		assert.equal(made.ProductName, 'Ikura');
		assert.equal(made.UnitPrice, 31.01);
		assert.equal(made.UnitsInStock, 31);
		assert.equal(made.Category, 'Seafood');
		assert.match(made.CreatedAt, ISO_Z_RE);
		assert.ok(Math.abs(Date.parse(made.CreatedAt) - Date.now()) < 60000, `CreatedAt ${made.CreatedAt}`);
		await waitFor(() => b.pushes.count('create') === 1, 5000, 'the create push at B');
		assert.deepEqual(b.pushes.payloads('create')[0], made);
		// Read, newest first, it is the first row.
		const first = await b.invoke('read', page(1, 1, { sort: [{ field: 'CreatedAt', dir: 'desc' }] }));
		assert.deepEqual(first.Data, [made]);
		assert.equal(first.Total, 31);
		await sleep(500);
		assert.equal(a.pushes.count(), 0, 'the caller gets no push of its own create');
		assert.equal(meetings.pushes.count(), 0, "MeetingHub's group 'shop' is another group");
	});

	test('update changes the fields given and pushes; destroy deletes and pushes', async () => {
		const made = await a.invoke('create', { ProductName: 'Konbu', UnitPrice: 6, UnitsInStock: 24, Category: 'Seafood' });
		b.pushes.clear();
		const changed = await b.invoke('update', { ...made, UnitPrice: 6.5, UnitsInStock: null });
		assert.equal(changed.UnitPrice, 6.5);
		assert.equal(changed.UnitsInStock, null);
		assert.equal(changed.CreatedAt, made.CreatedAt, 'CreatedAt is the server\'s');
		await waitFor(() => a.pushes.payloads('update').some((p) => p.ID === made.ID && p.UnitPrice === 6.5),
			5000, 'the update push at A');
		// A field left out keeps its value.
		const renamed = await a.invoke('update', { ID: made.ID, ProductName: 'Kombu' });
		assert.deepEqual({ ...renamed, ProductName: 'Konbu' }, changed);
		const gone = await a.invoke('destroy', renamed);
		assert.deepEqual(gone, renamed);
		await waitFor(() => b.pushes.payloads('destroy').some((p) => p.ID === made.ID), 5000, 'the destroy push at B');
		const left = await b.invoke('read', page(1, 10, {
			filter: { field: 'ID', operator: 'eq', value: made.ID },
		}));
		assert.deepEqual(left, { Data: [], Total: 0 });
		assert.equal(await rejects(a.invoke('destroy', { ID: made.ID }), 'destroy again'),
			failed('destroy', "Product not found: no product with this 'ID' in this group."));
		assert.equal(await rejects(a.invoke('update', { ...made, ProductName: 'Back' }), 'update a deleted one'),
			failed('update', "Product not found: no product with this 'ID' in this group."));
	});

	test("another group's product is not found there", async () => {
		const other = await connect(`${stack.url}/products?group=elsewhere`);
		try {
			const mine = await a.invoke('create', { ProductName: 'Mine' });
			assert.equal(await rejects(other.invoke('destroy', mine), 'destroy from another group'),
				failed('destroy', "Product not found: no product with this 'ID' in this group."));
			assert.equal((await other.invoke('read')).length, 5);
			await a.invoke('destroy', mine);
		} finally {
			await stopAll(other);
		}
	});

	test('validation errors name the field; nothing is stored', async () => {
		const before = await stack.psql('SELECT count(*) FROM producthub.products');
		const cases = [
			['create', { ProductName: 'x', UnitPrice: '18' }, "Invalid product: 'UnitPrice' must be a number."],
			['create', { ProductName: 'x', UnitPrice: -1 }, "Invalid product: 'UnitPrice' must not be negative."],
			['create', { ProductName: 'x', UnitPrice: 1e12 }, "Invalid product: 'UnitPrice' must be at most 9999999999.99."],
			['create', { ProductName: 'x', UnitsInStock: 1.5 }, "Invalid product: 'UnitsInStock' must be a whole number."],
			['create', { ProductName: 'x', UnitsInStock: 'many' }, "Invalid product: 'UnitsInStock' must be a whole number."],
			['create', { UnitPrice: 1 }, "Invalid product: 'ProductName' is required."],
			['create', { ProductName: '   ' }, "Invalid product: 'ProductName' is required."],
			['create', { ProductName: 7 }, "Invalid product: 'ProductName' must be a string."],
			['create', { ProductName: 'x'.repeat(201) }, "Invalid product: 'ProductName' is too long (at most 200 characters)."],
			['create', { ProductName: 'x', Category: ['a'] }, "Invalid product: 'Category' must be a string."],
			['create', [1, 2], "Invalid product: expected an object with the product's fields."],
			['update', { ProductName: 'x' }, "Invalid product: 'ID' is required."],
			['update', { ID: 42, ProductName: 'x' }, "Invalid product: 'ID' must be a product ID (a UUID)."],
			['destroy', { ID: "x' OR '1'='1" }, "Invalid product: 'ID' must be a product ID (a UUID)."],
		];
		for (const [method, arg, detail] of cases) {
			assert.equal(await rejects(a.invoke(method, arg), `${method} ${JSON.stringify(arg)}`), failed(method, detail));
		}
		// ASP.NET Core's wording for a wrong number of arguments and an unknown method.
		assert.match(await rejects(a.invoke('create'), 'create()'),
			/Invocation provides 0 argument\(s\) but target expects 1\./);
		assert.match(await rejects(a.invoke('product_json', {}), 'a helper'), /Method does not exist\./);
		assert.equal(await stack.psql('SELECT count(*) FROM producthub.products'), before);
	});

	test('a hostile filter field is refused; hostile values are plain data', async () => {
		const count = await stack.psql('SELECT count(*) FROM producthub.products');
		for (const field of ['ProductName" OR 1=1 --', 'product_name', 'r."ProductName"', 'lower(ProductName)']) {
			const message = await rejects(a.invoke('read', page(1, 10, {
				filter: { logic: 'and', filters: [{ field, operator: 'eq', value: 'x' }] },
			})), `field ${field}`);
			assert.match(message, /HubException: Invalid read query: unknown field/, message);
		}
		const sortBy = await rejects(a.invoke('read', page(1, 10, { sort: [{ field: 'id; DROP TABLE producthub.products', dir: 'asc' }] })), 'sort');
		assert.match(sortBy, /Invalid read query: unknown field/);
		const op = await rejects(a.invoke('read', page(1, 10, {
			filter: { field: 'ProductName', operator: 'like', value: '%' } })), 'operator');
		assert.match(op, /Invalid read query: .*operator/);
		// Values: stored and compared verbatim (no LIKE: % and _ are characters).
		const evil = "'); DROP TABLE producthub.products; -- 100% _";
		const made = await a.invoke('create', { ProductName: evil, Category: '%' });
		assert.equal(made.ProductName, evil);
		for (const value of [evil, '100% _', '%']) {
			const found = await a.invoke('read', page(1, 10, {
				filter: { field: 'ProductName', operator: 'contains', value } }));
			assert.deepEqual(found.Data.map((p) => p.ID), [made.ID], value);
		}
		const percent = await a.invoke('read', page(1, 10, { filter: { field: 'Category', operator: 'eq', value: '%' } }));
		assert.equal(percent.Total, 1);
		await a.invoke('destroy', made);
		assert.equal(await stack.psql('SELECT count(*) FROM producthub.products'), count);
	});

	test('a function replaced in psql is in force at the next call', async () => {
		const original = await stack.psql(`SELECT pg_get_functiondef('producthub.read(pollhub.hub_call, jsonb)'::regprocedure)`);
		try {
			await stack.psql(`CREATE OR REPLACE FUNCTION producthub.read(call pollhub.hub_call, query jsonb DEFAULT NULL)
				RETURNS SETOF producthub.product LANGUAGE sql STABLE AS $$
				SELECT p.id, p.product_name, p.unit_price, p.units_in_stock, p.created_at, p.category
				  FROM producthub.products p WHERE p.group_name = call.group_name AND p.category = 'Produce' $$`);
			const produce = await a.invoke('read', page(1, 100, {}));
			assert.equal(produce.Total, 15);
			assert.ok(produce.Data.every((p) => p.Category === 'Produce'));
		} finally {
			await stack.psql(original);
		}
		assert.equal((await a.invoke('read', page(1, 1, {}))).Total, 31);
	});

	describe('classic clients (jquery.signalR 2.4.3 on the wire, proxy productHub)', () => {
		// jquery.signalR lower-cases the proxy's name in connectionData and in H.
		const CD = JSON.stringify([{ name: 'producthub' }]);
		const qs = (o) => new URLSearchParams(o).toString();
		const form = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
		const base = () => `${stack.url}/signalr`;
		const params = (token) => ({ transport: 'longPolling', clientProtocol: '2.1', connectionToken: token, connectionData: CD });
		const ok = async (res) => {
			assert.equal(res.status, 200, await res.clone().text());
			return res.json();
		};

		test('create and read through the proxy; a Core member gets the push, the classic one polls it', async () => {
			const neg = await ok(await fetch(`${base()}/negotiate?${qs({ clientProtocol: '2.1', connectionData: CD })}`));
			const token = neg.ConnectionToken;
			assert.equal(await stack.psql(`SELECT hub FROM pollhub.connections WHERE token = pollhub.token_key('', '${token}')`),
				'ProductHub');
			// Into group 'shop' (a classic page would name it with the query string option).
			await stack.psql(`UPDATE pollhub.connections SET group_name = 'ProductHub/shop'
				WHERE token = pollhub.token_key('', '${token}')`);
			const conn = await ok(await fetch(`${base()}/connect?${qs(params(token))}`, { method: 'POST', headers: form, body: '' }));
			assert.deepEqual(await ok(await fetch(`${base()}/start?${qs(params(token))}`)), { Response: 'started' });
			const send = async (M, A, I) => ok(await fetch(`${base()}/send?${qs(params(token))}`, {
				method: 'POST', headers: form, body: qs({ data: JSON.stringify({ H: 'producthub', M, A, I }) }) }));

			b.pushes.clear();
			const made = await send('create', [{ ProductName: 'Classic Chai', UnitPrice: 18 }], 0);
			assert.equal(made.I, '0');
			assert.match(made.R.ID, UUID_RE);
			assert.equal(made.R.ProductName, 'Classic Chai');
			await waitFor(() => b.pushes.payloads('create').some((p) => p.ID === made.R.ID), 5000, 'the push at the Core client');
			const read = await send('read', [page(1, 2, { sort: [{ field: 'CreatedAt', dir: 'desc' }] })], 1);
			assert.equal(read.R.Data[0].ID, made.R.ID);
			assert.equal(read.R.Total, 32);
			const bad = await send('create', [{ ProductName: 'x', UnitPrice: 'free' }], 2);
			assert.equal(bad.I, '2');
			assert.match(bad.E, /Invalid product: 'UnitPrice' must be a number\./);

			// A Core client's change reaches the classic client's poll, named by its hub.
			const poll = fetch(`${base()}/poll?${qs(params(token))}`, { method: 'POST', headers: form, body: qs({ messageId: conn.C }) });
			await sleep(300);
			const changed = await b.invoke('update', { ...made.R, UnitPrice: 19 });
			const polled = await ok(await poll);
			assert.equal(polled.M.length, 1, JSON.stringify(polled));
			assert.equal(polled.M[0].H.toLowerCase(), 'producthub');
			assert.equal(polled.M[0].M, 'update');
			assert.deepEqual(polled.M[0].A, [changed]);
			await send('destroy', [changed], 3);
			await fetch(`${base()}/abort?${qs(params(token))}`, { method: 'POST', headers: form, body: '' });
		});
	});
});
