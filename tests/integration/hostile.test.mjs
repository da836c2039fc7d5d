// Hostile input and web security: guessed, truncated and reused tokens; bodies and frames
// over the limits; deeply nested JSON; invalid UTF-8; SQL metacharacters in every string
// field of a meeting and in a group name; one group's client against another group's
// meetings; allowed and refused origins (CORS, the 403 for cross-site state changes, the
// Referer of cross-site requests without Origin, nosniff); and connection tokens kept out
// of every log. Raw requests go through fetch;
// a raw session reads the server's answers over the transport under test
// (POLLHUB_TEST_TRANSPORT), so each test means something under both.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
	startStack, connect, stopAll, waitFor, sleep, RS, transportName, signalR, openStream, sseEvents as events,
} from './stack.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const NOT_FOUND = 'No Connection with that ID';
const randomToken = () => crypto.randomBytes(16).toString('base64url');
const invocation = (id, target = 'read', args = []) =>
	JSON.stringify({ type: 1, invocationId: id, target, arguments: args }) + RS;

function parseRecords(text) {
	assert.ok(text.endsWith(RS), `records must end with 0x1E: ${JSON.stringify(text.slice(0, 200))}`);
	return text.slice(0, -1).split(RS).map((s) => JSON.parse(s));
}

/** Raw HTTP against one hub; headers go on every request. */
function raw(hubUrl, headers = {}) {
	const q = (token) => `${hubUrl}?id=${encodeURIComponent(token)}`;
	const answer = async (r) => ({ status: r.status, headers: r.headers, body: await r.text() });
	const api = {
		negotiate: async (query = '?negotiateVersion=1', h = {}) =>
			answer(await fetch(`${hubUrl}/negotiate${query}`, { method: 'POST', headers: { ...headers, ...h } })),
		poll: async (token, h = {}) =>
			answer(await fetch(`${q(token)}&_=${Date.now()}`, { headers: { ...headers, ...h } })),
		send: async (token, body, h = {}) => answer(await fetch(q(token), {
			method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers, ...h },
		})),
		del: async (token, h = {}) => answer(await fetch(q(token), { method: 'DELETE', headers: { ...headers, ...h } })),
		options: async (url, h = {}) => answer(await fetch(url, { method: 'OPTIONS', headers: { ...headers, ...h } })),
		/** An event stream: collects its text as it arrives. */
		stream: (token, h = {}) => openStream(hubUrl, token, { ...headers, ...h }),
		/** A token that negotiated and finished the handshake (LongPolling: polled twice). */
		async handshakenToken() {
			const n = JSON.parse((await api.negotiate()).body);
			assert.equal((await api.poll(n.connectionToken)).status, 200, 'first poll');
			assert.equal((await api.send(n.connectionToken, HANDSHAKE)).status, 200, 'handshake');
			const p = await api.poll(n.connectionToken);
			assert.equal(p.body, `{}${RS}`, 'handshake answer');
			return n.connectionToken;
		},
	};
	return api;
}

/**
 * A handshaken raw session over the transport under test: send(body) POSTs,
 * records() is the next batch of records the server sends, closedByServer() waits
 * until the server has ended the connection after a Close.
 */
async function session(c) {
	const neg = await c.negotiate();
	assert.equal(neg.status, 200, 'negotiate');
	const token = JSON.parse(neg.body).connectionToken;
	const send = async (body) => {
		const s = await c.send(token, body);
		assert.equal(s.status, 200, `send: ${s.status} ${s.body}`);
	};
	if (transportName === 'LongPolling') {
		assert.equal((await c.poll(token)).status, 200, 'first poll');
		await send(HANDSHAKE);
		const hs = await c.poll(token);
		assert.equal(hs.body, `{}${RS}`, 'handshake answer');
		return {
			token, send,
			async records() {
				const p = await c.poll(token);
				assert.equal(p.status, 200, `poll: ${p.status} ${p.body}`);
				return parseRecords(p.body);
			},
			async closedByServer() {
				const p = await c.poll(token);
				assert.equal(p.status, 204, 'the poll after a Close ends the connection');
			},
			end: () => c.del(token),
		};
	}
	const s = await c.stream(token);
	assert.equal(s.status, 200, 'stream');
	await send(HANDSHAKE);
	await waitFor(() => events(s.text).length >= 1, 5000, 'the handshake answer');
	assert.equal(events(s.text)[0], `{}${RS}`);
	let seen = 1;
	return {
		token, send,
		async records() {
			// Pings are records too; skip events that hold nothing else.
			for (;;) {
				await waitFor(() => events(s.text).length > seen, 5000, 'an event');
				const fresh = events(s.text).slice(seen);
				seen += fresh.length;
				const recs = fresh.flatMap(parseRecords).filter((r) => r.type !== 6);
				if (recs.length) return recs;
			}
		},
		async closedByServer() {
			await waitFor(() => s.ended, 5000, 'the stream to end after a Close');
		},
		end: async () => { await c.del(token); s.abort(); },
	};
}

