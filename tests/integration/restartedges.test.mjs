// Restart in place at its edges (issue 18, item 3): a SIGHUP while a stream's answer is
// not written yet (its web server reads slowly: here a FastCGI client of the
// responder's socket that stops reading), and a failed exec in the same state, after
// which the stream's parking would come late. Nothing queued for the client is lost,
// and the stream goes on in whichever image serves it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, sleep, RS } from './stack.mjs';
import { T, record, getRequest, fcgiConnect } from './fcgiclient.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const PUSHES = 60;
const PUSH_BYTES = 10000;	// 600 KB: more than the socket holds, less than POLLHUB_MAX_BUFFERED

// A server-sent events stream of calendar 'edges' over a raw FastCGI connection, handshaken.
async function rawStream(stack) {
	const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=edges`, { method: 'POST' });
	const token = (await r.json()).connectionToken;
	const c = fcgiConnect(path.join(stack.runDir, 'fcgi.sock'));
	await c.ready;
	c.s.write(Buffer.concat([getRequest(1, `id=${encodeURIComponent(token)}&group=edges`, { HTTP_ACCEPT: 'text/event-stream' }),
		record(T.STDIN, 1)]));
	await waitFor(() => c.stdout().includes(':\r\n'), 5000, 'the stream to open');
	const h = await fetch(`${stack.hubUrl}?id=${encodeURIComponent(token)}&group=edges`, { method: 'POST', body: HANDSHAKE });
	assert.equal(h.status, 200);
	await waitFor(() => c.stdout().includes(`data: {}${RS}`), 5000, 'the handshake answer')
		.catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(c.stdout())}`); });
	return c;
}

const push = (stack, from, n) => stack.psql(
	`SELECT count(pollhub.send_to_group('edges', 'notify', json_build_array('m' || i || ':' || repeat('x', ${PUSH_BYTES}))))` +
	` FROM generate_series(${from}, ${from + n - 1}) i`);

// Markers m<i>: received in order, each once.
function received(c) {
	return [...c.stdout().matchAll(/"m(\d+):x/g)].map((m) => Number(m[1]));
}
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

describe('restart in place while a stream\'s answer is not written', { timeout: 120000 }, () => {
	let stack;
	before(async () => { stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } }); });
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const log = () => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');

	test('SIGHUP with 600 KB queued for a stream that does not read: all of it arrives after, the stream goes on', async () => {
		const c = await rawStream(stack);
		c.s.pause();
		await push(stack, 0, PUSHES);
		await sleep(1500);
		assert.ok(received(c).length < PUSHES, 'the client has not read it all');
		const pid = stack.responderPids()[0];
		await stack.reloadResponder();
		assert.equal(stack.responderPids()[0], pid, 'the same process');
		c.s.resume();
		await waitFor(() => received(c).length >= PUSHES, 10000, `all ${PUSHES} pushes`).catch(() => {});
		assert.deepEqual(received(c), range(0, PUSHES), 'every push queued before the restart, once, in order');
		assert.match(log(), /restart: 1 held request\(s\) not answered or parked in 10 s/);
		await push(stack, PUSHES, 1);
		await waitFor(() => received(c).length === PUSHES + 1, 5000, 'a push after the restart');
		assert.ok(!c.closed, 'the stream is still open');
		c.s.destroy();
	});
});

