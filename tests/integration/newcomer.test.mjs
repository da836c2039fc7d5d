// A newcomer's path (issue 13 items 1-3): the README's psql steps, followed literally,
// reach make run's database, and a migrate.sh that names no database refuses instead of
// migrating libpq's default one; which pollhub this is can be seen from the binary, its
// "ready" log line and SQL, all saying the one version of common/version.h.
//
// The README's commands are read from README.md ("Administering with psql": the code
// spans of **Connect.** and **Upgrade the schema**) and run as written, in a directory
// laid out like a checkout (deploy/, sql/, common/ link to this tree) whose .run/pg is a
// private cluster of this test holding what `make run` leaves there: the database
// `pollhub`, here at the previous release (tests/sql/fixtures/pollhub-008.sql), so the
// upgrade has something to apply. And (item 3) `WEB=apache make run` in a checkout under a
// 0700 directory, as root, stops before creating anything, with one message naming every
// variable to set. It sends no web traffic: it runs in the lighttpd + LongPolling run of
// the matrix only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, transportName, waitFor } from './stack.mjs';

const execFileP = promisify(execFile);
const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
const skip = (web !== 'lighttpd' || transportName !== 'LongPolling') &&
	`database only: runs with lighttpd + LongPolling (this run: ${web} + ${transportName})`;
const pgPrivate = path.join(repoRoot, 'deploy/scripts/pg-private.sh');
// The migrations after the fixture's 008, in the order migrate.sh applies them.
const NEWER = fs.readdirSync(path.join(repoRoot, 'sql/migrations'))
	.filter((f) => /^[0-9].*\.sql$/.test(f) && f > '008_classic.sql').sort();
const LATEST = NEWER.at(-1);
const bin = path.resolve(repoRoot, process.env.POLLHUB_BIN || 'build/pollhub');

/** The one version: the #define of common/version.h. */
const version = fs.readFileSync(path.join(repoRoot, 'common/version.h'), 'utf8')
	.match(/^#define POLLHUB_VERSION "([^"]+)"$/m)?.[1];

/**
 * The first inline code span of README.md's paragraph that starts with `marker` and
 * matching `re` (a command, not the `make run` beside it), line breaks read as blanks.
 */
function readmeSpan(readme, marker, re) {
	const at = readme.indexOf(`\n${marker}`);
	assert.ok(at >= 0, `README.md has a paragraph ${marker}`);
	const para = readme.slice(at + 1).split(/\n\s*\n/)[0];
	const span = [...para.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\s+/g, ' ').trim()).find((c) => re.test(c));
	assert.ok(span, `a code span matching ${re} in ${marker}`);
	return span;
}

/** A shell as a newcomer's: none of the test run's database settings. */
function cleanEnv(extra = {}) {
	const env = { ...process.env, ...extra };
	for (const k of Object.keys(env))
		if (/^PG/.test(k) && !(k in extra)) delete env[k];
	if (!('POLLHUB_DATABASE' in extra)) delete env.POLLHUB_DATABASE;
	return env;
}

