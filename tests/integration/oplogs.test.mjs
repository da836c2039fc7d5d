// Logs an operator can use (issue 13 item 4): millisecond timestamps; at info one line
// per connection event (connected with its transport and group; disconnected with the
// reason: client, kicked by admin, reaped) and one per refused request (status and
// reason, never the token); at debug one line per request with its route, connection
// id, status and duration.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, waitFor, connect, RS } from './stack.mjs';

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z pollhub\[(error|warn|info|debug)\] /;

describe('operator logs', { timeout: 120000 }, () => {
	let stack;
	let logFile;
	before(async () => {
		stack = await startStack({
			env: {
				POLLHUB_GROUP_PARAM: 'group', POLLHUB_LOG_LEVEL: 'debug',
				POLLHUB_POLL_TIMEOUT: '2', POLLHUB_DISCONNECT_TIMEOUT: '2',
			},
		});
		logFile = path.join(stack.runDir, 'pollhub.log');
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const since = (mark) => fs.readFileSync(logFile).subarray(mark).toString('utf8');
	const logSize = () => fs.statSync(logFile).size;
	const lines = (mark, re) => since(mark).split('\n').filter((l) => re.test(l));
	const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

	const poll = (token) => fetch(`${stack.hubUrl}?id=${encodeURIComponent(token)}&_=${Date.now()}`)
		.then(async (r) => ({ status: r.status, body: await r.text() }));
	/** A raw long polling connection, negotiated, first-polled and handshaken. */
	const fresh = async (group) => {
		const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=${group}`, { method: 'POST' });
		assert.equal(r.status, 200);
		const n = await r.json();
		assert.equal((await poll(n.connectionToken)).status, 200, 'first poll');
		const s = await fetch(`${stack.hubUrl}?id=${encodeURIComponent(n.connectionToken)}`, {
			method: 'POST', body: JSON.stringify({ protocol: 'json', version: 1 }) + RS,
		});
		assert.equal(s.status, 200);
		assert.equal((await poll(n.connectionToken)).status, 200, 'the handshake answer');
		return { id: n.connectionId, token: n.connectionToken };
	};

	test('connect and client disconnect: one info line each, with transport, group and reason', async () => {
		const mark = logSize();
		const conn = await connect(`${stack.hubUrl}?group=oplogs-a`);
		const id = conn.connectionId;
		await waitFor(() => lines(mark, new RegExp(`connection ${esc(id)}: connected`)).length > 0,
			5000, 'the connected line');
		const c = lines(mark, new RegExp(`connection ${esc(id)}: connected`));
		assert.equal(c.length, 1, c.join('\n'));
		assert.match(c[0], /pollhub\[info\] connection \S+: connected \((LongPolling|ServerSentEvents), group oplogs-a\)$/);
		await conn.stop();
		// One at info (a DELETE racing the client's Close says so at debug only).
		const info = new RegExp(`pollhub\\[info\\] connection ${esc(id)}: disconnected`);
		await waitFor(() => lines(mark, info).length > 0, 5000, 'the disconnected line');
		await new Promise((r) => setTimeout(r, 500));
		const d = lines(mark, info);
		assert.equal(d.length, 1, d.join('\n'));
		assert.match(d[0], /pollhub\[info\] connection \S+: disconnected: client /);
	});

	test('an admin kick: disconnected, kicked by admin, with the reason', async () => {
		const mark = logSize();
		const c = await fresh('oplogs-b');
		assert.equal((await stack.psql(`SELECT pollhub.disconnect_connection('${c.id}', 'planned maintenance')`)).trim(), 't');
		const p = await poll(c.token);
		assert.equal(p.status, 200);
		assert.match(p.body, /"type" ?: ?7/);
		const d = lines(mark, new RegExp(`connection ${esc(c.id)}: disconnected`));
		assert.equal(d.length, 1, since(mark));
		assert.match(d[0], /pollhub\[info\] connection \S+: disconnected: kicked by admin: planned maintenance$/);
	});

	test('a connection that stops polling is reaped, by id', async () => {
		const mark = logSize();
		const c = await fresh('oplogs-c');
		await waitFor(() => lines(mark, new RegExp(`reaped \\d+ idle connection\\(s\\).*${esc(c.id)}`)).length > 0,
			20000, 'the reaped line');
		assert.match(lines(mark, /reaped \d+ idle/).at(-1), /pollhub\[info\] reaped \d+ idle connection\(s\): disconnected: reaped/);
	});

	test('refusals: one info line with status and reason, never the token', async () => {
		const mark = logSize();
		const c = await fresh('oplogs-d');
		const bogus = c.token.slice(0, -4) + (c.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
		assert.equal((await poll(bogus)).status, 404);
		const r = await fetch(`${stack.hubUrl}?id=${encodeURIComponent(c.token)}`, {
			method: 'POST', body: 'x', headers: { Origin: 'http://evil.example' },
		});
		assert.equal(r.status, 403);
		await waitFor(() => lines(mark, /refused POST/).length > 0, 5000, 'the 403 line');
		const text = since(mark);
		const r404 = lines(mark, /pollhub\[info\] refused GET /);
		assert.equal(r404.length, 1, text);
		assert.match(r404[0], /\(poll\): 404 No Connection with that ID$/);
		const r403 = lines(mark, /pollhub\[info\] refused POST /);
		assert.equal(r403.length, 1, text);
		assert.match(r403[0], /: 403 Origin http:\/\/evil\.example is not in POLLHUB_ALLOWED_ORIGINS$/);
		assert.equal(text.includes(c.token), false, 'a token in the log');
		assert.equal(text.includes(bogus), false, 'a token in the log');
	});

	test('at debug: one line per request with route, connection id, status and duration', async () => {
		const mark = logSize();
		const c = await fresh('oplogs-e');
		await waitFor(() => lines(mark, new RegExp(`route poll connection ${esc(c.id)}: status 200 in [\\d.]+ ms`)).length >= 2,
			5000, 'the request lines');
		assert.ok(lines(mark, new RegExp(`route send connection ${esc(c.id)}: status 200 in [\\d.]+ ms$`)).length === 1, since(mark));
		assert.ok(lines(mark, /route negotiate connection -: status 200 in [\d.]+ ms$/).length >= 1, since(mark));
		assert.equal(since(mark).includes(c.token), false, 'a token in the log');
	});

	test('every line has a millisecond timestamp and a level', () => {
		for (const l of since(0).split('\n').filter((x) => x !== ''))
			assert.match(l, STAMP, l);
	});
});
