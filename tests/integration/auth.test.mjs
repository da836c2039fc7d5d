// Identity and grants (issue 20) with POLLHUB_AUTH=jwt: the real @microsoft/signalr client
// with accessTokenFactory over the transport under test, raw requests with every token a
// verifier must refuse (tests/integration/jwt.mjs makes them with node's crypto), grants
// made in psql (403 at negotiate, read-only members, a permission changed live),
// connections bound to their user, an expired token on a held poll or stream, revocation
// of live connections of both transports across two responders (lighttpd), send_to_user,
// authors of changes, classic SignalR 2.x with access_token in its qs, and connection and
// bearer tokens kept out of the table and out of every log. A second, smaller stack has
// only an HS256 secret.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, signalR, collector, waitFor, sleep, stopAll, RS, transportName, sseEvents } from './stack.mjs';
import { makeKeys, sign, claims, tokenKey, now, AUDIENCE, ISSUER } from './jwt.mjs';

const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
// stack.mjs round-robins between several responders behind lighttpd only.
const RESPONDERS = web === 'lighttpd' ? 2 : 1;
const LEEWAY = 1;
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const LP = transportName === 'LongPolling';

let seq = 0;
const meeting = (title, over = {}) => ({
	ID: null, Title: `${title} ${++seq}`, Start: '2026-12-14T09:00:00.000Z', End: '2026-12-14T10:00:00.000Z',
	IsAllDay: false, Attendees: [], ...over,
});
/** The hub records of a poll's body or a stream's text (its data: lines), parsed. */
function records(text) {
	const data = text.includes('data: ') ? sseEvents(text).join('') : text;
	return data.split(RS).filter((r) => r.trim()).map((r) => JSON.parse(r));
}
const sq = (s) => `'${String(s).replace(/'/g, "''")}'`;
const auth = (bearer) => (bearer ? { Authorization: `Bearer ${bearer}` } : {});

/** Asserts a 401 that RFC 6750 shapes: WWW-Authenticate starts with Bearer; error= given
 * (or none when error is null). */
function assert401(res, error, what) {
	assert.equal(res.status, 401, `${what}: status (${res.text ?? ''})`);
	const h = res.headers.get('www-authenticate');
	assert.ok(h && /^Bearer(\s|$)/.test(h), `${what}: WWW-Authenticate is ${JSON.stringify(h)}`);
	if (error) {
		assert.match(h, new RegExp(`error="${error}"`), `${what}: WWW-Authenticate ${h}`);
		assert.match(h, /error_description="[^"]+"/, `${what}: a description: ${h}`);
	} else {
		assert.doesNotMatch(h, /error=/, `${what}: no error= without a token: ${h}`);
	}
	return h;
}

/** Every token seen, to be looked for in the table and the logs at the end. */
const connTokens = new Set();
const bearers = new Set();

/** The raw wire of one hub URL, a bearer token per request. */
function rawWire(hub) {
	const q = (ct, extra = '') => `${hub}?id=${encodeURIComponent(ct)}${extra}`;
	const done = async (r) => ({ status: r.status, headers: r.headers, text: await r.text() });
	const w = {
		async negotiate(bearer, { group, query = '', headers = {} } = {}) {
			if (bearer) bearers.add(bearer);
			const g = group ? `&group=${encodeURIComponent(group)}` : '';
			const r = await fetch(`${hub}/negotiate?negotiateVersion=1${g}${query}`,
				{ method: 'POST', headers: { ...auth(bearer), ...headers } });
			const res = await done(r);
			try { res.json = JSON.parse(res.text); } catch { res.json = null; }
			if (res.json?.connectionToken) connTokens.add(res.json.connectionToken);
			return res;
		},
		poll: async (ct, bearer, signal) => done(await fetch(q(ct, `&_=${Date.now()}`), { headers: auth(bearer), signal })),
		send: async (ct, bearer, body) => done(await fetch(q(ct), {
			method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...auth(bearer) },
		})),
		del: async (ct, bearer) => done(await fetch(q(ct), { method: 'DELETE', headers: auth(bearer) })),
		/** A server-sent events GET with the bearer in access_token, as EventSource sends it. */
		async stream(ct, bearer) {
			const ac = new AbortController();
			const tq = bearer ? `&access_token=${encodeURIComponent(bearer)}` : '';
			const r = await fetch(q(ct, tq), { headers: { Accept: 'text/event-stream' }, signal: ac.signal });
			const s = { status: r.status, headers: r.headers, text: '', ended: false, abort: () => ac.abort() };
			if (r.status !== 200) {
				s.text = await r.text();
				s.ended = true;
				return s;
			}
			const dec = new TextDecoder();
			s.done = (async () => {
				try {
					for await (const chunk of r.body) s.text += dec.decode(chunk, { stream: true });
				} catch { /* aborted */ }
				s.ended = true;
			})();
			s.until = (re, ms = 5000, what = String(re)) => waitFor(() => re.test(s.text), ms, what);
			return s;
		},
	};
	return w;
}

