// The FastCGI records of a held request (issue 18, item 5), spoken to the responder's
// socket directly, as a web server would: the event loop reads them with fcgirec.
// What libfcgi read ahead of the handler (sent in the same write as the request) reaches
// the loop's reader too. GET_VALUES is answered, an unknown management type is answered
// FCGI_UNKNOWN_TYPE, a second BEGIN_REQUEST FCGI_CANT_MPX_CONN, an abort of the held
// request END_REQUEST; a protocol violation or a body past the bound closes the
// connection, logged.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, waitFor, sleep } from './stack.mjs';
import { T, record, pair, begin, getRequest, fcgiConnect } from './fcgiclient.mjs';

const request = (id, token) => getRequest(id, `id=${token}`);

describe('FastCGI records on a held connection', { timeout: 60000 }, () => {
	let stack, socket;
	before(async () => {
		stack = await startStack();
		socket = path.join(stack.runDir, 'fcgi.sock');
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const log = () => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');

	async function heldToken() {
		const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST' });
		const token = (await r.json()).connectionToken;
		await (await fetch(`${stack.hubUrl}?id=${encodeURIComponent(token)}`)).arrayBuffer();
		return token;
	}

	test('read-ahead and later records: GET_VALUES, unknown type, a second BEGIN, then ABORT answered', async () => {
		const token = await heldToken();
		const c = fcgiConnect(socket);
		await c.ready;
		// One write: libfcgi reads all of it before the handler holds the poll.
		c.s.write(Buffer.concat([request(1, token), record(T.STDIN, 1, Buffer.from('ignored')), record(T.STDIN, 1),
			record(T.GET_VALUES, 0, Buffer.concat([pair('FCGI_MPXS_CONNS', ''), pair('FCGI_MAX_REQS', '')]))]));
		await waitFor(() => c.has(T.VALUES_RESULT, 0), 5000, 'GET_VALUES_RESULT for the read-ahead GET_VALUES');
		const values = c.records.find((r) => r.type === T.VALUES_RESULT).content.toString('latin1');
		assert.match(values, /FCGI_MPXS_CONNS0/);
		await sleep(300);
		assert.ok(!c.has(T.END), 'the poll is held');
		c.s.write(Buffer.concat([record(42, 0, Buffer.alloc(8)), begin(2)]));
		await waitFor(() => c.has(T.UNKNOWN, 0) && c.has(T.END, 2), 5000, 'UNKNOWN_TYPE and CANT_MPX_CONN');
		assert.equal(c.records.find((r) => r.type === T.UNKNOWN).content[0], 42);
		assert.equal(c.records.find((r) => r.type === T.END && r.id === 2).content[4], 1, 'FCGI_CANT_MPX_CONN');
		assert.ok(!c.has(T.END, 1), 'the held poll goes on');
		c.s.write(record(T.ABORT, 1));
		await waitFor(() => c.has(T.END, 1), 5000, 'END_REQUEST answering the abort');
		assert.equal(c.records.find((r) => r.type === T.END && r.id === 1).content[4], 0, 'FCGI_REQUEST_COMPLETE');
		await waitFor(() => c.closed, 5000, 'the connection closed after the END_REQUEST');
	});

	test('a slow body is read by the loop; a protocol violation closes the connection, logged', async () => {
		const token = await heldToken();
		const c = fcgiConnect(socket);
		await c.ready;
		c.s.write(Buffer.concat([request(1, token), record(T.STDIN, 1, Buffer.alloc(100, 'x'))]));
		for (let i = 0; i < 5; i++) {
			await sleep(100);
			c.s.write(record(T.STDIN, 1, Buffer.alloc(100, 'y')));
		}
		await sleep(200);
		assert.ok(!c.closed && !c.has(T.END), 'held while its body trickles');
		c.s.write(record(T.STDIN, 1, Buffer.alloc(8), 2));	/* version 2 */
		await waitFor(() => c.closed, 5000, 'the connection closed');
		await waitFor(() => /a held poll's FastCGI connection is closed: not a FastCGI version 1 record/.test(log()), 5000, 'logged');
	});

	test('a held request\'s body past 65536 bytes closes the connection, logged', async () => {
		const token = await heldToken();
		const c = fcgiConnect(socket);
		await c.ready;
		c.s.write(request(1, token));
		await sleep(200);
		for (let i = 0; i < 3 && !c.closed; i++) {
			c.s.write(record(T.STDIN, 1, Buffer.alloc(30000, 'z')));
			await sleep(100);
		}
		await waitFor(() => c.closed, 5000, 'the connection closed');
		await waitFor(() => /request body too large \(a held request's body is read and discarded up to 65536 bytes\)/.test(log()), 5000, 'logged');
		// The responder serves on.
		const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST' });
		assert.equal(r.status, 200);
	});
});
