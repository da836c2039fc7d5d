// Wire-level checks with raw fetch: negotiate, long polling, sends, DELETE, limits and
// the JSON hub protocol as ASP.NET Core SignalR answers them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack, sleep, RS, transportName } from './stack.mjs';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;

/** A raw client of one hub URL. */
function raw(hubUrl) {
	const q = (token) => `${hubUrl}?id=${encodeURIComponent(token)}`;
	const api = {
		async negotiate(query = '?negotiateVersion=1') {
			const r = await fetch(`${hubUrl}/negotiate${query}`, { method: 'POST' });
			assert.equal(r.status, 200, 'negotiate status');
			return r.json();
		},
		async poll(token, init = {}) {
			const started = Date.now();
			const r = await fetch(`${q(token)}&_=${Date.now()}`, init);
			const body = await r.text();
			return { status: r.status, body, headers: r.headers, ms: Date.now() - started };
		},
		async send(token, body) {
			const r = await fetch(q(token), {
				method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
			});
			return { status: r.status, body: await r.text(), headers: r.headers };
		},
		async del(token) {
			const r = await fetch(q(token), { method: 'DELETE' });
			return { status: r.status, body: await r.text(), headers: r.headers };
		},
		/** negotiate + first poll + handshake; the handshake answer is read too. */
		async handshaken() {
			const n = await api.negotiate();
			const first = await api.poll(n.connectionToken);
			assert.equal(first.status, 200, 'first poll');
			const hs = await api.send(n.connectionToken, `{"protocol":"json","version":1}${RS}`);
			assert.equal(hs.status, 200, 'handshake POST');
			const p = await api.poll(n.connectionToken);
			assert.equal(p.status, 200, 'handshake poll');
			assert.equal(p.body, `{}${RS}`, 'handshake answer');
			return n.connectionToken;
		},
		/** POSTs records and returns the parsed records of the next poll. */
		async roundTrip(token, ...records) {
			const s = await api.send(token, records.map((r) => JSON.stringify(r) + RS).join(''));
			assert.equal(s.status, 200, 'send status');
			const p = await api.poll(token);
			assert.equal(p.status, 200, 'poll status');
			return parseRecords(p.body);
		},
	};
	return api;
}

function parseRecords(body) {
	assert.ok(body.endsWith(RS), `body must end with 0x1E: ${JSON.stringify(body)}`);
	return body.slice(0, -1).split(RS).map((s) => JSON.parse(s));
}

const randomToken = () => crypto.randomBytes(16).toString('base64url');

// Long polling on the wire; the server-sent events wire is in sse.test.mjs.
const skip = transportName !== 'LongPolling' && `long-polling wire tests (transport under test: ${transportName})`;

