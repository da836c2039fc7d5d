// Causal order per connection (issue 10, item 2), on the wire. What one connection is
// sent must be in the order it was committed: a push of a change that committed before
// a read comes before that read's completion (the read's result already holds the
// change: a client that applied the completion and then the push would apply the
// change twice, and one that replaces its data with a read result would lose any change
// committed after it but delivered before it). Direct messages (completions, queued in
// pollhub.connection_messages) and group pushes (pollhub.outbox) pile up side by side
// while a client has no poll in flight; the poll or stream that finally takes them must
// give them in commit order, not the connection's own queue first.
//
// A raw client of group G does everything with no poll in flight (long polling: after
// its handshake poll it polls again only at the end; server-sent events: its stream is
// opened only at the end, after the handshake POST), while a real @microsoft/signalr
// client of G (the transport under test) makes the changes. Under LongPolling the raw
// client long-polls, under ServerSentEvents it reads a raw event stream (the order of
// records within and between events), so each combination checks one raw transport.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack, connect, stopAll, waitFor, sleep, RS, transportName, openStream, sseEvents } from './stack.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const rawSse = transportName === 'ServerSentEvents';
const rawName = rawSse ? 'raw server-sent events' : 'raw long polling';

let seq = 0;
const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-02T10:00:00.000Z', End: '2026-12-02T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});
const invocation = (id, target, args = []) =>
	JSON.stringify({ type: 1, invocationId: id, target, arguments: args }) + RS;
const newGroup = () => `order-${crypto.randomBytes(4).toString('hex')}`;

function parseRecords(text) {
	assert.ok(text.endsWith(RS), `records must end with 0x1E: ${JSON.stringify(text.slice(0, 200))}`);
	return text.slice(0, -1).split(RS).map((s) => JSON.parse(s));
}

/** A record as a short label: `push create <title>`, `completion <id>`, `handshake`, ... */
function label(r) {
	if (r.type === undefined && Object.keys(r).length === 0) return 'handshake';
	if (r.type === 1) return `push ${r.target} ${r.arguments?.[0]?.Title}`;
	if (r.type === 3) return `completion ${r.invocationId}${r.error ? ' (error)' : ''}`;
	if (r.type === 6) return 'ping';
	return JSON.stringify(r);
}

/**
 * A raw client of group g with no poll in flight (and no stream open) until it starts
 * receiving: negotiate, (long polling: the first poll and the handshake poll),
 * handshake POST. send(body) POSTs records (answered 200: what they did committed).
 * receive() starts receiving: a poll loop (long polling) or the event stream
 * (server-sent events); take(n) starts receiving if not yet, waits for n records
 * (pings left out) and a moment more, and returns all received so far. The handshake
 * answer {} comes first on the stream (it was never taken before), not over long
 * polling (the handshake poll took it).
 */
