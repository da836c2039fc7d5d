// kendo-ui-core's DataSource with its SignalR transport over the seed's classic hub proxy
// (jquery.signalR 2.4.3: classic-datasource.html/.js) in one window, and over a Core
// HubConnection (@microsoft/signalr: datasource.html/.js) in another, in the same group:
// read, create (the item gets its server ID), update and destroy in either window reach the
// other through its `push` event, and both end with the same data. LongPolling runs the
// seed's start({ jsonp: true }); ServerSentEvents runs start({ transport: "serverSentEvents" }).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll } from '../integration/stack.mjs';
import {
	launchBrowser, makeDocroot, openWindow, steps, transports,
	UUID_RE, PUSH_DEADLINE_MS, seedMeeting as seed, comparable, rowsOf, pushSeen,
} from './browser.mjs';

const classicStart = { LongPolling: ['jsonp', 'longPolling'], ServerSentEvents: ['serverSentEvents', 'serverSentEvents'] };

for (const transport of transports) {
	const [start, expected] = classicStart[transport];
	describe(`Kendo DataSource over the classic hub proxy (start ${start}) beside a Core one, over ${transport}`, { timeout: 60000 }, () => {
		let docroot;
		let stack;
		let browser;
		let classic;
		let core;
		let created;

		before(async () => {
			docroot = makeDocroot(['classic-datasource.html', 'classic-datasource.js', 'datasource.html', 'datasource.js'],
				['jquery', 'signalr', '@microsoft/signalr', 'kendo-ui-core']);
			stack = await startStack({ docroot: docroot.dir, env: { POLLHUB_POLL_TIMEOUT: '20' } });
			browser = await launchBrowser();
		});
		after(async () => {
			await browser?.close();
			await stack?.stop();
			docroot?.remove();
		});
		const test = steps(() => stack, transport);

		test('both windows read the same meetings', async () => {
			const node = await connect(stack.hubUrl, { transport: 'LongPolling' });
			let seeded;
			try {
				seeded = await node.invoke('create', seed);
			} finally {
				await stopAll(node);
			}
			[classic, core] = await Promise.all([
				openWindow(browser, `${stack.url}/classic-datasource.html?start=${start}`),
				openWindow(browser, `${stack.url}/datasource.html?transport=${transport}`),
			]);
			assert.equal(await classic.evaluate(() => harness.ready), expected, 'the classic transport');
			assert.equal(await core.evaluate(() => harness.ready), `${transport}Transport`, 'the Core transport');
			const rows = await rowsOf(classic);
			assert.deepEqual(rows, [{
				ID: seeded.ID, title: 'Seeded', description: 'from a Node client',
				start: seed.Start, end: seed.End, isAllDay: false, dirty: false,
			}]);
			assert.deepEqual(await rowsOf(core), rows);
		});

		test('create in the classic window: the server ID, a create push in the Core window', async (t) => {
			const t0 = Date.now();
			const row = await classic.evaluate(() => harness.create({
				title: 'Classic Kendo create', description: 'made over jquery.signalR',
				start: '2026-11-24T10:00:00.000Z', end: '2026-11-24T11:30:00.000Z',
			}));
			created = row.ID;
			assert.match(created, UUID_RE);
			assert.equal(row.dirty, false);
			t.diagnostic(`create pushed after ${await pushSeen(core, 'create', created, t0)} ms`);
			assert.deepEqual(comparable(await rowsOf(core)), comparable(await rowsOf(classic)));
			assert.equal((await rowsOf(classic)).filter((r) => r.ID === created).length, 1, 'no echo to the creator');
		});

		test('update in the Core window: an update push in the classic window', async () => {
			const t0 = Date.now();
			await core.evaluate((id) => harness.update(id, {
				title: 'Core Kendo update', start: '2026-11-25T13:00:00.000Z', end: '2026-11-25T13:45:00.000Z',
			}), created);
			await pushSeen(classic, 'update', created, t0);
			const rows = await rowsOf(classic);
			assert.deepEqual(comparable(await rowsOf(core)), comparable(rows));
			assert.deepEqual(rows.find((r) => r.ID === created), {
				ID: created, title: 'Core Kendo update', description: 'made over jquery.signalR',
				start: '2026-11-25T13:00:00.000Z', end: '2026-11-25T13:45:00.000Z', isAllDay: false, dirty: false,
			});
			assert.equal(await classic.evaluate(() => harness.hasChanges()), false, 'a push leaves nothing to sync');
		});

		test('update and destroy in the classic window reach the Core window', async () => {
			let t0 = Date.now();
			await classic.evaluate((id) => harness.update(id, { title: 'Classic Kendo update' }), created);
			await core.waitForFunction((id) => harness.rows().some((r) => r.ID === id && r.title === 'Classic Kendo update'),
				created, { timeout: 5000 });
			assert.ok(Date.now() - t0 < PUSH_DEADLINE_MS + 500);
			t0 = Date.now();
			await classic.evaluate((id) => harness.destroy(id), created);
			await pushSeen(core, 'destroy', created, t0);
			assert.deepEqual(comparable(await rowsOf(core)), comparable(await rowsOf(classic)));
			assert.ok(!(await rowsOf(core)).some((r) => r.ID === created));
		});

		test('read again: both hold what the hub holds; nothing failed', async () => {
			const reread = await Promise.all([classic, core].map((page) => page.evaluate(() => harness.read())));
			assert.deepEqual(comparable(reread[0]), comparable(reread[1]));
			for (const page of [classic, core]) {
				assert.deepEqual(await page.evaluate(() => harness.errors), []);
				assert.deepEqual(page.problems, []);
			}
			assert.deepEqual(await classic.evaluate(() => harness.pushes.map((p) => p.type)), ['update'],
				'the classic window saw only the other window\'s change');
		});
	});
}