describe('a newcomer follows the README: version, psql steps, migrate.sh naming its target', { timeout: 120000, skip }, () => {
	const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
	let work, pgDir, sockDir, connectStep, upgradeStep;
	// psql against the private cluster, as the cluster's superuser.
	const psql = (db, sql) => execFileSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql],
		{ encoding: 'utf8', env: cleanEnv({ PGHOST: sockDir, PGPORT: '5432', PGUSER: 'postgres' }) }).trim();
	// A README step (or several, one per line) in bash in the checkout-like directory.
	const sh = (script, extra = {}, input = '') => new Promise((resolve) => {
		const child = execFile('bash', ['-c', script], { cwd: work, env: cleanEnv(extra) },
			(err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
		child.stdin.end(input);
	});
	const state = () => ({
		postgresSchema: psql('postgres', `SELECT count(*) FROM pg_namespace WHERE nspname = 'pollhub'`),
		databases: psql('postgres', `SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database`),
		pollhubAt: psql('pollhub', 'SELECT max(name) FROM pollhub.schema_migrations'),
	});

	before(() => {
		assert.ok(version, 'common/version.h defines POLLHUB_VERSION');
		connectStep = readmeSpan(readme, '**Connect.**', /pg-private\.sh env \.run\/pg/);
		upgradeStep = readmeSpan(readme, '**Upgrade the schema**', /migrate\.sh/);
		// Short, under /tmp (a unix socket path stays under 100 bytes); as root the cluster
		// runs as postgres, which must be able to enter it.
		work = fs.mkdtempSync('/tmp/ph-nc-');
		fs.chmodSync(work, 0o755);
		for (const d of ['deploy', 'sql', 'common']) fs.symlinkSync(path.join(repoRoot, d), path.join(work, d));
		pgDir = path.join(work, '.run', 'pg');
		sockDir = path.join(pgDir, 'sock');
		execFileSync('bash', [pgPrivate, 'start', pgDir], { stdio: 'ignore', env: cleanEnv({ PGPORT_PRIVATE: '5432' }) });
		// What `make run` left, one release ago: its roles, and the database pollhub at 008.
		psql('postgres', 'CREATE ROLE pollhub_app LOGIN');
		psql('postgres', 'CREATE ROLE pollhub_admin NOLOGIN');
		psql('postgres', 'CREATE DATABASE pollhub');
		execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'pollhub', '-f',
			path.join(repoRoot, 'tests/sql/fixtures/pollhub-008.sql')],
		{ stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv({ PGHOST: sockDir, PGPORT: '5432', PGUSER: 'postgres' }) });
		assert.equal(state().pollhubAt, '008_classic.sql');
	});
	after(() => {
		if (!work) return;
		try { execFileSync('bash', [pgPrivate, 'stop', pgDir], { stdio: 'ignore' }); } catch { /* not running */ }
		fs.rmSync(work, { recursive: true, force: true });
	});

	it('pollhub --version prints the version of common/version.h and exits 0', () => {
		const out = execFileSync(bin, ['--version'], { encoding: 'utf8', env: cleanEnv() });
		assert.equal(out, `pollhub ${version}\n`);
	});

	it('migrate.sh with no database named refuses, says what to set, and changes nothing', async () => {
		const before = state();
		// The shell the issue describes (Connect's variables as they were: the cluster's host,
		// port and user, no database), then the upgrade step.
		const r1 = await sh(`${connectStep}; unset PGDATABASE\n${upgradeStep}`);
		assert.notEqual(r1.code, 0, `refused (exit ${r1.code}); stdout: ${r1.stdout}`);
		assert.match(r1.stderr, /no database named: neither POLLHUB_DATABASE nor PGDATABASE is set/);
		assert.match(r1.stderr, /Nothing was changed/);
		assert.match(r1.stderr, /PGDATABASE=NAME/);
		assert.match(r1.stderr, /--db NAME/);
		assert.doesNotMatch(r1.stdout, /applied|target/, 'nothing applied, no target');
		// A conninfo without dbname (and no PGDATABASE) is no better.
		const r2 = await sh(upgradeStep, { POLLHUB_DATABASE: `host=${sockDir} port=5432 user=postgres` });
		assert.notEqual(r2.code, 0);
		assert.match(r2.stderr, /POLLHUB_DATABASE has no dbname and PGDATABASE is not set/);
		assert.doesNotMatch(r2.stderr, new RegExp(sockDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
			'the conninfo (it may hold a password) is not echoed');
		assert.deepEqual(state(), before, 'no schema in postgres, no database created, pollhub untouched');
	});

	it("the README's Connect and Upgrade steps, as written, name and migrate make run's database", async () => {
		// Connect as written (its psql reads an empty stdin and ends), then the upgrade.
		const r = await sh(`${connectStep}\n${upgradeStep}`);
		assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
		const lines = r.stdout.trim().split('\n');
		assert.equal(lines[0], `migrate.sh: target: database "pollhub" on host ${sockDir} port 5432 as role postgres (at 008_classic.sql)`,
			'the target first, before any change');
		assert.deepEqual(lines.slice(1, 1 + NEWER.length), NEWER.map((m) => `migrate.sh: applied ${m}`));
		assert.match(lines[1 + NEWER.length], new RegExp(`^migrate\\.sh: functions applied \\(\\d+ files\\); SELECT pollhub\\.version\\(\\) says ${version.replace(/\./g, '\\.')}$`));
		assert.equal(lines.length, 2 + NEWER.length, r.stdout);
		const s = state();
		assert.equal(s.pollhubAt, LATEST);
		assert.equal(s.postgresSchema, '0', 'nothing went into the database postgres');
		assert.equal(psql('pollhub', `SELECT title FROM pollhub.meetings WHERE group_name = 'up'`), 'Kept', 'the data stayed');

		// The Connect step whole (psql included), with a query on its stdin: the version from SQL.
		const c = await sh(connectStep, {}, 'SELECT pollhub.version();\n');
		assert.equal(c.code, 0, c.stderr);
		assert.match(c.stdout, new RegExp(`^\\s*${version.replace(/\./g, '\\.')}\\s*$`, 'm'), c.stdout);

		// Run again: the same target, now up to date, nothing applied.
		const again = await sh(`${connectStep}\n${upgradeStep}`);
		assert.equal(again.code, 0, again.stderr);
		assert.match(again.stdout, new RegExp(`^migrate\\.sh: target: database "pollhub" .* \\(at ${LATEST.replace(/\./g, '\\.')}\\)$`, 'm'));
		assert.doesNotMatch(again.stdout, /applied 0/);
	});

	it('--db NAME names the database; a missing one is not created', async () => {
		const r = await sh('deploy/scripts/migrate.sh --db pollhub', { PGHOST: sockDir, PGPORT: '5432', PGUSER: 'postgres' });
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, new RegExp(`^migrate\\.sh: target: database "pollhub" on host .* as role postgres \\(at ${LATEST.replace(/\./g, '\\.')}\\)$`, 'm'));
		const before = state();
		const m = await sh('deploy/scripts/migrate.sh --db nosuch', { PGHOST: sockDir, PGPORT: '5432', PGUSER: 'postgres' });
		assert.notEqual(m.code, 0);
		assert.match(m.stderr, /database "nosuch" does not exist/);
		assert.match(m.stderr, /nothing was changed/);
		assert.deepEqual(state(), before);
	});

	it('WEB=apache make run in a checkout under a 0700 directory stops at once, naming every variable, creating no cluster', {
		skip: process.getuid() !== 0 && 'as root only (Apache then serves as www-data)',
	}, async () => {
		// A checkout under a 0700 directory (as under /root): its own deploy/www (the docroot)
		// and .run; the scripts and npm packages are this tree's, through links.
		const locked = fs.mkdtempSync('/tmp/ph-nc7-');
		fs.chmodSync(locked, 0o700);
		const checkout = path.join(locked, 'pollhub');
		try {
			fs.mkdirSync(path.join(checkout, 'deploy', 'www'), { recursive: true });
			fs.symlinkSync(path.join(repoRoot, 'deploy/scripts'), path.join(checkout, 'deploy/scripts'));
			fs.symlinkSync(path.join(repoRoot, 'deploy/www/node_modules'), path.join(checkout, 'deploy/www/node_modules'));
			fs.copyFileSync(path.join(repoRoot, 'deploy/www/index.html'), path.join(checkout, 'deploy/www/index.html'));
			const r = await new Promise((resolve) => execFile('bash', [path.join(checkout, 'deploy/scripts/run.sh')], {
				cwd: checkout, env: cleanEnv({ WEB: 'apache', PORT: '1', POLLHUB_BIN: bin }),
			}, (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr })));
			assert.equal(r.code, 1, `stopped: ${r.stdout}${r.stderr}`);
			assert.match(r.stderr, /www-data/);
			assert.match(r.stderr, new RegExp(`the run directory ${checkout}/\\.run`));
			assert.match(r.stderr, new RegExp(`the docroot ${checkout}/deploy/www`));
			assert.match(r.stderr, /Nothing was started, no cluster created/);
			const line = r.stderr.split('\n').find((l) => /make run$/.test(l));
			assert.ok(line, `one command line to run:\n${r.stderr}`);
			const set = Object.fromEntries([...line.matchAll(/(POLLHUB_\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
			assert.deepEqual(Object.keys(set).sort(), ['POLLHUB_DOCROOT', 'POLLHUB_PGDIR', 'POLLHUB_RUNDIR']);
			assert.match(r.stderr, new RegExp(`cluster will be in ${set.POLLHUB_PGDIR}\\)`), 'says where the cluster goes');
			for (const [k, dir] of Object.entries(set)) assert.ok(!fs.existsSync(dir), `${k}: ${dir} not created`);
			assert.ok(!fs.existsSync(path.join(checkout, '.run', 'pg')), 'no cluster in the checkout');
			assert.doesNotMatch(r.stdout, /created cluster|PostgreSQL running/);
		} finally {
			fs.rmSync(locked, { recursive: true, force: true });
		}
	});

	it('the responder says its version in its ready line', async () => {
		const sock = path.join(work, 'pollhub.sock');
		const child = spawn(bin, [], {
			env: cleanEnv({
				POLLHUB_DATABASE: `host=${sockDir} port=5432 user=pollhub_app dbname=pollhub`,
				POLLHUB_SOCKET: sock,
				LSAN_OPTIONS: `suppressions=${path.join(repoRoot, 'tests/lsan.supp')}:print_suppressions=0`,
			}),
			stdio: ['ignore', 'ignore', 'pipe'],
		});
		let log = '';
		child.stderr.on('data', (d) => { log += d; });
		const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
		try {
			await waitFor(() => / ready: /.test(log) || child.exitCode !== null, 15000, 'the ready line');
			assert.match(log, new RegExp(` ready: pollhub ${version.replace(/\./g, '\\.')}, \\d+ worker threads`), log);
		} finally {
			child.kill('SIGTERM');
		}
		const { code } = await exited;
		assert.equal(code, 0, `the responder stopped cleanly:\n${log}`);
	});
});