/** The server closed the session with an error: a Close (type 7) carrying error text. */
async function expectCloseWithError(sess, re) {
	const recs = await sess.records();
	const close = recs.find((r) => r.type === 7);
	assert.ok(close, `a Close message, got ${JSON.stringify(recs).slice(0, 300)}`);
	assert.equal(typeof close.error, 'string');
	assert.match(close.error, /^Connection closed with an error\./);
	if (re) assert.match(close.error, re);
	await sess.closedByServer();
	return close;
}

/** The server still serves: a new session reads. */
async function stillUp(c) {
	const s = await session(c);
	await s.send(invocation('up'));
	assert.deepEqual(await s.records(), [{ type: 3, invocationId: 'up', result: [] }]);
	await s.end();
}

async function rejects(promise, re, what) {
	let err;
	try {
		await promise;
	} catch (e) {
		err = e;
	}
	assert.ok(err, `${what}: the invocation must be rejected`);
	assert.match(err.message, re, what);
}

let seq = 0;
function meeting(over = {}) {
	seq++;
	return {
		ID: null, Title: `Hostile ${seq}`, Start: '2026-12-01T10:00:00.000Z', End: '2026-12-01T10:30:00.000Z',
		IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
		RecurrenceException: '', StartTimezone: '', EndTimezone: '', ...over,
	};
}

