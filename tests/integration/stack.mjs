// One private pollhub stack per test file: a fresh database in the PostgreSQL cluster
// named by PGHOST/PGPORT/PGUSER (tests/run-integration.sh starts it), the responder
// (build/pollhub, or POLLHUB_BIN) on a unix socket, and lighttpd in front of it on a
// free port of 127.0.0.1. Plus helpers for real @microsoft/signalr clients.
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import signalR from '@microsoft/signalr';

export { signalR };

const execFileP = promisify(execFile);

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RS = '\x1e';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Children still alive when the test process exits are killed (a crashed test file
// must not leave a lighttpd holding a port or a responder holding a socket).
const live = new Set();
process.on('exit', () => {
	for (const child of live) {
		try { child.kill('SIGKILL'); } catch { /* already gone */ }
	}
});

/** Resolves when pred() returns a truthy value (returned), rejects after ms. */
export async function waitFor(pred, ms = 5000, what = 'condition') {
	const deadline = Date.now() + ms;
	for (;;) {
		const v = await pred();
		if (v) return v;
		if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		await sleep(25);
	}
}

function pgEnv() {
	const { PGHOST, PGPORT, PGUSER } = process.env;
	if (!PGHOST || !PGPORT || !PGUSER)
		throw new Error('PGHOST/PGPORT/PGUSER are not set: run the suite with `bash tests/run-integration.sh`');
	return { PGHOST, PGPORT, PGUSER };
}

function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

function canConnect(port) {
	return new Promise((resolve) => {
		const s = net.connect({ port, host: '127.0.0.1' });
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => { s.destroy(); resolve(false); });
	});
}

function tail(file, lines = 30) {
	try {
		const text = fs.readFileSync(file, 'utf8').trimEnd();
		return text.split('\n').slice(-lines).join('\n');
	} catch {
		return '(no log)';
	}
}

/** Spawns cmd with stdout+stderr appended to logFile; tracks its exit. */
function launch(cmd, args, env, logFile) {
	const fd = fs.openSync(logFile, 'a');
	let child;
	try {
		child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd], cwd: repoRoot });
	} finally {
		fs.closeSync(fd);
	}
	const proc = { child, exited: null, name: path.basename(cmd) };
	proc.exitPromise = new Promise((resolve) => {
		child.once('exit', (code, signal) => {
			live.delete(child);
			proc.exited = { code, signal };
			resolve(proc.exited);
		});
		child.once('error', (err) => {
			live.delete(child);
			proc.exited = { code: null, signal: null, error: err };
			resolve(proc.exited);
		});
	});
	live.add(child);
	return proc;
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
async function terminate(proc) {
	if (!proc) return;
	proc.stopping = true;
	if (proc.exited) return;
	proc.child.kill('SIGTERM');
	const t = setTimeout(() => { if (!proc.exited) proc.child.kill('SIGKILL'); }, 3000);
	await proc.exitPromise;
	clearTimeout(t);
}

/**
 * Starts a stack. opts.env: extra environment for the responder (POLLHUB_POLL_TIMEOUT, ...).
 * Returns { url, hubUrl, dbName, runDir, restartResponder, stopResponder, startResponder,
 *           psql, logs, dumpLogs, guard, stop }.
 */
