// kendo-ui-core's DataSource with its SignalR transport, configured as the Kendo Scheduler
// seed configures it (datasource.html/.js), in two browser windows against the real
// stack: read, create (the item gets its server ID), update and destroy in one window;
// the other receives each change through its `push` event and holds the same data.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll } from '../integration/stack.mjs';
import {
	launchBrowser, makeDocroot, openWindow, steps, transports,
	UUID_RE, PUSH_DEADLINE_MS, seedMeeting as seed, comparable, rowsOf, pushSeen,
} from './browser.mjs';

const ISO_MS_Z_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

for (const transport of transports) {
	describe(`Kendo DataSource over ${transport}`, { timeout: 60000 }, () => {
		let docroot;
		let stack;
		let browser;
		let one;
		let two;
		let created;
		let seeded;

		before(async () => {
			docroot = makeDocroot(['datasource.html', 'datasource.js'],
				['jquery', '@microsoft/signalr', 'kendo-ui-core']);
			stack = await startStack({ docroot: docroot.dir, env: { POLLHUB_POLL_TIMEOUT: '20' } });
			browser = await launchBrowser();
		});
		after(async () => {
			await browser?.close();
			await stack?.stop();
			docroot?.remove();
		});
		const test = steps(() => stack, transport);
		const open = async () => {
			const page = await openWindow(browser, `${stack.url}/datasource.html?transport=${transport}`);
			const used = await page.evaluate(() => harness.ready);
			assert.equal(used, `${transport}Transport`, 'the transport the client ended up with');
			return page;
		};

		test('both windows read the same meetings, mapped from the PascalCase fields', async () => {
			const node = await connect(stack.hubUrl, { transport: 'LongPolling' });
			try {
				seeded = await node.invoke('create', seed);
			} finally {
				await stopAll(node);
			}
			[one, two] = await Promise.all([open(), open()]);
			const rows = await rowsOf(one);
			assert.deepEqual(rows, [{
				ID: seeded.ID, title: 'Seeded', description: 'from a Node client',
				start: seed.Start, end: seed.End, isAllDay: false, dirty: false,
			}]);
			assert.deepEqual(await rowsOf(two), rows);
			assert.deepEqual(await one.evaluate(() => harness.calls), [['read']], 'read goes without a query');
		});

		test('create: the item gets its server ID, the other window gets a create push', async (t) => {
			const t0 = Date.now();
			const row = await one.evaluate(() => harness.create({
				title: 'Kendo create', description: 'made in window one',
				start: '2026-11-24T10:00:00.000Z', end: '2026-11-24T11:30:00.000Z',
			}));
			created = row.ID;
			assert.match(created, UUID_RE);
			assert.equal(row.dirty, false);
			const ms = await pushSeen(two, 'create', created, t0);
			t.diagnostic(`create pushed after ${ms} ms`);
			assert.deepEqual(comparable(await rowsOf(two)), comparable(await rowsOf(one)));
			assert.equal((await rowsOf(one)).filter((r) => r.ID === created).length, 1, 'no echo to the creator');

			// What went over the wire: the seed's field names, dates as ISO 8601 UTC.
			const [target, sent] = (await one.evaluate(() => harness.calls)).at(-1);
			assert.equal(target, 'create');
			assert.equal(sent.Title, 'Kendo create');
			assert.match(sent.Start, ISO_MS_Z_RE);
			assert.ok(!('title' in sent) && !('start' in sent), `client names left in ${JSON.stringify(sent)}`);
			// Every field of the seed's model, with Kendo's defaults: null ID, 0 RecurrenceID (int).
			assert.deepEqual(Object.keys(sent).sort(), ['Description', 'End', 'EndTimezone', 'ID', 'IsAllDay',
				'RecurrenceException', 'RecurrenceID', 'RecurrenceRule', 'Start', 'StartTimezone', 'Title']);
			assert.equal(sent.ID, null);
			assert.equal(sent.RecurrenceID, 0);
		});

		test('update in the other window: an update push, both windows equal and clean', async () => {
			const t0 = Date.now();
			const row = await two.evaluate((id) => harness.update(id, {
				title: 'Kendo update', start: '2026-11-25T13:00:00.000Z', end: '2026-11-25T13:45:00.000Z',
			}), created);
			assert.equal(row.title, 'Kendo update');
			await pushSeen(one, 'update', created, t0);
			const rows = await rowsOf(one);
			assert.deepEqual(comparable(await rowsOf(two)), comparable(rows));
			assert.deepEqual(rows.find((r) => r.ID === created), {
				ID: created, title: 'Kendo update', description: 'made in window one',
				start: '2026-11-25T13:00:00.000Z', end: '2026-11-25T13:45:00.000Z', isAllDay: false, dirty: false,
			});
			assert.equal(await one.evaluate(() => harness.hasChanges()), false, 'a push leaves nothing to sync');
		});

		test('fields outside the schema (RoomID, Attendees) survive an update', async () => {
			const t0 = Date.now();
			await two.evaluate((id) => harness.update(id, { title: 'Seeded, renamed' }), seeded.ID);
			await pushSeen(one, 'update', seeded.ID, t0);
			const [, sent] = (await two.evaluate(() => harness.calls)).at(-1);
			assert.equal(sent.RoomID, 1);
			assert.deepEqual(sent.Attendees, [1, 2]);
			const node = await connect(stack.hubUrl, { transport: 'LongPolling' });
			try {
				const stored = (await node.invoke('read')).find((m) => m.ID === seeded.ID);
				assert.equal(stored.Title, 'Seeded, renamed');
				assert.equal(stored.RoomID, 1);
				assert.deepEqual(stored.Attendees, [1, 2]);
			} finally {
				await stopAll(node);
			}
		});

		test('destroy: a destroy push, the item gone from both windows', async () => {
			const t0 = Date.now();
			await one.evaluate((id) => harness.destroy(id), created);
			await pushSeen(two, 'destroy', created, t0);
			const rows = await rowsOf(two);
			assert.deepEqual(rows.map((r) => r.ID), [seeded.ID]);
			assert.deepEqual(comparable(await rowsOf(one)), comparable(rows));
		});

		test('read again, each window holds what the hub holds; nothing failed', async () => {
			const reread = await Promise.all([one, two].map((page) => page.evaluate(() => harness.read())));
			assert.deepEqual(comparable(reread[0]), comparable(await rowsOf(two)));
			assert.deepEqual(comparable(reread[1]), comparable(reread[0]));
			for (const page of [one, two]) {
				assert.deepEqual(await page.evaluate(() => harness.errors), []);
				assert.deepEqual(page.problems, []);
			}
			const pushes = await one.evaluate(() => harness.pushes.map((p) => p.type));
			assert.deepEqual(pushes, ['update', 'update'], 'window one saw only the other window\'s changes');
		});
	});
}
