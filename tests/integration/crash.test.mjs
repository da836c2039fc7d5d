// A responder killed with SIGKILL under load (issue 5): 20 @microsoft/signalr clients with
// withAutomaticReconnect() create meetings as fast as they can; the responder is killed
// mid-load and started again. Every create whose invocation completed is stored and read
// back, no outbox row is damaged or missing, and every client reconnects (with a new
// connection id) and gets pushes again. What a client sees is described in README.md
// ("Operations and reliability").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, signalR, collector, stopAll, sleep, waitFor, RS, transportName } from './stack.mjs';

const CLIENTS = 20;
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-02T09:00:00.000Z', End: '2026-12-02T09:30:00.000Z',
	IsAllDay: false,
});

/** A started client that reconnects every 250 ms for as long as the test runs. */
async function reconnecting(hubUrl) {
	const conn = new signalR.HubConnectionBuilder()
		.withUrl(hubUrl, { transport: signalR.HttpTransportType[transportName] })
		.withAutomaticReconnect({ nextRetryDelayInMilliseconds: (ctx) => (ctx.elapsedMilliseconds < 60000 ? 250 : null) })
		.configureLogging(signalR.LogLevel.None)
		.build();
	conn.pushes = collector(conn);
	conn.reconnects = [];
	conn.onreconnecting(() => { conn.lostAt ??= Date.now(); });
	conn.onreconnected((id) => conn.reconnects.push(id));
	await conn.start();
	return conn;
}

describe(`kill -9 of the responder under load (${transportName})`, { timeout: 90000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: {
			// The connections the dead responder held stay (as members, holding back the
			// outbox) until the reaper takes them: long enough to look at every row.
			POLLHUB_DISCONNECT_TIMEOUT: '120', POLLHUB_MAX_PENDING: '1000000',
		} });
	});
	after(async () => { await stack?.stop(); });

	it('loses no committed create; clients reconnect and read everything back', async (t) => stack.guard(async () => {
		// A member of the group that never polls: nothing is trimmed from the outbox while
		// it is there, so every push made in this test can be inspected afterwards.
		const n = await (await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
		const q = `${stack.hubUrl}?id=${n.connectionToken}`;
		assert.equal((await fetch(q)).status, 200);
		assert.equal((await fetch(q, { method: 'POST', body: HANDSHAKE })).status, 200);

		const clients = await Promise.all(Array.from({ length: CLIENTS }, () => reconnecting(stack.hubUrl)));
		const firstIds = clients.map((c) => c.connectionId);
		const committed = new Map();	// title -> the meeting its completion returned
		const attempted = new Set();
		const failures = [];
		let running = true;
		const load = clients.map(async (c, i) => {
			for (let k = 0; running; k++) {
				if (c.state !== signalR.HubConnectionState.Connected) {
					await sleep(50);
					continue;
				}
				const title = `Crash ${i}.${k}`;
				attempted.add(title);
				try {
					committed.set(title, await c.invoke('create', meeting(title)));
				} catch (e) {
					// A failed send carries the web server's error page: keep its status.
					const status = /Status code '(\d+)'/.exec(e.message);
					failures.push(status ? `HTTP ${status[1]} on the send` : e.message);
				}
			}
		});
		try {
			await sleep(2000);
			const beforeKill = committed.size;
			const killedAt = Date.now();
			await stack.killResponder();
			await sleep(500);
			await stack.startResponder();
			const upAt = Date.now();
			await waitFor(() => clients.every((c) => c.reconnects.length > 0 &&
				c.state === signalR.HubConnectionState.Connected), 30000, 'every client to reconnect');
			const backAt = Date.now();
			const reconnectedAt = committed.size;
			await sleep(1500);	// load goes on over the new connections
			running = false;
			await Promise.all(load);
			const stored = Number(await stack.psql('SELECT count(*) FROM pollhub.meetings'));
			const lost = clients.map((c) => c.lostAt - killedAt);
			const kinds = [...new Set(failures)].map((f) => `${f} (${failures.filter((x) => x === f).length})`);
			t.diagnostic(`${committed.size} creates completed (${beforeKill} before the kill, ` +
				`${committed.size - reconnectedAt} after every client was back), ${failures.length} failed: ` +
				`${kinds.join(' | ')}; ${stored - committed.size} stored without a completion; ` +
				`clients saw the loss ${Math.min(...lost)}–${Math.max(...lost)} ms after the kill, ` +
				`responder up after ${upAt - killedAt} ms, every client back ${backAt - upAt} ms later`);
			assert.ok(committed.size > reconnectedAt, 'creates complete after the reconnect');
			for (const [i, c] of clients.entries())
				assert.notEqual(c.connectionId, firstIds[i], `client ${i} reconnected with a new connection id`);

			// Every create whose invocation completed is in the database, once; a create that
			// failed may be there too (committed, its completion lost with the responder).
			const rows = JSON.parse(await stack.psql(
				"SELECT coalesce(json_agg(json_build_object('id', id, 'title', title)), '[]') FROM pollhub.meetings"));
			const byTitle = new Map(rows.map((r) => [r.title, r.id]));
			assert.equal(byTitle.size, rows.length, 'no create stored twice');
			for (const [title, m] of committed) assert.equal(byTitle.get(title), m.ID, `${title} is stored`);
			for (const title of byTitle.keys()) assert.ok(attempted.has(title), `${title} was attempted`);

			// The outbox: one well-formed create push per stored meeting, seqs without gaps.
			const outbox = JSON.parse(await stack.psql(
				"SELECT coalesce(json_agg(json_build_array(seq, payload) ORDER BY seq), '[]') FROM pollhub.outbox"));
			assert.equal(outbox.length, rows.length, 'one push per stored meeting');
			outbox.forEach(([s, payload], k) => {
				assert.equal(s, k + 1, 'seqs have no gaps');
				const msg = JSON.parse(payload);
				assert.deepEqual(Object.keys(msg).sort(), ['arguments', 'target', 'type']);
				assert.equal(msg.type, 1);
				assert.equal(msg.target, 'create');
				assert.equal(msg.arguments.length, 1);
				assert.equal(msg.arguments[0].ID, byTitle.get(msg.arguments[0].Title), `push ${s} matches its meeting`);
			});
			assert.deepEqual(new Set(outbox.map(([, p]) => JSON.parse(p).arguments[0].ID)), new Set(byTitle.values()));

			// A fresh read over each reconnected connection returns every stored meeting.
			const ids = [...byTitle.values()].sort();
			for (const c of clients)
				assert.deepEqual((await c.invoke('read')).map((m) => m.ID).sort(), ids);

			// The reconnected connections get pushes again: one create reaches the 19 others.
			for (const c of clients) c.pushes.clear();
			const last = await clients[0].invoke('create', meeting('After the crash'));
			await waitFor(() => clients.slice(1).every((c) => c.pushes.payloads('create').some((m) => m.ID === last.ID)),
				10000, 'the push after the crash at every other client');
			assert.ok(!clients[0].pushes.payloads('create').some((m) => m.ID === last.ID), 'not to its author');
		} finally {
			running = false;
			await Promise.all(load).catch(() => {});
			await stopAll(clients);
			await fetch(q, { method: 'DELETE' }).catch(() => {});
		}
	})());
});
