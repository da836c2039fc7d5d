// A stopped notifier session (issue 18, item 1): the backend of the notifier's drain
// connection ('pollhub drain' in pg_stat_activity), then that of its LISTEN connection
// ('pollhub listen'), is sent SIGSTOP for STOP_MS (20 s) while the innocent client
// (innocent.mjs) runs in its calendar and a second calendar ('load') has readers and a
// writer. The responder must notice within a deadline it keeps itself, log the pause
// with the backend's pid, open a new session and go on:
// - the drain connection: a batch's statement past FANOUT_DEADLINE_MS (fanout.c, 3 s) is
//   cancelled, then given up PGWAIT_CANCEL_GRACE_MS (1 s) later; its waiters drain
//   themselves on the pool. allowMs = 3 s + 1 s + a second for the reconnect and the
//   waiters' own drains.
// - the LISTEN connection: silent for PROBE_IDLE_MS (10 s), its health check unanswered
//   for PROBE_DEADLINE_MS (5 s) (notify.c): allowMs = 15 s + 2 s.
// Every push of the 'load' calendar reaches each of its readers exactly once. SIGCONT
// always follows (finally).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, sleep, waitFor } from './stack.mjs';
import { innocent, showInnocent, assertInnocent } from './innocent.mjs';

const STOP_MS = Number(process.env.STOPPED_NOTIFIER_MS || 20000);
const LOAD_READERS = 4;

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-04T10:00:00.000Z', End: '2026-12-04T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});

/** The 'load' calendar: LOAD_READERS readers and a writer creating every 150 ms. */
async function load(hubUrl) {
	const url = `${hubUrl}?group=load`;
	const writer = await connect(url);
	const readers = [];
	for (let i = 0; i < LOAD_READERS; i++) readers.push(await connect(url));
	const ids = [];
	const pending = [];
	let k = 0;
	let on = true;
	const loop = (async () => {
		while (on) {
			const p = writer.invoke('create', meeting(`load ${k++}`)).then((m) => ids.push(m.ID), () => {});
			pending.push(p);
			await sleep(150);
		}
	})();
	return {
		async stop() {
			on = false;
			await loop;
			await Promise.all(pending);
			const got = (r) => ids.every((id) => r.pushes.payloads('create').some((m) => m.ID === id));
			await waitFor(() => readers.every(got), 20000, 'the load pushes').catch(() => {});
			const res = readers.map((r) => {
				const seen = r.pushes.payloads('create').map((m) => m.ID);
				return {
					missing: ids.filter((id) => !seen.includes(id)).length,
					dup: seen.length - new Set(seen).size,
				};
			});
			await stopAll(writer, ...readers);
			return { created: ids.length, res };
		},
	};
}

async function backendPid(stack, suffix) {
	const v = await stack.psql(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE '% ${suffix}' ORDER BY backend_start DESC LIMIT 1`);
	return Number(v) || null;
}

for (const [what, suffix, allowMs] of [['drain', 'drain', 5000], ['LISTEN', 'listen', 17000]]) {
	describe(`the notifier's ${what} backend stopped for ${STOP_MS} ms`, { timeout: 150000 }, () => {
		let stack;
		before(async () => {
			stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } });
		});
		after(async () => {
			await stack?.stop();
		});

		it('is noticed within its deadline, logged with its pid; nothing stalls past it, nothing is lost',
			async (t) => stack.guard(async () => {
				const busy = await load(stack.hubUrl);
				const probe = await innocent(stack.hubUrl);
				await sleep(3000);
				const pid = await waitFor(() => backendPid(stack, suffix), 5000, `the ${suffix} backend`);
				t.diagnostic(`stopping the ${suffix} backend, pid ${pid}`);
				try {
					process.kill(pid, 'SIGSTOP');
					await sleep(STOP_MS);
				} finally {
					process.kill(pid, 'SIGCONT');
				}
				await sleep(3000);
				const f = await probe.stop();
				const l = await busy.stop();
				t.diagnostic(showInnocent(f));
				t.diagnostic(`load: ${l.created} pushes; per reader missing ${l.res.map((r) => r.missing)}, ` +
					`duplicated ${l.res.map((r) => r.dup)}`);
				const log = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
				const lines = log.split('\n').filter((x) => x.includes(`pid ${pid}`));
				t.diagnostic(`log: ${lines.join(' | ').slice(0, 600)}`);
				assert.ok(lines.length > 0, `a log line names backend pid ${pid}`);
				for (const r of l.res) {
					assert.equal(r.missing, 0, `every load push reached every reader: ${JSON.stringify(l)}`);
					assert.equal(r.dup, 0, `no load push came twice: ${JSON.stringify(l)}`);
				}
				assertInnocent(f, { allowMs });
			})(t));
	});
}
