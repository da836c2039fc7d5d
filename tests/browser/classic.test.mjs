// The classic ASP.NET SignalR 2.x client (jquery.signalR 2.4.3 from npm `signalr`) as the
// Kendo Scheduler seed's classic variant writes it ($.hubConnection(hubUrl,
// { useDefaultPath: false }), createHubProxy("meetings"), start({ jsonp: true })), in two
// browser windows against the real stack, in one group with a Core client
// (@microsoft/signalr): reads, creates, updates and destroys from either generation reach
// the other; a psql INSERT reaches both; a client whose poll (or stream) was lost
// reconnects with its last message id and gets what it missed, exactly once.
//
// Start options per transport under test: LongPolling runs { jsonp: true } (the seed's)
// and { transport: "longPolling" }; ServerSentEvents runs { transport: "serverSentEvents" }
// and start() without options (Chromium then takes server-sent events).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll, sleep, waitFor } from '../integration/stack.mjs';
import { launchBrowser, makeDocroot, openWindow, steps, transports } from './browser.mjs';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PUSH_DEADLINE_MS = Number(process.env.POLLHUB_PUSH_DEADLINE_MS) || 1000;

const modes = {
	LongPolling: [['jsonp', 'longPolling'], ['longPolling', 'longPolling']],
	ServerSentEvents: [['serverSentEvents', 'serverSentEvents'], ['auto', 'serverSentEvents']],
};

const meeting = (title, day) => ({
	ID: null, Title: title, Start: `2026-12-${day}T09:00:00.000Z`, End: `2026-12-${day}T10:00:00.000Z`,
	IsAllDay: false, Description: `${title} (a test)`, RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '', RoomID: 2, Attendees: [3],
});

/** Waits for a push of type for id in a classic window; returns the ms since t0. */
async function classicSeen(page, type, id, t0) {
	await page.waitForFunction(([ty, i]) => harness.seen(ty, i) > 0, [type, id], { timeout: 5000, polling: 50 })
		.catch(() => { throw new Error(`no ${type} push for ${id} in the classic window`); });
	const at = await page.evaluate(([ty, i]) => harness.pushes.find((p) => p.type === ty && p.item.ID === i).at, [type, id]);
	assert.ok(at - t0 < PUSH_DEADLINE_MS, `the ${type} push arrived after ${at - t0} ms (limit ${PUSH_DEADLINE_MS})`);
	return at - t0;
}

const coreSeen = (core, type, id) => waitFor(() => core.pushes.payloads(type).some((m) => m.ID === id),
	5000, `the ${type} push for ${id} at the Core client`);

