// Slow request bodies on requests to hold (issue 18): 40 `GET /meetings?id=TOKEN` of
// real connections, each announcing Content-Length: 100000000 and sending 600 bytes a
// second. The responder hands such a poll to its event loop at once, and the loop reads
// (and discards, up to a bound) what is left of the body: no worker thread waits on it.
// Meanwhile the innocent client runs in another calendar and a negotiate is timed.
//
// Apache (mod_proxy_fcgi) streams the body to the responder as it comes. lighttpd refuses
// a GET that announces a body before the responder sees it: asserted below.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startStack, sleep } from './stack.mjs';
import { innocent, showInnocent, assertInnocent } from './innocent.mjs';

const SLOW = 40;
const BYTES_PER_SECOND = 600;
const ATTACK_MS = 12000;

// A raw HTTP/1.1 GET with a body that trickles; resolves the first response line
// (or '' if none came) once closed.
function slowGet(port, path, { bytesPerSecond, ms }) {
	return new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1');
		let head = '';
		let timer = null;
		const finish = () => {
			clearInterval(timer);
			s.destroy();
			resolve(head.split('\r\n')[0]);
		};
		s.on('data', (d) => { head += d.toString('latin1'); });
		s.on('error', () => finish());
		s.on('close', () => finish());
		s.on('connect', () => {
			s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain\r\n` +
				'Content-Length: 100000000\r\n\r\n');
			timer = setInterval(() => { if (!s.destroyed) s.write('x'.repeat(bytesPerSecond)); }, 1000);
			setTimeout(finish, ms);
		});
	});
}

// A Core connection of calendar group whose first poll is answered: its next poll is held.
async function heldToken(hubUrl, group) {
	const q = `group=${encodeURIComponent(group)}`;
	const r = await fetch(`${hubUrl}/negotiate?negotiateVersion=1&${q}`, { method: 'POST' });
	assert.equal(r.status, 200);
	const token = (await r.json()).connectionToken;
	const first = await fetch(`${hubUrl}?id=${encodeURIComponent(token)}&${q}`);
	await first.arrayBuffer();
	assert.equal(first.status, 200, 'the first poll answers at once');
	return token;
}

describe('slow request bodies on held requests', { timeout: 120000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } });
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test(`${SLOW} slow GET bodies: a negotiate answers in < 1 s, the innocent client is unaffected`, async () => {
		const tokens = [];
		for (let i = 0; i < SLOW; i += 10)
			tokens.push(...await Promise.all(Array.from({ length: 10 }, () => heldToken(stack.hubUrl, 'slowbody'))));
		const probe = await innocent(stack.hubUrl);
		await sleep(1000);
		const t0 = Date.now();
		const slow = tokens.map((t) => slowGet(stack.port, `/meetings?id=${encodeURIComponent(t)}&group=slowbody`,
			{ bytesPerSecond: BYTES_PER_SECOND, ms: ATTACK_MS }));
		await sleep(3000);
		const n0 = Date.now();
		const r = await fetch(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=other`, { method: 'POST' });
		await r.arrayBuffer();
		const negotiateMs = Date.now() - n0;
		const lines = await Promise.all(slow);
		const f = await probe.stop();
		console.log(`negotiate during the slow bodies: ${negotiateMs} ms (status ${r.status}); slow GETs over ` +
			`${Date.now() - t0} ms, first lines: ${JSON.stringify([...new Set(lines)])}`);
		console.log(showInnocent(f));
		assert.equal(r.status, 200);
		if (stack.web === 'lighttpd') {
			// lighttpd answers such a GET itself (it never reaches the responder).
			assert.ok(lines.every((l) => /^HTTP\/1\.1 4\d\d /.test(l)), `lighttpd refuses a GET with a body: ${lines[0]}`);
		} else {
			// Held (no answer in time) or answered by the responder; never a worker's.
			assert.ok(lines.every((l) => l === '' || /^HTTP\/1\.1 (200|400|413) /.test(l)), `Apache: ${[...new Set(lines)]}`);
		}
		assert.ok(negotiateMs < 1000, `a negotiate answers in < 1 s during ${SLOW} slow bodies (${negotiateMs} ms)`);
		assertInnocent(f);
	});
});
