// The process core (issue 11 item 5): the LISTEN connection is health-checked and, when
// lost, reconnected with every waiter drained once (ended by the server, or silent: its
// backend stopped, so the link stays up and nothing answers); accept backs off when the
// process is out of descriptors instead of spinning, and accepts again afterwards; no
// descriptor would be inherited by an exec but those a restart in place opens for it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, sleep, openStream } from './stack.mjs';

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-11-26T10:00:00Z', End: '2026-11-26T10:30:00Z', IsAllDay: false,
});

describe('process core', { timeout: 180000 }, () => {
	let stack;
	before(async () => { stack = await startStack(); });
	after(async () => { await stack?.stop(); });
	const test = (name, opts, fn = opts) =>
		it(name, fn === opts ? {} : opts, async (t) => stack.guard(fn)(t));
	const log = () => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
	const count = (re) => (log().match(re) || []).length;
	// The notifier names its session '<application_name> listen' (common/notify.c).
	const listenBackend = async () => {
		const pid = await stack.psql(`SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND application_name LIKE '% listen'`);
		assert.match(pid, /^\d+$/, `one LISTEN backend (${JSON.stringify(pid)})`);
		return Number(pid);
	};
	/** A create from the writer reaches every listener (within ms). */
	const pushed = async (writer, listeners, title, ms) => {
		const id = (await writer.invoke('create', meeting(title))).ID;
		await waitFor(() => listeners.every((c) => c.pushes.payloads('create').some((p) => p.ID === id)),
			ms, `'${title}' at every listener`);
	};

	test('LISTEN backend terminated: reconnected, waiters drained, pushes arrive', async () => {
		const writer = await connect(stack.hubUrl);
		const listeners = await Promise.all([connect(stack.hubUrl), connect(stack.hubUrl)]);
		try {
			await pushed(writer, listeners, 'Before', 5000);
			const old = await listenBackend();
			const again = count(/notify: listening again/g);
			await stack.psql(`SELECT pg_terminate_backend(${old})`);
			await waitFor(() => count(/notify: listening again/g) > again, 10000, 'the notifier to reconnect');
			assert.notEqual(await listenBackend(), old, 'a new LISTEN backend');
			await pushed(writer, listeners, 'After termination', 5000);
		} finally {
			await stopAll(writer, listeners);
		}
	});

	// SIGSTOP of the backend: TCP (or the unix socket) stays up and quiet, as with a link
	// that died without a word; only the health check's round trip can tell.
	test('LISTEN backend silent: the health check gives up on it and pushes arrive', {
		skip: process.getuid?.() !== 0 && 'needs root to stop the PostgreSQL backend',
	}, async () => {
		const writer = await connect(stack.hubUrl);
		const listeners = await Promise.all([connect(stack.hubUrl), connect(stack.hubUrl)]);
		let old;
		try {
			await pushed(writer, listeners, 'Before silence', 5000);
			old = await listenBackend();
			process.kill(old, 'SIGSTOP');
			const t0 = Date.now();
			// Quiet for 10 s, then 5 s for the round trip: within 15 s and a reconnect.
			await pushed(writer, listeners, 'During silence', 25000);
			const took = Date.now() - t0;
			assert.ok(count(/notify: lost the LISTEN session \(backend pid \d+\): no answer to the health check/g) >= 1,
				'the health check said why');
			assert.ok(took < 20000, `the push took ${took} ms`);
			await pushed(writer, listeners, 'After silence', 5000);
		} finally {
			if (old) {
				try { process.kill(old, 'SIGCONT'); } catch { /* gone */ }
				await stack.psql(`SELECT pg_terminate_backend(${old})`).catch(() => {});
			}
			await stopAll(writer, listeners);
		}
	});

	// What a restart in place would leak: anything not close-on-exec (handoff_exec opens
	// exactly what crosses over, just before the exec). Looked at while clients of both
	// transports hold requests and after the notifier reconnected (tests above).
	test('every descriptor above 2 is close-on-exec', async () => {
		const clients = await Promise.all([connect(stack.hubUrl, { transport: 'LongPolling' }),
			connect(stack.hubUrl, { transport: 'ServerSentEvents' })]);
		try {
			await clients[0].invoke('read');
			const pid = stack.responderPids()[0];
			const leaky = [];
			for (const fd of fs.readdirSync(`/proc/${pid}/fd`).map(Number).filter((n) => n > 2)) {
				let info, target;
				try {
					info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
					target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
				} catch { continue; }	// closed meanwhile
				const flags = parseInt(info.match(/flags:\s+([0-7]+)/)[1], 8);
				if (!(flags & 0o2000000)) leaky.push(`${fd} (${target})`);
			}
			assert.deepEqual(leaky, [], 'descriptors without O_CLOEXEC');
		} finally {
			await stopAll(clients);
		}
	});

	test('out of descriptors: accept backs off (no spin), logs once, accepts again', async () => {
		const pid = stack.responderPids()[0];
		const limits = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').match(/Max open files\s+(\d+)/);
		const soft = Number(limits[1]);
		const hub = stack.hubUrl;
		// Negotiated in parallel, which also opens the pool's connections: while
		// the process is out of descriptors, a request needing a new one would fail.
		// Under load the negotiates may not overlap enough to open them all, so
		// this goes on until PostgreSQL has (nearly) the whole pool (8 by default).
		const tokens = [];
		for (let round = 0; round < 10; round++) {
			tokens.push(...await Promise.all(Array.from({ length: 24 }, async () => {
				const r = await fetch(`${hub}/negotiate?negotiateVersion=1`, { method: 'POST' });
				return (await r.json()).connectionToken;
			})));
			const sessions = Number(await stack.psql(`SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = 'pollhub'`));
			if (sessions >= 8) break;
		}
		tokens.splice(24);
		const cpu = () => {
			const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
			return Number(f[11]) + Number(f[12]);	// utime + stime, in ticks
		};
		const open = fs.readdirSync(`/proc/${pid}/fd`).length;
		const streams = [];
		try {
			execFileSync('prlimit', ['--pid', String(pid), `--nofile=${open + 4}:`]);
			// Each stream holds one FastCGI connection: the limit is reached at the 5th.
			for (const t of tokens) streams.push(openStream(hub, t));
			await waitFor(() => count(/accept: out of file descriptors/g) >= 1, 10000, 'accept to run out');
			await sleep(500);
			const c0 = cpu();
			await sleep(3000);
			const used = cpu() - c0;
			assert.ok(used < 100, `the responder used ${used} ticks of CPU in 3 s while out of descriptors`);
			// Once per episode; at the limit accepts and refusals may alternate (each accepted
			// stream takes a descriptor), so a few episodes, never a line per try.
			const said = count(/accept: out of file descriptors/g);
			assert.ok(said >= 1 && said <= 4, `said ${said} times in 3.5 s`);
		} finally {
			execFileSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:`]);
		}
		const opened = await Promise.all(streams);
		try {
			// A stream accepted at the limit may find no descriptor for a database
			// connection (503); the ones waiting in the backlog are all served.
			const statuses = opened.map((s) => s.status);
			assert.ok(statuses.every((st) => st === 200 || st === 503), `statuses: ${statuses}`);
			assert.ok(statuses.filter((st) => st === 200).length >= tokens.length - 4, `statuses: ${statuses}`);
			await waitFor(() => count(/accept: accepting again after \d+ refusal/g) >= 1, 5000, 'the episode to end');
			const c = await connect(hub);
			try {
				assert.ok(Array.isArray(await c.invoke('read')), 'a new client connects and reads');
			} finally {
				await stopAll(c);
			}
		} finally {
			for (const s of opened) s.abort?.();
		}
	});
});