describe('hostile input', { timeout: 120000 }, () => {
	let stack;
	let c;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '3', POLLHUB_KEEPALIVE_INTERVAL: '2' } });
		c = raw(stack.hubUrl);
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	/** 404 "No Connection with that ID" for a poll, a stream, a send and a DELETE. */
	const refusedEverywhere = async (tok, what) => {
		const p = await c.poll(tok);
		assert.deepEqual([p.status, p.body], [404, NOT_FOUND], `GET (poll) ${what}`);
		const st = await c.stream(tok);
		assert.deepEqual([st.status, st.text], [404, NOT_FOUND], `GET (stream) ${what}`);
		const s = await c.send(tok, HANDSHAKE);
		assert.deepEqual([s.status, s.body], [404, NOT_FOUND], `POST ${what}`);
		const d = await c.del(tok);
		assert.deepEqual([d.status, d.body], [404, NOT_FOUND], `DELETE ${what}`);
	};

	test('guessed tokens: 404 "No Connection with that ID" on GET, POST and DELETE', async () => {
		const real = await session(c);
		for (let i = 0; i < 20; i++) await refusedEverywhere(randomToken(), 'a random token');
		// Near misses: one character changed, the case flipped.
		const flip = real.token[5] === 'A' ? 'B' : 'A';
		await refusedEverywhere(real.token.slice(0, 5) + flip + real.token.slice(6), 'one character changed');
		const cased = real.token.replace(/[a-z]/g, (ch) => ch.toUpperCase());
		if (cased !== real.token) await refusedEverywhere(cased, 'upper-cased');
		// Nothing of that disturbed the real connection.
		await real.send(invocation('r'));
		assert.deepEqual(await real.records(), [{ type: 3, invocationId: 'r', result: [] }]);
		await real.end();
	});

	test('truncated and padded tokens: 404 on GET, POST and DELETE', async () => {
		const real = await session(c);
		for (const tok of [real.token.slice(0, -1), real.token.slice(0, 11), real.token.slice(0, 1),
			`${real.token}A`, `${real.token}==`, ` ${real.token}`, `${real.token}.`, real.token.repeat(3)])
			await refusedEverywhere(tok, JSON.stringify(tok));
		await real.send(invocation('t'));
		assert.deepEqual(await real.records(), [{ type: 3, invocationId: 't', result: [] }]);
		await real.end();
	});

	test('a token reused after DELETE: 404 on GET, POST and DELETE', async () => {
		const s = await session(c);
		const d = await c.del(s.token);
		assert.equal(d.status, 202);
		await refusedEverywhere(s.token, 'after DELETE');
		const rows = await stack.psql('SELECT count(*) FROM pollhub.connections WHERE token = ' +
			`pollhub.token_key('', '${s.token.replace(/'/g, "''")}')`);
		assert.equal(rows, '0');
	});

	test('a classic (2.x) token on the Core endpoints: 404 on GET, POST and DELETE, the row untouched', async () => {
		const cd = encodeURIComponent(JSON.stringify([{ name: 'meetings' }]));
		const res = await fetch(`${stack.hubUrl}/negotiate?clientProtocol=2.1&connectionData=${cd}`);
		assert.equal(res.status, 200);
		const { ConnectionToken: tok } = await res.json();
		const q = `pollhub.token_key('', '${tok.replace(/'/g, "''")}')`;
		const row = `SELECT transport, poll_no, poll_active, handshaken, state, encode(inbound, 'hex')
			FROM pollhub.connections WHERE token = ${q}`;
		const before = await stack.psql(row);
		assert.match(before, /^ClassicLongPolling\|/);
		await refusedEverywhere(tok, 'a classic token');
		// A partial record, which a Core POST would have stored, is refused too.
		const s = await c.send(tok, '{"protocol":');
		assert.deepEqual([s.status, s.body], [404, NOT_FOUND], 'POST of a partial record');
		assert.equal(await stack.psql(row), before, 'the classic row is as it was');
	});

	test('a body over POLLHUB_MAX_MESSAGE_SIZE is 413, with or without Content-Length', async () => {
		const s = await session(c);
		const big = invocation('big', 'read', ['x'.repeat(40000)]);
		const withLength = await c.send(s.token, big);
		assert.equal(withLength.status, 413);
		// Chunked: no Content-Length reaches the responder (or one the web server computed).
		const chunked = await fetch(`${stack.hubUrl}?id=${s.token}`, {
			method: 'POST', duplex: 'half', headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
			body: new ReadableStream({
				start(ctl) {
					for (let i = 0; i < 5; i++) ctl.enqueue(new TextEncoder().encode('y'.repeat(10000)));
					ctl.close();
				},
			}),
		});
		await chunked.arrayBuffer();
		assert.equal(chunked.status, 413, 'chunked body over the limit');
		// Nothing of either was kept: the connection goes on.
		await s.send(invocation('after'));
		assert.deepEqual(await s.records(), [{ type: 3, invocationId: 'after', result: [] }]);
		await s.end();
	});

	test('a frame over the limit spread over several POSTs: Close with error', async () => {
		const s = await session(c);
		const head = '{"type":1,"invocationId":"1","target":"read","arguments":["';
		await s.send(head + 'z'.repeat(20000));
		await s.send('z'.repeat(20000));
		await expectCloseWithError(s, /maximum message size of 32768B was exceeded/);
		await stillUp(c);
	});

	test('deeply nested JSON (10,000 "["): Close with error, server still up', async () => {
		for (const frame of ['['.repeat(10000), '['.repeat(10000) + ']'.repeat(10000),
			`{"type":1,"invocationId":"1","target":"read","arguments":[${'['.repeat(10000)}${']'.repeat(10000)}]}`,
			`{"type":1,"invocationId":"1","target":"read","arguments":[${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}]}`]) {
			const s = await session(c);
			await s.send(frame + RS);
			await expectCloseWithError(s);
		}
		await stillUp(c);
	});

	test('invalid UTF-8 in a frame: Close with error, server still up', async () => {
		const bad = [
			Buffer.from([0xff, 0xfe]),		// never UTF-8
			Buffer.from([0xc0, 0xaf]),		// overlong '/'
			Buffer.from([0xed, 0xa0, 0x80]),	// a UTF-16 surrogate
			Buffer.from([0xf4, 0x90, 0x80, 0x80]),	// above U+10FFFF
			Buffer.from([0xe2, 0x82]),		// truncated
		];
		for (const bytes of bad) {
			const s = await session(c);
			const frame = Buffer.concat([
				Buffer.from('{"type":1,"invocationId":"1","target":"create","arguments":[{"Title":"'), bytes,
				Buffer.from(`","Start":"2026-12-01T10:00:00Z","End":"2026-12-01T11:00:00Z"}]}${RS}`)]);
			const r = await c.send(s.token, frame);
			assert.equal(r.status, 200);
			const close = await expectCloseWithError(s);
			assert.match(close.error, /InvalidDataException/, `${bytes.toString('hex')}: ${close.error}`);
		}
		// In the target name too.
		const s = await session(c);
		await c.send(s.token, Buffer.concat([Buffer.from('{"type":1,"invocationId":"1","target":"re'),
			Buffer.from([0xff]), Buffer.from(`ad","arguments":[]}${RS}`)]));
		await expectCloseWithError(s);
		await stillUp(c);
		const stored = await stack.psql('SELECT count(*) FROM pollhub.meetings');
		assert.equal(stored, '0', 'none of the invalid creates was stored');
	});
});

