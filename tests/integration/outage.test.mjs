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
import { startStack, connect, stopAll, waitFor, sleep, repoRoot, transportName } from './stack.mjs';

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
		stack = await startStack({ pg: pgEnv, env: { POLLHUB_POLL_TIMEOUT: '20' } });
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
});
