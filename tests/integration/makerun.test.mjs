// `make run` stopped by a signal to its process group, as a service manager, `timeout` or
// a test harness sends it (issue 10): SIGTERM, SIGINT or SIGHUP, and SIGTERM or SIGINT
// twice 100 ms apart (make forwards a SIGTERM it got to its child; a person presses
// Ctrl-C twice). Afterwards no responder, web server or PostgreSQL it started is left,
// and the port is free. A PostgreSQL that was already running is used and stays
// (README.md, "make run"). Each case starts `make run` with its own port and run
// directory; the cases share one private cluster directory, which each case's `make run`
// starts (the last case starts it first) and must stop. It does not depend on the
// transport: it runs in the LongPolling runs of the matrix only, with that run's web server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, waitFor, sleep, transportName, freePort, canConnect, makeHtpasswd, basicAuth } from './stack.mjs';

const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
const pgPrivate = path.join(repoRoot, 'deploy/scripts/pg-private.sh');
const STOP_MS = 15000;

// Every pid a case recorded, killed when the test process exits, whatever happened.
const recorded = new Set();
process.on('exit', () => {
	for (const pid of recorded) {
		try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
	}
});

/** Alive and not a zombie (an orphan's zombie may wait for a pid 1 that does not reap). */
function alive(pid) {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	} catch {
		return false;
	}
}

/** Every process below root: Map pid -> command name. */
function descendants(root) {
	const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' })
		.split('\n').map((l) => l.trim().split(/\s+/)).filter((r) => r.length >= 3)
		.map(([pid, ppid, ...comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm.join(' ') }));
	const out = new Map();
	let frontier = [root];
	while (frontier.length) {
		const next = [];
		for (const r of rows) {
			if (frontier.includes(r.ppid) && !out.has(r.pid)) {
				out.set(r.pid, r.comm);
				next.push(r.pid);
			}
		}
		frontier = next;
	}
	return out;
}

function readPid(file) {
	try {
		const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
		return n > 0 ? n : null;
	} catch {
		return null;
	}
}

const pg = (cmd, dir) => execFileSync('bash', [pgPrivate, cmd, dir], { encoding: 'utf8' });
const pgRunning = (dir) => {
	try {
		execFileSync('bash', [pgPrivate, 'status', dir], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
};

// As a person's shell would have it: no jobserver of an outer make, no database of the
// test run (make run must start its own), the responder make run builds.
function makeEnv(extra = {}) {
	const env = { ...process.env };
	for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE',
		'POLLHUB_DATABASE', 'POLLHUB_BIN', 'POLLHUB_AUTH', 'POLLHUB_HTPASSWD', 'POLLHUB_WEB_AUTH'])
		delete env[k];
	return { ...env, ...extra };
}

