// MeetingHub written in SQL (issue 21, item 3): tests/sql/meetinghub.sql runs every case of
// meeting.c's validation table and corestore's writes through pollhub.invoke, as the
// responder's role, against the stack's freshly migrated database, and checks read by
// range and its JSON. It sends no web traffic, so it runs in one combination of the
// matrix only (lighttpd + LongPolling).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStack, repoRoot, transportName } from './stack.mjs';

const execFileP = promisify(execFile);
const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
const skip = (web !== 'lighttpd' || transportName !== 'LongPolling') &&
	`database only: runs with lighttpd + LongPolling (this run: ${web} + ${transportName})`;

describe('MeetingHub in SQL (tests/sql/meetinghub.sql)', { timeout: 120000, skip }, () => {
	let stack;
	before(async () => { stack = await startStack(); });
	after(async () => { await stack?.stop(); });

	it('answers every case as meeting.c and corestore did; reads by range', async (t) => {
		let out;
		try {
			({ stdout: out } = await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', stack.dbName,
				'-f', path.join(repoRoot, 'tests/sql/meetinghub.sql')], { env: { ...process.env }, maxBuffer: 16 << 20 }));
		} catch (e) {
			assert.fail(`${e.stderr || e.message}`);
		}
		assert.match(out, /meetinghub\.sql: all assertions held/);
		t.diagnostic(out.trim());
	});
});
