// The classic ASP.NET SignalR 2.x protocol (what jquery.signalR 2.4.3 sends; see
// tests/browser/classic.test.mjs for the real client) on the wire, request by request:
// negotiate, connect, start, ping, send, poll, reconnect and abort, JSON and JSONP, the
// refusals, message ids (repeatable reads, own pushes stepped over, a cursor past the end),
// a connection closed from psql, and server-sent events with keep-alives; what is never
// delivered (send_to_connection refused, a Core token is 404 everywhere), a stream whose
// writes are not acknowledgements (the trim keeps them for its /reconnect), and an outbox
// row that is not a hub message skipped alone. Long polling runs under the LongPolling
// combinations, server-sent events under the ServerSentEvents ones.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, transportName } from './stack.mjs';

const CD = JSON.stringify([{ name: 'meetings' }]);
const qs = (o) => new URLSearchParams(o).toString();
const form = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-14T09:00:00.000Z', End: '2026-12-14T10:00:00.000Z',
	IsAllDay: false, Attendees: [],
});

describe(`classic SignalR 2.x on the wire (${transportName})`, { timeout: 60000 }, () => {
	let stack;
	let core;
	let hub;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '3', POLLHUB_KEEPALIVE_INTERVAL: '1' } });
		hub = stack.hubUrl;
		core = await connect(hub);
	});
	after(async () => {
		await stopAll(core);
		await stack?.stop();
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const lpTest = transportName === 'LongPolling' ? test : (name) => it(name, (t) => t.skip('long polling runs under LongPolling'));
	const sseTest = transportName === 'ServerSentEvents' ? test : (name) => it(name, (t) => t.skip('server-sent events run under ServerSentEvents'));

	const params = (token, transport = 'longPolling', extra = {}) =>
		({ transport, clientProtocol: '2.1', connectionToken: token, connectionData: CD, ...extra });
	const get = (verb, p) => fetch(`${hub}/${verb}?${qs(p)}`);
	const post = (verb, p, body = {}) => fetch(`${hub}/${verb}?${qs(p)}`, { method: 'POST', headers: form, body: qs(body) });
	const json = async (res) => {
		assert.equal(res.status, 200, await res.clone().text());
		return res.json();
	};

	/** A connected, started long-polling classic connection: { token, C }; in group (set
	 * with psql before /connect joins it) when given. */
	async function classicConnection(group) {
		const neg = await json(await get('negotiate', { clientProtocol: '2.1', connectionData: CD }));
		if (group) await stack.psql(`UPDATE pollhub.connections SET group_name = '${group}' WHERE token = pollhub.token_key('', '${neg.ConnectionToken}')`);
		const conn = await json(await post('connect', params(neg.ConnectionToken)));
		assert.deepEqual(await json(await get('start', params(neg.ConnectionToken))), { Response: 'started' });
		return { token: neg.ConnectionToken, C: conn.C };
	}

	test('negotiate: the classic shape, as JSON and as JSONP', async () => {
		let res = await get('negotiate', { clientProtocol: '2.1', connectionData: CD, _: '1' });
		assert.equal(res.headers.get('content-type'), 'application/json; charset=UTF-8');
		assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
		const body = await json(res);
		assert.equal(body.Url, '/meetings');
		assert.match(body.ConnectionToken, /^[A-Za-z0-9_-]{22}$/);
		assert.match(body.ConnectionId, /^[A-Za-z0-9_-]{22}$/);
		assert.notEqual(body.ConnectionId, body.ConnectionToken);
		assert.equal(body.ProtocolVersion, '2.0');
		assert.equal(body.TryWebSockets, false);
		assert.equal(body.ConnectionTimeout, 3);
		assert.equal(body.KeepAliveTimeout, 2);
		assert.ok(!('availableTransports' in body), 'a Core key would make the client refuse');
		res = await get('negotiate', { clientProtocol: '2.1', connectionData: CD, callback: 'jQuery38_17', _: '2' });
		// application/javascript as ASP.NET sends it (lighttpd passes it on as text/javascript,
		// the name RFC 9239 prefers).
		assert.match(res.headers.get('content-type'), /^(application|text)\/javascript; charset=UTF-8$/);
		const text = await res.text();
		assert.match(text, /^jQuery38_17\(\{"Url":"\/meetings",.*\}\);$/);
		// Core's negotiate is untouched.
		res = await fetch(`${hub}/negotiate?negotiateVersion=1`, { method: 'POST' });
		assert.ok((await json(res)).availableTransports);
	});

	test('refusals: plain text, never JSONP', async () => {
		const expect = async (res, status, text) => {
			assert.equal(res.status, status);
			assert.equal(res.headers.get('content-type'), 'text/plain');
			assert.equal(await res.text(), text);
		};
		await expect(await get('negotiate', { clientProtocol: '2.1', connectionData: CD, callback: 'alert(1)' }),
			400, 'Invalid JSONP callback name.');
		// JSONP asked for by another site's page (a <script>: no Origin, but Sec-Fetch-Site
		// and no Referer of an allowed origin): refused by the router, any method.
		const cross = (site) => fetch(`${hub}/negotiate?${qs({ clientProtocol: '2.1', connectionData: CD, callback: 'cb' })}`,
			{ headers: { 'sec-fetch-site': site } });
		await expect(await cross('cross-site'), 403, 'Origin not allowed');
		await expect(await cross('same-site'), 403, 'Origin not allowed');
		assert.equal((await cross('same-origin')).status, 200);
		await expect(await get('negotiate', { clientProtocol: '2.1', connectionData: '[{"name":"chat"}]' }),
			400, 'Protocol error: a Hub in connectionData could not be resolved.');
		await expect(await get('negotiate', { clientProtocol: '2.1', connectionData: '[{"name":' }),
			400, 'Protocol error: connectionData is malformed.');
		const { token } = await classicConnection();
		await expect(await get('start', params(token, 'webSockets')), 400, 'Protocol error: Unknown transport.');
		const { connectionToken, ...noToken } = params(token);
		await expect(await get('start', noToken), 400, 'Protocol error: Missing connection token.');
		await expect(await get('start', params('not a token')), 400, 'The ConnectionId is in the incorrect format.');
		await expect(await post('poll', params('abcdefghijklmnopqrstuv'), { messageId: '1' }), 404, 'No Connection with that ID');
		await expect(await post('poll', params(token), { messageId: 'x1' }), 400,
			'Protocol error: messageId is missing or malformed.');
		await expect(await post('send', params(token), { data: '{"H":"meetings"' }), 400, 'The hub invocation is not valid JSON.');
		// A Core connection's token is not a classic connection (see also the test of every endpoint).
		const coreNeg = await json(await fetch(`${hub}/negotiate?negotiateVersion=1`, { method: 'POST' }));
		await expect(await post('poll', params(coreNeg.connectionToken), { messageId: '0' }), 404,
			'No Connection with that ID');
	});

	test('ping and start answer as the reference does, JSONP too', async () => {
		assert.deepEqual(await json(await get('ping', { _: '1' })), { Response: 'pong' });
		const res = await get('ping', { callback: 'a.b', _: '1' });
		assert.equal(await res.text(), 'a.b({ "Response": "pong" });');
		const { token } = await classicConnection();
		assert.equal(await (await get('start', params(token, 'longPolling', { callback: 'cb' }))).text(),
			'cb({ "Response": "started" });');
	});

	lpTest('connect answers at once with S:1 and M; a poll delivers a Core push as a classic invocation', async () => {
		const neg = await json(await get('negotiate', { clientProtocol: '2.1', connectionData: CD }));
		const t0 = Date.now();
		const conn = await json(await post('connect', params(neg.ConnectionToken)));
		assert.ok(Date.now() - t0 < 1000, 'not held');
		assert.deepEqual(Object.keys(conn), ['C', 'S', 'M']);
		assert.equal(conn.S, 1);
		assert.deepEqual(conn.M, []);
		assert.match(conn.C, /^\d+$/);
		const poll = post('poll', params(neg.ConnectionToken), { messageId: conn.C });
		const made = await core.invoke('create', meeting('Core for classic'));
		const body = await json(await poll);
		assert.deepEqual(body.M, [{ H: 'meetings', M: 'create', A: [made] }]);
		assert.ok(Number(body.C) > Number(conn.C));
		// Reads are repeatable: the same messageId gets the same answer (a lost poll body).
		assert.deepEqual(await json(await post('poll', params(neg.ConnectionToken), { messageId: conn.C })), body);
		// messageId in the query (cross-origin JSONP polls are GETs) works as well as in the form.
		const viaQuery = await get('poll', params(neg.ConnectionToken, 'longPolling', { messageId: conn.C, callback: 'cb' }));
		assert.equal(await viaQuery.text(), `cb(${JSON.stringify(body)});`);
	});

	lpTest('a poll with nothing after its messageId is held until the poll timeout, then answers the same C', async () => {
		const { token, C } = await classicConnection();
		const t0 = Date.now();
		const body = await json(await post('poll', params(token), { messageId: C }));
		assert.ok(Date.now() - t0 >= 2500, `held ${Date.now() - t0} ms`);
		assert.deepEqual(body, { C, M: [] });
	});

	lpTest('send: the result in the answer, own pushes stepped over, errors as E', async () => {
		const { token, C } = await classicConnection();
		const data = JSON.stringify({ H: 'meetings', M: 'create', A: [meeting('Classic send')], I: 0 });
		const res = await json(await post('send', params(token), { data }));
		assert.equal(res.I, '0');
		assert.equal(res.R.Title, 'Classic send');
		await waitFor(() => core.pushes.payloads('create').some((m) => m.ID === res.R.ID), 5000, 'the push at the Core client');
		// The poll does not return the caller's own push, but its C moves past it.
		const polled = await json(await post('poll', params(token), { messageId: C }));
		assert.deepEqual(polled.M, []);
		assert.ok(Number(polled.C) > Number(C));
		// JSONP sends are GETs with data in the query; void results have no R.
		const destroy = JSON.stringify({ H: 'Meetings', M: 'DESTROY', A: [res.R], I: 1 });
		const text = await (await get('send', params(token, 'longPolling', { data: destroy, callback: 'cb', _: '3' }))).text();
		assert.equal(text, 'cb({"I":"1"});');
		const other = await json(await post('send', params(token), { data: '{"H":"chat","M":"read","A":[],"I":2}' }));
		assert.deepEqual(other, { I: '2', E: 'The hub named in \'H\' could not be resolved.' });
		const arity = await json(await post('send', params(token), { data: '{"H":"meetings","M":"update","A":[],"I":"x7"}' }));
		assert.equal(arity.I, 'x7');
		assert.match(arity.E, /argument/);
	});

	lpTest('the trim keeps every push after the last messageId a classic client sent', async () => {
		// Only this classic client and the Core one in the group: the earlier tests'
		// classic connections (idle, unacknowledged) would hold the rows too.
		await stack.psql(`DELETE FROM pollhub.connections WHERE transport LIKE 'Classic%'`);
		const { token, C } = await classicConnection();
		const group = await stack.psql(`SELECT group_name FROM pollhub.connections WHERE token = pollhub.token_key('', '${token}')`);
		const kept = (seq) => stack.psql(`SELECT count(*) FROM pollhub.outbox WHERE group_name = '${group}' AND seq = ${seq}`);
		const first = post('poll', params(token), { messageId: C });
		await core.invoke('create', meeting('Kept for the classic client'));
		const got = await json(await first);
		assert.equal(got.M.length, 1);
		// Delivered, but not yet acknowledged (the client has not polled with the new C):
		// a lost answer must still be there to send again.
		await stack.psql('SELECT pollhub.reap_now()');
		assert.equal(await kept(got.C), '1');
		const second = post('poll', params(token), { messageId: got.C });
		await core.invoke('create', meeting('The next one'));
		const next = await json(await second);
		assert.equal(next.M.length, 1);
		// Now acknowledged: trimmed once every member is past it (the Core client's
		// cursor steps over its own pushes when it drains); the newer one is kept.
		await waitFor(async () => Number(await stack.psql(`SELECT min(cursor) FROM pollhub.memberships
			WHERE group_name = '${group}'`)) >= Number(got.C), 5000, 'every member past the first push');
		await stack.psql('SELECT pollhub.reap_now()');
		assert.equal(await kept(got.C), '0');
		assert.equal(await kept(next.C), '1');
	});

	lpTest('a messageId past the end restarts at the end; the next push is delivered', async () => {
		const { token } = await classicConnection();
		const poll = post('poll', params(token), { messageId: '999999999' });
		// Held first: a push that lands before the poll's first read is not after the end.
		await new Promise((r) => setTimeout(r, 300));
		const made = await core.invoke('create', meeting('After a forged cursor'));
		const body = await json(await poll);
		assert.deepEqual(body.M, [{ H: 'meetings', M: 'create', A: [made] }]);
		assert.ok(Number(body.C) < 999999999);
	});

	lpTest('a newer poll ends the held one; an administrator\'s close reaches the client as E', async () => {
		const { token, C } = await classicConnection();
		const older = post('poll', params(token), { messageId: C });
		await new Promise((r) => setTimeout(r, 300));
		const newer = post('poll', params(token), { messageId: C });
		const t0 = Date.now();
		assert.deepEqual(await json(await older), { C, M: [] });
		assert.ok(Date.now() - t0 < 1500, 'superseded at once');
		const id = await stack.psql(`SELECT id FROM pollhub.connections WHERE token = pollhub.token_key('', '${token}')`);
		await stack.psql(`SELECT pollhub.disconnect_connection('${id}', 'Closed for maintenance')`);
		assert.deepEqual(await json(await newer), { C, E: 'Closed for maintenance', M: [] });
		assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id = '${id}'`), '0');
	});

	lpTest('abort removes the connection (200, empty text/plain); its next poll is 404', async () => {
		const { token, C } = await classicConnection();
		const res = await post('abort', params(token));
		assert.equal(res.status, 200);
		assert.equal(res.headers.get('content-type'), 'text/plain');
		assert.equal(await res.text(), '');
		assert.equal((await post('poll', params(token), { messageId: C })).status, 404);
		// Aborting again: 404 like any unknown token (the client never reads the answer).
		const again = await post('abort', params(token));
		assert.equal(again.status, 404);
		assert.equal(await again.text(), 'No Connection with that ID');
	});

	test('a Core connection\'s token on every classic endpoint is 404, and its row is untouched', async () => {
		const neg = await json(await fetch(`${hub}/negotiate?negotiateVersion=1`, { method: 'POST' }));
		const token = neg.connectionToken;
		// A partial record carried in the row (a POST without 0x1E): /send used to wipe it.
		assert.equal((await fetch(`${hub}?id=${token}`, { method: 'POST', body: '{"protocol":"json",' })).status, 200);
		const row = () => stack.psql(`SELECT row_to_json(c) FROM pollhub.connections c WHERE token = pollhub.token_key('', '${token}')`);
		const before = await row();
		assert.notEqual(await stack.psql(`SELECT length(inbound) FROM pollhub.connections WHERE token = pollhub.token_key('', '${token}')`), '0');
		const gone = async (what, res) => {
			assert.equal(res.status, 404, `${what}: ${await res.clone().text()}`);
			assert.equal(await res.text(), 'No Connection with that ID', what);
		};
		const lp = params(token);
		const sse = params(token, 'serverSentEvents');
		const send = { data: JSON.stringify({ H: 'meetings', M: 'read', A: [], I: 0 }) };
		await gone('connect', await post('connect', lp));
		await gone('connect (server-sent events)', await get('connect', sse));
		await gone('reconnect', await post('reconnect', lp, { messageId: '0' }));
		await gone('reconnect (server-sent events)', await get('reconnect', { ...sse, messageId: '0' }));
		await gone('poll', await post('poll', lp, { messageId: '0' }));
		await gone('start', await get('start', lp));
		await gone('send', await post('send', lp, send));
		await gone('send (JSONP)', await get('send', { ...lp, ...send, callback: 'cb' }));
		await gone('ping', await get('ping', { connectionToken: token }));
		await gone('abort', await post('abort', lp));
		assert.equal(await row(), before);
		assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.memberships m JOIN pollhub.connections c
			ON c.id = m.connection_id WHERE c.token = pollhub.token_key('', '${token}')`), '0');
		// A ping without a token (what jquery.signalR sends) still pongs; one naming a classic
		// connection too.
		assert.deepEqual(await json(await get('ping', { _: '2' })), { Response: 'pong' });
		const classic = await classicConnection();
		assert.deepEqual(await json(await get('ping', { connectionToken: classic.token })), { Response: 'pong' });
	});

	test('send_to_connection refuses a classic connection and queues nothing for it', async () => {
		const { token } = await classicConnection();
		const id = await stack.psql(`SELECT id FROM pollhub.connections WHERE token = pollhub.token_key('', '${token}')`);
		const group = await stack.psql(`SELECT group_name FROM pollhub.connections WHERE id = '${id}'`);
		await assert.rejects(stack.psql(`SELECT pollhub.send_to_connection('${id}', 'notify', '["Please reload"]')`),
			(e) => {
				assert.ok(e.stderr.includes(`ERROR:  connection ${id} is a classic SignalR 2.x`), e.stderr);
				assert.ok(e.stderr.includes(`HINT:  Send to its group instead`) &&
					e.stderr.includes(`pollhub.send_to_group('${group}'`), e.stderr);
				return true;
			});
		assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.connection_messages WHERE connection_id = '${id}'`), '0');
		assert.equal(await stack.psql(`SELECT pending FROM pollhub.admin_connections WHERE id = '${id}'`), '0');
	});

	/** Pushes to group, in one transaction: a good notify, a row that is no hub message
	 * (written to the outbox by hand), another good one. Returns the three seqs. The group
	 * is one of its own: the Core client would take the bad row as the end of its
	 * connection. */
	const goodBadGood = async (group) => (await stack.psql(`
		SELECT pollhub.send_to_group('${group}', 'notify', '["before the bad row"]');
		WITH g AS (UPDATE pollhub.groups SET last_seq = last_seq + 1 WHERE name = '${group}' RETURNING last_seq)
		INSERT INTO pollhub.outbox (group_name, seq, payload)
		SELECT '${group}', last_seq, '{"type":1,"target":"create","arguments":[' FROM g RETURNING seq;
		SELECT pollhub.send_to_group('${group}', 'notify', '["after the bad row"]');`)).split('\n').map(Number);
	const goodPushes = [{ H: 'meetings', M: 'notify', A: ['before the bad row'] },
		{ H: 'meetings', M: 'notify', A: ['after the bad row'] }];
	const skippedLogged = (group, seq) => waitFor(() => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8')
		.includes(`classic: outbox record ${seq} of group ${group} is not a hub message; skipped`), 5000, 'the warning');

	lpTest('an outbox row that is no hub message is skipped alone: the rows after it are delivered', async () => {
		const group = 'classic-bad-row-lp';
		const { token, C } = await classicConnection(group);
		const poll = post('poll', params(token), { messageId: C });
		await new Promise((r) => setTimeout(r, 300));
		const t0 = Date.now();
		const seqs = await goodBadGood(group);
		const body = await json(await poll);
		assert.ok(Date.now() - t0 < 2000, `answered at once (${Date.now() - t0} ms)`);
		assert.deepEqual(body, { C: String(seqs[2]), M: goodPushes });
		await skippedLogged(group, seqs[1]);
		// A poll from before the bad row gets the same (reads are repeatable).
		assert.deepEqual(await json(await post('poll', params(token), { messageId: C })), body);
	});

	/** Reads an event stream until pred(text) holds; returns the text. */
	async function readStream(res, pred, ms = 5000) {
		const reader = res.body.getReader();
		const dec = new TextDecoder();
		let text = '';
		const deadline = Date.now() + ms;
		while (!pred(text)) {
			if (Date.now() > deadline) throw new Error(`stream: timed out; got ${JSON.stringify(text)}`);
			const { value, done } = await reader.read();
			if (done) throw new Error(`stream ended; got ${JSON.stringify(text)}`);
			text += dec.decode(value, { stream: true });
		}
		reader.releaseLock();
		return text;
	}
	const frames = (text) => text.split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice(6));

	sseTest('server-sent events: initialized, the S:1 frame, pushes, keep-alives; reconnect resumes from messageId', async () => {
		const neg = await json(await get('negotiate', { clientProtocol: '2.1', connectionData: CD }));
		const sse = params(neg.ConnectionToken, 'serverSentEvents', { tid: '4' });
		const ac = new AbortController();
		const res = await fetch(`${hub}/connect?${qs(sse)}`, { signal: ac.signal });
		assert.equal(res.status, 200);
		assert.equal(res.headers.get('content-type'), 'text/event-stream');
		let text = await readStream(res, (t) => frames(t).length >= 2);
		const [init, first] = frames(text);
		assert.equal(init, 'initialized');
		const c0 = JSON.parse(first);
		assert.equal(c0.S, 1);
		assert.deepEqual(c0.M, []);
		assert.deepEqual(await json(await get('start', params(neg.ConnectionToken, 'serverSentEvents'))), { Response: 'started' });
		const made = await core.invoke('create', meeting('Pushed on a classic stream'));
		text = await readStream(res, (t) => frames(t).some((f) => f.includes(made.ID)));
		const pushed = JSON.parse(frames(text).find((f) => f.includes(made.ID)));
		assert.deepEqual(pushed.M, [{ H: 'meetings', M: 'create', A: [made] }]);
		// Quiet for more than POLLHUB_KEEPALIVE_INTERVAL (1 s): data: {} keeps the client alive.
		text = await readStream(res, (t) => frames(t).includes('{}'), 4000);
		ac.abort();
		// While the stream is down a push is made; /reconnect from the last C gets it, once.
		await waitFor(async () => (await stack.psql(`SELECT poll_active FROM pollhub.connections WHERE token = pollhub.token_key('', '${neg.ConnectionToken}')`)) === 'f',
			10000, 'the ended stream noticed');
		const missed = await core.invoke('create', meeting('Missed on a classic stream'));
		const ac2 = new AbortController();
		const res2 = await fetch(`${hub}/reconnect?${qs({ ...sse, messageId: pushed.C })}`, { signal: ac2.signal });
		text = await readStream(res2, (t) => frames(t).some((f) => f.includes(missed.ID)));
		const got = frames(text);
		assert.equal(got[0], 'initialized');
		const batch = JSON.parse(got.find((f) => f.includes(missed.ID)));
		assert.deepEqual(batch.M, [{ H: 'meetings', M: 'create', A: [missed] }]);
		assert.ok(!('S' in batch), 'no S:1 on a reconnect');
		ac2.abort();
	});

	/** Opens a classic stream (/connect, or /reconnect from messageId): { res, ac, C } with C
	 * the S:1 frame's on a connect. */
	async function openClassicStream(token, messageId) {
		const p = params(token, 'serverSentEvents', { tid: '7' });
		const ac = new AbortController();
		const res = await fetch(messageId === undefined ? `${hub}/connect?${qs(p)}`
			: `${hub}/reconnect?${qs({ ...p, messageId })}`, { signal: ac.signal });
		assert.equal(res.status, 200);
		if (messageId !== undefined) return { res, ac };
		const text = await readStream(res, (t) => frames(t).length >= 2);
		return { res, ac, C: JSON.parse(frames(text)[1]).C };
	}
	/** The pushes of the persistent-response frames of a stream's text, in order. */
	const streamed = (text) => frames(text).filter((f) => f.startsWith('{"C"')).flatMap((f) => JSON.parse(f).M);

	sseTest('a stream\'s writes are not acknowledgements: after the trim, /reconnect from the last messageId gets every row, once', async () => {
		// Only this classic client and the Core one in the group (idle classic connections of
		// earlier tests would hold the rows back anyway).
		await stack.psql(`DELETE FROM pollhub.connections WHERE transport LIKE 'Classic%'`);
		const neg = await json(await get('negotiate', { clientProtocol: '2.1', connectionData: CD }));
		const token = neg.ConnectionToken;
		const first = await openClassicStream(token);
		const id = await stack.psql(`SELECT id FROM pollhub.connections WHERE token = pollhub.token_key('', '${token}')`);
		const group = await stack.psql(`SELECT group_name FROM pollhub.connections WHERE id = '${id}'`);
		const made = [];
		for (let i = 0; i < 3; i++) made.push(await core.invoke('create', meeting(`Written to a stream ${i}`)));
		const written = await readStream(first.res, (t) => made.every((m) => t.includes(m.ID)));
		assert.deepEqual(streamed(written).map((m) => m.A[0].ID), made.map((m) => m.ID));
		// The client processed none of them (a proxy kept them, the connection dropped).
		first.ac.abort();
		await waitFor(async () => (await stack.psql(`SELECT poll_active FROM pollhub.connections WHERE id = '${id}'`)) === 'f',
			10000, 'the ended stream noticed');
		const top = Number(await stack.psql(`SELECT last_seq FROM pollhub.groups WHERE name = '${group}'`));
		// Every other member past them, then the trim.
		await waitFor(async () => Number(await stack.psql(`SELECT coalesce(min(cursor), ${top}) FROM pollhub.memberships
			WHERE group_name = '${group}' AND connection_id <> '${id}'`)) >= top, 5000, 'the other members past the rows');
		await stack.psql('SELECT pollhub.reap_now()');
		assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.outbox WHERE group_name = '${group}'
			AND seq > ${first.C} AND seq <= ${top}`), String(top - Number(first.C)), 'kept for the reconnect');
		const again = await openClassicStream(token, first.C);
		const text = await readStream(again.res, (t) => made.every((m) => t.includes(m.ID)));
		assert.deepEqual(streamed(text).map((m) => m.A[0].ID), made.map((m) => m.ID), 'every row, once');
		assert.equal(await stack.psql(`SELECT cursor FROM pollhub.memberships WHERE connection_id = '${id}'`), first.C,
			'the membership cursor is what the client acknowledged');
		// This /reconnect acknowledged first.C only; a later one from the newest C lets the trim go.
		again.ac.abort();
		await waitFor(async () => (await stack.psql(`SELECT poll_active FROM pollhub.connections WHERE id = '${id}'`)) === 'f',
			10000, 'the second stream noticed');
		const last = JSON.parse(frames(text).filter((f) => f.startsWith('{"C"')).at(-1)).C;
		const third = await openClassicStream(token, last);
		await waitFor(async () => (await stack.psql(`SELECT cursor FROM pollhub.memberships WHERE connection_id = '${id}'`)) === last,
			5000, 'the newest C acknowledged');
		await stack.psql('SELECT pollhub.reap_now()');
		assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.outbox WHERE group_name = '${group}' AND seq <= ${last}`), '0');
		third.ac.abort();
	});

	sseTest('an outbox row that is no hub message is skipped alone on a stream: the rows after it are written', async () => {
		const neg = await json(await get('negotiate', { clientProtocol: '2.1', connectionData: CD }));
		const token = neg.ConnectionToken;
		const group = 'classic-bad-row-sse';
		await stack.psql(`UPDATE pollhub.connections SET group_name = '${group}' WHERE token = pollhub.token_key('', '${token}')`);
		const s = await openClassicStream(token);
		const seqs = await goodBadGood(group);
		const text = await readStream(s.res, (t) => t.includes('after the bad row'));
		assert.deepEqual(streamed(text), goodPushes);
		assert.equal(JSON.parse(frames(text).filter((f) => f.startsWith('{"C"')).at(-1)).C, String(seqs[2]));
		await skippedLogged(group, seqs[1]);
		s.ac.abort();
	});
});