// Every string field of a meeting, each with its own mix of what SQL, psql, printf and
// JSON treat specially (NUL is refused by the meeting checks: unit-tested there).
const NASTY = [
	"'", "''", '"', ';', '--', '/*', '*/', '\\', '\\\\', '$$', '$tag$', '%', '%%', '_', '%s%n%x%d',
	"' OR '1'='1", "'); DROP TABLE pollhub.meetings; --", "\\'; SELECT pg_sleep(10); --",
	"E'\\x41'", "$$; DELETE FROM pollhub.meetings; $$", '\\N', '\\.', 'NULL', '{"a":[1]}',
	'<script>alert(1)</script>', '\r\n\t', '\u2028\u2029', 'é 🙂 \u00a0', ':memory:', '\x1f\x7f',
];
const STRING_FIELDS = ['Title', 'Description', 'StartTimezone', 'EndTimezone', 'RecurrenceRule',
	'RecurrenceException'];

function nastyMeeting(shift = 0) {
	const m = meeting();
	STRING_FIELDS.forEach((f, i) => {
		m[f] = `${f}: ${NASTY.map((_, k) => NASTY[(k + i + shift) % NASTY.length]).join(' ')}`;
	});
	return m;
}

/** The stored strings of one meeting, read with psql (the JSON keeps them exact). */
async function storedStrings(stack, id) {
	const out = await stack.psql('SELECT json_build_array(title, description, start_timezone, end_timezone,' +
		` recurrence_rule, recurrence_exception) FROM pollhub.meetings WHERE id = '${id}'`);
	return JSON.parse(out);
}

describe('SQL metacharacters in every string field', { timeout: 60000 }, () => {
	let stack;
	before(async () => { stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '5' } }); });
	after(async () => { await stack?.stop(); });

	it('are stored and read back verbatim by create, read, update and the push', async () => {
		await stack.guard(async () => {
			const [a, b] = await Promise.all([connect(stack.hubUrl), connect(stack.hubUrl)]);
			try {
				const bystander = await a.invoke('create', meeting({ Title: 'Bystander' }));
				const sent = nastyMeeting();
				const created = await a.invoke('create', sent);
				for (const f of STRING_FIELDS) assert.equal(created[f], sent[f], `create returns ${f}`);
				assert.deepEqual(await storedStrings(stack, created.ID), STRING_FIELDS.map((f) => sent[f]),
					'the row holds the strings as sent');
				let row = (await b.invoke('read')).find((m) => m.ID === created.ID);
				for (const f of STRING_FIELDS) assert.equal(row[f], sent[f], `read returns ${f}`);
				await waitFor(() => b.pushes.count('create') >= 2, 5000, 'the create pushes');
				const pushed = b.pushes.payloads('create').find((m) => m.ID === created.ID);
				for (const f of STRING_FIELDS) assert.equal(pushed[f], sent[f], `the push carries ${f}`);

				const changed = { ...created, ...Object.fromEntries(STRING_FIELDS.map((f) => [f, nastyMeeting(7)[f]])) };
				const updated = await b.invoke('update', changed);
				for (const f of STRING_FIELDS) assert.equal(updated[f], changed[f], `update returns ${f}`);
				row = (await a.invoke('read')).find((m) => m.ID === created.ID);
				for (const f of STRING_FIELDS) assert.equal(row[f], changed[f], `read after update: ${f}`);
				assert.deepEqual(await storedStrings(stack, created.ID), STRING_FIELDS.map((f) => changed[f]));

				// Nothing was executed: both rows are there, the table and the schema intact.
				const rows = await a.invoke('read');
				assert.deepEqual(rows.map((m) => m.ID).sort(), [bystander.ID, created.ID].sort());
				assert.equal(await stack.psql('SELECT count(*) FROM pollhub.meetings'), '2');
				await a.invoke('destroy', updated);
				assert.equal(await stack.psql('SELECT count(*) FROM pollhub.meetings'), '1');
			} finally {
				await stopAll(a, b);
			}
		})();
	});
});

