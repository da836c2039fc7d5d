// Bounded state (issue 5): what clients leave behind is removed, and a client that stops
// taking its messages cannot make its queue grow without bound.
//
// 1. 10,000 connect/disconnect cycles over raw HTTP (the transport under test): negotiate,
//    first poll or the event stream, handshake, sometimes an invocation, then a DELETE or
//    nothing at all (the client vanishes, its stream aborted or a held poll abandoned).
//    Once the disconnect timeout has passed, no connection, membership, queued message,
//    outbox row or group is left.
// 2. POLLHUB_MAX_PENDING: a client that stops polling is closed with a Close message once
//    more than the cap is pending for it; its rows no longer hold back the outbox.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startStack, connect, stopAll, sleep, waitFor, RS, transportName } from './stack.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const CYCLES = Number(process.env.POLLHUB_TEST_CYCLES || 10000);
const CONCURRENCY = 24;
const sse = transportName === 'ServerSentEvents';

let seq = 0;
const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-01T10:00:00.000Z', End: '2026-12-01T10:30:00.000Z',
	IsAllDay: false,
});
const invocation = (target, args) =>
	JSON.stringify({ type: 1, invocationId: String(++seq), target, arguments: args }) + RS;

// node:http with a keep-alive agent: a cycle is a few small requests, and fetch's stream
// machinery cost about as much CPU as the responder serving them.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One request; resolves { status, body } (the whole body), or { status, res } if stream. */
function request(url, { method = 'GET', body, headers = {}, signal, stream = false } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method, headers, agent, signal }, (res) => {
			if (stream) return resolve({ status: res.statusCode, res });
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end(body);
	});
}