describe(`make run (WEB=${web}) stopped by a signal to its process group`, {
	skip: transportName !== 'LongPolling' && 'transport-independent: runs in the LongPolling runs only',
	timeout: 300000,
}, () => {
	let base;
	before(() => {
		// Short and under /tmp: the cluster's socket path must stay under 100 bytes, and as
		// root the cluster runs as `postgres`, which must enter it (as www-data must, for Apache).
		base = fs.mkdtempSync('/tmp/ph-mr-');
		fs.chmodSync(base, 0o755);
		// Built once here, so that no case's start includes a compile.
		try {
			execFileSync('make', ['--no-print-directory', 'all'], { cwd: repoRoot, encoding: 'utf8', env: makeEnv() });
		} catch (e) {
			throw new Error(`make all failed:\n${`${e.stdout || ''}${e.stderr || ''}`.split('\n').slice(-20).join('\n')}`);
		}
	});
	after(() => {
		if (!base) return;
		try { pg('stop', path.join(base, 'pg')); } catch { /* not running */ }
		fs.rmSync(base, { recursive: true, force: true });
	});

	/**
	 * Starts `make run` in a process group of its own and waits until it serves; fills run
	 * with { child, pgid, port, out, pids: Map pid -> what, pgPid, exited }, every pid it started.
	 * opts.env: more environment for make run; opts.headers: sent with the readiness check
	 * (basic authentication).
	 */
	async function startMakeRun(name, run, opts = {}) {
		const runDir = path.join(base, name);
		fs.mkdirSync(runDir, { mode: 0o755 });
		const pgDir = path.join(base, 'pg');
		const port = await freePort();
		const out = path.join(runDir, 'make-run.out');
		const fd = fs.openSync(out, 'a');
		let child;
		try {
			child = spawn('make', ['--no-print-directory', 'run'], {
				cwd: repoRoot, detached: true, stdio: ['ignore', fd, fd],
				env: makeEnv({ PORT: String(port), WEB: web, POLLHUB_RUNDIR: runDir, POLLHUB_PGDIR: pgDir, ...opts.env }),
			});
		} finally {
			fs.closeSync(fd);
		}
		Object.assign(run, { child, pgid: child.pid, port, out, pgDir, runDir, pids: new Map(), exited: null });
		recorded.add(child.pid);
		run.exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
			recorded.delete(child.pid);
			run.exited = { code, signal };
			resolve(run.exited);
		}));
		const log = () => fs.readFileSync(out, 'utf8');
		await waitFor(async () => {
			if (run.exited) throw new Error(`make run exited (${JSON.stringify(run.exited)}) before serving:\n${log()}`);
			if (!/pollhub: serving /.test(log())) return false;
			try {
				const r = await fetch(`http://127.0.0.1:${port}/`, { headers: opts.headers || {} });
				await r.arrayBuffer();
				return r.status === 200;
			} catch {
				return false;
			}
		}, 90000, `make run to serve on port ${port}`);
		// Everything below make (run.sh, the responder, the web server and its workers),
		// the web server's own pid file, and the postmaster the cluster was started with.
		for (const [pid, comm] of descendants(child.pid)) run.pids.set(pid, comm);
		const webPid = readPid(path.join(runDir, web === 'apache' ? 'apache.pid' : 'lighttpd.pid'));
		if (webPid) run.pids.set(webPid, run.pids.get(webPid) || 'web server (pid file)');
		const pgPid = readPid(path.join(pgDir, 'data', 'postmaster.pid'));
		if (pgPid) run.pgPid = pgPid;
		for (const pid of [...run.pids.keys(), pgPid].filter(Boolean)) recorded.add(pid);
		const comms = [...run.pids.values()];
		assert.ok(comms.includes('pollhub'), `a responder below make run: ${JSON.stringify([...run.pids])}`);
		assert.ok(comms.includes(web === 'apache' ? 'apache2' : 'lighttpd'),
			`a web server below make run: ${JSON.stringify([...run.pids])}`);
		assert.ok(pgPid && alive(pgPid), 'the private PostgreSQL runs');
	}

	/**
	 * Kills by pid whatever a case left (and, if it failed before serving, whatever is below
	 * make by now), then stops the cluster.
	 */
	async function reap(run) {
		if (!run.child) return;
		if (!run.exited) for (const [pid, comm] of descendants(run.child.pid)) run.pids.set(pid, comm);
		for (const pid of [run.child.pid, ...run.pids.keys()]) {
			if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
		}
		if (!run.exited) await Promise.race([run.exitPromise, sleep(2000)]);
		try { pg('stop', run.pgDir); } catch { /* not running */ }
		for (const pid of run.pids.keys()) recorded.delete(pid);
		if (run.pgPid && !alive(run.pgPid)) recorded.delete(run.pgPid);
	}

	/** What is still alive of what run started (postgres included unless reused). */
	const leftovers = (run, withPg) => {
		const left = [...run.pids].filter(([pid]) => alive(pid)).map(([pid, comm]) => `${comm} ${pid}`);
		if (withPg && run.pgPid && alive(run.pgPid)) left.push(`postgres ${run.pgPid}`);
		if (!run.exited) left.push(`make ${run.child.pid}`);
		return left;
	};

	/**
	 * opts.env and opts.headers as for startMakeRun (name: opts.name); opts.whileRunning(run):
	 * checks made while it serves, before the signals.
	 */
	async function stopsEverything(signals, { pgReused = false, ...opts } = {}) {
		const name = opts.name || `c${signals.join('-')}${pgReused ? '-reused' : ''}`.toLowerCase();
		if (pgReused) pg('start', path.join(base, 'pg'));
		const run = {};
		try {
			await startMakeRun(name, run, opts);
			if (opts.whileRunning) await opts.whileRunning(run);
			for (let i = 0; i < signals.length; i++) {
				if (i) await sleep(100);
				process.kill(-run.pgid, signals[i]);
			}
			try {
				await waitFor(async () => leftovers(run, !pgReused).length === 0 && !(await canConnect(run.port)),
					STOP_MS, 'everything make run started to stop');
			} catch {
				const left = leftovers(run, !pgReused);
				throw new Error(`${STOP_MS} ms after ${signals.join(' + ')}: still running: ${left.join(', ') || '(none)'}` +
					`${await canConnect(run.port) ? `; port ${run.port} still answers` : ''}\n` +
					`--- make run output ---\n${fs.readFileSync(run.out, 'utf8').split('\n').slice(-15).join('\n')}`);
			}
			if (pgReused) assert.ok(pgRunning(run.pgDir), 'the PostgreSQL make run found running is still running');
			else assert.ok(!pgRunning(run.pgDir), 'the PostgreSQL make run started is stopped');
		} finally {
			await reap(run);
		}
	}

	it('SIGTERM: stops the responder, the web server and the PostgreSQL it started', () => stopsEverything(['SIGTERM']));
	it('SIGINT (Ctrl-C from a non-terminal): stops everything it started', () => stopsEverything(['SIGINT']));
	it('SIGTERM twice, 100 ms apart (make forwarding the one it got): stops everything', () =>
		stopsEverything(['SIGTERM', 'SIGTERM']));
	it('SIGINT twice, 100 ms apart (Ctrl-C pressed twice): stops everything', () =>
		stopsEverything(['SIGINT', 'SIGINT']));
	it('SIGHUP (its terminal gone): stops everything', () => stopsEverything(['SIGHUP']));
	it('SIGTERM with a PostgreSQL already running: stops the rest, leaves that PostgreSQL running', () =>
		stopsEverything(['SIGTERM'], { pgReused: true }));

	// POLLHUB_AUTH=web-server POLLHUB_HTPASSWD=FILE: the web server asks for a user from FILE
	// for the whole site (docs/AUTH-WEBSERVER.md), and still stops with the rest.
	it('POLLHUB_HTPASSWD: the page and the hub ask for a user; SIGTERM stops everything', () => {
		const htpasswd = makeHtpasswd({ alice: 'alice-pw', bob: 'bob-pw' });
		const headers = { Authorization: basicAuth('alice', 'alice-pw') };
		return stopsEverything(['SIGTERM'], {
			name: 'basic-auth', headers, env: { POLLHUB_AUTH: 'web-server', POLLHUB_HTPASSWD: htpasswd },
			whileRunning: async (run) => {
				const url = `http://127.0.0.1:${run.port}`;
				assert.match(fs.readFileSync(run.out, 'utf8'), /basic authentication for the whole site from /);
				for (const [method, p] of [['GET', '/'], ['POST', '/meetings/negotiate?negotiateVersion=1']]) {
					const r = await fetch(`${url}${p}`, { method });
					await r.arrayBuffer();
					assert.equal(r.status, 401, p);
					assert.match(r.headers.get('www-authenticate') || '', /^Basic /, p);
				}
				const wrong = await fetch(`${url}/`, { headers: { Authorization: basicAuth('alice', 'bob-pw') } });
				await wrong.arrayBuffer();
				assert.equal(wrong.status, 401, 'a wrong password');
				// Through to the hub: a poll without id is the responder's own 400.
				const poll = await fetch(`${url}/meetings`, { headers });
				assert.equal(poll.status, 400, await poll.text());
				// A new cluster grants nothing: alice is refused, and make run said how to grant.
				const neg = await fetch(`${url}/meetings/negotiate?negotiateVersion=1`, { method: 'POST', headers });
				assert.equal(neg.status, 403, await neg.text());
				assert.match(fs.readFileSync(run.out, 'utf8'), /no calendar is granted yet[^]*pollhub\.grant_group\('alice', 'team', 'write'\)/);
			},
		});
	});
});

