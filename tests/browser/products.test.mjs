// The products page (deploy/www/products.html) over ProductHub in two browser windows of
// one group: a product added, changed and deleted in one appears in the other within a
// second, without a reload; paging, sorting and filtering are reads the server answers
// (the invocations the page POSTs are checked, and the rows against the database).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, repoRoot } from '../integration/stack.mjs';
import { launchBrowser, openWindow, steps, transports } from './browser.mjs';

const PUSH_DEADLINE_MS = Number(process.env.POLLHUB_PUSH_DEADLINE_MS) || 1000;
const RS = '\x1e';
// What the page loads, the hub's requests aside (measured: 24 requests, 1,217,036 bytes).
const MAX_PAGE_REQUESTS = 26;
const MAX_PAGE_BYTES = 1_300_000;
const UNUSED_KENDO = ['kendo.icons.min.js', 'kendo.editable.min.js', 'kendo.dropdownlist.min.js', 'kendo.ui.core.min.js'];

/** Records the arguments of every `read` the page invokes (the POSTs to /products). */
function recordReads(page) {
	page.reads = [];
	page.on('request', (req) => {
		if (req.method() !== 'POST' || new URL(req.url()).pathname !== '/products') return;
		for (const frame of (req.postData() || '').split(RS)) {
			if (!frame) continue;
			let message;
			try {
				message = JSON.parse(frame);
			} catch {
				continue;	// the handshake's own frame is JSON too; anything else is not ours
			}
			if (message.type === 1 && message.target === 'read') page.reads.push(message.arguments[0]);
		}
	});
}

async function waitLoaded(page) {
	await page.waitForSelector('body[data-connection="connected"][data-loaded="true"]', { timeout: 15000, state: 'attached' })
		.catch((e) => { throw new Error(`${e.message}\n${page.problems.join('\n')}`); });
}

/** The names in the rows, top to bottom. */
const names = (page) => page.locator('.product-row .cell.name').allTextContents();
const info = (page) => page.locator('.k-pager-info').textContent();

/** Waits for the page's next read after `n` reads; returns its argument. */
async function nextRead(page, n) {
	const t0 = Date.now();
	while (page.reads.length <= n) {
		if (Date.now() - t0 > 5000) throw new Error(`no read after ${n} (${JSON.stringify(page.reads)})`);
		await page.waitForTimeout(20);
	}
	return page.reads[n];
}

/** Records the time of every click, pointerup and Enter in `page` as window.gestureAt:
 *  latency is measured from the gesture, as the page saw it, leaving out the time
 *  Playwright takes to fill the form. */
function recordGestures(page) {
	return page.evaluate(() => {
		for (const type of ['pointerup', 'click']) document.addEventListener(type, () => { window.gestureAt = Date.now(); }, true);
		document.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.gestureAt = Date.now(); }, true);
	});
}

const gestureAt = (page) => page.evaluate(() => window.gestureAt);

/** Waits until fn(arg) holds in `page`; returns how long after t0 (page time) that was. */
async function seenWithin(page, t0, fn, arg, what) {
	const seen = await page.waitForFunction(fn, arg, { timeout: 5000, polling: 'raf' })
		.catch(() => { throw new Error(`the other window never showed ${what}`); });
	const ms = (await seen.jsonValue()) - t0;
	assert.ok(ms < PUSH_DEADLINE_MS, `the other window showed ${what} after ${ms} ms (limit ${PUSH_DEADLINE_MS})`);
	return ms;
}

const rowWith = ([id, text]) => [...document.querySelectorAll(`.product-row[data-id="${id}"]`)]
	.some((n) => n.textContent.includes(text)) && Date.now();
const noRow = (id) => !document.querySelector(`.product-row[data-id="${id}"]`) && Date.now();