/** A raw client of one hub URL (no SignalR client). */
function raw(hubUrl) {
	const q = (token) => `${hubUrl}?id=${encodeURIComponent(token)}`;
	const api = {
		async negotiate() {
			const r = await request(`${hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST' });
			assert.equal(r.status, 200, 'negotiate');
			return JSON.parse(r.body);
		},
		poll: (token, signal) => request(q(token), { signal }),
		send: (token, body) => request(q(token), { method: 'POST', body }),
		del: async (token) => (await request(q(token), { method: 'DELETE' })).status,
		/** The event stream; s.until(re) waits for text matching re; s.ended once it ended. */
		async stream(token) {
			const ac = new AbortController();
			const r = await request(q(token), { headers: { Accept: 'text/event-stream' }, signal: ac.signal, stream: true });
			const s = { status: r.status, text: '', ended: false, abort: () => ac.abort() };
			r.res.setEncoding('utf8');
			r.res.on('data', (c) => { s.text += c; });
			r.res.on('close', () => { s.ended = true; });
			r.res.on('error', () => {});
			s.until = (re, ms = 10000) => waitFor(() => re.test(s.text), ms, `${re} on the stream`);
			return s;
		},
	};
	return api;
}

const records = (body) => (body === '' ? [] : body.slice(0, -1).split(RS).map((s) => JSON.parse(s)));

/** Rows of the state tables, as { connections: n, ... }. */
async function stateRows(stack) {
	const tables = ['connections', 'memberships', 'connection_messages', 'outbox', 'groups'];
	const out = await stack.psql(`SELECT ${tables.map((t) => `(SELECT count(*) FROM pollhub.${t})`).join(', ')}`);
	const n = out.split('|').map(Number);
	return Object.fromEntries(tables.map((t, i) => [t, n[i]]));
}

// What cycle i does at its end (and whether it invokes create first): a fixed pattern,
// so every run covers every kind in the same proportions.
function cycleKind(i) {
	const k = i % 20;
	if (k === 0) return 'negotiate only';	// never polls: reaped after the disconnect timeout
	if (k < 11) return 'delete';		// 50 %
	if (!sse && k >= 17) return 'abandon held poll';	// 15 % of long-polling cycles
	return 'vanish';			// 30 % (45 % over server-sent events)
}
const invokes = (i) => [3, 13, 18].includes(i % 20);	// 15 %: a create, then a DELETE or not

async function longPollingCycle(c, i) {
	const kind = cycleKind(i);
	const n = await c.negotiate();
	const tok = n.connectionToken;
	if (kind === 'negotiate only') return;
	const first = await c.poll(tok);
	assert.equal(first.status, 200, `cycle ${i}: first poll`);
	const body = HANDSHAKE + (invokes(i) ? invocation('create', [meeting(`Cycle ${i}`)]) : '');
	const hs = await c.send(tok, body);
	assert.equal(hs.status, 200, `cycle ${i}: handshake POST`);
	if (kind === 'delete') {
		assert.equal(await c.del(tok), 202, `cycle ${i}: DELETE`);
	} else if (kind === 'abandon held poll') {
		const p = await c.poll(tok);
		assert.equal(p.status, 200, `cycle ${i}: handshake poll`);
		assert.ok(p.body.startsWith(`{}${RS}`), `cycle ${i}: the handshake answer leads`);
		// A held poll, then the client is gone: no DELETE, the request aborted.
		await c.poll(tok, AbortSignal.timeout(30)).catch(() => {});
	}
}

async function streamCycle(c, i) {
	const kind = cycleKind(i);
	const n = await c.negotiate();
	const tok = n.connectionToken;
	if (kind === 'negotiate only') return;
	const s = await c.stream(tok);
	assert.equal(s.status, 200, `cycle ${i}: stream`);
	try {
		const body = HANDSHAKE + (invokes(i) ? invocation('create', [meeting(`Cycle ${i}`)]) : '');
		const hs = await c.send(tok, body);
		assert.equal(hs.status, 200, `cycle ${i}: handshake POST`);
		await s.until(/^:\r\ndata: \{\}\x1e/);
		if (kind === 'delete') {
			assert.equal(await c.del(tok), 202, `cycle ${i}: DELETE`);
			await waitFor(() => s.ended, 10000, `cycle ${i}: the server to end the stream`);
		}
	} finally {
		s.abort();	// 'vanish': the client is gone without a DELETE
	}
}

describe(`bounded state: ${CYCLES} ${transportName} connect/disconnect cycles`, { timeout: 150000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: {
			POLLHUB_POLL_TIMEOUT: '2', POLLHUB_DISCONNECT_TIMEOUT: '3', POLLHUB_KEEPALIVE_INTERVAL: '1',
			// Abandoned polls and streams hold a thread until the responder notices.
			POLLHUB_THREADS: '256',
		} });
	});
	after(async () => { await stack?.stop(); });

	it('leaves no connection, membership, message, outbox row or group behind', async (t) => stack.guard(async () => {
		const c = raw(stack.hubUrl);
		const cycle = sse ? streamCycle : longPollingCycle;
		let next = 0, peak = null;
		const sampler = setInterval(async () => {
			try {
				const rows = await stateRows(stack);
				if (!peak || rows.connections > peak.connections) peak = rows;
			} catch { /* the next sample */ }
		}, 1000);
		const t0 = Date.now();
		const cpu0 = process.cpuUsage();
		try {
			await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
				while (next < CYCLES) await cycle(c, next++);
			}));
		} finally {
			clearInterval(sampler);
		}
		const secs = (Date.now() - t0) / 1000;
		const cpu = process.cpuUsage(cpu0);
		const creates = Array.from({ length: CYCLES }, (_, i) => i)
			.filter((i) => cycleKind(i) !== 'negotiate only' && invokes(i)).length;
		t.diagnostic(`${CYCLES} cycles in ${secs.toFixed(1)} s (${(CYCLES / secs).toFixed(0)} cycles/s, ` +
			`this test process ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU);` +
			` peak rows ${JSON.stringify(peak)}`);

		// Poll timeout (an abandoned held poll) + disconnect timeout + reaper interval.
		const t1 = Date.now();
		let rows;
		try {
			await waitFor(async () => {
				rows = await stateRows(stack);
				return Object.values(rows).every((n) => n === 0);
			}, 20000, 'the state tables to empty');
		} catch (e) {
			throw new Error(`rows left behind: ${JSON.stringify(rows)} (${e.message})`);
		}
		t.diagnostic(`state tables empty ${((Date.now() - t1) / 1000).toFixed(1)} s after the last cycle`);
		// The data stays: every create committed once.
		assert.equal(Number(await stack.psql('SELECT count(*) FROM pollhub.meetings')), creates);
	})());
});

describe(`POLLHUB_MAX_PENDING: a client that stops taking its messages (${transportName})`, { timeout: 90000 }, () => {
	const CAP = 50;
	let stack;
	before(async () => {
		stack = await startStack({ env: {
			POLLHUB_MAX_PENDING: String(CAP), POLLHUB_DISCONNECT_TIMEOUT: '60', POLLHUB_POLL_TIMEOUT: '5',
			// The own-queue case sends CAP + 10 invocations in one POST.
			POLLHUB_MAX_INVOCATIONS: '1000',
		} });
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	const stateOf = async (id) =>
		(await stack.psql(`SELECT state FROM pollhub.connections WHERE id = '${id}'`)) || 'gone';
	const closeRecord = {
		type: 7, allowReconnect: true,
		error: `Connection closed with an error. More than ${CAP} messages were pending for this` +
			' connection: it did not poll or read its stream.',
	};

	/** negotiate, first poll, handshake, and the poll that gets the handshake answer. */
	async function handshaken(c) {
		const n = await c.negotiate();
		assert.equal((await c.poll(n.connectionToken)).status, 200);
		assert.equal((await c.send(n.connectionToken, HANDSHAKE)).status, 200);
		const p = await c.poll(n.connectionToken);
		assert.equal(p.body, `{}${RS}`);
		return n;
	}

	// Over server-sent events the responder drains a stream whether or not the client
	// reads it (until the sockets between them fill up), so the client that falls
	// behind in the database is a long-polling one in every combination; the others
	// use the transport under test.
	test(`group pushes: over ${CAP} pending, the stalled client is closed; the others are not`, async () => {
		const c = raw(stack.hubUrl);
		const stalled = await handshaken(c);
		const writer = await connect(stack.hubUrl);
		const reader = await connect(stack.hubUrl);
		const closed = [];
		for (const [name, x] of [['writer', writer], ['reader', reader]])
			x.onclose((e) => closed.push(`${name}: ${e?.message}`));
		try {
			const made = [];
			for (let k = 0; k < CAP + 10; k++) made.push((await writer.invoke('create', meeting(`Flood ${k}`))).ID);
			// The reaper (every 2 s) closes it and it leaves its group.
			await waitFor(async () => (await stateOf(stalled.connectionId)) === 'closing', 6000,
				'the stalled connection to be closed');
			assert.equal(await stack.psql(
				`SELECT count(*) FROM pollhub.memberships WHERE connection_id = '${stalled.connectionId}'`), '0');
			// Its next poll gets the Close, and the one after that 204, as for any Close.
			const p = await c.poll(stalled.connectionToken);
			assert.equal(p.status, 200);
			assert.deepEqual(records(p.body), [closeRecord]);
			assert.equal((await c.poll(stalled.connectionToken)).status, 204);
			assert.equal(await stateOf(stalled.connectionId), 'gone');
			// The responder logs it once, by id, with the reason (issue 13 item 4).
			const logged = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8').split('\n')
				.filter((l) => l.includes(stalled.connectionId) && /disconnected/.test(l));
			assert.equal(logged.length, 1, logged.join('\n'));
			assert.match(logged[0], new RegExp(`pollhub\\[info\\] closed 1 connection\\(s\\): disconnected: pending cap \\(more than ${CAP} messages pending\\): ${stalled.connectionId}$`));

			// Nothing holds the outbox back any more: it is trimmed to nothing.
			await waitFor(async () => (await stack.psql('SELECT count(*) FROM pollhub.outbox')) === '0', 6000,
				'the outbox to be trimmed');
			await waitFor(() => reader.pushes.count('create') >= made.length, 5000, 'the reader\'s pushes');
			assert.deepEqual(reader.pushes.payloads('create').map((m) => m.ID), made, 'every push, in order');
			assert.deepEqual(closed, []);
			assert.equal(writer.state, 'Connected');
			assert.equal(reader.state, 'Connected');
			assert.equal((await reader.invoke('read')).length, made.length);
		} finally {
			await stopAll(writer, reader);
		}
	});

	test(`own queue: ${CAP + 10} completions never polled for close the connection`, async () => {
		const c = raw(stack.hubUrl);
		const n = await c.negotiate();
		assert.equal((await c.poll(n.connectionToken)).status, 200);
		const flood = Array.from({ length: CAP + 10 }, () => invocation('nope', [])).join('');
		assert.equal((await c.send(n.connectionToken, HANDSHAKE + flood)).status, 200);
		await waitFor(async () => (await stateOf(n.connectionId)) === 'closing', 6000,
			'the connection to be closed');
		// What was queued before the Close is still delivered, the Close last; nothing
		// sent after it is read.
		assert.equal((await c.send(n.connectionToken, invocation('read', []))).status, 200);
		const p = await c.poll(n.connectionToken);
		const recs = records(p.body);
		assert.equal(recs.length, CAP + 12, 'handshake answer, completions, Close');
		assert.deepEqual(recs[0], {});
		assert.ok(recs.slice(1, -1).every((r) => r.type === 3 && /Method does not exist/.test(r.error)));
		assert.deepEqual(recs.at(-1), closeRecord);
		assert.equal((await c.poll(n.connectionToken)).status, 204);
		assert.equal(await stateOf(n.connectionId), 'gone');
	});

	test('pending_counts() shows what is pending per connection', async () => {
		const c = raw(stack.hubUrl);
		const n = await handshaken(c);
		const writer = await connect(stack.hubUrl);
		try {
			for (let k = 0; k < 3; k++) await writer.invoke('create', meeting(`Count ${k}`));
			assert.equal(await stack.psql(
				`SELECT pending FROM pollhub.pending_counts() WHERE id = '${n.connectionId}'`), '3');
			await c.send(n.connectionToken, invocation('read', []));
			assert.equal(await stack.psql(
				`SELECT pending FROM pollhub.pending_counts() WHERE id = '${n.connectionId}'`), '4');
			await sleep(2500);	// a reaper run: under the cap, nothing happens
			assert.equal(await stateOf(n.connectionId), 'open');
			assert.equal(await c.del(n.connectionToken), 202);
		} finally {
			await stopAll(writer);
		}
	});
});