export async function startStack(opts = {}) {
	const pg = pgEnv();
	const bin = path.resolve(repoRoot, process.env.POLLHUB_BIN || 'build/pollhub');
	if (!fs.existsSync(bin)) throw new Error(`${bin} does not exist; build it with \`make\``);
	const hubPath = '/meetings';
	const dbName = `ph_${crypto.randomBytes(6).toString('hex')}`;
	const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-run-'));
	const socket = path.join(runDir, 'fcgi.sock');
	const responderLog = path.join(runDir, 'pollhub.log');
	const lighttpdLog = path.join(runDir, 'lighttpd.out');
	const lighttpdErrorLog = path.join(runDir, 'lighttpd-error.log');
	const baseEnv = { ...process.env, ...pg };
	delete baseEnv.PGDATABASE;
	delete baseEnv.POLLHUB_DATABASE;

	let responder = null;
	let lighttpd = null;
	const retired = [];	// responders stopped by stopResponder()
	let dbCreated = false;
	let port = 0;

	const psql = async (sql) => {
		const { stdout } = await execFileP('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', dbName, '-c', sql], { env: baseEnv, maxBuffer: 64 << 20 });
		return stdout.replace(/\n$/, '');
	};

	const logs = () =>
		`--- pollhub stderr (${responderLog}) ---\n${tail(responderLog)}\n` +
		`--- lighttpd output ---\n${tail(lighttpdLog, 10)}\n` +
		`--- lighttpd error log ---\n${tail(lighttpdErrorLog, 10)}`;

	const startResponder = async () => {
		if (responder && !responder.exited) throw new Error('responder already running');
		fs.rmSync(socket, { force: true });
		const env = {
			...baseEnv,
			POLLHUB_SOCKET: socket,
			POLLHUB_DATABASE: `host=${pg.PGHOST} port=${pg.PGPORT} user=${pg.PGUSER} dbname=${dbName}`,
			...(opts.env || {}),
		};
		responder = launch(bin, [], env, responderLog);
		await waitFor(() => {
			if (responder.exited)
				throw new Error(`responder exited (${JSON.stringify(responder.exited)}) before listening\n${logs()}`);
			return fs.existsSync(socket);
		}, 15000, `the responder's socket ${socket}`);
		// lighttpd may have marked the backend down while it was away: wait until a
		// request gets through to the responder (a poll without id is its 400).
		if (lighttpd && !lighttpd.exited) await waitReachable();
	};

	const stopResponder = async () => {
		const p = responder;
		if (p && p.exited && !p.stopping)
			problems.push(`responder exited unexpectedly: ${JSON.stringify(p.exited)}`);
		await terminate(p);
		if (p) retired.push(p);
	};

	const restartResponder = async () => {
		await stopResponder();
		await startResponder();
	};

	const waitReachable = () => waitFor(async () => {
		if (lighttpd.exited)
			throw new Error(`lighttpd exited (${JSON.stringify(lighttpd.exited)})\n${logs()}`);
		if (!(await canConnect(port))) return false;
		try {
			const r = await fetch(`http://127.0.0.1:${port}${hubPath}`);
			await r.arrayBuffer();
			return r.status === 400;
		} catch {
			return false;
		}
	}, 15000, 'lighttpd to reach the responder');

	// Problems of the responder that no request saw: a crash between requests, or a
	// sanitizer report (the ASan build of `make integration`). stop() throws them.
	const problems = [];
	const checkResponder = () => {
		let text = '';
		try { text = fs.readFileSync(responderLog, 'utf8'); } catch { /* none */ }
		const m = text.match(/ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:/);
		if (m) problems.push(`sanitizer report in the responder's log (${m[0]})`);
	};

	const stop = async () => {
		await terminate(lighttpd);
		for (const p of [responder, ...retired])
			if (p && p.exited && !p.stopping)
				problems.push(`responder exited unexpectedly: ${JSON.stringify(p.exited)}`);
		await terminate(responder);
		checkResponder();
		if (problems.length) dumpLogs(problems.join('; '));
		if (dbCreated) {
			try {
				await execFileP('psql', ['-X', '-q', '-d', 'postgres', '-c',
					`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`], { env: baseEnv });
			} catch (e) {
				console.error(`stack: could not drop ${dbName}: ${e.message}`);
			}
		}
		if (!process.env.POLLHUB_KEEP_LOGS && !problems.length) fs.rmSync(runDir, { recursive: true, force: true });
		if (problems.length) throw new Error(`stack ${dbName}: ${problems.join('; ')} (logs kept in ${runDir})`);
	};

	const dumpLogs = (why = '') => {
		console.error(`\n===== stack ${dbName} logs${why ? ` (${why})` : ''} =====\n${logs()}\n`);
	};

	// Wraps a test body: on failure the tails of both children's logs are printed.
	const guard = (fn) => async (...args) => {
		try {
			return await fn(...args);
		} catch (e) {
			dumpLogs(e && e.message ? e.message.split('\n')[0].slice(0, 200) : 'test failed');
			throw e;
		}
	};

	try {
		try {
			await execFileP('bash', [path.join(repoRoot, 'deploy/scripts/migrate.sh'), '--create-db', dbName],
				{ env: baseEnv, cwd: repoRoot });
		} catch (e) {
			throw new Error(`migrate.sh --create-db ${dbName} failed: ${e.stderr || e.message}`);
		}
		dbCreated = true;
		await startResponder();

		port = await freePort();
		lighttpd = launch('lighttpd', ['-D', '-f', path.join(repoRoot, 'deploy/lighttpd/pollhub.conf')], {
			...baseEnv,
			POLLHUB_PORT: String(port),
			POLLHUB_BIND: '127.0.0.1',
			POLLHUB_RUNDIR: runDir,
			POLLHUB_DOCROOT: path.join(repoRoot, 'deploy/www'),
			POLLHUB_FCGI_SOCKET: socket,
			POLLHUB_HUB_PATH: hubPath,
		}, lighttpdLog);
		await waitReachable();
	} catch (e) {
		dumpLogs('start failed');
		await stop();
		throw e;
	}

	const url = `http://127.0.0.1:${port}`;
	return {
		url, hubUrl: url + hubPath, dbName, runDir, port,
		restartResponder, stopResponder, startResponder, psql, logs, dumpLogs, guard, stop,
	};
}

