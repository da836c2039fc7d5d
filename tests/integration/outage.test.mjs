// PostgreSQL outage: the database restarts under load. The responder reconnects by
// itself (its pool and its LISTEN connection), invocations meanwhile fail promptly with
// an error (no hang, no crash), held polls and streams are not failed, and afterwards
// everything works without restarting the responder. The test runs its own cluster,
// since the run's cluster is shared with the test files running beside it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, sleep, repoRoot, transportName, RS } from './stack.mjs';

const pgPrivate = path.join(repoRoot, 'deploy/scripts/pg-private.sh');
const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-11-26T10:00:00Z', End: '2026-11-26T10:30:00Z', IsAllDay: false,
});

describe('PostgreSQL outage', { timeout: 150000 }, () => {
	let stack, dir, pgEnv;
	const pg = (cmd) => execFileSync('bash', [pgPrivate, cmd, dir], {
		encoding: 'utf8', env: { ...process.env, PGPORT_PRIVATE: String(pgEnv?.PGPORT || 5400 + (process.pid % 500)) },
	});
	before(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-outage-'));
		fs.chmodSync(dir, 0o755);	// the postgres user runs the cluster when we are root
		pg('start');
		pgEnv = Object.fromEntries([...pg('env').matchAll(/(PG\w+)=(\S+)/g)].map((m) => [m[1], m[2].replace(/^'|'$/g, '')]));
		stack = await startStack({ pg: pgEnv, env: { POLLHUB_POLL_TIMEOUT: '20', POLLHUB_GROUP_PARAM: 'group' } });
	});
	after(async () => {
		await stack?.stop();
		try { pg('stop'); } catch { /* already stopped */ }
		fs.rmSync(dir, { recursive: true, force: true });
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test(`restart under load (${transportName}): errors meanwhile, nobody disconnected, all well after`, async () => {
		const writer = await connect(stack.hubUrl);
		const listeners = await Promise.all([connect(stack.hubUrl), connect(stack.hubUrl), connect(stack.hubUrl)]);
		try {
		const closed = [];
		for (const c of [writer, ...listeners]) c.onclose((e) => closed.push(e?.message || 'closed'));
		const before = [];
		for (let k = 0; k < 5; k++) before.push((await writer.invoke('create', meeting(`Before ${k}`))).ID);

		pg('stop');
		// While the database is away: each invocation fails, promptly.
		const errors = [];
		for (let k = 0; k < 3; k++) {
			const t0 = Date.now();
			await assert.rejects(writer.invoke('create', meeting(`During ${k}`)), (e) => { errors.push(e.message); return true; });
			assert.ok(Date.now() - t0 < 10000, `invocation ${k} failed within 10 s (${Date.now() - t0} ms)`);
			await sleep(500);
		}
		await sleep(2000);	// polls and streams stay held meanwhile
		pg('start');

		// The responder reconnects by itself: creates work again, and are pushed.
		const after = [];
		await waitFor(async () => {
			try {
				after.push((await writer.invoke('create', meeting('After 0'))).ID);
				return true;
			} catch { return false; }
		}, 20000, 'an invocation to succeed after the restart');
		for (let k = 1; k < 5; k++) after.push((await writer.invoke('create', meeting(`After ${k}`))).ID);
		const all = [...before, ...after];
		await waitFor(() => listeners.every((c) => c.pushes.count('create') >= all.length), 20000,
			'every create before and after at every listener');
		await sleep(300);
		for (const c of listeners) assert.deepEqual(c.pushes.payloads('create').map((p) => p.ID), all);
		assert.deepEqual(closed, [], 'no client was disconnected by the outage');
		const rows = await listeners[0].invoke('read');
		for (const id of all) assert.ok(rows.some((m) => m.ID === id), `meeting ${id} is stored`);
		assert.ok(!rows.some((m) => m.Title.startsWith('During')), 'nothing that failed was stored');
		assert.ok(errors.length === 3, `three invocations failed during the outage: ${errors.join('; ')}`);
		} finally {
			await stopAll(writer, listeners);
		}
	});

	// Issue 18 item 2: a poll that cannot begin while the database is away is held by the
	// event loop and tried again there; it never keeps a worker for more than one try. So
	// with more polls arriving than there are workers (POLLHUB_THREADS, 32), a negotiate
	// is still answered at once (503: no database), not queued behind them; and when the
	// database is back the held polls begin and deliver.
	test(`polls during the outage hold no worker: a negotiate is answered meanwhile, the polls resume after (${transportName})`, async () => {
		const GROUP = 'outage-polls';
		const POLLS = 64;
		const post = (url, body) => fetch(url, { method: 'POST', body }).then(async (r) => ({ status: r.status, text: await r.text() }));
		const clients = await Promise.all(Array.from({ length: POLLS }, async () => {
			const neg = await post(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=${GROUP}`, '');
			const token = JSON.parse(neg.text).connectionToken;
			const url = `${stack.hubUrl}?group=${GROUP}&id=${encodeURIComponent(token)}`;
			assert.equal((await fetch(url)).status, 200);	// the first poll
			assert.equal((await post(url, `{"protocol":"json","version":1}${RS}`)).status, 200);
			assert.equal(await (await fetch(url)).text(), `{}${RS}`);
			return { url };
		}));
		const poll = (c) => fetch(c.url).then(async (r) => ({ status: r.status, text: await r.text(), at: Date.now() }),
			(e) => ({ status: 0, text: e.message, at: Date.now() }));

		pg('stop');
		let restarted = false;
		try {
			const t0 = Date.now();
			const held = clients.map(poll);
			const answered = [];
			for (const h of held) h.then((r) => answered.push(r));
			await sleep(1500);	// every poll has reached the responder and found the database away
			const t1 = Date.now();
			const neg = await post(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=${GROUP}`, '');
			const negMs = Date.now() - t1;
			console.log(`negotiate during the outage, behind ${POLLS} polls: ${neg.status} in ${negMs} ms`);
			assert.equal(neg.status, 503, `the negotiate is refused while the database is away: ${neg.text}`);
			assert.ok(negMs < 3000, `the negotiate is answered at once, not behind the polls (${negMs} ms)`);
			assert.equal(answered.length, 0, `the polls are held meanwhile: ${JSON.stringify(answered.slice(0, 3))}`);

			pg('start');
			restarted = true;
			await waitFor(async () => {
				try { await stack.psql('SELECT 1'); return true; } catch { return false; }
			}, 20000, 'the database to accept connections');
			await sleep(3000);	// the held polls begin again (tried every second)
			await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, description, start_at, end_at)
				VALUES ('${GROUP}', 'after the outage', '', now(), now())`);
			const first = await Promise.all(held);
			console.log(`held polls answered ${first.filter((r) => r.status === 200).length}/${POLLS} with 200,` +
				` ${first.filter((r) => r.text.includes('after the outage')).length} with the push, the last ${Math.max(...first.map((r) => r.at)) - t0} ms after they were sent`);
			for (const r of first) assert.equal(r.status, 200, `a held poll is answered 200, not failed: ${r.status} ${r.text.slice(0, 100)}`);
			// A poll that timed out empty (the push came late to it) gets it from its next one.
			const got = await Promise.all(clients.map(async (c, i) => {
				if (first[i].text.includes('after the outage')) return true;
				const r = await poll(c);
				return r.status === 200 && r.text.includes('after the outage');
			}));
			assert.equal(got.filter(Boolean).length, POLLS, 'every poll delivers the push made after the outage');
		} finally {
			if (!restarted) pg('start');
		}
	});
});