async function rawClient(hubUrl, g) {
	const r = await fetch(`${hubUrl}/negotiate?negotiateVersion=1&group=${encodeURIComponent(g)}`, { method: 'POST' });
	assert.equal(r.status, 200, 'negotiate');
	const n = await r.json();
	const token = n.connectionToken;
	const q = `${hubUrl}?id=${encodeURIComponent(token)}`;
	const poll = async () => {
		const p = await fetch(`${q}&_=${Date.now()}`);
		return { status: p.status, body: await p.text() };
	};
	const send = async (body) => {
		const s = await fetch(q, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
		const text = await s.text();
		assert.equal(s.status, 200, `POST: ${s.status} ${text}`);
	};
	if (!rawSse) {
		assert.equal((await poll()).status, 200, 'first poll');
		await send(HANDSHAKE);
		const hs = await poll();
		assert.equal(hs.body, `{}${RS}`, 'handshake answer');
	} else {
		// The stream is not open yet: the handshake answer waits in the queue like the rest.
		await send(HANDSHAKE);
	}
	let stream = null;
	let receiving = null;
	let stopped = false;
	/** Starts receiving (a poll loop, or the event stream); records() so far, pings left out. */
	const receive = async () => {
		if (receiving) return receiving;
		if (!rawSse) {
			const recs = [];
			receiving = { records: () => recs };
			(async () => {
				while (!stopped) {
					const p = await poll().catch(() => null);
					if (!p || p.status !== 200) break;
					if (p.body) recs.push(...parseRecords(p.body).filter((x) => x.type !== 6));
				}
			})();
			return receiving;
		}
		stream = await openStream(hubUrl, token);
		assert.equal(stream.status, 200, `stream: ${stream.status} ${stream.text}`);
		receiving = { records: () => sseEvents(stream.text).flatMap(parseRecords).filter((x) => x.type !== 6) };
		return receiving;
	};
	return {
		id: n.connectionId, token, send, receive,
		/** Receives (if not yet) until count records came; returns them. */
		async take(count) {
			const r = await receive();
			await waitFor(() => r.records().length >= count, 5000, `${count} records`);
			await sleep(200);	// anything more (a duplicate) would come now
			return r.records().slice();
		},
		async end() {
			stopped = true;
			await fetch(q, { method: 'DELETE' }).then((x) => x.arrayBuffer()).catch(() => {});
			stream?.abort();
		},
	};
}

describe(`causal order per connection (${rawName}; writer over ${transportName})`, { timeout: 60000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: {
			POLLHUB_GROUP_PARAM: 'group', POLLHUB_POLL_TIMEOUT: '5', POLLHUB_KEEPALIVE_INTERVAL: '5',
		} });
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	/** The records' labels after the handshake answer (which must lead when present). */
	const sequence = (recs) => {
		const labels = recs.map(label);
		if (rawSse) {
			assert.equal(labels[0], 'handshake', `the handshake answer leads: ${labels.join(', ')}`);
			return labels.slice(1);
		}
		return labels;
	};

	test('a push committed before a read comes before the read\'s completion', async (t) => {
		const g = newGroup();
		const raw = await rawClient(stack.hubUrl, g);
		const writer = await connect(`${stack.hubUrl}?group=${g}`);
		try {
			const x = await writer.invoke('create', meeting('X'));	// committed: its completion came back
			await raw.send(invocation('r1', 'read'));		// answered 200: the read committed
			const recs = await raw.take(rawSse ? 3 : 2);
			const got = sequence(recs);
			t.diagnostic(`records: ${got.join(', ')}`);
			const read = recs.find((r) => r.type === 3 && r.invocationId === 'r1');
			assert.ok(read, `the read's completion: ${got.join(', ')}`);
			assert.ok(read.result.some((m) => m.ID === x.ID), 'the read\'s result holds X (committed before it)');
			assert.deepEqual(got, ['push create X', 'completion r1'],
				'commit order: the push of X, then the completion of the read that saw X');
			assert.equal(recs.find((r) => r.type === 1).arguments[0].ID, x.ID);
		} finally {
			await raw.end();
			await stopAll(writer);
		}
	});

	test('interleaved: creates and reads alternately, everything in commit order', async (t) => {
		const g = newGroup();
		const raw = await rawClient(stack.hubUrl, g);
		const writer = await connect(`${stack.hubUrl}?group=${g}`);
		try {
			const x1 = await writer.invoke('create', meeting('X1'));
			await raw.send(invocation('r1', 'read'));
			const x2 = await writer.invoke('create', meeting('X2'));
			await raw.send(invocation('r2', 'read'));
			await raw.send(invocation('r3', 'read'));
			const x3 = await writer.invoke('create', meeting('X3'));
			const recs = await raw.take(rawSse ? 7 : 6);
			const got = sequence(recs);
			t.diagnostic(`records: ${got.join(', ')}`);
			const result = (id) => recs.find((r) => r.type === 3 && r.invocationId === id)?.result?.map((m) => m.ID);
			assert.deepEqual(result('r1'), [x1.ID], 'r1 saw X1 only');
			assert.deepEqual(new Set(result('r2')), new Set([x1.ID, x2.ID]), 'r2 saw X1 and X2');
			assert.deepEqual(new Set(result('r3')), new Set([x1.ID, x2.ID]), 'r3 saw X1 and X2');
			assert.deepEqual(got, ['push create X1', 'completion r1', 'push create X2', 'completion r2',
				'completion r3', 'push create X3'], 'commit order');
			assert.ok(x3.ID);
		} finally {
			await raw.end();
			await stopAll(writer);
		}
	});

	test('the client\'s own create (never pushed back to it) keeps the others\' pushes in order around its completion', async (t) => {
		const g = newGroup();
		const raw = await rawClient(stack.hubUrl, g);
		const writer = await connect(`${stack.hubUrl}?group=${g}`);
		try {
			const x1 = await writer.invoke('create', meeting('X1'));
			await raw.send(invocation('c1', 'create', [meeting('Own')]));
			await waitFor(() => writer.pushes.count('create') >= 1, 5000, 'the writer to get the push of Own');
			const x2 = await writer.invoke('create', meeting('X2'));
			await raw.send(invocation('r1', 'read'));
			const recs = await raw.take(rawSse ? 5 : 4);
			const got = sequence(recs);
			t.diagnostic(`records: ${got.join(', ')}`);
			const own = recs.find((r) => r.type === 3 && r.invocationId === 'c1');
			assert.ok(own && !own.error, `the create's completion: ${JSON.stringify(own)}`);
			assert.equal(own.result.Title, 'Own');
			assert.ok(!got.includes('push create Own'), 'its own create is not pushed back to it');
			const read = recs.find((r) => r.type === 3 && r.invocationId === 'r1');
			assert.deepEqual(new Set(read.result.map((m) => m.ID)), new Set([x1.ID, own.result.ID, x2.ID]));
			assert.deepEqual(got, ['push create X1', 'completion c1', 'push create X2', 'completion r1'],
				'commit order around the own create\'s completion');
			assert.deepEqual(writer.pushes.payloads('create').map((m) => m.Title), ['Own'], 'the writer got Own once');
		} finally {
			await raw.end();
			await stopAll(writer);
		}
	});

	test('an update and a destroy by another client keep their place around completions', async (t) => {
		const g = newGroup();
		const raw = await rawClient(stack.hubUrl, g);
		const writer = await connect(`${stack.hubUrl}?group=${g}`);
		try {
			const x = await writer.invoke('create', meeting('X'));
			await raw.send(invocation('r1', 'read'));
			await writer.invoke('update', { ...x, Title: 'X moved' });
			await raw.send(invocation('r2', 'read'));
			await writer.invoke('destroy', { ...x, Title: 'X moved' });
			await raw.send(invocation('r3', 'read'));
			const recs = await raw.take(rawSse ? 7 : 6);
			const got = sequence(recs);
			t.diagnostic(`records: ${got.join(', ')}`);
			const result = (id) => recs.find((r) => r.type === 3 && r.invocationId === id)?.result;
			assert.deepEqual(result('r1')?.map((m) => m.Title), ['X'], 'r1 saw X');
			assert.deepEqual(result('r2')?.map((m) => m.Title), ['X moved'], 'r2 saw it moved');
			assert.deepEqual(result('r3'), [], 'r3 saw it gone');
			assert.deepEqual(got, ['push create X', 'completion r1', 'push update X moved', 'completion r2',
				'push destroy X moved', 'completion r3'], 'commit order');
		} finally {
			await raw.end();
			await stopAll(writer);
		}
	});

	test('live: polls in flight (or the stream open), a read right after each create still comes after its push', async (t) => {
		const ROUNDS = 10;
		const g = newGroup();
		const raw = await rawClient(stack.hubUrl, g);
		await raw.receive();
		const writer = await connect(`${stack.hubUrl}?group=${g}`);
		try {
			const ids = [];
			const want = [];
			for (let k = 1; k <= ROUNDS; k++) {
				ids.push((await writer.invoke('create', meeting(`X${k}`))).ID);
				await raw.send(invocation(`r${k}`, 'read'));	// without waiting for the push of Xk
				want.push(`push create X${k}`, `completion r${k}`);
			}
			const recs = await raw.take(want.length + (rawSse ? 1 : 0));
			const got = sequence(recs);
			t.diagnostic(`records: ${got.join(', ')}`);
			for (let k = 1; k <= ROUNDS; k++) {
				const read = recs.find((r) => r.type === 3 && r.invocationId === `r${k}`);
				assert.deepEqual(new Set(read.result.map((m) => m.ID)), new Set(ids.slice(0, k)), `r${k} saw X1..X${k}`);
			}
			assert.deepEqual(got, want, 'commit order');
		} finally {
			await raw.end();
			await stopAll(writer);
		}
	});
});
