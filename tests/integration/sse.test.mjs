// Server-sent events on the wire, with raw fetch: headers, the opening comment, event
// framing, pings, the one-stream rule, and every way a stream ends (DELETE, client
// abort, responder shutdown) removing the connection from its group.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep, waitFor, RS, transportName, openStream, sseEvents as events } from './stack.mjs';

const skip = transportName !== 'ServerSentEvents' && `SSE wire tests (transport under test: ${transportName})`;
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;

describe('Server-sent events on the wire', { timeout: 120000, skip }, () => {
	let stack;
	let hub;
	before(async () => {
		stack = await startStack({ env: {
			POLLHUB_KEEPALIVE_INTERVAL: '2', POLLHUB_POLL_TIMEOUT: '3', POLLHUB_DISCONNECT_TIMEOUT: '3',
		} });
		hub = stack.hubUrl;
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	const negotiate = async (query = '') => {
		const r = await fetch(`${hub}/negotiate?negotiateVersion=1${query}`, { method: 'POST' });
		return r.json();
	};
	const post = async (token, body) => {
		const r = await fetch(`${hub}?id=${token}`, { method: 'POST', body });
		return { status: r.status, body: await r.text() };
	};
	/** negotiate, open the stream, handshake; returns { n, s } with {} received. */
	const handshaken = async (query = '') => {
		const n = await negotiate(query);
		const s = await openStream(hub, n.connectionToken);
		assert.equal(s.status, 200);
		assert.equal((await post(n.connectionToken, HANDSHAKE)).status, 200);
		await s.until(/data: \{\}\x1e\r\n\r\n/, 5000, 'the handshake answer');
		return { n, s };
	};
	const memberships = (id) =>
		stack.psql(`SELECT count(*) FROM pollhub.memberships WHERE connection_id = '${id}'`);
	const exists = (id) =>
		stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id = '${id}'`);

	test('negotiate offers ServerSentEvents (Text) before LongPolling', async () => {
		const n = await negotiate();
		assert.deepEqual(n.availableTransports.map((t) => t.transport), ['ServerSentEvents', 'LongPolling']);
		assert.deepEqual(n.availableTransports[0].transferFormats, ['Text']);
	});

	test('the stream: 200 text/event-stream, no-cache, ":\\r\\n" at once', async () => {
		const n = await negotiate();
		const t0 = Date.now();
		const s = await openStream(hub, n.connectionToken);
		try {
			assert.equal(s.status, 200);
			assert.match(s.headers.get('content-type'), /^text\/event-stream/);
			assert.match(s.headers.get('cache-control'), /no-cache/);
			assert.match(s.headers.get('cache-control'), /no-store/);
			assert.equal(s.headers.get('content-length'), null);
			await s.until(/^:\r\n/, 2000, 'the opening comment');
			assert.ok(Date.now() - t0 < 1500, `opened after ${Date.now() - t0} ms`);
		} finally {
			s.abort();
		}
	});

	test('a slow handshake: no Ping before the handshake answer, which is the first event', async () => {
		const n = await negotiate();
		const s = await openStream(hub, n.connectionToken);
		try {
			assert.equal(s.status, 200);
			// Longer than the keep-alive interval (2 s): a Ping would be due twice over.
			await new Promise((r) => setTimeout(r, 4500));
			assert.equal(s.text, ':\r\n', 'nothing but the opening comment before the handshake');
			assert.equal((await post(n.connectionToken, HANDSHAKE)).status, 200);
			await s.until(/^:\r\ndata: \{\}\x1e\r\n\r\n/, 5000, 'the handshake answer first');
			// And the pings start once it is there.
			await s.until(/data: \{"type":6\}\x1e\r\n\r\n/, 5000, 'a Ping after the handshake');
		} finally {
			s.abort();
		}
	});

	test('handshake and invocations arrive as data: events ending in 0x1E', async () => {
		const { n, s } = await handshaken();
		try {
			const inv = JSON.stringify({ type: 1, invocationId: '7', target: 'read', arguments: [] }) + RS;
			assert.equal((await post(n.connectionToken, inv)).status, 200);
			await s.until(/"invocationId":"7"/);
			const evs = events(s.text);
			assert.equal(evs[0], `{}${RS}`);
			const done = evs.find((e) => e.includes('"invocationId":"7"'));
			assert.ok(done.endsWith(RS));
			assert.deepEqual(JSON.parse(done.slice(0, -1)), { type: 3, invocationId: '7', result: [] });
		} finally {
			s.abort();
		}
	});

	test('a quiet stream gets a real ping {"type":6} every keep-alive interval', async () => {
		const { s } = await handshaken();
		try {
			await s.until(/data: \{"type":6\}\x1e\r\n\r\n[^]*data: \{"type":6\}\x1e\r\n\r\n/, 7000, 'two pings');
		} finally {
			s.abort();
		}
	});

	test('one stream per connection: a second is 409, a poll is 400, the first goes on', async () => {
		const { n, s } = await handshaken();
		try {
			const second = await openStream(hub, n.connectionToken);
			assert.equal(second.status, 409);
			const poll = await fetch(`${hub}?id=${n.connectionToken}`);
			assert.equal(poll.status, 400);
			assert.equal(await poll.text(), 'Cannot change transports mid-connection');
			const inv = JSON.stringify({ type: 1, invocationId: 'x', target: 'read', arguments: [] }) + RS;
			assert.equal((await post(n.connectionToken, inv)).status, 200);
			await s.until(/"invocationId":"x"/, 5000, 'the stream still delivers');
		} finally {
			s.abort();
		}
	});

	test('a long-polling connection cannot open a stream: 400', async () => {
		const n = await negotiate();
		assert.equal((await fetch(`${hub}?id=${n.connectionToken}`)).status, 200);
		const s = await openStream(hub, n.connectionToken);
		assert.equal(s.status, 400);
		assert.equal(s.text, 'Cannot change transports mid-connection');
		await fetch(`${hub}?id=${n.connectionToken}`, { method: 'DELETE' });
	});

	test('unknown token: 404', async () => {
		const s = await openStream(hub, 'AAAAAAAAAAAAAAAAAAAAAA');
		assert.equal(s.status, 404);
		assert.equal(s.text, 'No Connection with that ID');
	});

	test('DELETE ends the stream and removes the connection from its group', async () => {
		const { n, s } = await handshaken();
		assert.equal(await memberships(n.connectionId), '1');
		const r = await fetch(`${hub}?id=${n.connectionToken}`, { method: 'DELETE' });
		assert.equal(r.status, 202);
		await waitFor(() => s.ended, 3000, 'the stream to end');
		assert.equal(await exists(n.connectionId), '0');
		assert.equal((await post(n.connectionToken, `{"type":6}${RS}`)).status, 404);
	});

	test('a client Close message ends the stream', async () => {
		const { n, s } = await handshaken();
		assert.equal((await post(n.connectionToken, `{"type":7}${RS}`)).status, 200);
		await waitFor(() => s.ended, 3000, 'the stream to end');
		await waitFor(async () => (await exists(n.connectionId)) === '0', 3000, 'the connection removed');
	});

	test('a malformed frame gets a Close event, then the stream ends', async () => {
		const { n, s } = await handshaken();
		assert.equal((await post(n.connectionToken, `{"type":1,${RS}`)).status, 200);
		await waitFor(() => s.ended, 3000, 'the stream to end');
		const close = events(s.text).map((e) => JSON.parse(e.slice(0, -1))).find((m) => m.type === 7);
		assert.ok(close && /error/i.test(close.error || ''), `a Close with an error: ${s.text}`);
	});

	test('a client that goes away is noticed and leaves its group', async () => {
		const { n, s } = await handshaken();
		s.abort();
		// Noticed at the latest when a ping (every 2 s here) cannot be written.
		await waitFor(async () => (await exists(n.connectionId)) === '0', 10000,
			'the abandoned connection removed');
		assert.equal(await memberships(n.connectionId), '0');
	});

	test('a live stream outlasts poll + disconnect timeout: its responder vouches for it', async () => {
		const { n, s } = await handshaken();
		try {
			// Reaper limit here: 3 + 3 s; the responder touches its streams every 2 s.
			await sleep(9000);
			assert.equal(await exists(n.connectionId), '1');
			assert.equal(s.ended, false);
		} finally {
			s.abort();
		}
	});

	test('a stream nobody vouches for (dead responder) is reaped, and the stream ends', async () => {
		const { n, s } = await handshaken();
		// One transaction, so no touch can come in between.
		await stack.psql(`UPDATE pollhub.connections SET last_seen = now() - interval '2 minutes'
			WHERE id = '${n.connectionId}'; SELECT pollhub.reap('3 seconds', '3 seconds')`);
		assert.equal(await exists(n.connectionId), '0');
		await waitFor(() => s.ended, 3000, 'the stream of a reaped connection to end');
	});

	test('stopping the responder ends the stream and removes the connection', async () => {
		const { n, s } = await handshaken();
		await stack.restartResponder();
		await waitFor(() => s.ended, 8000, 'the stream to end');
		assert.equal(await exists(n.connectionId), '0');
	});
});