describe('HTTP wire behaviour', { timeout: 120000, skip }, () => {
	let stack;
	let c;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '2' } });
		c = raw(stack.hubUrl);
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test('negotiate v1 answers id, token, ServerSentEvents then LongPolling', async () => {
		const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST' });
		assert.equal(r.status, 200);
		assert.match(r.headers.get('content-type'), /^application\/json/);
		const n = await r.json();
		assert.deepEqual(Object.keys(n).sort(),
			['availableTransports', 'connectionId', 'connectionToken', 'negotiateVersion']);
		assert.equal(n.negotiateVersion, 1);
		assert.match(n.connectionId, ID_RE);
		assert.match(n.connectionToken, ID_RE);
		assert.notEqual(n.connectionId, n.connectionToken);
		assert.deepEqual(n.availableTransports, [
			{ transport: 'ServerSentEvents', transferFormats: ['Text'] },
			{ transport: 'LongPolling', transferFormats: ['Text', 'Binary'] },
		]);
		const again = await c.negotiate();
		assert.notEqual(again.connectionId, n.connectionId, 'each negotiate makes a new connection');
		assert.notEqual(again.connectionToken, n.connectionToken);
	});

	test('negotiate without version: version 0, no connectionToken', async () => {
		const n = await c.negotiate('');
		assert.equal(n.negotiateVersion, 0);
		assert.match(n.connectionId, ID_RE);
		assert.equal('connectionToken' in n, false);
		// A version 0 client polls with its connectionId.
		const p = await c.poll(n.connectionId);
		assert.equal(p.status, 200);
		assert.equal(p.body, '');
	});

	test('only the hub path and what is below it reach the hub (/meetings.js is a file)', async () => {
		const r = await fetch(`${stack.url}/meetings.js`);
		await r.arrayBuffer();
		assert.equal(r.status, 404, 'a missing static file, not the hub\'s 400');
		const hub = await fetch(`${stack.hubUrl}`);
		assert.equal(hub.status, 400);
		assert.equal(await hub.text(), 'Connection ID required');
	});

	test('GET negotiate is 405', async () => {
		const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1`);
		await r.arrayBuffer();
		assert.equal(r.status, 405);
	});

	test('poll without id is 400 "Connection ID required"', async () => {
		const r = await fetch(stack.hubUrl);
		assert.equal(r.status, 400);
		assert.equal(await r.text(), 'Connection ID required');
	});

	test('unknown token is 404 "No Connection with that ID" (GET, POST, DELETE)', async () => {
		for (const tok of [randomToken(), 'not-a-token']) {
			const p = await c.poll(tok);
			assert.equal(p.status, 404, `GET ${tok}`);
			assert.equal(p.body, 'No Connection with that ID');
			const s = await c.send(tok, `{"protocol":"json","version":1}${RS}`);
			assert.equal(s.status, 404, `POST ${tok}`);
			assert.equal(s.body, 'No Connection with that ID');
			const d = await c.del(tok);
			assert.equal(d.status, 404, `DELETE ${tok}`);
		}
	});

	test('the connectionId is not a token: 404', async () => {
		const n = await c.negotiate();
		const p = await c.poll(n.connectionId);
		assert.equal(p.status, 404);
		assert.equal(p.body, 'No Connection with that ID');
		const s = await c.send(n.connectionId, `{"protocol":"json","version":1}${RS}`);
		assert.equal(s.status, 404);
		// The token itself works.
		assert.equal((await c.poll(n.connectionToken)).status, 200);
	});

	test('first poll: 200, empty, octet-stream, no-cache, immediately', async () => {
		const n = await c.negotiate();
		const p = await c.poll(n.connectionToken);
		assert.equal(p.status, 200);
		assert.equal(p.body, '');
		assert.match(p.headers.get('content-type') ?? '', /^application\/octet-stream/);
		assert.match(p.headers.get('cache-control') ?? '', /no-cache/);
		assert.ok(p.ms < 1000, `first poll took ${p.ms} ms`);
	});

	test('handshake: POST 200, next poll body is {}\\x1e', async () => {
		const n = await c.negotiate();
		await c.poll(n.connectionToken);
		const s = await c.send(n.connectionToken, `{"protocol":"json","version":1}${RS}`);
		assert.equal(s.status, 200);
		assert.equal(s.body, '');
		const p = await c.poll(n.connectionToken);
		assert.equal(p.status, 200);
		assert.equal(p.body, `{}${RS}`);
		assert.match(p.headers.get('content-type') ?? '', /^application\/octet-stream/);
		assert.match(p.headers.get('cache-control') ?? '', /no-cache/);
	});

	test('handshake with version 99: error record, then the connection ends', async () => {
		const n = await c.negotiate();
		await c.poll(n.connectionToken);
		const s = await c.send(n.connectionToken, `{"protocol":"json","version":99}${RS}`);
		assert.equal(s.status, 200);
		const p = await c.poll(n.connectionToken);
		assert.equal(p.status, 200);
		const recs = parseRecords(p.body);
		assert.equal(recs.length, 1);
		assert.deepEqual(Object.keys(recs[0]), ['error']);
		assert.equal(recs[0].error, "The server does not support version 99 of the 'json' protocol.");
		const after = await c.poll(n.connectionToken);
		assert.equal(after.status, 204, 'the poll after a refused handshake ends the connection');
	});

	test('read with invocationId gets a completion with result []', async () => {
		const tok = await c.handshaken();
		const recs = await c.roundTrip(tok, { type: 1, invocationId: '1', target: 'read', arguments: [] });
		assert.equal(recs.length, 1);
		assert.deepEqual(recs[0], { type: 3, invocationId: '1', result: [] });
	});

	test('an invocation without invocationId gets no completion (not even an error)', async () => {
		const tok = await c.handshaken();
		const recs = await c.roundTrip(tok,
			{ type: 1, target: 'read', arguments: [] },
			{ type: 1, target: 'nope', arguments: [] },
			{ type: 1, invocationId: '7', target: 'read', arguments: [] });
		assert.deepEqual(recs, [{ type: 3, invocationId: '7', result: [] }]);
	});

	test('several records in one POST are answered in order', async () => {
		const tok = await c.handshaken();
		const recs = await c.roundTrip(tok,
			{ type: 1, invocationId: 'a', target: 'read', arguments: [] },
			{ type: 1, invocationId: 'b', target: 'nope', arguments: [] },
			{ type: 1, invocationId: 'c', target: 'read', arguments: [{}] });
		assert.deepEqual(recs.map((r) => r.invocationId), ['a', 'b', 'c']);
		assert.deepEqual(recs[0].result, []);
		assert.equal(typeof recs[1].error, 'string');
		assert.deepEqual(recs[2].result, []);
	});

	test('unknown method: exact HubException error', async () => {
		const tok = await c.handshaken();
		const recs = await c.roundTrip(tok, { type: 1, invocationId: '5', target: 'nope', arguments: [] });
		assert.deepEqual(recs, [{
			type: 3, invocationId: '5',
			error: "Failed to invoke 'nope' due to an error on the server. HubException: Method does not exist.",
		}]);
	});

	test('method names are case-insensitive (READ)', async () => {
		const tok = await c.handshaken();
		const recs = await c.roundTrip(tok, { type: 1, invocationId: '2', target: 'READ', arguments: [] });
		assert.deepEqual(recs, [{ type: 3, invocationId: '2', result: [] }]);
	});

	test('a second poll supersedes a held one: the held one answers 204', async () => {
		const tok = await c.handshaken();
		const first = c.poll(tok);
		await sleep(300);
		const t0 = Date.now();
		const second = c.poll(tok);
		const a = await first;
		assert.equal(a.status, 204, 'superseded poll');
		assert.equal(a.body, '');
		assert.ok(Date.now() - t0 < 1500, 'the superseded poll answered promptly');
		const b = await second;
		assert.equal(b.status, 200, 'the newer poll is still valid');
	});

	test('DELETE: 202, a held poll answers 204, later requests 404', async () => {
		const tok = await c.handshaken();
		const held = c.poll(tok);
		await sleep(300);
		const t0 = Date.now();
		const d = await c.del(tok);
		assert.equal(d.status, 202);
		assert.equal(d.body, '');
		const h = await held;
		assert.equal(h.status, 204);
		assert.ok(Date.now() - t0 < 1500, `held poll answered ${Date.now() - t0} ms after DELETE`);
		const later = await c.poll(tok);
		assert.equal(later.status, 404);
		assert.equal(later.body, 'No Connection with that ID');
		assert.equal((await c.send(tok, `{"type":6}${RS}`)).status, 404);
		assert.equal((await c.del(tok)).status, 404);
	});

	test('a POST body over 32768 bytes is 413', async () => {
		const tok = await c.handshaken();
		const big = JSON.stringify({ type: 1, target: 'read', arguments: ['x'.repeat(40000)] }) + RS;
		const s = await c.send(tok, big);
		assert.equal(s.status, 413);
		// The connection is still usable afterwards.
		const ok = await c.send(tok, JSON.stringify({ type: 1, target: 'read', arguments: [] }) + RS);
		assert.equal(ok.status, 200);
	});

	test('malformed JSON: Close with error on the next poll; the server stays up', async () => {
		const tok = await c.handshaken();
		const s = await c.send(tok, `{not json${RS}`);
		assert.equal(s.status, 200);
		const p = await c.poll(tok);
		assert.equal(p.status, 200);
		const recs = parseRecords(p.body);
		assert.equal(recs.length, 1);
		assert.equal(recs[0].type, 7);
		assert.equal(typeof recs[0].error, 'string');
		assert.match(recs[0].error, /^Connection closed with an error\./);
		const end = await c.poll(tok);
		assert.equal(end.status, 204, 'the poll after the Close ends the connection');
		const n = await c.negotiate();
		assert.match(n.connectionToken, ID_RE);
		const tok2 = await c.handshaken();
		const recs2 = await c.roundTrip(tok2, { type: 1, invocationId: '1', target: 'read', arguments: [] });
		assert.deepEqual(recs2, [{ type: 3, invocationId: '1', result: [] }]);
	});

	test('poll timeout (POLLHUB_POLL_TIMEOUT=2): a held poll answers 200 empty after ~2 s', async () => {
		const tok = await c.handshaken();
		const p = await c.poll(tok);
		assert.equal(p.status, 200);
		assert.equal(p.body, '');
		assert.ok(p.ms >= 1500 && p.ms < 4500, `held ${p.ms} ms`);
		// The connection lives on.
		const recs = await c.roundTrip(tok, { type: 1, invocationId: '1', target: 'read', arguments: [] });
		assert.deepEqual(recs, [{ type: 3, invocationId: '1', result: [] }]);
	});

	test('a connection survives a restart of the responder (state is in PostgreSQL)', async () => {
		const tok = await c.handshaken();
		await stack.restartResponder();
		const recs = await c.roundTrip(tok, { type: 1, invocationId: '9', target: 'read', arguments: [] });
		assert.deepEqual(recs, [{ type: 3, invocationId: '9', result: [] }]);
	});

	test('64 held polls do not block other clients', async () => {
		const tokens = await Promise.all(Array.from({ length: 64 }, () => c.handshaken()));
		let settled = 0;
		const polls = tokens.map((t) => c.poll(t).finally(() => { settled++; }));
		await sleep(300);
		const t0 = Date.now();
		const n = await c.negotiate();
		const negotiateMs = Date.now() - t0;
		await c.poll(n.connectionToken);
		const t1 = Date.now();
		const s = await c.send(n.connectionToken, `{"protocol":"json","version":1}${RS}`);
		const sendMs = Date.now() - t1;
		const stillHeld = 64 - settled;
		assert.equal(s.status, 200);
		assert.equal(stillHeld, 64, 'all 64 polls were held during the measurement');
		assert.ok(negotiateMs < 500, `negotiate took ${negotiateMs} ms`);
		assert.ok(sendMs < 500, `POST took ${sendMs} ms`);
		const hs = await c.poll(n.connectionToken);
		assert.equal(hs.body, `{}${RS}`);
		await Promise.all(tokens.map((t) => c.del(t)));
		const results = await Promise.all(polls);
		for (const r of results) assert.ok(r.status === 204 || r.status === 200, `held poll ended ${r.status}`);
	});
});

describe('disconnect timeout', { timeout: 60000, skip }, () => {
	let stack;
	let c;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '1', POLLHUB_DISCONNECT_TIMEOUT: '2' } });
		c = raw(stack.hubUrl);
	});
	after(async () => { await stack?.stop(); });

	it('a connection that stops polling is removed; one that polls stays', async () => {
		await stack.guard(async () => {
			const idle = await c.handshaken();
			const busy = await c.handshaken();
			const t0 = Date.now();
			let busyPolls = 0;
			while (Date.now() - t0 < 5000) {
				const p = await c.poll(busy);
				assert.equal(p.status, 200, `a polling connection must stay (poll ${busyPolls})`);
				busyPolls++;
			}
			assert.ok(busyPolls >= 3, `only ${busyPolls} polls in 5 s`);
			const p = await c.poll(idle);
			assert.equal(p.status, 404, 'a connection idle for 5 s (disconnect timeout 2 s) is gone');
			assert.equal(p.body, 'No Connection with that ID');
			const recs = await c.roundTrip(busy, { type: 1, invocationId: '1', target: 'read', arguments: [] });
			assert.deepEqual(recs, [{ type: 3, invocationId: '1', result: [] }]);
		})();
	});
});