describe('groups (POLLHUB_GROUP_PARAM=group): one cannot reach another\'s meetings', { timeout: 60000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '5', POLLHUB_GROUP_PARAM: 'group' } });
	});
	after(async () => { await stack?.stop(); });

	it('b cannot read, update, destroy or link to a\'s meeting; the row stays as it was', async () => {
		await stack.guard(async () => {
			const rowOf = (id) => stack.psql(`SELECT row_to_json(m) FROM pollhub.meetings m WHERE id = '${id}'`);
			const [a, b] = await Promise.all([connect(`${stack.hubUrl}?group=a`), connect(`${stack.hubUrl}?group=b`)]);
			try {
				const ma = await a.invoke('create', meeting({ Title: 'Only for a' }));
				const before = await rowOf(ma.ID);
				assert.ok(before, 'a\'s row');
				assert.deepEqual(await b.invoke('read'), [], 'b reads nothing of a');
				await rejects(b.invoke('update', { ...ma, Title: 'hijacked' }), /no meeting with this 'ID'/,
					'update of a\'s meeting from b');
				await rejects(b.invoke('destroy', ma), /no meeting with this 'ID'/, 'destroy of a\'s meeting from b');
				await rejects(b.invoke('destroy', { ID: ma.ID }), /no meeting with this 'ID'/, 'destroy by ID only');
				await rejects(b.invoke('create', meeting({ RecurrenceID: ma.ID })), /RecurrenceID/,
					'an occurrence of a\'s series in b');
				await rejects(b.invoke('update', { ...ma, ID: ma.ID.toUpperCase(), Title: 'hijacked' }),
					/no meeting with this 'ID'/, 'update with the ID in upper case');
				assert.equal(await rowOf(ma.ID), before, 'a\'s row is unchanged');
				assert.deepEqual((await a.invoke('read')).map((m) => m.ID), [ma.ID]);
				await sleep(500);
				assert.equal(a.pushes.count(), 0, 'a got no push from b\'s attempts');
				assert.equal(b.pushes.count(), 0, 'b got no push of a\'s meeting');
			} finally {
				await stopAll(a, b);
			}
		})();
	});

	it('a group name full of SQL metacharacters is just a name', async () => {
		await stack.guard(async () => {
			const evil = "a'; DELETE FROM pollhub.meetings; -- \\ $$ %";
			const [x, y, a] = await Promise.all([
				connect(`${stack.hubUrl}?group=${encodeURIComponent(evil)}`),
				connect(`${stack.hubUrl}?group=${encodeURIComponent(evil)}`),
				connect(`${stack.hubUrl}?group=a`)]);
			try {
				const before = await a.invoke('read');
				const m = await x.invoke('create', meeting({ Title: 'In the odd group' }));
				await waitFor(() => y.pushes.count('create') >= 1, 5000, 'the push inside the odd group');
				assert.deepEqual((await y.invoke('read')).map((r) => r.ID), [m.ID]);
				assert.deepEqual(await a.invoke('read'), before, 'group a is untouched');
				assert.equal(await stack.psql(`SELECT group_name FROM pollhub.meetings WHERE id = '${m.ID}'`), evil);
			} finally {
				await stopAll(x, y, a);
			}
		})();
	});
});

/** The CORS headers of a response, null when absent. */
const cors = (h) => ({
	origin: h.get('access-control-allow-origin'),
	credentials: h.get('access-control-allow-credentials'),
	vary: h.get('vary'),
});

