// PostgreSQL's notices reach the log in pollhub's format (issue 18 item 6): libpq's default
// notice processor wrote them raw to stderr (`FATAL:  terminating connection due to
// administrator command`), a line pollhub did not write, unescaped. Every connection (the
// pool's, the notifier's) now has a notice receiver that logs them as pollhub's lines:
// level (warn for WARNING and worse), the backend pid, severity, SQLSTATE, the message
// escaped.
//
// The notice provoked here is a real one: an administrator terminates the responder's
// sessions (pg_terminate_backend): its LISTEN session reads FATAL 57P01 as soon as it
// comes (a pooled session that is idle then is found closed when next taken, and
// reconnected, its message unread).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor } from './stack.mjs';

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z pollhub\[(error|warn|info|debug)\] /;
const NOTICE = /pollhub\[warn\] database: session \(backend pid (\d+)\) says FATAL 57P01: terminating connection due to administrator command$/;

describe('PostgreSQL notices in the log', { timeout: 60000 }, () => {
	let stack;
	before(async () => { stack = await startStack(); });
	after(async () => { await stack?.stop(); });

	it('a terminated session\'s FATAL is one pollhub line, with its backend pid', async (t) => stack.guard(async () => {
		const c = await connect(stack.hubUrl);
		try {
			for (let k = 0; k < 4; k++) await Promise.all([c.invoke('read'), c.invoke('read')]);
			const pids = (await stack.psql(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()
				AND application_name LIKE 'pollhub%' AND state = 'idle'`)).split('\n').filter(Boolean).map(Number);
			assert.ok(pids.length > 1, `the responder has idle sessions: ${pids}`);
			await stack.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${pids.join(',')})`);
			// pg_terminate_backend only signals: wait until they are gone (their FATAL sent).
			await waitFor(async () => (await stack.psql(`SELECT count(*) FROM pg_stat_activity
				WHERE pid IN (${pids.join(',')})`)) === '0', 10000, 'the terminated sessions to end');
			const logFile = path.join(stack.runDir, 'pollhub.log');
			// The responder reads each FATAL when it takes the session next.
			await waitFor(async () => {
				await Promise.all([c.invoke('read'), c.invoke('read'), c.invoke('read')]);
				return NOTICE.test(fs.readFileSync(logFile, 'utf8').split('\n').find((l) => NOTICE.test(l)) || '');
			}, 20000, 'a terminated session\'s notice in the log');
			const text = fs.readFileSync(logFile, 'utf8');
			const lines = text.split('\n').filter((l) => l !== '');
			for (const line of lines)
				assert.match(line, LINE, `a line pollhub did not write: ${JSON.stringify(line)}`);
			const seen = lines.map((l) => NOTICE.exec(l)).filter(Boolean).map((m) => Number(m[1]));
			console.log(`terminated ${pids.length} idle session(s) (${pids.join(', ')}); notices logged for ${seen.join(', ')}`);
			for (const pid of seen) assert.ok(pids.includes(pid), `the notice names a terminated session (${pid})`);
			// And the requests went on working on new sessions.
			const rows = await c.invoke('read');
			assert.ok(Array.isArray(rows));
		} finally {
			await stopAll(c);
		}
	})(t));
});