describe('restart in place while a poll\'s answer is not written', { timeout: 120000 }, () => {
	let stack;
	before(async () => { stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } }); });
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test('SIGHUP while a 600 KB poll answer waits for its web server: all of it arrives after, then the request ends', async () => {
		const q = (token) => `id=${encodeURIComponent(token)}&group=edges`;
		const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=edges`, { method: 'POST' });
		const token = (await r.json()).connectionToken;
		await (await fetch(`${stack.hubUrl}?${q(token)}`)).arrayBuffer();	// the first poll answers at once
		const h = await fetch(`${stack.hubUrl}?${q(token)}`, { method: 'POST', body: HANDSHAKE });
		assert.equal(h.status, 200);
		await (await fetch(`${stack.hubUrl}?${q(token)}`)).arrayBuffer();	// the handshake answer
		const c = fcgiConnect(path.join(stack.runDir, 'fcgi.sock'));
		await c.ready;
		c.s.write(Buffer.concat([getRequest(1, q(token)), record(T.STDIN, 1)]));
		await sleep(500);
		assert.ok(!c.has(T.END), 'the poll is held');
		c.s.pause();
		await push(stack, 0, PUSHES);
		await sleep(1500);
		await stack.reloadResponder();
		c.s.resume();
		await waitFor(() => c.has(T.END, 1), 10000, 'the answer to its end').catch(() => {});
		assert.deepEqual(received(c), range(0, PUSHES), 'every push drained for the poll, once, in order');
		assert.ok(c.has(T.END, 1), 'END_REQUEST');
		await waitFor(() => c.closed, 5000, 'the connection closed');
	});
});

describe('restart in place while a step waits in the database', { timeout: 120000 }, () => {
	let stack;
	before(async () => {
		// Lock waits long enough for the step to outlast the restart's 10 s wait.
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group', POLLHUB_DB_LOCK_TIMEOUT: '30000',
			POLLHUB_DB_STATEMENT_TIMEOUT: '60000' } });
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const log = () => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');

	test('SIGHUP while a stream\'s drain waits 14 s for a row lock: the restart waits for it, the push arrives, nobody is cut', async () => {
		const url = `${stack.hubUrl}?group=slowstep`;
		const a = await connect(url, { transport: 'ServerSentEvents' });
		const b = await connect(url, { transport: 'LongPolling' });
		const closed = [];
		a.onclose((e) => closed.push(`a: ${e?.message || 'closed'}`));
		b.onclose((e) => closed.push(`b: ${e?.message || 'closed'}`));
		try {
			const { spawn } = await import('node:child_process');
			const locker = spawn('psql', ['-X', '-q', '-d', stack.dbName, '-c',
				`BEGIN; SELECT 1 FROM pollhub.connections WHERE id = '${a.connectionId}' FOR NO KEY UPDATE; SELECT pg_sleep(14); COMMIT;`],
				{ stdio: 'ignore' });
			const lockerDone = new Promise((r) => locker.on('exit', r));
			await sleep(500);
			const id = (await b.invoke('create', { ID: null, Title: 'Behind a lock', Start: '2026-11-26T10:00:00Z',
				End: '2026-11-26T10:30:00Z', IsAllDay: false })).ID;
			await sleep(1000);
			const pid = stack.responderPids()[0];
			const ready = () => (log().match(/ ready: /g) || []).length;
			const before = ready();
			process.kill(pid, 'SIGHUP');
			await waitFor(() => ready() > before, 40000, 'the restart');
			await lockerDone;
			assert.equal(stack.responderPids()[0], pid, 'the same process');
			await waitFor(() => a.pushes.payloads('create').some((p) => p.ID === id), 10000, 'the push behind the lock');
			await sleep(500);
			assert.deepEqual(closed, [], 'nobody was cut');
			assert.equal(a.pushes.payloads('create').filter((p) => p.ID === id).length, 1, 'once');
		} finally {
			await stopAll(a, b);
		}
	});
});

describe('a failed exec while a stream\'s answer is not written', { timeout: 120000 }, () => {
	let stack, dir, bin;
	const savedBin = process.env.POLLHUB_BIN;
	const realBin = path.resolve(savedBin || 'build/pollhub');
	before(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-exec-'));
		fs.chmodSync(dir, 0o755);
		bin = path.join(dir, 'pollhub');
		fs.copyFileSync(realBin, bin);
		fs.chmodSync(bin, 0o755);
		process.env.POLLHUB_BIN = bin;
		try {
			stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } });
		} finally {
			if (savedBin === undefined) delete process.env.POLLHUB_BIN;
			else process.env.POLLHUB_BIN = savedBin;
		}
	});
	after(async () => {
		await stack?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const log = () => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');

	test('the stream parks after the failed exec took the others back: it goes on, not orphaned; a later restart takes it', async () => {
		const c = await rawStream(stack);
		c.s.pause();
		await push(stack, 0, PUSHES);
		await sleep(1500);
		const pid = stack.responderPids()[0];
		fs.rmSync(bin);
		process.kill(pid, 'SIGHUP');
		await waitFor(() => /restart failed: exec .*: No such file or directory; serving on/.test(log()), 20000,
			'the failed restart to be logged');
		c.s.resume();
		await waitFor(() => received(c).length >= PUSHES, 10000, `all ${PUSHES} pushes`).catch(() => {});
		assert.deepEqual(received(c), range(0, PUSHES), 'every push queued before the restart, once, in order');
		await push(stack, PUSHES, 1);
		await waitFor(() => received(c).length === PUSHES + 1, 5000, 'a push after the failed exec');

		fs.copyFileSync(realBin, bin);
		fs.chmodSync(bin, 0o755);
		await stack.reloadResponder();
		assert.equal(stack.responderPids()[0], pid, 'the same process');
		assert.match(log(), /restart: 1 stream\(s\) handed over/, 'the second restart handed the stream over');
		await push(stack, PUSHES + 1, 1);
		await waitFor(() => received(c).length === PUSHES + 2, 5000, 'a push after the second restart');
		assert.deepEqual(received(c), range(0, PUSHES + 2));
		assert.doesNotMatch(log(), /was not close-on-exec/, 'no descriptor leaked into the new image');
		assert.ok(!c.closed, 'the stream is still open');
		c.s.destroy();
	});
});