describe('web security: no POLLHUB_ALLOWED_ORIGINS (same origin only)', { timeout: 60000 }, () => {
	let stack;
	let c;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '3' } });
		c = raw(stack.hubUrl);
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const foreign = { Origin: 'https://evil.example' };

	test('the page\'s own origin may negotiate, send and delete', async () => {
		const own = raw(stack.hubUrl, { Origin: stack.url });
		const n = await own.negotiate();
		assert.equal(n.status, 200);
		assert.deepEqual(cors(n.headers), { origin: null, credentials: null, vary: null });
		const tok = JSON.parse(n.body).connectionToken;
		assert.equal((await own.poll(tok)).status, 200);
		assert.equal((await own.send(tok, HANDSHAKE)).status, 200);
		assert.equal((await own.del(tok)).status, 202);
	});

	test('a foreign origin: 403 for negotiate, send and DELETE; the connection is untouched', async () => {
		for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${stack.port + 1}`,
			`http://localhost:${stack.port}`, `http://127.0.0.1:${stack.port}.evil.example`]) {
			const n = await c.negotiate('?negotiateVersion=1', { Origin: origin });
			assert.deepEqual([n.status, n.body], [403, 'Origin not allowed'], `negotiate from ${origin}`);
			assert.equal(cors(n.headers).origin, null);
		}
		const before = await stack.psql('SELECT count(*) FROM pollhub.connections');
		const tok = await c.handshakenToken();
		const s = await c.send(tok, invocation('x', 'create', [meeting()]), foreign);
		assert.deepEqual([s.status, s.body], [403, 'Origin not allowed'], 'send');
		const d = await c.del(tok, foreign);
		assert.equal(d.status, 403, 'DELETE');
		assert.equal(await stack.psql('SELECT count(*) FROM pollhub.connections'), String(Number(before) + 1),
			'no connection made or removed from a foreign origin');
		assert.equal(await stack.psql('SELECT count(*) FROM pollhub.meetings'), '0', 'nothing created');
		// Still there, and the forbidden send left nothing queued.
		if (transportName === 'LongPolling') {
			const p = await c.poll(tok);
			assert.deepEqual([p.status, p.body], [200, ''], 'a poll after the refused requests');
		}
		assert.equal((await c.del(tok)).status, 202);
	});

	test('reads from a foreign origin are answered without CORS headers (the browser hides them)', async () => {
		const tok = await c.handshakenToken();
		const p = await c.poll(randomToken(), foreign);
		assert.equal(p.status, 404);
		assert.equal(cors(p.headers).origin, null);
		const o = await c.options(`${stack.hubUrl}/negotiate?negotiateVersion=1`,
			{ ...foreign, 'Access-Control-Request-Method': 'POST' });
		assert.equal(o.status, 204, 'a preflight is answered');
		assert.equal(o.headers.get('access-control-allow-origin'), null);
		assert.equal(o.headers.get('access-control-allow-methods'), null);
		await c.del(tok);
	});

	test('requests without Origin from another site (Sec-Fetch-Site) are judged by their Referer', async () => {
		// A classic (SignalR 2.x) JSONP negotiate, as a <script> of another page sends it.
		const jsonp = `${stack.hubUrl}/negotiate?clientProtocol=2.1&connectionData=${encodeURIComponent(
			'[{"name":"meetings"}]')}&callback=cb&_=1`;
		const get = async (url, headers) => {
			const r = await fetch(url, { headers });
			return { status: r.status, body: await r.text() };
		};
		for (const headers of [
			{ 'Sec-Fetch-Site': 'cross-site', Referer: 'https://evil.example/page' },
			{ 'Sec-Fetch-Site': 'cross-site' },
			{ 'Sec-Fetch-Site': 'same-site', Referer: `http://localhost:${stack.port}/` },
		]) {
			const r = await get(jsonp, headers);
			assert.deepEqual([r.status, r.body], [403, 'Origin not allowed'], JSON.stringify(headers));
		}
		// The hub's own page, and clients that say nothing (older browsers, non-browsers).
		for (const headers of [{ 'Sec-Fetch-Site': 'same-origin', Referer: `${stack.url}/` },
			{ 'Sec-Fetch-Site': 'same-site', Referer: `${stack.url}/index.html?x=1` }, {}]) {
			const r = await get(jsonp, headers);
			assert.equal(r.status, 200, JSON.stringify(headers));
			assert.match(r.body, /^cb\(/, 'a JSONP answer');
		}
		// Core: a cross-site send without Origin is refused too; a read is answered.
		const tok = await c.handshakenToken();
		const cross = { 'Sec-Fetch-Site': 'cross-site', Referer: 'https://evil.example/' };
		assert.equal((await c.send(tok, invocation('x'), cross)).status, 403);
		assert.equal((await c.del(tok, cross)).status, 403);
		assert.equal((await c.poll(randomToken(), cross)).status, 404);
		assert.equal((await c.del(tok)).status, 202);
	});

	test('every answer carries X-Content-Type-Options: nosniff', async () => {
		const tok = await c.handshakenToken();
		const answers = [
			await c.negotiate(), await c.negotiate('?negotiateVersion=x'), await c.poll(randomToken()),
			await c.poll(''), await c.send(tok, `{"type":6}${RS}`), await c.del(randomToken()),
			await c.negotiate('', foreign), await c.options(stack.hubUrl),
			await (async () => { const r = await fetch(`${stack.hubUrl}/negotiate`); return { status: r.status, headers: r.headers, body: await r.text() }; })(),
		];
		assert.deepEqual(answers.map((a) => a.status), [200, 200, 404, 400, 200, 404, 403, 204, 405]);
		for (const a of answers)
			assert.equal(a.headers.get('x-content-type-options'), 'nosniff', `status ${a.status}`);
		const s = await c.stream(JSON.parse((await c.negotiate()).body).connectionToken);
		assert.equal(s.status, 200);
		assert.equal(s.headers.get('x-content-type-options'), 'nosniff', 'the event stream');
		s.abort();
		await c.del(tok);
	});
});