for (const transport of transports) {
	for (const [mode, expected] of modes[transport]) {
		describe(`classic jquery.signalR, start ${mode}, over ${transport}`, { timeout: 90000 }, () => {
			let docroot;
			let stack;
			let browser;
			let one;
			let two;
			let core;
			let group;
			let created;
			let requests;

			before(async () => {
				docroot = makeDocroot(['classic.html', 'classic.js'], ['jquery', 'signalr']);
				stack = await startStack({ docroot: docroot.dir, env: { POLLHUB_POLL_TIMEOUT: '20' } });
				browser = await launchBrowser();
			});
			after(async () => {
				await stopAll(core);
				await browser?.close();
				await stack?.stop();
				docroot?.remove();
			});
			const test = steps(() => stack, transport);
			const open = async () => {
				const page = await openWindow(browser, `${stack.url}/classic.html?start=${mode}`);
				page.hubRequests = [];
				page.on('request', (req) => {
					if (req.url().includes('/meetings/')) page.hubRequests.push(`${req.method()} ${req.url()}`);
				});
				await page.waitForFunction(() => harness.ready || harness.startError, null, { timeout: 15000 });
				assert.equal(await page.evaluate(() => harness.startError), null, 'start failed');
				assert.equal(await page.evaluate(() => harness.ready), expected, 'the transport the client ended up with');
				return page;
			};

			test('the seed\'s client starts against /meetings, with the Core client in its group', async () => {
				[one, two] = await Promise.all([open(), open()]);
				core = await connect(stack.hubUrl);
				group = await stack.psql(`SELECT string_agg(DISTINCT group_name, ',') FROM pollhub.connections`);
				assert.ok(group && !group.includes(','), `one group for all three clients: ${group}`);
				const transports = await stack.psql(`SELECT string_agg(transport, ',' ORDER BY transport) FROM pollhub.connections`);
				const classic = expected === 'longPolling' ? 'ClassicLongPolling' : 'ClassicServerSentEvents';
				assert.deepEqual(transports.split(',').filter((t) => t.startsWith('Classic')), [classic, classic]);
				const members = await stack.psql(`SELECT count(*) FROM pollhub.memberships WHERE group_name = '${group.replace(/'/g, "''")}'`);
				assert.equal(members, '3', 'both classic connections and the Core one joined the group');
				if (mode === 'jsonp') {
					// Every reply was a callback call: the client evaluated them all.
					requests = await one.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
					const hubCalls = requests.filter((u) => u.includes('/meetings/'));
					assert.ok(hubCalls.some((u) => u.includes('/negotiate?') && u.includes('callback=')), hubCalls.join('\n'));
					assert.ok(hubCalls.some((u) => u.includes('/connect?') && u.includes('callback=')), hubCalls.join('\n'));
				}
			});

			test('read (through /send) returns what the Core client created', async () => {
				const seeded = await core.invoke('create', meeting('Seeded by Core', '07'));
				const rows = await one.evaluate(() => harness.invoke('read'));
				assert.deepEqual(rows.find((m) => m.ID === seeded.ID), seeded);
				// Kendo sends read with its query object: one argument is accepted too.
				const again = await two.evaluate(() => harness.invoke('read', {}));
				assert.deepEqual(again.find((m) => m.ID === seeded.ID), seeded);
				// The Core create was pushed to both classic windows.
				await one.waitForFunction((id) => harness.seen('create', id) === 1, seeded.ID, { timeout: 5000 });
				await two.waitForFunction((id) => harness.seen('create', id) === 1, seeded.ID, { timeout: 5000 });
			});

			test('classic create: the result has its ID; the Core client and the other window get it, the caller not', async (t) => {
				const t0 = Date.now();
				const row = await one.evaluate((m) => harness.invoke('create', m), meeting('Classic create', '08'));
				created = row.ID;
				assert.match(created, UUID_RE);
				assert.equal(row.Title, 'Classic create');
				assert.equal(row.Start, '2026-12-08T09:00:00.000Z');
				t.diagnostic(`pushed to the other classic window after ${await classicSeen(two, 'create', created, t0)} ms`);
				await coreSeen(core, 'create', created);
				assert.deepEqual(core.pushes.payloads('create').find((m) => m.ID === created), row, 'the same JSON');
				await sleep(300);
				assert.equal(await one.evaluate((id) => harness.seen('create', id), created), 0, 'no echo to the caller');
			});

			test('Core update reaches both classic windows', async () => {
				const t0 = Date.now();
				const current = core.pushes.payloads('create').find((m) => m.ID === created);
				const updated = await core.invoke('update', { ...current, Title: 'Updated by Core' });
				assert.equal(updated.Title, 'Updated by Core');
				await classicSeen(one, 'update', created, t0);
				await classicSeen(two, 'update', created, t0);
				const item = await two.evaluate((id) => harness.pushes.find((p) => p.type === 'update' && p.item.ID === id).item, created);
				assert.equal(item.Title, 'Updated by Core');
			});

			test('classic update and destroy reach the Core client and the other window', async () => {
				const rows = await two.evaluate(() => harness.invoke('read'));
				const row = rows.find((m) => m.ID === created);
				const t0 = Date.now();
				const updated = await two.evaluate((m) => harness.invoke('update', { ...m, Title: 'Updated by classic' }), row);
				assert.equal(updated.Title, 'Updated by classic');
				await coreSeen(core, 'update', created);
				await one.waitForFunction((id) => harness.pushes.some((p) => p.type === 'update' && p.item.Title === 'Updated by classic'), created, { timeout: 5000 });
				const result = await one.evaluate((m) => harness.invoke('destroy', m), updated);
				assert.equal(result, null, 'destroy is void: no R');
				await coreSeen(core, 'destroy', created);
				await classicSeen(two, 'destroy', created, t0);
				const after = await two.evaluate(() => harness.invoke('read'));
				assert.ok(!after.some((m) => m.ID === created), 'gone from the hub');
			});

			test('hub errors come back as the invocation\'s error', async () => {
				const err = await one.evaluate(() => harness.invoke('update', { ID: '00000000-0000-4000-8000-000000000000',
					Title: 'x', Start: '2026-12-09T09:00:00.000Z', End: '2026-12-09T10:00:00.000Z' })
					.then(() => 'resolved', (e) => e.message));
				assert.match(err, /Meeting not found/);
				const unknown = await one.evaluate(() => harness.invoke('nosuch').then(() => 'resolved', (e) => e.message));
				assert.match(unknown, /Method does not exist/);
			});

			test('an INSERT from psql reaches both classic windows and the Core client', async () => {
				const t0 = Date.now();
				const id = await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
					VALUES ('${group.replace(/'/g, "''")}', 'Planned in psql', '2026-12-10T09:00:00Z', '2026-12-10T09:30:00Z') RETURNING id`);
				await classicSeen(one, 'create', id, t0 - 500);	// psql's own start counts
				await classicSeen(two, 'create', id, t0 - 500);
				await coreSeen(core, 'create', id);
				const item = await one.evaluate((i) => harness.pushes.find((p) => p.type === 'create' && p.item.ID === i).item, id);
				assert.equal(item.Title, 'Planned in psql');
			});

			test(`a reconnect after a lost ${expected === 'longPolling' ? 'poll' : 'stream'} gets what was missed, once`, async () => {
				const before = await one.evaluate(() => harness.reconnects);
				let missed;
				if (expected === 'longPolling') {
					// The next poll fails as a dropped connection does; the client waits
					// (3 s), then sends /reconnect with its last message id.
					let dropped = false;
					await one.route('**/meetings/poll?**', (route) => {
						if (dropped) return route.continue();
						dropped = true;
						return route.abort('connectionreset');
					});
					// End the poll held now: the Core client's push answers it, and the
					// poll after it is the one dropped.
					const first = await core.invoke('create', meeting('Before the drop', '11'));
					await one.waitForFunction((id) => harness.seen('create', id) === 1, first.ID, { timeout: 5000 });
					await waitFor(() => dropped, 5000, 'the dropped poll');
					await one.waitForFunction(() => harness.states.includes(2 /* reconnecting */), null, { timeout: 5000 });
					missed = await core.invoke('create', meeting('While away', '12'));
					await one.unroute('**/meetings/poll?**');
				} else {
					// A restart in place ends classic streams (they are not handed over);
					// the client reconnects with its last message id after 2 s.
					await stack.reloadResponder();
					missed = (await core.invoke('create', meeting('While away', '12')));
				}
				await one.waitForFunction((b) => harness.reconnects > b, before, { timeout: 15000 });
				await one.waitForFunction((id) => harness.seen('create', id) === 1, missed.ID, { timeout: 5000 });
				assert.ok(one.hubRequests.some((r) => r.includes('/meetings/reconnect?')), 'the client sent /reconnect');
				await two.waitForFunction((id) => harness.seen('create', id) === 1, missed.ID, { timeout: 5000 });
				// And nothing twice, in either window.
				await sleep(1000);
				for (const page of [one, two]) {
					const counts = await page.evaluate(() => {
						const n = {};
						for (const p of harness.pushes) {
							const key = `${p.type} ${JSON.stringify(p.item)}`;
							n[key] = (n[key] || 0) + 1;
						}
						return Object.values(n);
					});
					assert.ok(counts.every((c) => c === 1), `a push delivered twice: ${JSON.stringify(counts)}`);
				}
				// Still connected afterwards: a push goes on arriving.
				const t0 = Date.now();
				const later = await core.invoke('create', meeting('After the reconnect', '13'));
				await classicSeen(one, 'create', later.ID, t0);
			});

			test('a hub written in SQL: ProductHub through its proxy, beside MeetingHub', async () => {
				const page = await openWindow(browser, `${stack.url}/classic.html?start=${mode}&hub=/products&proxy=productHub`);
				await page.waitForFunction(() => harness.ready || harness.startError, null, { timeout: 15000 });
				assert.equal(await page.evaluate(() => harness.startError), null, 'start failed');
				const shopper = await connect(`${stack.url}/products`);
				const got = [];
				shopper.on('create', (p) => { got.push(p); });
				try {
					const made = await page.evaluate(() => harness.invoke('create',
						{ ProductName: 'Classic tea', UnitPrice: 4.5, UnitsInStock: 3, Category: 'Beverages' }));
					assert.match(made.ID, UUID_RE);
					assert.equal(made.ProductName, 'Classic tea');
					await waitFor(() => got.some((p) => p.ID === made.ID), 5000, 'the Core client of ProductHub got the create');
					const page1 = await page.evaluate(() => harness.invoke('read', { take: 5, skip: 0,
						filter: { field: 'ProductName', operator: 'contains', value: 'classic' } }));
					assert.ok(page1.Total >= 1 && page1.Data.some((p) => p.ID === made.ID), JSON.stringify(page1));
					// Its validation, in SQL, names the field.
					await assert.rejects(page.evaluate(() => harness.invoke('create', { ProductName: '' })), /ProductName/);
				} finally {
					await stopAll(shopper);
					await page.evaluate(() => connection.stop());
					await page.close();
				}
			});

			test('nothing failed; stop() sends /abort and the connection is removed', async () => {
				// Only the poll the test dropped (window one, long polling) may have failed.
				const dropped = (p) => p === 'console error: Failed to load resource: net::ERR_CONNECTION_RESET';
				assert.ok(one.problems.filter(dropped).length <= (expected === 'longPolling' ? 1 : 0), one.problems.join('\n'));
				for (const page of [one, two]) {
					assert.deepEqual(await page.evaluate(() => harness.errors.filter((e) => !/Long polling request failed/.test(e))), []);
					assert.deepEqual(page.problems.filter((p) => !dropped(p)), []);
				}
				const token = await two.evaluate(() => harness.token());
				await two.evaluate(() => connection.stop());
				await waitFor(async () => (await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE token = pollhub.token_key('', '${token}')`)) === '0',
					5000, 'the connection removed by /abort');
			});
		});
	}
}
