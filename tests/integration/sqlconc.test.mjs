// SQL-level concurrency tests (issue 10 item 7): build/asan/tests/sqlconc
// (tests/sql/concurrency.c) drives poll_drain, drain_many, the send transaction, the
// reaper (CALL pollhub.maintain) and the classic drain from several libpq sessions with
// forced interleavings, against the stack's freshly migrated database: order, exactly
// once, and no wait on a lock another session holds. It sends no web traffic, so it
// runs in one combination of the matrix only (lighttpd + LongPolling). The responder is
// stopped first: its maintenance thread would reap and trim the same tables meanwhile.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStack, repoRoot, transportName } from './stack.mjs';

const execFileP = promisify(execFile);
const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
const skip = (web !== 'lighttpd' || transportName !== 'LongPolling') &&
	`database only: runs with lighttpd + LongPolling (this run: ${web} + ${transportName})`;
const bin = path.resolve(repoRoot, process.env.POLLHUB_SQLCONC_BIN || 'build/asan/tests/sqlconc');

describe('SQL-level concurrency (tests/sql/concurrency.c)', { timeout: 300000, skip }, () => {
	let stack;
	before(async () => {
		// Built (or found up to date) here when the suite runs without `make integration`.
		if (!process.env.POLLHUB_SQLCONC_BIN) {
			const env = { ...process.env };
			for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL']) delete env[k];
			execFileSync('make', ['--no-print-directory', 'build/asan/tests/sqlconc'],
				{ cwd: repoRoot, stdio: 'ignore', env });
		}
		assert.ok(fs.existsSync(bin), `${bin} missing: make build/asan/tests/sqlconc`);
		stack = await startStack();
		await stack.stopResponder();
	});
	after(async () => { await stack?.stop(); });

	it('poll_drain, drain_many, send, maintain and classic_drain under forced interleavings', async (t) => {
		const { PGHOST, PGPORT, PGUSER } = process.env;
		const conninfo = `host=${PGHOST} port=${PGPORT} user=${PGUSER} dbname=${stack.dbName}`;
		let out, code = 0;
		try {
			({ stdout: out } = await execFileP(bin, [conninfo], {
				env: { ...process.env, LSAN_OPTIONS: `suppressions=${path.join(repoRoot, 'tests/lsan.supp')}:print_suppressions=0` },
				maxBuffer: 16 << 20,
			}));
		} catch (e) {
			out = `${e.stdout || ''}${e.stderr ? `\n${e.stderr}` : ''}`;
			code = e.code;
		}
		for (const line of out.trimEnd().split('\n')) t.diagnostic(line);
		const failed = out.split('\n').filter((l) => l.startsWith('FAIL'));
		const summary = out.match(/^(\d+) passed, (\d+) failed$/m);
		assert.ok(summary, `no summary line; exit ${code}\n${out}`);
		assert.equal(Number(summary[2]), 0, `${summary[2]} failed:\n${failed.join('\n')}`);
		assert.equal(code, 0, `exit status ${code}\n${out.split('\n').slice(-20).join('\n')}`);
	});
});