/**
 * A push collector: records every server→client invocation of the given targets.
 * Register it before start() (connect() does) so nothing can be missed.
 */
export function collector(conn, targets = ['create', 'update', 'destroy']) {
	const events = [];
	// The handler must return undefined: a value would be a "client result", which the
	// client logs as an error for a push without invocationId.
	for (const t of targets) conn.on(t, (...args) => { events.push({ target: t, args, at: Date.now() }); });
	return {
		events,
		of: (target) => events.filter((e) => e.target === target),
		payloads: (target) => events.filter((e) => e.target === target).map((e) => e.args[0]),
		count: (target) => (target ? events.filter((e) => e.target === target).length : events.length),
		clear: () => { events.length = 0; },
	};
}

/** The transport under test: env POLLHUB_TEST_TRANSPORT (LongPolling by default). */
export const transportName = process.env.POLLHUB_TEST_TRANSPORT || 'LongPolling';
if (!(transportName in signalR.HttpTransportType))
	throw new Error(`POLLHUB_TEST_TRANSPORT: unknown transport ${transportName}`);

/**
 * A started HubConnection over opts.transport (a name; default: the transport under
 * test). opts.handlers: { name: fn } registered before start; opts.collect (default
 * true): attach conn.pushes = collector(conn).
 */
export async function connect(hubUrl, opts = {}) {
	const { handlers = {}, collect = true, logLevel = signalR.LogLevel.Warning } = opts;
	const transport = signalR.HttpTransportType[opts.transport || transportName];
	const conn = new signalR.HubConnectionBuilder()
		.withUrl(hubUrl, { transport })
		.configureLogging(logLevel)
		.build();
	for (const [name, fn] of Object.entries(handlers)) conn.on(name, fn);
	if (collect) conn.pushes = collector(conn);
	await conn.start();
	return conn;
}

/** Stops every connection given, ignoring failures (for finally blocks). */
export async function stopAll(...conns) {
	await Promise.all(conns.flat().filter(Boolean).map((c) => c.stop().catch(() => {})));
}