describe('web security: POLLHUB_ALLOWED_ORIGINS', { timeout: 60000 }, () => {
	const ALLOWED = ['https://cal.example', 'http://localhost:3000'];
	let stack;
	let c;
	before(async () => {
		stack = await startStack({ env: {
			POLLHUB_POLL_TIMEOUT: '3', POLLHUB_ALLOWED_ORIGINS: ' https://Cal.Example:443 ,http://localhost:3000',
		} });
		c = raw(stack.hubUrl);
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const allowedCors = (origin) => ({ origin, credentials: 'true', vary: 'Origin' });

	test('a preflight from an allowed origin: 204 with what @microsoft/signalr needs', async () => {
		for (const origin of ALLOWED) {
			for (const url of [`${stack.hubUrl}/negotiate?negotiateVersion=1`, `${stack.hubUrl}?id=${randomToken()}`]) {
				const o = await c.options(url, {
					Origin: origin, 'Access-Control-Request-Method': 'POST',
					'Access-Control-Request-Headers': 'x-requested-with,x-signalr-user-agent,content-type',
				});
				assert.equal(o.status, 204, `${origin} ${url}`);
				assert.deepEqual(cors(o.headers), allowedCors(origin));
				const methods = o.headers.get('access-control-allow-methods').split(/,\s*/);
				for (const m of ['GET', 'POST', 'DELETE']) assert.ok(methods.includes(m), `Allow-Methods ${m}`);
				const hdrs = o.headers.get('access-control-allow-headers').toLowerCase().split(/,\s*/);
				for (const h of ['x-requested-with', 'x-signalr-user-agent', 'content-type', 'authorization'])
					assert.ok(hdrs.includes(h), `Allow-Headers ${h}`);
				assert.ok(Number(o.headers.get('access-control-max-age')) > 0, 'Max-Age');
				assert.equal(o.headers.get('x-content-type-options'), 'nosniff');
			}
		}
	});

	test('an allowed origin: negotiate, poll, stream, send and DELETE answer with its CORS headers', async () => {
		const origin = 'https://cal.example';
		const own = raw(stack.hubUrl, { Origin: origin });
		const n = await own.negotiate();
		assert.equal(n.status, 200);
		assert.deepEqual(cors(n.headers), allowedCors(origin));
		const tok = JSON.parse(n.body).connectionToken;
		const first = await own.poll(tok);
		assert.equal(first.status, 200);
		assert.deepEqual(cors(first.headers), allowedCors(origin), 'poll');
		const s = await own.send(tok, HANDSHAKE);
		assert.equal(s.status, 200);
		assert.deepEqual(cors(s.headers), allowedCors(origin), 'send');
		const missing = await own.poll(randomToken());
		assert.equal(missing.status, 404);
		assert.deepEqual(cors(missing.headers), allowedCors(origin), 'errors too, so the page can read them');
		const d = await own.del(tok);
		assert.equal(d.status, 202);
		assert.deepEqual(cors(d.headers), allowedCors(origin), 'DELETE');
		const other = JSON.parse((await own.negotiate()).body).connectionToken;
		const st = await own.stream(other);
		assert.equal(st.status, 200);
		assert.deepEqual(cors(st.headers), allowedCors(origin), 'event stream');
		st.abort();
		await own.del(other);
	});

	test('other origins, near misses included, get 403 and no Allow-Origin', async () => {
		for (const origin of ['https://evil.example', 'http://cal.example', 'https://cal.example:8443',
			'https://cal.example.evil.example', 'https://evilcal.example', 'http://localhost:30000',
			'http://localhost', 'null', '*', 'https://cal.example/']) {
			const n = await c.negotiate('?negotiateVersion=1', { Origin: origin });
			assert.equal(n.status, 403, origin);
			assert.equal(cors(n.headers).origin, null, origin);
			assert.equal(cors(n.headers).vary, 'Origin', 'the answer depends on Origin');
		}
		// Never a wildcard, whatever was asked.
		const p = await c.poll(randomToken(), { Origin: 'https://evil.example' });
		assert.equal(p.headers.get('access-control-allow-origin'), null);
	});

	test('a cross-site JSONP request from an allowed page (by its Referer) is served', async () => {
		const jsonp = `${stack.hubUrl}/negotiate?clientProtocol=2.1&connectionData=${encodeURIComponent(
			'[{"name":"meetings"}]')}&callback=cb`;
		const ok = await fetch(jsonp, { headers: { 'Sec-Fetch-Site': 'cross-site', Referer: 'https://cal.example/week' } });
		assert.equal(ok.status, 200);
		assert.match(await ok.text(), /^cb\(/);
		assert.equal(ok.headers.get('access-control-allow-origin'), null, 'no Origin, nothing to echo');
		const bad = await fetch(jsonp, { headers: { 'Sec-Fetch-Site': 'cross-site', Referer: 'https://evil.example/week' } });
		await bad.arrayBuffer();
		assert.equal(bad.status, 403);
	});

	test('a @microsoft/signalr client sending an allowed Origin works; a refused one cannot start', async () => {
		const build = (origin) => new signalR.HubConnectionBuilder()
			.withUrl(stack.hubUrl, { transport: signalR.HttpTransportType[transportName], headers: { Origin: origin } })
			.configureLogging(signalR.LogLevel.None)
			.build();
		const good = build('http://localhost:3000');
		try {
			await good.start();
			assert.deepEqual(await good.invoke('read'), []);
		} finally {
			await good.stop();
		}
		const bad = build('https://evil.example');
		await assert.rejects(bad.start(), /403/);
	});
});

describe('connection tokens stay out of the logs', { timeout: 60000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '2', POLLHUB_LOG_LEVEL: 'debug' } });
	});
	after(async () => { await stack?.stop(); });

	/** Every regular file the stack wrote: the responder's stderr, the web server's logs. */
	const logFiles = () => fs.readdirSync(stack.runDir)
		.map((f) => path.join(stack.runDir, f))
		.filter((f) => fs.statSync(f).isFile() && !f.endsWith('.pid'));

	it('after real and failing sessions, no log holds a token', async () => {
		await stack.guard(async () => {
			const c = raw(stack.hubUrl);
			const tokens = [];
			// A real client session: connect, create, read, update, destroy, stop (DELETE).
			const a = await connect(stack.hubUrl);
			const b = await connect(stack.hubUrl);
			for (const conn of [a, b]) {
				// The token is the client's (in its transport's URL); the row keeps its key.
				const tok = new URL(conn.connection.transport._url).searchParams.get('id');
				assert.match(tok, /^[A-Za-z0-9_-]{22}$/, 'the token of a live connection');
				assert.equal(await stack.psql(`SELECT token FROM pollhub.connections WHERE id = '${conn.connectionId}'`),
					await stack.psql(`SELECT pollhub.token_key('', '${tok}')`), 'the row keeps the key only');
				tokens.push(tok);
			}
			const m = await a.invoke('create', meeting());
			await a.invoke('update', { ...m, Title: 'changed' });
			await rejects(a.invoke('update', { ...m, ID: crypto.randomUUID() }), /ID/, 'an update that fails');
			await rejects(a.invoke('nope'), /Method does not exist/, 'an unknown method');
			await a.invoke('destroy', m);
			await stopAll(a, b);
			// Raw sessions that end in errors the responder logs.
			const closed = await session(c);
			tokens.push(closed.token);
			await closed.send(`{not json${RS}`);
			await expectCloseWithError(closed);
			const refusedHs = JSON.parse((await c.negotiate()).body).connectionToken;
			tokens.push(refusedHs);
			await c.poll(refusedHs);
			await c.send(refusedHs, `{"protocol":"json","version":99}${RS}`);
			await c.poll(refusedHs);
			const big = await session(c);
			tokens.push(big.token);
			assert.equal((await c.send(big.token, 'x'.repeat(40000))).status, 413);
			assert.equal((await c.send(big.token, HANDSHAKE, { Origin: 'https://evil.example' })).status, 403);
			await big.end();
			const guessed = randomToken();
			tokens.push(guessed);
			await c.poll(guessed);
			await c.send(guessed, HANDSHAKE);
			await c.del(guessed);
			// Version 0: the id is the token.
			const v0 = JSON.parse((await c.negotiate('')).body).connectionId;
			tokens.push(v0);
			await c.poll(v0);
			await c.del(v0);

			// A token sent while the responder is down: lighttpd logs the URL with its query
			// ("all handlers for /meetings?id=... are down"); its log filter must blank it.
			const parked = await c.handshakenToken();
			tokens.push(parked);
			await stack.stopResponder();
			const down = await c.poll(parked);
			assert.ok(down.status >= 500, `a poll with the responder down: ${down.status}`);
			await stack.startResponder();
			assert.equal((await c.del(parked)).status, 202, 'the connection outlived the restart');

			// The web server may write its access log a little later.
			const access = path.join(stack.runDir, 'access.log');
			await waitFor(() => fs.existsSync(access) &&
				(fs.readFileSync(access, 'utf8').match(/\/meetings/g) || []).length >= 20, 8000, 'the access log');
			const files = logFiles();
			const names = files.map((f) => path.basename(f));
			assert.ok(names.includes('pollhub.log') && names.includes('access.log'), `logs: ${names}`);
			for (const f of files) {
				const text = fs.readFileSync(f, 'latin1');
				for (const tok of tokens)
					assert.equal(text.includes(tok), false, `${path.basename(f)} contains a token`);
				assert.equal(/[?&]id=(?!\(redacted\))/.test(text), false,
					`${path.basename(f)} contains a query string with id=`);
			}
			// Not vacuous: the logs do record these requests and connections, by path and id.
			const accessText = fs.readFileSync(access, 'utf8');
			assert.match(accessText, /"POST \/meetings\/negotiate"/);
			assert.match(accessText, /"GET \/meetings" 200/);
			if (stack.web === 'lighttpd')
				assert.match(fs.readFileSync(path.join(stack.runDir, 'lighttpd-error.log'), 'utf8'),
					/\?id=\(redacted\)/, 'lighttpd logged the URL of the failed request, token blanked');
			const responderLog = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
			assert.match(responderLog, /negotiated connection /);
			assert.match(responderLog, /closing: InvalidDataException/);
			assert.match(responderLog, /handshake refused/);
		})();
	});
});
