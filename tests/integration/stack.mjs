// One private pollhub stack per test file: a fresh database in the PostgreSQL cluster
// named by PGHOST/PGPORT/PGUSER (tests/run-integration.sh starts it), the responder
// (build/pollhub, or POLLHUB_BIN) on a unix socket, and a web server in front of it on
// a free port of 127.0.0.1: lighttpd or Apache (mod_proxy_fcgi), chosen by opts.web or
// env POLLHUB_TEST_WEB. Plus helpers for real @microsoft/signalr clients.
import { spawn, execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
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
/** One HTTP request: { status, body } (text), whatever the status. */
export function request(url, { method = 'GET', body } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end(body);
	});
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Children still alive when the test process exits are killed (a crashed test file
// must not leave a web server holding a port or a responder holding a socket). Apache
// gets SIGTERM: its parent then stops its own children, which SIGKILL would orphan.
const live = new Set();
process.on('exit', () => {
	for (const child of live) {
		try { child.kill(child.stopSignal || 'SIGKILL'); } catch { /* already gone */ }
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

/** A free TCP port of 127.0.0.1. */
export function freePort() {
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

/** Whether something listens on 127.0.0.1:port. */
export function canConnect(port) {
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

/** The pids of pid's children (empty if none or unknown). */
function childPids(pid) {
	try {
		return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
			.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
	} catch {
		return [];	// ps exits 1 when there are none
	}
}

/**
 * SIGTERM, then SIGKILL after graceMs (3 s); resolves once the process is gone. If it
 * took SIGKILL, the children it had (Apache's workers) are killed too.
 */
async function terminate(proc, graceMs = 3000) {
	if (!proc) return;
	proc.stopping = true;
	if (proc.exited) return;
	const children = proc.ownsChildren ? childPids(proc.child.pid) : [];
	proc.child.kill('SIGTERM');
	let killed = false;
	const t = setTimeout(() => {
		if (proc.exited) return;
		killed = true;
		proc.child.kill('SIGKILL');
	}, graceMs);
	await proc.exitPromise;
	clearTimeout(t);
	if (killed) {
		for (const pid of children) {
			try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
		}
	}
}

/** Apache's binary: Debian puts it in /usr/sbin, which not every PATH has. */
function apacheBin() {
	return fs.existsSync('/usr/sbin/apache2') ? '/usr/sbin/apache2' : 'apache2';
}

// args(auth): auth is true when the site is behind basic authentication (POLLHUB_HTPASSWD
// in the environment, as `make run` does it: lighttpd's auth.sh reads it; Apache needs the
// define as well).
const webServers = {
	lighttpd: {
		command: () => 'lighttpd',
		args: () => ['-D', '-f', path.join(repoRoot, 'deploy/lighttpd/pollhub.conf')],
		errorLog: 'lighttpd-error.log',
	},
	apache: {
		command: apacheBin,
		args: (auth) => ['-f', path.join(repoRoot, 'deploy/apache/pollhub.conf'), '-DFOREGROUND',
			...(auth ? ['-DPOLLHUB_BASIC_AUTH'] : [])],
		errorLog: 'apache-error.log',
		ownsChildren: true,
		// Its parent waits for children whose workers still wait on the responder
		// (about ten seconds) before killing them.
		graceMs: 15000,
	},
};

/** The value of an Authorization header for HTTP basic authentication. */
export function basicAuth(user, password) {
	return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

// The users and passwords of every file makeHtpasswd wrote (path -> [[user, password]]):
// startStack takes its readiness probe's credentials from here.
const htpasswdUsers = new Map();
const htpasswdDirs = new Set();
process.on('exit', () => {
	for (const dir of htpasswdDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Writes an htpasswd file of users ({ name: password }) with Apache's htpasswd, in bcrypt
 * (-B: the format both lighttpd and Apache read), in a temporary directory that Apache's
 * www-data can read; returns its path. The directory is removed when the process exits.
 * opts.format: another htpasswd option letter ('m' apr1, 's' SHA-1, 'p' plain text, ...).
 */
export function makeHtpasswd(users, opts = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-htpasswd-'));
	fs.chmodSync(dir, 0o755);
	htpasswdDirs.add(dir);
	const file = path.join(dir, 'htpasswd');
	const format = opts.format || 'B';
	// One entry per user, written by us: htpasswd -nb prints "user:hash" (the password on its
	// command line is fine for a test's throwaway passwords).
	const lines = Object.entries(users).map(([user, password]) =>
		execFileSync('htpasswd', [`-nb${format}`, ...(format === 'B' ? ['-C', '4'] : []), user, password],
			{ encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
	fs.writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o644 });
	htpasswdUsers.set(file, Object.entries(users));
	return file;
}

/**
 * Starts a stack. opts.env: extra environment for the responder (POLLHUB_POLL_TIMEOUT, ...).
 * opts.web: 'lighttpd' or 'apache' (default: env POLLHUB_TEST_WEB, else lighttpd).
 * opts.pg: { PGHOST, PGPORT, PGUSER } of another cluster than the run's (a test that
 * restarts PostgreSQL uses its own).
 * opts.docroot: the static files (default deploy/www); symlinks in it are followed. Run
 * as root, Apache serves it as www-data, which must be able to read it.
 * opts.responders: how many responder processes (default 1), each on its own socket; the
 * web server round-robins between them (lighttpd only). start/stop/restartResponder(i)
 * act on responder i, or on all of them without an argument; killResponder(i) SIGKILLs it.
 * reloadResponder(i) restarts responder i in place (SIGHUP) and waits until it is ready.
 * opts.htpasswd: an htpasswd file (absolute; makeHtpasswd makes one): the web server asks
 * for a user from it for the whole site, page and hub, with the configuration `make run`
 * uses (POLLHUB_HTPASSWD; Apache with -DPOLLHUB_BASIC_AUTH). The readiness checks then
 * authenticate as opts.probeUser ([user, password]; default: the first user makeHtpasswd
 * wrote to that file); stack.authHeaders holds that user's Authorization header.
 * opts.bin: another responder executable than POLLHUB_BIN (tests/integration/fcgiecho.mjs).
 * Returns { url, hubUrl, dbName, runDir, port, web, restartResponder, reloadResponder, stopResponder,
 *           startResponder, responderPids, responderThreads, psql, logs, dumpLogs, guard, stop,
 *           authHeaders }.
 */
export async function startStack(opts = {}) {
	const pg = opts.pg || pgEnv();
	const bin = path.resolve(repoRoot, opts.bin || process.env.POLLHUB_BIN || 'build/pollhub');
	if (!fs.existsSync(bin)) throw new Error(`${bin} does not exist; build it with \`make\``);
	const webName = opts.web || process.env.POLLHUB_TEST_WEB || 'lighttpd';
	const webServer = webServers[webName];
	if (!webServer) throw new Error(`unknown web server '${webName}' (lighttpd or apache)`);
	const docroot = path.resolve(opts.docroot || path.join(repoRoot, 'deploy/www'));
	const hubPath = '/meetings';
	let htpasswd = null;
	const authHeaders = {};
	if (opts.htpasswd) {
		htpasswd = path.resolve(opts.htpasswd);
		const probe = opts.probeUser || (htpasswdUsers.get(htpasswd) || [])[0];
		if (probe) authHeaders.Authorization = basicAuth(...probe);
	}
	const dbName = `ph_${crypto.randomBytes(6).toString('hex')}`;
	const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-run-'));
	// Apache started as root serves as www-data, which must reach the socket in here
	// and read the docroot.
	if (webName === 'apache') {
		fs.chmodSync(runDir, 0o711);
		if (process.getuid() === 0) {
			try {
				execFileSync('runuser', ['-u', 'www-data', '--', 'test', '-r', docroot, '-a', '-x', docroot]);
			} catch {
				fs.rmSync(runDir, { recursive: true, force: true });
				throw new Error(`www-data cannot read ${docroot}, which Apache serves as www-data`);
			}
		}
	}
	const count = opts.responders || 1;
	if (count > 1 && webName !== 'lighttpd') throw new Error('several responders: lighttpd only');
	// Responder i: its socket and its log (the first keeps the historical names).
	const socketOf = (i) => path.join(runDir, i === 0 ? 'fcgi.sock' : `fcgi${i}.sock`);
	const logOf = (i) => path.join(runDir, i === 0 ? 'pollhub.log' : `pollhub${i}.log`);
	const webLog = path.join(runDir, `${webName}.out`);
	const webErrorLog = path.join(runDir, webServer.errorLog);
	const baseEnv = { ...process.env, ...pg };
	delete baseEnv.PGDATABASE;
	delete baseEnv.POLLHUB_DATABASE;

	const responders = new Array(count).fill(null);
	let web = null;
	const retired = [];	// responders stopped by stopResponder()
	let dbCreated = false;
	let port = 0;

	const psql = async (sql) => {
		const { stdout } = await execFileP('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', dbName, '-c', sql], { env: baseEnv, maxBuffer: 64 << 20 });
		return stdout.replace(/\n$/, '');
	};

	const logs = () =>
		responders.map((_, i) => `--- pollhub stderr (${logOf(i)}) ---\n${tail(logOf(i))}\n`).join('') +
		`--- ${webName} output ---\n${tail(webLog, 10)}\n` +
		`--- ${webName} error log ---\n${tail(webErrorLog, 10)}`;

	const all = (fn) => async (i) => {
		if (i !== undefined) return fn(i);
		for (let k = 0; k < count; k++) await fn(k);
	};

	const startResponder = all(async (i) => {
		if (responders[i] && !responders[i].exited) throw new Error(`responder ${i} already running`);
		const socket = socketOf(i);
		fs.rmSync(socket, { force: true });
		const env = {
			...baseEnv,
			POLLHUB_SOCKET: socket,
			// The sanitizer build checks for leaks when it stops (see fcgi/main.c).
			LSAN_OPTIONS: `suppressions=${path.join(repoRoot, 'tests/lsan.supp')}:print_suppressions=0`,
			// The least-privilege role the migrations create (sql/migrations/007_admin.sql).
			POLLHUB_DATABASE: `host=${pg.PGHOST} port=${pg.PGPORT} user=pollhub_app dbname=${dbName}`,
			...(opts.env || {}),
		};
		const p = launch(bin, [], env, logOf(i));
		responders[i] = p;
		await waitFor(() => {
			if (p.exited)
				throw new Error(`responder exited (${JSON.stringify(p.exited)}) before listening\n${logs()}`);
			return fs.existsSync(socket);
		}, 15000, `the responder's socket ${socket}`);
		// The web server may have marked the backend down while it was away: wait until
		// a request gets through to the responder (a poll without id is its 400).
		if (web && !web.exited) await waitReachable();
	});

	const stopResponder = all(async (i) => {
		const p = responders[i];
		if (p && p.exited && !p.stopping)
			problems.push(`responder exited unexpectedly: ${JSON.stringify(p.exited)}`);
		await terminate(p);
		if (p) retired.push(p);
	});

	// SIGKILL, as a crash would: no shutdown, held requests cut, nothing cleaned up.
	const killResponder = all(async (i) => {
		const p = responders[i];
		if (!p || p.exited) throw new Error(`responder ${i} is not running`);
		p.stopping = true;
		p.child.kill('SIGKILL');
		await p.exitPromise;
		retired.push(p);
	});

	const restartResponder = all(async (i) => {
		await stopResponder(i);
		await startResponder(i);
	});

	// Restart in place (SIGHUP): the same pid re-executes its binary, handing its
	// listening socket and open streams to the new image; resolves once it is ready.
	const readyCount = (i) => {
		try { return (fs.readFileSync(logOf(i), 'utf8').match(/ ready: /g) || []).length; } catch { return 0; }
	};
	const reloadResponder = all(async (i) => {
		const p = responders[i];
		if (!p || p.exited) throw new Error(`responder ${i} is not running`);
		const before = readyCount(i);
		p.child.kill('SIGHUP');
		await waitFor(() => {
			if (p.exited) throw new Error(`responder exited (${JSON.stringify(p.exited)}) on SIGHUP\n${logs()}`);
			return readyCount(i) > before;
		}, 15000, 'the responder to restart in place');
	});

	/** The pids of the running responders (for tests that count requests per process). */
	const responderPids = () => responders.map((p) => p && !p.exited ? p.child.pid : null);

	/** How many threads responder i (default 0) has now: its /proc/<pid>/task entries. */
	const responderThreads = (i = 0) => {
		const p = responders[i];
		if (!p || p.exited) throw new Error(`responder ${i} is not running`);
		return fs.readdirSync(`/proc/${p.child.pid}/task`).length;
	};

	const waitReachable = () => waitFor(async () => {
		if (web.exited)
			throw new Error(`${webName} exited (${JSON.stringify(web.exited)})\n${logs()}`);
		if (!(await canConnect(port))) return false;
		try {
			const r = await fetch(`http://127.0.0.1:${port}${hubPath}`, { headers: authHeaders });
			await r.arrayBuffer();
			// Behind basic authentication with no known user, the web server's 401 is all
			// there is to see.
			if (htpasswd && !authHeaders.Authorization) return r.status === 401;
			return r.status === 400;
		} catch {
			return false;
		}
	}, 15000, `${webName} to reach the responder`);

	// Problems of the responder that no request saw: a crash between requests, or a
	// sanitizer report (the ASan build of `make integration`). stop() throws them.
	const problems = [];
	const checkResponder = () => {
		for (let i = 0; i < count; i++) {
			let text = '';
			try { text = fs.readFileSync(logOf(i), 'utf8'); } catch { /* none */ }
			const m = text.match(/ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:/);
			if (m) problems.push(`sanitizer report in the log of responder ${i} (${m[0]})`);
		}
	};

	const stop = async () => {
		for (const p of [...responders, ...retired])
			if (p && p.exited && !p.stopping)
				problems.push(`responder exited unexpectedly: ${JSON.stringify(p.exited)}`);
		// The responder first: that ends the requests it still holds, which would keep
		// Apache's workers, and so Apache, from stopping for about ten seconds.
		for (const p of responders) await terminate(p);
		await terminate(web, webServer.graceMs);
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
		const webEnv = {
			...baseEnv,
			POLLHUB_PORT: String(port),
			POLLHUB_BIND: '127.0.0.1',
			POLLHUB_RUNDIR: runDir,
			POLLHUB_DOCROOT: docroot,
			POLLHUB_FCGI_SOCKET: responders.map((_, i) => socketOf(i)).join(' '),
			POLLHUB_HUB_PATH: hubPath,
		};
		// Only this stack's own choice: not one inherited from the test run's environment.
		delete webEnv.POLLHUB_HTPASSWD;
		if (htpasswd) webEnv.POLLHUB_HTPASSWD = htpasswd;
		web = launch(webServer.command(), webServer.args(!!htpasswd), webEnv, webLog);
		web.name = webName;
		if (webServer.ownsChildren) {
			web.ownsChildren = true;
			web.child.stopSignal = 'SIGTERM';
		}
		await waitReachable();
	} catch (e) {
		dumpLogs('start failed');
		await stop();
		throw e;
	}

	const url = `http://127.0.0.1:${port}`;
	return {
		url, hubUrl: url + hubPath, dbName, runDir, port, web: webName,
		restartResponder, reloadResponder, stopResponder, startResponder, responderPids, responderThreads,
		psql, logs, dumpLogs, guard, stop, killResponder, authHeaders,
	};
}

/**
 * An interactive psql on database dbName whose stdin stays open (an administrator with a
 * transaction open), named appName in pg_stat_activity.
 */
export function adminSession(dbName, appName) {
	const env = { ...process.env, PGAPPNAME: appName };
	delete env.PGDATABASE;
	const child = spawn('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', dbName], { env, stdio: ['pipe', 'pipe', 'pipe'] });
	let out = '';
	let exited = null;
	for (const s of [child.stdout, child.stderr]) {
		s.setEncoding('utf8');
		s.on('data', (c) => { out += c; });
	}
	const exit = new Promise((resolve) => child.once('exit', (code, signal) => { exited = { code, signal }; resolve(); }));
	return {
		get output() { return out; },
		/** Writes sql and waits until psql's output after it matches re. */
		async run(sql, re, ms = 5000) {
			const from = out.length;
			child.stdin.write(`${sql}\n`);
			await waitFor(() => {
				if (exited) throw new Error(`psql exited (${JSON.stringify(exited)}): ${out}`);
				return re.test(out.slice(from));
			}, ms, `psql to answer ${re} to ${sql}`);
		},
		async end() {
			if (exited) return;
			child.stdin.end();
			const t = setTimeout(() => child.kill('SIGKILL'), 5000);
			await exit;
			clearTimeout(t);
		},
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
 * true): attach conn.pushes = collector(conn). opts.headers (e.g. stack.authHeaders) and
 * opts.accessTokenFactory go to the client's HTTP options: it sends them with every request.
 */
export async function connect(hubUrl, opts = {}) {
	const { handlers = {}, collect = true, logLevel = signalR.LogLevel.Warning } = opts;
	const transport = signalR.HttpTransportType[opts.transport || transportName];
	const httpOptions = { transport };
	if (opts.headers) httpOptions.headers = opts.headers;
	if (opts.accessTokenFactory) httpOptions.accessTokenFactory = opts.accessTokenFactory;
	const conn = new signalR.HubConnectionBuilder()
		.withUrl(hubUrl, httpOptions)
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

/**
 * A raw server-sent events response (fetch with Accept: text/event-stream) that collects its
 * text as it arrives: { status, headers, text, ended, abort(), done, until(re, ms) }.
 */
export async function openStream(hubUrl, token, headers = {}) {
	const ac = new AbortController();
	const r = await fetch(`${hubUrl}?id=${encodeURIComponent(token)}`, {
		headers: { Accept: 'text/event-stream', ...headers }, signal: ac.signal,
	});
	const s = { status: r.status, headers: r.headers, text: '', ended: false, abort: () => ac.abort() };
	if (r.status !== 200) {
		s.text = await r.text();
		s.ended = true;
		return s;
	}
	const decoder = new TextDecoder();
	s.done = (async () => {
		try {
			for await (const chunk of r.body) s.text += decoder.decode(chunk, { stream: true });
		} catch { /* aborted */ }
		s.ended = true;
	})();
	/** Waits until the collected text matches re. */
	s.until = (re, ms = 5000, what = String(re)) => waitFor(() => re.test(s.text), ms, what);
	return s;
}

/** The data payloads of the complete events in an event stream's text. */
export function sseEvents(text) {
	const out = [];
	for (const block of text.split('\r\n\r\n').slice(0, -1)) {
		const lines = block.split('\r\n').filter((l) => l.startsWith('data: '));
		if (lines.length) out.push(lines.map((l) => l.slice(6)).join('\n'));
	}
	return out;
}
