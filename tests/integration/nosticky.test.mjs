// No sticky sessions: two responders behind one lighttpd that round-robins every request
// between them, sharing one PostgreSQL. A client's negotiate, polls (or stream) and sends
// land on both, and the hub behaves exactly as with one. Stopping one responder moves
// its long-polling clients to the other without losing or repeating a push.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, sleep, transportName } from './stack.mjs';

const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
const skip = web !== 'lighttpd' && `two responders are configured for lighttpd only (web server: ${web})`;

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-11-26T10:00:00Z', End: '2026-11-26T10:30:00Z', IsAllDay: false,
});

/** Requests responder i logged (debug level: "request METHOD /path route ...: status N in T
 * ms", never the query). */
function requests(stack, i) {
	const file = path.join(stack.runDir, i === 0 ? 'pollhub.log' : `pollhub${i}.log`);
	const lines = fs.readFileSync(file, 'utf8').split('\n');
	const count = (re) => lines.filter((l) => re.test(l)).length;
	return {
		negotiate: count(/\[debug\] request POST \/meetings\/negotiate route /),
		// A request is logged when it ends; a stream still open shows by its connect line.
		get: count(/\[debug\] request GET \/meetings route /) + count(/: connected \(ServerSentEvents, /),
		post: count(/\[debug\] request POST \/meetings route /),
	};
}

describe('no sticky sessions: two responders, round-robin', { timeout: 120000, skip }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ responders: 2, env: { POLLHUB_LOG_LEVEL: 'debug', POLLHUB_POLL_TIMEOUT: '5' } });
	});
	after(async () => { await stack?.stop(); });
	const test = (name, o, fn) => (fn ? it(name, o, async (t) => stack.guard(fn)(t))
		: it(name, async (t) => stack.guard(o)(t)));

	test('three clients: every request kind reaches both; each change reaches the others once', async () => {
		const cs = await Promise.all([connect(stack.hubUrl), connect(stack.hubUrl), connect(stack.hubUrl)]);
		try {
			const made = [];
			for (let k = 0; k < 6; k++) {
				const author = cs[k % 3];
				const m = await author.invoke('create', meeting(`RR ${k}`));
				made.push({ author: k % 3, id: m.ID });
				await author.invoke('update', { ...m, Title: `RR ${k} bis` });
			}
			await author(cs, made);
			for (let i = 0; i < 2; i++) {
				const r = requests(stack, i);
				assert.ok(r.negotiate > 0 && r.post > 0 && r.get > 0,
					`responder ${i} served negotiates, sends and ${transportName} GETs: ${JSON.stringify(r)}`);
			}
			const all = await cs[0].invoke('read');
			for (const { id } of made) assert.equal(all.find((m) => m.ID === id).Title.endsWith(' bis'), true);
		} finally {
			await stopAll(cs);
		}
	});

	async function author(cs, made) {
		await waitFor(() => cs.every((c, i) =>
			c.pushes.count('update') >= made.filter((m) => m.author !== i).length), 10000, 'all updates pushed');
		await sleep(300);
		cs.forEach((c, i) => {
			const others = made.filter((m) => m.author !== i).map((m) => m.id);
			assert.deepEqual(c.pushes.payloads('create').map((p) => p.ID), others, `client ${i}: creates`);
			assert.deepEqual(c.pushes.payloads('update').map((p) => p.ID), others, `client ${i}: updates`);
		});
	}

	test('stopping one responder under load: long-polling clients move over, nothing lost or doubled', {
		skip: transportName !== 'LongPolling' &&
			'a server-sent events stream ends with its responder (the client reconnects); see README',
	}, async () => {
		const listeners = await Promise.all(Array.from({ length: 6 }, () => connect(stack.hubUrl)));
		const writer = await connect(stack.hubUrl);
		const closed = [];
		for (const c of [...listeners, writer]) c.onclose((e) => closed.push(e?.message || 'closed'));
		const ids = [];
		let writing = true;
		const loop = (async () => {
			for (let k = 0; writing; k++) {
				ids.push((await writer.invoke('create', meeting(`Move ${k}`))).ID);
				await sleep(50);
			}
		})();
		try {
			await sleep(1000);
			await stack.stopResponder(1);
			await sleep(2000);
			await stack.startResponder(1);
			await sleep(1000);
			writing = false;
			await loop;
			assert.deepEqual(closed, [], 'no client was disconnected');
			await waitFor(() => listeners.every((c) => c.pushes.count('create') >= ids.length), 15000,
				`${ids.length} creates at every listener`);
			await sleep(500);
			for (const c of listeners) assert.deepEqual(c.pushes.payloads('create').map((p) => p.ID), ids);
		} finally {
			writing = false;
			await loop.catch(() => {});
			await stopAll(listeners, writer);
		}
	});
});
