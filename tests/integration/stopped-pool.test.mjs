// A pooled database session that stops answering (issue 18 item 1, the pool's part).
//
// statement_timeout is the server's own: it cannot fire in a backend that was stopped
// (kill -STOP, a hung host), and keepalives do nothing on the unix socket the tests use.
// So the responder keeps a deadline of its own on every pooled statement (the sessions'
// statement_timeout + 2 s, then a cancel with 1 s to answer), gives the session up and
// connects a new one.
//
// The fault: a create in calendar 'attacked' is made to wait (an administrator holds the
// calendar's row in pollhub.groups), its pooled session is found 'active' in
// pg_stat_activity and stopped with SIGSTOP for 20 s, then SIGCONT (always, by pid).
// Meanwhile the innocent client (innocent.mjs) runs in its own calendar. Expected: the
// create that hit the stopped session is answered (here: an error) within the deadline,
// not after the 20 s; the log names the backend pid; the innocent client's bounds hold;
// every later request works.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, sleep, transportName, adminSession } from './stack.mjs';
import { innocent, showInnocent, assertInnocent } from './innocent.mjs';

const STATEMENT_TIMEOUT = 4000;
// What the responder waits at most: statement_timeout + 2 s, then 1 s for the cancel.
const DEADLINE = STATEMENT_TIMEOUT + 2000 + 1000;
const STOP_MS = 20000;
const ADMIN_APP = 'pollhub-stopped-admin';

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-03T10:00:00.000Z', End: '2026-12-03T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});

describe(`a stopped pooled database session (${transportName})`, { timeout: 150000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({
			env: {
				POLLHUB_GROUP_PARAM: 'group',
				POLLHUB_DB_STATEMENT_TIMEOUT: String(STATEMENT_TIMEOUT),
				// The create waits for the administrator's lock until it is stopped.
				POLLHUB_DB_LOCK_TIMEOUT: String(STATEMENT_TIMEOUT),
			},
		});
	});
	after(async () => { await stack?.stop(); });

	it('the request on it is answered within the deadline; nobody else waits', async (t) => stack.guard(async () => {
		const attacker = await connect(`${stack.hubUrl}?group=attacked`);
		const admin = adminSession(stack.dbName, ADMIN_APP);
		let probe = null, pid = 0, stopped = false;
		try {
			await attacker.invoke('create', meeting('seed'));	// the calendar's row exists
			probe = await innocent(stack.hubUrl);
			await sleep(1500);

			await admin.run("BEGIN; SELECT 'locked' FROM pollhub.groups WHERE name = 'attacked' FOR UPDATE;", /locked/);
			const t0 = Date.now();
			const call = { end: null, ok: null, error: null };
			const done = attacker.invoke('create', meeting('hits the stopped session')).then(
				() => { call.end = Date.now(); call.ok = true; },
				(e) => { call.end = Date.now(); call.ok = false; call.error = e.message; });
			// Its pooled session, waiting for the lock.
			await waitFor(async () => {
				const out = await stack.psql(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()
					AND application_name = 'pollhub' AND state = 'active' AND wait_event_type = 'Lock'`);
				pid = Number(out.split('\n')[0]) || 0;
				return pid > 0;
			}, STATEMENT_TIMEOUT - 500, 'the create\'s pooled session waiting for the lock');
			process.kill(pid, 'SIGSTOP');
			stopped = true;
			const tStop = Date.now();
			console.log(`stopped backend ${pid} ${tStop - t0} ms after the create was sent`);
			await admin.run('COMMIT;', /COMMIT/);

			await Promise.race([done, sleep(STOP_MS)]);
			const waited = (call.end ?? Date.now()) - t0;
			console.log(`the create on the stopped session: ${call.ok === null ? 'unanswered' : call.ok ? 'ok' : `error (${call.error})`} after ${waited} ms`);
			const rest = STOP_MS - (Date.now() - tStop);
			if (rest > 0) await sleep(rest);
			process.kill(pid, 'SIGCONT');
			stopped = false;

			// The innocent client's figures first (printed before and after the fix alike).
			const f = await probe.stop();
			probe = null;
			console.log(showInnocent(f));

			assert.notEqual(call.end, null, 'the create on the stopped session was answered while it was stopped');
			assert.ok(waited < DEADLINE + 1500, `answered within the deadline (${waited} ms, deadline ${DEADLINE} ms)`);
			const log = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
			console.log(log.split('\n').filter((l) => l.includes(`pid ${pid}`) || l.includes('query failed')).join('\n'));
			assert.match(log, new RegExp(`backend pid ${pid}\\b`), 'the log names the stopped session');
			assertInnocent(f, { allowMs: 0 });

			// Every later request works: this calendar too, once the session is gone.
			await waitFor(async () => {
				try { await attacker.invoke('create', meeting('after')); return true; } catch { return false; }
			}, 15000, 'a create in the attacked calendar after SIGCONT');
			const page = await connect(`${stack.hubUrl}?group=attacked`);
			const rows = await page.invoke('read');
			await stopAll(page);
			assert.ok(rows.some((m) => m.Title === 'after'), 'the later create is stored');
		} finally {
			if (stopped) try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
			await admin.end();
			if (probe) await probe.stop().catch(() => {});
			await stopAll(attacker);
		}
	})(t));
});
