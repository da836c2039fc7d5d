// Slow request bodies (issue 18 item 1): 40 POSTs of 32,000 bytes, each sent at 600 bytes a
// second over raw TCP to the web server, with a valid Core token of another calendar. Apache
// passes a body on as it comes (mod_reqtimeout lets 600 B/s through), so each one took a
// worker (send_handle -> http_read_body) for as long as the client liked: every worker was
// held up to ~64 s and a negotiate waited behind them. Now the whole body read of a short
// request is bounded by POLLHUB_BODY_TIMEOUT: the POST is answered 408, the FastCGI
// connection closed (never reused half-read), the worker free again.
//
// The innocent client (innocent.mjs) of another calendar runs meanwhile. Its allowance is
// the body timeout: with 40 slow bodies and 32 workers, every worker is taken until the
// first 32 deadlines pass, so an innocent request that arrives then waits up to one body
// timeout for a worker (POLLHUB_BODY_TIMEOUT=3000 here), plus 1 s for a loaded machine (2
// cores, other tests running; measured: 3.36 s at most).
// A negotiate timed once the first deadlines have passed (the 8 remaining slow POSTs hold 8
// workers) answers in < 1 s.
//
// lighttpd buffers a POST body itself before it asks the responder (no worker is taken):
// there the slow POSTs are not answered by the responder at all while they trickle, and
// the innocent client and the negotiate keep their ordinary bounds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startStack, sleep, RS } from './stack.mjs';
import { innocent, showInnocent, assertInnocent } from './innocent.mjs';

const SLOW = 40;
const LENGTH = 32000;
const RATE = 600;		// bytes a second, in 60-byte pieces every 100 ms
const BODY_TIMEOUT = 3000;
const ATTACK_MS = 12000;	// how long the slow clients keep sending

async function negotiate(hubUrl, group) {
	const t0 = Date.now();
	const r = await fetch(`${hubUrl}/negotiate?negotiateVersion=1&group=${group}`, { method: 'POST' });
	assert.equal(r.status, 200, 'negotiate');
	const body = await r.json();
	return { token: body.connectionToken, ms: Date.now() - t0 };
}

/** One slow POST over raw TCP: { status, at (ms after start), closed } as the server answers. */
function slowPost(port, pathAndQuery, t0) {
	const s = { status: null, at: null, closed: false, text: '', sent: 0 };
	const sock = net.connect({ port, host: '127.0.0.1' });
	sock.setNoDelay(true);
	const body = Buffer.from(`{"protocol":"json","version":1}${RS}`.padEnd(LENGTH, ' '));
	sock.on('connect', () => {
		sock.write(`POST ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
			`Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${LENGTH}\r\n\r\n`);
		s.timer = setInterval(() => {
			if (s.sent >= LENGTH || sock.destroyed) return clearInterval(s.timer);
			const piece = body.subarray(s.sent, s.sent + RATE / 10);
			s.sent += piece.length;
			sock.write(piece);
		}, 100);
	});
	sock.on('data', (d) => {
		s.text += d.toString('latin1');
		const m = /^HTTP\/1\.[01] (\d{3})/.exec(s.text);
		if (m && s.status === null) { s.status = Number(m[1]); s.at = Date.now() - t0; }
	});
	sock.on('error', () => {});
	sock.on('close', () => { s.closed = true; clearInterval(s.timer); });
	s.stop = () => { clearInterval(s.timer); sock.destroy(); };
	return s;
}

describe('slow POST bodies do not hold the workers', { timeout: 120000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: {
			POLLHUB_GROUP_PARAM: 'group', POLLHUB_BODY_TIMEOUT: String(BODY_TIMEOUT),
		} });
	});
	after(async () => { await stack?.stop(); });

	it(`${SLOW} POSTs at ${RATE} B/s: each answered by the body timeout; negotiate and innocent unharmed`, async (t) => stack.guard(async () => {
		const apache = stack.web === 'apache';
		const probe = await innocent(stack.hubUrl);
		await sleep(1000);
		const tokens = [];
		for (let i = 0; i < SLOW; i++) tokens.push((await negotiate(stack.hubUrl, 'slowpost')).token);
		const hubPath = new URL(stack.hubUrl).pathname;
		const t0 = Date.now();
		const slow = tokens.map((tok) =>
			slowPost(stack.port, `${hubPath}?id=${encodeURIComponent(tok)}&group=slowpost`, t0));
		let late;
		try {
			// Past the first deadlines (32 workers' worth): a negotiate needs no wait.
			await sleep(BODY_TIMEOUT + 1500);
			late = await negotiate(stack.hubUrl, 'latecomer');
			await sleep(Math.max(0, ATTACK_MS - (Date.now() - t0)));
		} finally {
			for (const s of slow) s.stop();
		}
		const f = await probe.stop();
		const answered = slow.filter((s) => s.status !== null);
		const report = `${stack.web}: negotiate ${late.ms} ms at ${BODY_TIMEOUT + 1500} ms;` +
			` slow POSTs answered ${answered.length}/${SLOW}` +
			` (statuses ${[...new Set(answered.map((s) => s.status))].join(',') || 'none'},` +
			` at ${answered.length ? Math.min(...answered.map((s) => s.at)) : '-'}..` +
			`${answered.length ? Math.max(...answered.map((s) => s.at)) : '-'} ms);` +
			` bytes sent per POST ${Math.max(...slow.map((s) => s.sent))}`;
		t.diagnostic(report);
		t.diagnostic(showInnocent(f));
		const log = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
		const timeouts = log.split('\n').filter((l) => /body not received within/.test(l)).length;
		assert.ok(late.ms < 1000, `a negotiate during the attack answers in < 1 s: ${report}`);
		if (apache) {
			// Every slow POST gets its answer by the deadline (two rounds of workers: 40 > 32).
			assert.equal(answered.length, SLOW, `every slow POST answered: ${report}`);
			assert.ok(answered.every((s) => s.status === 408), `each one 408: ${report}`);
			assert.ok(Math.max(...answered.map((s) => s.at)) < 2 * BODY_TIMEOUT + 2000,
				`each within two body timeouts of its start: ${report}`);
			assert.equal(timeouts, SLOW, `the responder logged ${SLOW} body timeouts`);
			assertInnocent(f, { allowMs: BODY_TIMEOUT + 1000 });
		} else {
			// lighttpd holds the body itself: the responder never sees these requests.
			assert.equal(answered.length, 0, `lighttpd answers none while the bodies trickle: ${report}`);
			assert.equal(timeouts, 0, 'the responder saw no slow body');
			assertInnocent(f, { allowMs: 0 });
		}
	})());
});