// POLLHUB_AUTH=web-server POLLHUB_HTPASSWD=FILE make run: the web server it starts asks for
// a user from FILE for the whole site (docs/AUTH-WEBSERVER.md); the combinations it cannot
// serve are refused before anything starts.
describe(`make run (WEB=${web}) with basic authentication`, {
	skip: transportName !== 'LongPolling' && 'transport-independent: runs in the LongPolling runs only',
	timeout: 300000,
}, () => {
	let base;
	before(() => {
		base = fs.mkdtempSync('/tmp/ph-mra-');
		fs.chmodSync(base, 0o755);
		execFileSync('make', ['--no-print-directory', 'all'], { cwd: repoRoot, encoding: 'utf8', env: makeEnv() });
	});
	after(() => {
		if (!base) return;
		try { pg('stop', path.join(base, 'pg')); } catch { /* not running */ }
		fs.rmSync(base, { recursive: true, force: true });
	});

	/** `make run` that must refuse at once: its output; nothing started, no cluster made. */
	async function refused(name, env) {
		const runDir = path.join(base, name);
		const pgDir = path.join(base, `pg-${name}`);
		const port = await freePort();
		let out = '';
		let code = 0;
		try {
			execFileSync('make', ['--no-print-directory', 'run'], {
				cwd: repoRoot, encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'],
				env: makeEnv({ PORT: String(port), WEB: web, POLLHUB_RUNDIR: runDir, POLLHUB_PGDIR: pgDir, ...env }),
			});
		} catch (e) {
			code = e.status;
			out = `${e.stdout || ''}${e.stderr || ''}`;
		}
		assert.notEqual(code, 0, `make run refused:\n${out}`);
		assert.ok(!fs.existsSync(pgDir), 'no cluster created');
		assert.equal(await canConnect(port), false, 'nothing listens');
		return out;
	}

	it('POLLHUB_AUTH=web-server without POLLHUB_HTPASSWD: refused, naming both ways out', async () => {
		const out = await refused('no-file', { POLLHUB_AUTH: 'web-server' });
		assert.match(out, /POLLHUB_AUTH=web-server needs POLLHUB_HTPASSWD=FILE/);
		assert.match(out, /POLLHUB_WEB_AUTH=external/);
	});

	it('POLLHUB_HTPASSWD unreadable, or with a password in plain text: refused with the reason', async () => {
		const missing = path.join(base, 'no-such-htpasswd');
		assert.match(await refused('missing', { POLLHUB_AUTH: 'web-server', POLLHUB_HTPASSWD: missing }),
			new RegExp(`POLLHUB_HTPASSWD: cannot read the file ${missing}`));
		const plain = path.join(base, 'plain-htpasswd');
		fs.writeFileSync(plain, `${execFileSync('htpasswd', ['-nbB', '-C', '4', 'alice', 'a'], { encoding: 'utf8' }).trim()}\nbob:plainpw\n`,
			{ mode: 0o644 });
		assert.match(await refused('plain', { POLLHUB_AUTH: 'web-server', POLLHUB_HTPASSWD: plain }),
			/the password of bob is in plain text or a format neither lighttpd nor Apache reads/);
		assert.match(await refused('no-auth', { POLLHUB_HTPASSWD: plain }),
			/POLLHUB_HTPASSWD is set but POLLHUB_AUTH is 'none'/);
	});
});