for (const transport of transports) {
	describe(`products page over ${transport}`, { timeout: 90000 }, () => {
		const group = `shop-${transport}`;
		let stack;
		let browser;
		let one;
		let two;
		let added;

		before(async () => {
			stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '20', POLLHUB_GROUP_PARAM: 'group' } });
			browser = await launchBrowser();
			// 25 products, a minute apart (the newest is Product 25), every third a Chai.
			await stack.psql(`INSERT INTO producthub.products (group_name, product_name, unit_price,
				units_in_stock, category, created_at)
				SELECT '${group}', CASE WHEN i % 3 = 0 THEN 'Chai ' ELSE 'Product ' END || i, i * 2, 100 - i,
					'Beverages', '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute'
				  FROM generate_series(1, 25) i`);
		});
		after(async () => {
			await browser?.close();
			await stack?.stop();
		});
		const test = steps(() => stack, transport);
		const url = () => `${stack.url}/products.html?transport=${transport}&group=${encodeURIComponent(group)}`;
		const sql = (q) => stack.psql(q.replaceAll(':group', `'${group}'`));

		test('two windows load the first page, newest first, and connect', async () => {
			// Blank first: the reads are recorded from the first one on.
			[one, two] = await Promise.all([openWindow(browser, 'about:blank', { viewport: { width: 1100, height: 760 } }),
				openWindow(browser, 'about:blank', { viewport: { width: 1100, height: 760 } })]);
			await Promise.all([one, two].map(async (page) => {
				recordReads(page);
				await page.goto(url());
				await waitLoaded(page);
				await recordGestures(page);
			}));
			for (const page of [one, two]) {
				assert.deepEqual(page.reads[0], { take: 10, skip: 0, page: 1, pageSize: 10,
					sort: [{ field: 'CreatedAt', dir: 'desc' }] });
				assert.deepEqual(await names(page), ['Product 25', 'Chai 24', 'Product 23', 'Product 22', 'Chai 21',
					'Product 20', 'Product 19', 'Chai 18', 'Product 17', 'Product 16']);
				assert.equal(await info(page), '1 – 10 of 25 products');
				assert.match(await page.locator('#connection-state').textContent(), /^connected/);
				assert.equal(await page.locator('#transport').inputValue(), transport);
				assert.equal(await page.locator('.product-head [data-field="CreatedAt"]').getAttribute('aria-sort'), 'descending');
			}
		});

		test('the page loads only what it uses; its icons are kendo-svg-icons\'', async (t) => {
			const load = await one.evaluate(() => {
				const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
					.filter((e) => !new URL(e.name).pathname.startsWith('/products'));
				return { requests: entries.length, bytes: entries.reduce((sum, e) => sum + e.encodedBodySize, 0),
					urls: entries.map((e) => new URL(e.name).pathname) };
			});
			t.diagnostic(`page: ${load.requests} requests, ${load.bytes} bytes`);
			for (const file of UNUSED_KENDO) assert.ok(!load.urls.some((u) => u.endsWith(`/${file}`)), `${file} loaded`);
			assert.ok(load.requests <= MAX_PAGE_REQUESTS, `${load.requests} requests (at most ${MAX_PAGE_REQUESTS})`);
			assert.ok(load.bytes <= MAX_PAGE_BYTES, `${load.bytes} bytes (at most ${MAX_PAGE_BYTES})`);
			const svgIcons = (await import(path.join(repoRoot,
				'deploy/www/node_modules/@progress/kendo-svg-icons/dist/index.js'))).default;
			const mine = await one.evaluate(() => kendo.ui.svgIcons);
			for (const [key, icon] of Object.entries(mine)) {
				assert.ok(svgIcons[key], `${key} is not a kendo-svg-icons icon`);
				assert.equal(icon.content, svgIcons[key].content, key);
				assert.equal(icon.viewBox, svgIcons[key].viewBox, key);
			}
			const icons = await one.evaluate(() => [...document.querySelectorAll('.k-svg-icon')]
				.map((n) => ({ name: n.className.baseVal ?? n.className, drawn: !!n.querySelector('svg > *') })));
			assert.ok(icons.length >= 14, `only ${icons.length} icons drawn`);	// pager 4, rows 10
			assert.deepEqual(icons.filter((i) => !i.drawn), [], 'icons drawn empty');
			// The calendar links here and back, keeping the transport and the group.
			assert.equal(await one.locator('#to-meetings').getAttribute('href'),
				`index.html?transport=${transport}&group=${encodeURIComponent(group)}`);
			const calendar = await openWindow(browser, url().replace('/products.html', '/'));
			try {
				await calendar.waitForFunction(() => document.getElementById('to-products').href.includes('?'));
				assert.equal(new URL(await calendar.evaluate(() => document.getElementById('to-products').href)).search,
					new URL(url()).search);
			} finally {
				await calendar.context().close();
			}
		});

		test('a product added in one window appears in the other', async (t) => {
			await one.locator('#new-name').fill('Ikura <b>fresh</b>');
			await one.locator('#new-price').fill('31');
			await one.locator('#new-stock').fill('7');
			await one.locator('#new-category').fill('Seafood');
			await one.locator('#add-product').click();
			const t0 = await gestureAt(one);
			// The hub answers with the ID, which the row takes.
			const row = one.locator('.product-row', { hasText: 'Ikura <b>fresh</b>' });
			await one.waitForFunction(() => [...document.querySelectorAll('.product-row')]
				.some((r) => r.textContent.includes('Ikura') && /^[0-9a-f-]{36}$/.test(r.dataset.id)));
			added = await row.getAttribute('data-id');
			assert.equal(await sql(`SELECT product_name || '|' || unit_price || '|' || units_in_stock || '|' || category
				FROM producthub.products WHERE id = '${added}'`), 'Ikura <b>fresh</b>|31.00|7|Seafood');
			const ms = await seenWithin(two, t0, rowWith, [added, 'Ikura <b>fresh</b>'], 'the new product');
			t.diagnostic(`create: ${ms} ms`);
			assert.equal(await two.locator(`.product-row[data-id="${added}"] b`).count(), 0, 'the name is text, not HTML');
			assert.equal(await two.locator(`.product-row[data-id="${added}"] .cell[data-field="UnitPrice"]`).textContent(), '31.00');
		});

		test('a cell changed in one window changes in the other', async (t) => {
			await one.locator(`.product-row[data-id="${added}"] .cell[data-field="UnitPrice"]`).click();
			await one.locator(`.product-row[data-id="${added}"] input`).fill('29.5');
			await one.locator(`.product-row[data-id="${added}"] input`).press('Enter');
			const t0 = await gestureAt(one);
			const ms = await seenWithin(two, t0, rowWith, [added, '29.50'], 'the new price');
			t.diagnostic(`update: ${ms} ms`);
			await one.waitForFunction((id) => document.querySelector(`.product-row[data-id="${id}"]`)
				.textContent.includes('29.50'), added);
			assert.equal(await sql(`SELECT unit_price FROM producthub.products WHERE id = '${added}'`), '29.50');
		});

		test('a change the hub refuses is reported and undone', async () => {
			await one.locator(`.product-row[data-id="${added}"] .cell[data-field="UnitsInStock"]`).click();
			await one.locator(`.product-row[data-id="${added}"] input`).fill('-3');
			await one.locator(`.product-row[data-id="${added}"] input`).press('Enter');
			await one.locator('.k-notification', { hasText: "Invalid product: 'UnitsInStock' must not be negative." }).waitFor();
			await one.waitForFunction((id) => document.querySelector(`.product-row[data-id="${id}"] .cell[data-field="UnitsInStock"]`)
				.textContent === '7', added);
			assert.equal(await sql(`SELECT units_in_stock FROM producthub.products WHERE id = '${added}'`), '7');
		});

		test('a product deleted in one window goes from the other', async (t) => {
			await one.locator(`.product-row[data-id="${added}"] .delete`).click();
			const t0 = await gestureAt(one);
			const ms = await seenWithin(two, t0, noRow, added, 'the deletion');
			t.diagnostic(`destroy: ${ms} ms`);
			assert.equal(await sql(`SELECT count(*) FROM producthub.products WHERE id = '${added}'`), '0');
		});

		test('paging, sorting and filtering are reads the server answers', async () => {
			// Page 3 of the 25: rows 21-25 of newest first.
			let n = two.reads.length;
			await two.locator('.k-pager-nav[title="Go to the last page"], .k-pager-last').first().click();
			assert.deepEqual(await nextRead(two, n), { take: 10, skip: 20, page: 3, pageSize: 10,
				sort: [{ field: 'CreatedAt', dir: 'desc' }] });
			await two.waitForFunction(() => document.querySelector('.k-pager-info').textContent === '21 – 25 of 25 products');
			assert.deepEqual(await names(two), ['Product 5', 'Product 4', 'Chai 3', 'Product 2', 'Product 1']);

			// Sorted by name: the server's order (ID breaks no ties: the names differ).
			n = two.reads.length;
			await two.locator('.product-head [data-field="ProductName"]').click();
			const byName = await nextRead(two, n);
			assert.deepEqual(byName.sort, [{ field: 'ProductName', dir: 'asc' }]);
			assert.equal(byName.take, 10);
			await two.waitForFunction(() => document.querySelector('.product-head [data-field="ProductName"]')
				.getAttribute('aria-sort') === 'ascending');
			const expected = (await sql(`SELECT string_agg(product_name, '|' ORDER BY product_name, id)
				FROM (SELECT product_name, id FROM producthub.products WHERE group_name = :group
				ORDER BY product_name, id LIMIT 10 OFFSET ${byName.skip}) p`)).split('|');
			await two.waitForFunction((e) => [...document.querySelectorAll('.product-row .cell.name')]
				.map((c) => c.textContent).join('|') === e, expected.join('|'));

			// Filtered (the server ignores case), back on page 1, still by name.
			n = two.reads.length;
			await two.locator('#filter').fill('CHAI');
			const filtered = await nextRead(two, n);
			assert.deepEqual(filtered.filter, { logic: 'and', filters: [{ field: 'ProductName', operator: 'contains', value: 'CHAI' }] });
			assert.equal(filtered.skip, 0);
			await two.waitForFunction(() => document.querySelector('.k-pager-info').textContent === '1 – 8 of 8 products');
			assert.deepEqual(await names(two), ['Chai 12', 'Chai 15', 'Chai 18', 'Chai 21', 'Chai 24', 'Chai 3', 'Chai 6', 'Chai 9']);
			// Descending on a second click.
			n = two.reads.length;
			await two.locator('.product-head [data-field="ProductName"]').click();
			assert.deepEqual((await nextRead(two, n)).sort, [{ field: 'ProductName', dir: 'desc' }]);
			await two.waitForFunction(() => document.querySelector('.product-row .cell.name').textContent === 'Chai 9');
			// The filter cleared: every product again.
			n = two.reads.length;
			await two.locator('#filter').fill('');
			assert.ok(!('filter' in await nextRead(two, n)));
			await two.waitForFunction(() => document.querySelector('.k-pager-info').textContent === '1 – 10 of 25 products');
			for (const page of [one, two]) {
				assert.deepEqual(page.problems, []);
			}
		});
	});
}