describe(`authentication: POLLHUB_AUTH=jwt (${transportName}, ${web}, ${RESPONDERS} responder(s))`, { timeout: 240000 }, () => {
	let stack;
	let hub;
	let wire;
	let keys;
	let keyDir;
	const token = (sub, over = {}, alg = 'RS256') => {
		const t = keys.token(sub, over, alg);
		bearers.add(t);
		return t;
	};
	const psql = (sql) => stack.psql(sql);
	const grant = (who, group, perm) => psql(`SELECT pollhub.grant_group(${sq(who)}, ${sq(group)}, ${sq(perm)})`);
	const revoke = (who, group) => psql(`SELECT pollhub.revoke_group(${sq(who)}, ${sq(group)})`);
	// Rows made since the test began: an earlier test's connections may still be going
	// (a client's DELETE after its stop() resolved).
	const connCount = async (since) => Number(await psql(`SELECT count(*) FROM pollhub.connections
		WHERE connected_at >= ${sq(since)}`));
	const dbNow = () => psql('SELECT clock_timestamp()');

	before(async () => {
		keys = makeKeys();
		keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-jwt-'));
		fs.writeFileSync(path.join(keyDir, 'keys.pem'), keys.publicPems());
		// Apache serves as www-data; the responder reads the file as we run it, but keep
		// it readable all the same.
		fs.chmodSync(keyDir, 0o755);
		stack = await startStack({
			responders: RESPONDERS,
			env: {
				POLLHUB_AUTH: 'jwt',
				POLLHUB_JWT_KEYS: path.join(keyDir, 'keys.pem'),
				POLLHUB_JWT_AUDIENCE: AUDIENCE,
				POLLHUB_JWT_ISSUER: ISSUER,
				POLLHUB_JWT_LEEWAY: String(LEEWAY),
				POLLHUB_GROUP_PARAM: 'group',
				// The web server reaches the responder from loopback: X-Forwarded-For counts.
				POLLHUB_TRUSTED_PROXIES: '127.0.0.1, ::1',
				// Every request is logged (debug): the logs searched for tokens at the end
				// hold as much as the responder ever writes.
				POLLHUB_LOG_LEVEL: 'debug',
				POLLHUB_POLL_TIMEOUT: '10',
			},
		});
		hub = stack.hubUrl;
		wire = rawWire(hub);
		for (const [who, group, perm] of [
			['alice', 'cal-a', 'write'], ['bob', 'cal-a', 'write'], ['rita', 'cal-a', 'read'],
			['solo', 'cal-solo', 'write'], ['multi', 'cal-a', 'read'], ['multi', 'cal-m', 'write'],
			['alice', 'cal-exp', 'write'], ['dave', 'cal-r', 'write'], ['erin', 'cal-r', 'write'],
			['carl', 'cal-classic', 'write'],
		]) await grant(who, group, perm);
	});
	after(async () => {
		await stack?.stop();
		if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	/** A started HubConnection with accessTokenFactory; conn.pushes collects targets;
	 * conn.closed resolves with onclose's error (conn.closedAt is when). */
	async function connectAs(bearer, { group, transport = transportName, targets } = {}) {
		bearers.add(bearer);
		const url = group ? `${hub}?group=${encodeURIComponent(group)}` : hub;
		const conn = new signalR.HubConnectionBuilder()
			.withUrl(url, { transport: signalR.HttpTransportType[transport], accessTokenFactory: () => bearer })
			.configureLogging(signalR.LogLevel.None)
			.build();
		conn.pushes = collector(conn, targets);
		conn.transportName = transport;
		conn.closed = new Promise((resolve) => conn.onclose((e) => {
			conn.closedAt = Date.now();
			conn.closeError = e;
			resolve(e);
		}));
		await conn.start();
		// The client forgets its id when it closes.
		conn.id = conn.connectionId;
		// The connection token the client got (it is in the transport's URL), for the
		// search at the end.
		const u = conn.connection?.transport?._url;
		if (u) {
			const ct = new URL(u).searchParams.get('id');
			if (ct) connTokens.add(ct);
		}
		return conn;
	}

	/** A raw connection of the transport under test, handshaken: { ct, id, bearer, stream? }. */
	async function rawConnect(bearer, group) {
		const n = await wire.negotiate(bearer, { group });
		assert.equal(n.status, 200, `negotiate: ${n.text}`);
		const c = { ct: n.json.connectionToken, id: n.json.connectionId, bearer };
		if (LP) {
			assert.equal((await wire.poll(c.ct, bearer)).status, 200, 'first poll');
			assert.equal((await wire.send(c.ct, bearer, HANDSHAKE)).status, 200, 'handshake');
			assert.equal((await wire.poll(c.ct, bearer)).text, `{}${RS}`, 'handshake answer');
		} else {
			c.stream = await wire.stream(c.ct, bearer);
			assert.equal(c.stream.status, 200, `stream: ${c.stream.text}`);
			assert.equal((await wire.send(c.ct, bearer, HANDSHAKE)).status, 200, 'handshake');
			await c.stream.until(/data: \{\}\x1e/, 5000, 'the handshake answer');
		}
		return c;
	}
	/** Invokes read on a raw connection and waits for its completion. */
	async function rawRead(c, id) {
		const inv = `{"type":1,"invocationId":"${id}","target":"read","arguments":[]}${RS}`;
		assert.equal((await wire.send(c.ct, c.bearer, inv)).status, 200, 'the read invocation');
		const re = new RegExp(`"type":3,"invocationId":"${id}"|"invocationId":"${id}"[^\\x1e]*"type":3`);
		if (LP) {
			// A push of the calendar may come first: poll until the completion.
			const deadline = Date.now() + 5000;
			for (;;) {
				const p = await wire.poll(c.ct, c.bearer);
				assert.equal(p.status, 200, `poll: ${p.text}`);
				if (re.test(p.text)) break;
				assert.ok(Date.now() < deadline, `no completion of ${id}; last poll ${p.text}`);
			}
		} else {
			await c.stream.until(re, 5000, `the completion of ${id}`);
		}
	}
	// Without last_seen: the responder holding a stream vouches for it (touch()) on its own
	// schedule, whoever else knocks.
	const rowOf = (id) => psql(`SELECT (to_jsonb(c) - 'last_seen')::text FROM pollhub.connections c
		WHERE id = ${sq(id)}`);

	test('the real client with accessTokenFactory (RS256, then ES256): read and create; created_by is the sub', async () => {
		const a = await connectAs(token('alice'), { group: 'cal-a' });
		const b = await connectAs(token('bob', {}, 'ES256'), { group: 'cal-a' });
		try {
			assert.equal(a.state, 'Connected');
			assert.ok(Array.isArray(await a.invoke('read')));
			const made = await a.invoke('create', meeting('By alice'));
			assert.equal(await psql(`SELECT created_by FROM pollhub.meetings WHERE id = ${sq(made.ID)}`), 'alice');
			assert.equal(await psql(`SELECT group_name FROM pollhub.meetings WHERE id = ${sq(made.ID)}`), 'cal-a');
			// The ES256 user sees it and writes too.
			await waitFor(() => b.pushes.payloads('create').some((m) => m.ID === made.ID), 5000, 'the push at bob');
			const other = await b.invoke('create', meeting('By bob'));
			assert.equal(await psql(`SELECT created_by FROM pollhub.meetings WHERE id = ${sq(other.ID)}`), 'bob');
			// The connections carry their user and permission.
			assert.equal(await psql(`SELECT user_name || ' ' || permission || ' ' || group_name FROM pollhub.connections
				WHERE id = ${sq(a.connectionId)}`), 'alice write cal-a');
			assert.equal(await psql(`SELECT user_name FROM pollhub.admin_connections WHERE id = ${sq(b.connectionId)}`), 'bob');
		} finally {
			await stopAll(a, b);
		}
	});

	test('every hostile token is 401 Bearer error="invalid_token" at negotiate; none creates a connection', async () => {
		const since = await dbNow();
		const hostile = keys.hostile('alice');
		for (const { name, token: t } of hostile) {
			const res = await wire.negotiate(t, { group: 'cal-a' });
			const h = assert401(res, 'invalid_token', name);
			if (name === 'expired') assert.match(h, /error_description="[^"]*expir/i, `expired: ${h}`);
		}
		// No token at all, another scheme: 401 Bearer without error=.
		assert401(await wire.negotiate(null, { group: 'cal-a' }), null, 'no token');
		assert401(await wire.negotiate(null, { group: 'cal-a', headers: { Authorization: 'Basic YWxpY2U6YWxpY2U=' } }),
			null, 'Basic credentials');
		// "Bearer" with nothing after it is a malformed request (RFC 6750 invalid_request).
		assert401(await wire.negotiate(null, { group: 'cal-a', headers: { Authorization: 'Bearer ' } }),
			'invalid_request', 'an empty Bearer');
		// access_token in the query counts for the event stream and classic clients only
		// (common/auth.h), not for a Core negotiate.
		assert401(await wire.negotiate(null, { group: 'cal-a', query: `&access_token=${encodeURIComponent(token('alice'))}` }),
			null, 'access_token in a negotiate\'s query');
		assert.equal(await connCount(since), 0, 'no connection row created');
		// The same good token is accepted (the refusals above were the token's, not the request's).
		const ok = await wire.negotiate(token('alice'), { group: 'cal-a' });
		assert.equal(ok.status, 200, ok.text);
		// aud may be an array that holds the audience (RFC 7519 4.1.3).
		const arr = await wire.negotiate(token('alice', { aud: ['another-service', AUDIENCE] }), { group: 'cal-a' });
		assert.equal(arr.status, 200, `aud as an array: ${arr.text}`);
		assert.equal(await connCount(since), 2);
		for (const r of [ok, arr]) await wire.del(r.json.connectionToken, token('alice'));
	});

	test('POLLHUB_TRUSTED_PROXIES: X-Forwarded-For from a trusted peer is the address admin_connections shows', async () => {
		await grant('xff', 'cal-xff', 'read');
		const addrOf = async (headers) => {
			const n = await wire.negotiate(token('xff'), { group: 'cal-xff', headers });
			assert.equal(n.status, 200, n.text);
			return psql(`SELECT remote_addr FROM pollhub.admin_connections WHERE id = ${sq(n.json.connectionId)}`);
		};
		// The right-most address not itself a trusted proxy: what the last proxy saw.
		assert.equal(await addrOf({ 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' }), '198.51.100.7');
		assert.equal(await addrOf({ 'X-Forwarded-For': '198.51.100.7, 127.0.0.1' }), '198.51.100.7');
		// A malformed entry stops the walk: the address last found good is kept.
		assert.equal(await addrOf({ 'X-Forwarded-For': 'evil, 127.0.0.1' }), '127.0.0.1');
		assert.match(await addrOf({}), /^(127\.0\.0\.1|::1)$/, 'without the header: the peer');
	});

	test('grants at negotiate: no grant on ?group= is 403; no ?group= lands in the one granted calendar', async () => {
		const since = await dbNow();
		const refused = [
			['mallory', 'cal-a', 'no grant at all'], ['mallory', undefined, 'no grant and no ?group='],
			['alice', 'cal-solo', 'a calendar alice holds no grant on'],
			['multi', undefined, 'two grants and no ?group='],
		];
		for (const [who, group, what] of refused) {
			const res = await wire.negotiate(token(who), { group });
			assert.equal(res.status, 403, `${what}: ${res.status} ${res.text}`);
		}
		assert.equal(await connCount(since), 0, 'no row for a 403');
		// The reason is the operator's, in the log (the client gets "Forbidden").
		const logged = Array.from({ length: RESPONDERS }, (_, i) =>
			fs.readFileSync(path.join(stack.runDir, i === 0 ? 'pollhub.log' : `pollhub${i}.log`), 'utf8')).join('\n');
		assert.match(logged, /403[^\n]*mallory|mallory[^\n]*403/, 'a log line gives the reason of mallory\'s 403');
		const res = await wire.negotiate(token('solo'));
		assert.equal(res.status, 200, res.text);
		const row = await psql(`SELECT group_name || ' ' || user_name || ' ' || permission FROM pollhub.connections
			WHERE id = ${sq(res.json.connectionId)}`);
		assert.equal(row, 'cal-solo solo write');
		// multi names one of its calendars: in, with that calendar's permission.
		const m = await wire.negotiate(token('multi'), { group: 'cal-m' });
		assert.equal(m.status, 200, m.text);
		assert.equal(await psql(`SELECT permission FROM pollhub.connections WHERE id = ${sq(m.json.connectionId)}`), 'write');
		// A default calendar set in psql (and granted) opens without ?group=.
		await psql(`SELECT pollhub.set_default_group('multi', 'cal-m')`);
		const d = await wire.negotiate(token('multi'));
		assert.equal(d.status, 200, d.text);
		assert.equal(await psql(`SELECT group_name FROM pollhub.connections WHERE id = ${sq(d.json.connectionId)}`), 'cal-m');
		// Through a role: the member gets the role's grant.
		await psql(`SELECT pollhub.grant_role('team-g', 'gina'); SELECT pollhub.grant_group('team-g', 'cal-g', 'read')`);
		const g = await wire.negotiate(token('gina'), { group: 'cal-g' });
		assert.equal(g.status, 200, g.text);
		assert.equal(await psql(`SELECT permission FROM pollhub.connections WHERE id = ${sq(g.json.connectionId)}`), 'read');
		assert.equal((await wire.negotiate(token('gina'), { group: 'cal-a' })).status, 403, 'the role gives cal-g only');
		for (const [r, who] of [[res, 'solo'], [m, 'multi'], [d, 'multi'], [g, 'gina']]) await wire.del(r.json.connectionToken, token(who));
	});

	test('a read-only member reads and gets pushes; its writes are "Not allowed:", nothing stored; a grant changed live applies', async () => {
		const a = await connectAs(token('alice'), { group: 'cal-a' });
		const r = await connectAs(token('rita'), { group: 'cal-a' });
		try {
			const mine = await a.invoke('create', meeting('Alice\'s, read by rita'));
			await waitFor(() => r.pushes.payloads('create').some((m) => m.ID === mine.ID), 5000, 'the push at rita');
			assert.ok((await r.invoke('read')).some((m) => m.ID === mine.ID), 'rita reads it');
			const count = () => psql(`SELECT count(*) FROM pollhub.meetings WHERE group_name = 'cal-a'`);
			const n0 = await count();
			const notAllowed = async (p, what) => {
				await assert.rejects(p, (e) => {
					assert.match(e.message, /^Not allowed:/, `${what}: ${e.message}`);
					return true;
				});
				assert.equal(r.state, 'Connected', `${what}: the connection stays`);
			};
			await notAllowed(r.invoke('create', meeting('By rita')), 'create');
			await notAllowed(r.invoke('update', { ...mine, Title: 'Changed by rita' }), 'update');
			await notAllowed(r.invoke('destroy', mine), 'destroy');
			assert.equal(await count(), n0, 'nothing stored');
			assert.equal(await psql(`SELECT title FROM pollhub.meetings WHERE id = ${sq(mine.ID)}`), mine.Title);
			assert.ok(Array.isArray(await r.invoke('read')), 'the connection works afterwards');
			// Promoted while connected: the live connection writes at once.
			await grant('rita', 'cal-a', 'write');
			await waitFor(async () => (await psql(`SELECT permission FROM pollhub.connections
				WHERE id = ${sq(r.connectionId)}`)) === 'write', 5000, 'the permission updated');
			const hers = await r.invoke('create', meeting('By rita, promoted'));
			assert.equal(await psql(`SELECT created_by FROM pollhub.meetings WHERE id = ${sq(hers.ID)}`), 'rita');
			await grant('rita', 'cal-a', 'read');
			await waitFor(async () => (await psql(`SELECT permission FROM pollhub.connections
				WHERE id = ${sq(r.connectionId)}`)) === 'read', 5000, 'the permission lowered');
			await notAllowed(r.invoke('destroy', hers), 'destroy after the demotion');
			assert.equal(await psql(`SELECT count(*) FROM pollhub.meetings WHERE id = ${sq(hers.ID)}`), '1');
		} finally {
			await stopAll(a, r);
		}
	});

	test('a connection stays bound to its user: another user\'s token is 404, none is 401, the row untouched', async () => {
		const c = await rawConnect(token('alice'), 'cal-a');
		try {
			const row = await rowOf(c.id);
			const bob = token('bob');
			const gone = (res, what) => {
				assert.equal(res.status, 404, `${what}: ${res.status} ${res.text}`);
				assert.equal(res.text, 'No Connection with that ID', what);
			};
			if (LP) gone(await wire.poll(c.ct, bob), 'bob\'s poll');
			else {
				const s = await wire.stream(c.ct, bob);
				s.abort();
				gone(s, 'bob\'s stream');
			}
			gone(await wire.send(c.ct, bob, `{"type":1,"invocationId":"x","target":"read","arguments":[]}${RS}`), 'bob\'s send');
			gone(await wire.del(c.ct, bob), 'bob\'s DELETE');
			assert.equal(await rowOf(c.id), row, 'the row untouched by bob');
			if (LP) assert401(await wire.poll(c.ct, null), null, 'a poll without a token');
			else {
				const s = await wire.stream(c.ct, null);
				s.abort();
				assert401(s, null, 'a stream without a token');
			}
			assert401(await wire.send(c.ct, null, `{"type":6}${RS}`), null, 'a send without a token');
			assert401(await wire.del(c.ct, null), null, 'a DELETE without a token');
			assert401(await wire.poll(c.ct, keys.hostile('alice')[0].token), 'invalid_token', 'a forged token on a poll');
			assert.equal(await rowOf(c.id), row, 'the row untouched by the refusals');
			// Its owner goes on.
			await rawRead(c, 'owner1');
			const del = await wire.del(c.ct, c.bearer);
			assert.equal(del.status, 202, del.text);
		} finally {
			c.stream?.abort();
		}
	});

	test('an expired token ends nothing held; its next request is 401', async () => {
		const exp = now() + 5;
		const c = await rawConnect(token('alice', { exp }), 'cal-exp');
		try {
			assert.ok(now() < exp - 1, 'connected before the token expired (the machine was too slow for this test)');
			const held = LP ? wire.poll(c.ct, c.bearer) : null;
			// Past exp and the leeway, the poll or stream still held.
			await sleep((exp + LEEWAY + 1.5) * 1000 - Date.now());
			await psql(`SELECT pollhub.send_to_group('cal-exp', 'notify', '["after expiry"]')`);
			if (LP) {
				const p = await held;
				assert.equal(p.status, 200, p.text);
				assert.match(p.text, /after expiry/, 'the held poll delivered');
				const h = assert401(await wire.poll(c.ct, c.bearer), 'invalid_token', 'the next poll');
				assert.match(h, /expir/i);
			} else {
				await c.stream.until(/after expiry/, 5000, 'the push on the stream held past expiry');
				assert.equal(c.stream.ended, false, 'the stream still open');
				assert401(await wire.send(c.ct, c.bearer, `{"type":6}${RS}`), 'invalid_token', 'the next send');
			}
		} finally {
			c.stream?.abort();
		}
	});

	/** Which responder logged that it holds connection id's stream (-1 if none yet). */
	function streamHolder(id) {
		for (let i = 0; i < RESPONDERS; i++) {
			const f = path.join(stack.runDir, i === 0 ? 'pollhub.log' : `pollhub${i}.log`);
			if (fs.readFileSync(f, 'utf8').includes(`connection ${id}: connected (ServerSentEvents`)) return i;
		}
		return -1;
	}
	/** Which responders ended a held poll of connection id. */
	function pollHolders(id) {
		const out = [];
		for (let i = 0; i < RESPONDERS; i++) {
			const f = path.join(stack.runDir, i === 0 ? 'pollhub.log' : `pollhub${i}.log`);
			if (fs.readFileSync(f, 'utf8').includes(`(held poll) connection ${id}:`)) out.push(i);
		}
		return out;
	}

	test('revocation closes live connections of both transports on every responder within 5 s; nothing more reaches them', async () => {
		const dave = token('dave');
		const clients = [];
		let erin;
		let raw;
		try {
			for (let k = 0; k < 2; k++) clients.push(await connectAs(dave, { group: 'cal-r', transport: 'LongPolling' }));
			// Server-sent event streams until each responder holds one. lighttpd
			// round-robins requests, and a client's connect is an even number of them:
			// a request of no connection (GET /meetings, 400) moves the next stream on.
			const holders = new Set();
			for (let k = 0; k < 8 && (k < 2 || holders.size < RESPONDERS); k++) {
				if (k > 0 && holders.size < RESPONDERS) await (await fetch(hub)).arrayBuffer();
				const c = await connectAs(dave, { group: 'cal-r', transport: 'ServerSentEvents' });
				clients.push(c);
				holders.add(await waitFor(() => { const i = streamHolder(c.connectionId); return i >= 0 ? i + 1 : 0; },
					5000, 'the stream\'s log line') - 1);
			}
			assert.equal(holders.size, RESPONDERS, `streams held by responders ${[...holders]}`);
			raw = await rawConnect(dave, 'cal-r');
			erin = await connectAs(token('erin'), { group: 'cal-r' });
			const first = await erin.invoke('create', meeting('Before the revocation'));
			await waitFor(() => clients.every((c) => c.pushes.count('create') === 1), 5000, 'the push at every client of dave');
			let rawHeld = null;
			if (LP) {
				const got = await wire.poll(raw.ct, dave);
				assert.ok(got.text.includes(first.ID), `the raw connection's push: ${got.text}`);
				rawHeld = wire.poll(raw.ct, dave);
				await sleep(300);
			} else {
				await raw.stream.until(new RegExp(first.ID), 5000, 'the push on the raw stream');
			}

			const t0 = Date.now();
			await revoke('dave', 'cal-r');
			const tSql = Date.now() - t0;
			await waitFor(() => clients.every((c) => c.closedAt), 5000, 'every client of dave closed');
			const took = clients.map((c) => c.closedAt - t0);
			console.log(`# revocation: psql returned after ${tSql} ms; ${clients.length} clients closed after ` +
				`${took.join(', ')} ms (max ${Math.max(...took)} ms)`);
			for (const c of clients)
				assert.match(c.closeError?.message ?? '(no error)', /Not allowed/, `onclose of ${c.id}`);
			// The raw connection: a Close record saying why, that forbids reconnecting.
			const closeOf = (text) => records(text).find((m) => m.type === 7);
			let close;
			if (LP) {
				const p = await rawHeld;
				close = closeOf(p.text);
				assert.ok(close, `held poll: ${p.text}`);
			} else {
				close = await waitFor(() => closeOf(raw.stream.text), 5000, 'the Close record on the raw stream');
			}
			assert.match(close.error, /^Not allowed: .*cal-r/, JSON.stringify(close));
			assert.equal(close.allowReconnect, false);
			// Nothing of the calendar after that.
			const later = await erin.invoke('create', meeting('After the revocation'));
			await sleep(1000);
			for (const c of clients) assert.equal(c.pushes.count('create'), 1, `${c.id}: no later push`);
			const after = LP ? await wire.poll(raw.ct, dave) : { text: raw.stream.text };
			assert.ok(!after.text.includes(later.ID), `the raw connection got the later push: ${after.text}`);
			assert.equal(await psql(`SELECT count(*) FROM pollhub.memberships m JOIN pollhub.connections c
				ON c.id = m.connection_id WHERE c.user_name = 'dave'`), '0', 'no membership of dave left');
			assert.equal((await wire.negotiate(dave, { group: 'cal-r' })).status, 403, 'dave\'s next negotiate');
			// erin is untouched.
			assert.equal(erin.state, 'Connected');
			assert.ok((await erin.invoke('read')).some((m) => m.ID === first.ID));
			if (RESPONDERS > 1) {
				const lp = clients.filter((c) => c.transportName === 'LongPolling');
				console.log(`# revocation: long polls ended by responders ${JSON.stringify(lp.map((c) => pollHolders(c.id)))}`);
			}
		} finally {
			raw?.stream?.abort();
			await stopAll(clients, erin);
		}
	});

	test('leaving a role closes what the role gave; a lowered grant reaches a live connection', async () => {
		await psql(`SELECT pollhub.grant_role('team-r', 'rolf'); SELECT pollhub.grant_group('team-r', 'cal-role', 'write')`);
		const c = await connectAs(token('rolf'), { group: 'cal-role' });
		try {
			const made = await c.invoke('create', meeting('By rolf, through team-r'));
			assert.equal(await psql(`SELECT created_by FROM pollhub.meetings WHERE id = ${sq(made.ID)}`), 'rolf');
			// The role's grant lowered to read: the live connection may no longer write.
			await psql(`SELECT pollhub.grant_group('team-r', 'cal-role', 'read')`);
			await waitFor(async () => (await psql(`SELECT permission FROM pollhub.connections
				WHERE id = ${sq(c.connectionId)}`)) === 'read', 5000, 'the permission lowered through the role');
			await assert.rejects(c.invoke('create', meeting('By rolf, read-only')), (e) => /^Not allowed:/.test(e.message));
			const t0 = Date.now();
			await psql(`SELECT pollhub.revoke_role('team-r', 'rolf')`);
			await waitFor(() => c.closedAt, 5000, 'rolf\'s connection closed');
			assert.match(c.closeError?.message ?? '(no error)', /Not allowed/);
			console.log(`# role membership revoked: closed after ${c.closedAt - t0} ms`);
		} finally {
			await stopAll(c);
		}
	});

	test('send_to_user reaches every connection of that user and no one else\'s', async () => {
		const targets = ['notice'];
		const b1 = await connectAs(token('bob'), { group: 'cal-a', targets });
		const b2 = await connectAs(token('bob'), { group: 'cal-a', targets, transport: LP ? 'ServerSentEvents' : 'LongPolling' });
		const a = await connectAs(token('alice'), { group: 'cal-a', targets });
		try {
			await psql(`SELECT pollhub.send_to_user('bob', 'notice', '[1]')`);
			await waitFor(() => b1.pushes.count('notice') === 1 && b2.pushes.count('notice') === 1, 5000, 'bob\'s two connections');
			assert.deepEqual(b1.pushes.of('notice')[0].args, [1]);
			assert.deepEqual(b2.pushes.of('notice')[0].args, [1]);
			await sleep(1000);
			assert.equal(a.pushes.count('notice'), 0, 'alice got bob\'s notice');
			assert.equal(b1.pushes.count('notice') + b2.pushes.count('notice'), 2, 'once each');
		} finally {
			await stopAll(b1, b2, a);
		}
	});

	test('two users of one calendar see each other\'s changes; every change names its author', async () => {
		const a = await connectAs(token('alice'), { group: 'cal-a' });
		const b = await connectAs(token('bob'), { group: 'cal-a' });
		try {
			const ma = await a.invoke('create', meeting('Shared, by alice'));
			const mb = await b.invoke('create', meeting('Shared, by bob'));
			await waitFor(() => b.pushes.payloads('create').some((m) => m.ID === ma.ID), 5000, 'alice\'s create at bob');
			await waitFor(() => a.pushes.payloads('create').some((m) => m.ID === mb.ID), 5000, 'bob\'s create at alice');
			await b.invoke('update', { ...ma, Title: `${ma.Title} (bob)` });
			await waitFor(() => a.pushes.payloads('update').some((m) => m.ID === ma.ID), 5000, 'bob\'s update at alice');
			const who = (id) => psql(`SELECT coalesce(created_by, '-') || ' ' || coalesce(updated_by, '-')
				FROM pollhub.meetings WHERE id = ${sq(id)}`);
			assert.equal(await who(ma.ID), 'alice bob');
			assert.equal((await who(mb.ID)).split(' ')[0], 'bob');
			// A change made in psql names the database role.
			await psql(`UPDATE pollhub.meetings SET title = 'Changed in psql' WHERE id = ${sq(mb.ID)}`);
			assert.equal(await who(mb.ID), `bob db:${await psql('SELECT session_user')}`);
			// admin_meetings shows the authors; admin_audit who did what, through which connection.
			const shown = await psql(`SELECT row_to_json(m)::text FROM pollhub.admin_meetings m WHERE group_name = 'cal-a'`);
			assert.match(shown, /"alice"/, `admin_meetings: ${shown.slice(0, 500)}`);
			assert.match(shown, /"bob"/, `admin_meetings: ${shown.slice(0, 500)}`);
			const audit = await psql(`SELECT string_agg(action || ' ' || coalesce(actor, '-') || ' ' ||
				coalesce(connection_id, '-'), ',' ORDER BY id) FROM pollhub.admin_audit WHERE meeting_id = ${sq(ma.ID)}`);
			assert.equal(audit, `create alice ${a.connectionId},update bob ${b.connectionId}`);
			assert.equal(await psql(`SELECT action || ' ' || actor || ' ' || coalesce(connection_id, '-')
				FROM pollhub.admin_audit WHERE meeting_id = ${sq(mb.ID)} ORDER BY id DESC LIMIT 1`),
			`update db:${await psql('SELECT session_user')} -`);
		} finally {
			await stopAll(a, b);
		}
	});

	test('classic SignalR 2.x: access_token in the qs connects, sends and creates as its user; without it 401', async () => {
		const CD = JSON.stringify([{ name: 'meetings' }]);
		const qs = (o) => new URLSearchParams(o).toString();
		const carl = token('carl');
		const transport = LP ? 'longPolling' : 'serverSentEvents';
		const neg = (extra) => fetch(`${hub}/negotiate?${qs({ clientProtocol: '2.1', connectionData: CD, ...extra })}`);
		const res0 = await neg({});
		assert401({ status: res0.status, headers: res0.headers, text: await res0.text() }, null, 'classic negotiate without a token');
		const resBad = await neg({ access_token: keys.hostile('carl').find((x) => x.name === 'expired').token });
		assert401({ status: resBad.status, headers: resBad.headers, text: await resBad.text() }, 'invalid_token', 'classic, expired');
		const res = await neg({ access_token: carl });
		assert.equal(res.status, 200, await res.clone().text());
		const n = await res.json();
		connTokens.add(n.ConnectionToken);
		const p = (who = carl) => ({ transport, clientProtocol: '2.1', connectionToken: n.ConnectionToken,
			connectionData: CD, ...(who ? { access_token: who } : {}) });
		const row = await psql(`SELECT group_name || ' ' || user_name FROM pollhub.connections WHERE token = ${sq(tokenKey('carl', n.ConnectionToken))}`);
		assert.equal(row, 'cal-classic carl', 'stored under the key of (carl, token)');
		const ac = new AbortController();
		try {
			const conn = await fetch(`${hub}/connect?${qs(p())}`, { method: LP ? 'POST' : 'GET', signal: ac.signal });
			assert.equal(conn.status, 200);
			if (LP) await conn.text();
			const start = await fetch(`${hub}/start?${qs(p())}`);
			assert.deepEqual(await start.json(), { Response: 'started' });
			const data = JSON.stringify({ H: 'meetings', M: 'create', A: [meeting('Classic, by carl')], I: 0 });
			const form = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
			const sent = await fetch(`${hub}/send?${qs(p())}`, { method: 'POST', headers: form, body: qs({ data }) });
			const body = await sent.json();
			assert.ok(body.R?.ID, JSON.stringify(body));
			assert.equal(await psql(`SELECT created_by FROM pollhub.meetings WHERE id = ${sq(body.R.ID)}`), 'carl');
			// alice's valid token on carl's connection: no such connection for her.
			const other = await fetch(`${hub}/send?${qs(p(token('alice')))}`, { method: 'POST', headers: form, body: qs({ data }) });
			assert.equal(other.status, 404);
			assert.equal(await other.text(), 'No Connection with that ID');
			const none = await fetch(`${hub}/send?${qs(p(null))}`, { method: 'POST', headers: form, body: qs({ data }) });
			assert.equal(none.status, 401);
			assert.equal(await psql(`SELECT count(*) FROM pollhub.meetings WHERE created_by = 'carl'`), '1', 'refused sends stored nothing');
			await fetch(`${hub}/abort?${qs(p())}`, { method: 'POST' });
		} finally {
			ac.abort();
		}
	});

	test('tokens at rest: only keys in pollhub.connections (SQL and C agree); no token in any log', async () => {
		assert.equal(await psql(`SELECT pollhub.token_key('alice', 'abc')`), 'izvVd3xzLdgL6RWIRICaabRGxJ6Nk24AKZw7du3PatU');
		assert.equal(await psql(`SELECT pollhub.token_key('', 'abc')`), 'YJ9uNtJAVYUYjVz9dh9AfHzEan0_MUyIJwRp3eMV_NE');
		const live = await rawConnect(token('alice'), 'cal-a');
		try {
			const stored = await psql(`SELECT token FROM pollhub.connections WHERE id = ${sq(live.id)}`);
			assert.equal(stored, tokenKey('alice', live.ct), 'the key of (alice, token)');
			const table = await psql(`SELECT coalesce(string_agg(c::text, E'\\n'), '') FROM pollhub.connections c`);
			for (const ct of connTokens) assert.ok(!table.includes(ct), `connection token ${ct} in pollhub.connections`);
			await rawRead(live, 'rest1');
		} finally {
			live.stream?.abort();
		}
		// Every log of the stack (responders at debug, the web server's access and error
		// logs) and the cluster's log, searched for every token this file used.
		const files = fs.readdirSync(stack.runDir).map((f) => path.join(stack.runDir, f))
			.filter((f) => fs.statSync(f).isFile());
		const pgLog = process.env.PGHOST && path.join(path.dirname(process.env.PGHOST), 'postgres.log');
		if (pgLog && fs.existsSync(pgLog)) files.push(pgLog);
		const resp = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
		assert.match(resp, /\[debug\] request POST \/meetings\/negotiate route /, 'the responder logged at debug');
		assert.ok(connTokens.size >= 10, `connection tokens collected: ${connTokens.size}`);
		const secrets = [...connTokens, ...[...bearers].filter((t) => t.length > 40)];
		// A token's signature alone is as good as the token to anyone reading a log.
		for (const t of bearers) if (t.length > 40) secrets.push(t.split('.').pop());
		for (const f of files) {
			const text = fs.readFileSync(f, 'latin1');
			for (const s of secrets) {
				if (s.length < 20) continue;
				assert.ok(!text.includes(s), `${path.basename(f)} holds a token (${s.slice(0, 12)}…)`);
			}
		}
		console.log(`# tokens at rest: ${connTokens.size} connection tokens and ${bearers.size} bearer tokens, ` +
			`none in ${files.map((f) => path.basename(f)).join(', ')}`);
	});
});

// HS256 only: POLLHUB_JWT_SECRET_FILE, no public key. The secret verifies; a token signed
// with a public key's PEM as the HMAC secret, alg none and an RS256 token are refused.
describe(`authentication: POLLHUB_AUTH=jwt with an HS256 secret only (${transportName}, ${web})`, { timeout: 120000 }, () => {
	let stack;
	let keys;
	let dir;
	before(async () => {
		keys = makeKeys();
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-jwt-hs-'));
		fs.writeFileSync(path.join(dir, 'secret'), keys.secret, { mode: 0o600 });
		stack = await startStack({ env: {
			POLLHUB_AUTH: 'jwt', POLLHUB_JWT_SECRET_FILE: path.join(dir, 'secret'),
			POLLHUB_JWT_AUDIENCE: AUDIENCE, POLLHUB_JWT_ISSUER: ISSUER, POLLHUB_GROUP_PARAM: 'group',
		} });
		await stack.psql(`SELECT pollhub.grant_group('hanna', 'cal-h', 'write')`);
	});
	after(async () => {
		await stack?.stop();
		if (dir) fs.rmSync(dir, { recursive: true, force: true });
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test('the secret verifies (real client); a public key\'s PEM as secret, alg none and RS256 are 401', async () => {
		const good = keys.token('hanna', {}, 'HS256');
		bearers.add(good);
		const conn = new signalR.HubConnectionBuilder()
			.withUrl(`${stack.hubUrl}?group=cal-h`, { transport: signalR.HttpTransportType[transportName], accessTokenFactory: () => good })
			.configureLogging(signalR.LogLevel.None).build();
		await conn.start();
		const id = conn.connectionId;
		try {
			const made = await conn.invoke('create', meeting('HS256'));
			assert.equal(await stack.psql(`SELECT created_by FROM pollhub.meetings WHERE id = ${sq(made.ID)}`), 'hanna');
		} finally {
			await conn.stop();
		}
		// Counted without the connection just stopped: its DELETE may still be on its way.
		const count = () => stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id <> ${sq(id)}`);
		const before = await count();
		const wire = rawWire(stack.hubUrl);
		const bad = [
			['HS256 keyed with the RSA public key PEM', sign('HS256', keys.rsaPem, claims('hanna'))],
			['HS256 with another secret', sign('HS256', 'not the secret', claims('hanna'))],
			['alg none', sign('none', null, claims('hanna'))],
			['RS256 (no public key configured)', keys.token('hanna')],
			['HS256, expired', keys.token('hanna', { exp: now() - 600 }, 'HS256')],
		];
		for (const [name, t] of bad) assert401(await wire.negotiate(t, { group: 'cal-h' }), 'invalid_token', name);
		assert.equal(await count(), before, 'no row');
	});
});
