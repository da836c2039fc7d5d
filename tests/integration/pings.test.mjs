// Pings without a transaction (issue 22, item 3): a Ping-only POST of a connection whose
// server-sent events stream this responder holds is answered by the worker at once, with
// no statement (common/heldstreams.h). It must still keep the connection from being
// reaped (touch() vouches for the stream), and stop as soon as the connection is closed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	startStack, connect, stopAll, sleep, waitFor, RS, transportName, openStream, adminSession, signalR,
} from './stack.mjs';

const skip = transportName !== 'ServerSentEvents' &&
	`a Ping POST comes from server-sent events clients (long polling never pings; transport: ${transportName})`;
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const PING = `{"type":6}${RS}`;
// Reaped when unseen for poll + disconnect timeout: 6 s here (touch() every 2 s).
const POLL_TIMEOUT = 3;
const DISCONNECT_TIMEOUT = 3;

describe('Pings without a transaction', { timeout: 120000, skip }, () => {
	let stack;
	let hub;
	before(async () => {
		stack = await startStack({ env: {
			POLLHUB_KEEPALIVE_INTERVAL: '2', POLLHUB_POLL_TIMEOUT: String(POLL_TIMEOUT),
			POLLHUB_DISCONNECT_TIMEOUT: String(DISCONNECT_TIMEOUT), POLLHUB_LOG_LEVEL: 'debug',
		} });
		hub = stack.hubUrl;
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	const post = async (token, body) => {
		const r = await fetch(`${hub}?id=${encodeURIComponent(token)}`, { method: 'POST', body });
		return { status: r.status, body: await r.text() };
	};
	/** negotiate, open the stream, handshake: { id, token, s } with {} received. */
	const handshaken = async () => {
		const r = await fetch(`${hub}/negotiate?negotiateVersion=1`, { method: 'POST' });
		const n = await r.json();
		const s = await openStream(hub, n.connectionToken);
		assert.equal(s.status, 200);
		assert.equal((await post(n.connectionToken, HANDSHAKE)).status, 200);
		await s.until(/data: \{\}\x1e\r\n\r\n/, 5000, 'the handshake answer');
		return { id: n.connectionId, token: n.connectionToken, s };
	};
	/** How many Pings of connection id the responder answered without the database. */
	const answeredHere = (id) => {
		const log = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
		return log.split('\n').filter((l) =>
			l.includes(`connection ${id}: Ping answered without the database`)).length;
	};
	const exists = async (id) =>
		Number(await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id = '${id}'`));

	test('a held stream\'s Ping is answered while pollhub.connections is locked: no statement', async () => {
		const { id, token, s } = await handshaken();
		const admin = adminSession(stack.dbName, 'pings-test-lock');
		try {
			assert.equal((await post(token, PING)).status, 200);
			// Every statement on the table waits now (pollhub.ping's too, up to the pool's
			// lock_timeout, then the send transaction's).
			await admin.run('BEGIN; LOCK TABLE pollhub.connections IN ACCESS EXCLUSIVE MODE;'
				+ ' SELECT \'locked\';', /locked/);
			const t0 = Date.now();
			const r = await post(token, PING + PING);
			const ms = Date.now() - t0;
			await admin.run('ROLLBACK; SELECT \'released\';', /released/);
			assert.equal(r.status, 200);
			assert.ok(ms < 1000, `answered in ${ms} ms while the table was locked`);
			assert.ok(answeredHere(id) >= 1, 'the responder says it answered without the database');
			// A Ping is all it was: the stream goes on.
			const inv = JSON.stringify({ type: 1, invocationId: 'after', target: 'read', arguments: [] }) + RS;
			assert.equal((await post(token, inv)).status, 200);
			await s.until(/"invocationId":"after"/, 5000, 'the stream still delivers');
		} finally {
			await admin.end();
			s.abort();
		}
	});

	test('a client pinging every second past the reap thresholds: answered here, never reaped', async () => {
		const closed = [];
		const c = await connect(hub, { transport: 'ServerSentEvents' });
		c.keepAliveIntervalInMilliseconds = 1000;
		c.onclose((e) => closed.push(e?.message ?? 'closed'));
		try {
			// The keep-alive timer restarts on the next send.
			await c.invoke('read');
			const id = c.connectionId;
			const threshold = POLL_TIMEOUT + DISCONNECT_TIMEOUT;
			await sleep((threshold + 4) * 1000);
			// Every reaper run meanwhile had its chance; one more now, with the thresholds
			// in force.
			await stack.psql('SELECT pollhub.reap_now()');
			assert.deepEqual(closed, []);
			assert.equal(c.state, signalR.HubConnectionState.Connected);
			assert.equal(await exists(id), 1, 'the connection is still there');
			const pings = answeredHere(id);
			// The client pings when a server message finds it quiet for 1 s: every 2 s here.
			assert.ok(pings >= threshold / 2, `${pings} Pings answered without the database in ${threshold + 4} s`);
			const seen = Number(await stack.psql(
				`SELECT extract(epoch FROM now() - last_seen) FROM pollhub.connections WHERE id = '${id}'`));
			assert.ok(seen < threshold, `last_seen ${seen} s ago: touch() vouches for the stream`);
			assert.deepEqual(await c.invoke('read'), []);
		} finally {
			await stopAll(c);
		}
	});

	test('a partial record left by a POST here: the next Ping goes the database\'s way', async () => {
		const { token, s } = await handshaken();
		try {
			assert.equal((await post(token, PING)).status, 200);
			// Half a record: the Ping after it completes it (into garbage), as with the
			// database's path; answered here it would be dropped.
			assert.equal((await post(token, '{"type":1,"target":"read","arguments":[')).status, 200);
			assert.equal((await post(token, PING)).status, 200);
			await s.until(/data: \{"type":7,"error":"Connection closed with an error\./, 5000,
				'the Close for the broken record');
		} finally {
			s.abort();
		}
	});

	test('closed by an administrator: its Ping is refused (404) within 2 s, never answered here after', async () => {
		const { id, token, s } = await handshaken();
		try {
			assert.equal((await post(token, PING)).status, 200);
			assert.equal((await post(token, PING)).status, 200);
			const before = answeredHere(id);
			assert.ok(before >= 1, 'pinged without the database before the close');
			assert.equal(await stack.psql(`SELECT pollhub.disconnect_connection('${id}', 'Closed by the administrator')`), 't');
			const t0 = Date.now();
			let last;
			await waitFor(async () => (last = (await post(token, PING)).status) === 404, 2000,
				'a Ping of the closed connection refused');
			const ms = Date.now() - t0;
			const at404 = answeredHere(id);
			await s.until(/data: \{"type" ?: ?7, ?"error" ?: ?"Closed by the administrator"/, 2000, 'the Close on the stream');
			await waitFor(() => s.ended, 2000, 'the stream to end');
			for (let i = 0; i < 3; i++) assert.equal((await post(token, PING)).status, 404);
			assert.equal(answeredHere(id), at404, 'no Ping answered here once refused');
			assert.equal(await exists(id), 0);
			assert.equal(last, 404, `refused after ${ms} ms`);
		} finally {
			s.abort();
		}
	});
});
