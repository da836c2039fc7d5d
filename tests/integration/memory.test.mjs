// Memory comes back (issue 18, item 4). In the release build (build/pollhub, not the
// sanitizer build, whose allocator keeps freed memory in quarantine), the responder's RSS
// (/proc/PID/status) is within 2x of its baseline a few seconds after each of:
// - one batch of about 1 MiB (950 pushes of 1 KB committed at once) to MEMBERS (200) raw
//   clients of the transport under test, every one of which gets all of it;
// - STALLED (200) raw server-sent-events streams that stop reading, closed at the cap
//   ('client not reading') by large pushes to their group (the ServerSentEvents runs
//   only: the stalled clients are streams);
// - a busy calendar: READERS (200) raw clients of the transport under test while a
//   writer creates meetings with 30 KB descriptions 5 times a second for 10 s.
// The baseline is the RSS just before the scenario, its clients connected and idle (for
// the stalled streams: before they connect, and 2x of it plus LIBPQ_KB, below), of a
// responder started for the scenario. The figures (baseline, peak, after) are
// printed. POLLHUB_RELEASE_BIN names another release binary (to measure an older one);
// without build/pollhub the test is skipped with a message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startStack, waitFor, sleep, RS, transportName, repoRoot } from './stack.mjs';
import { innocent, showInnocent } from './innocent.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const release = path.resolve(process.env.POLLHUB_RELEASE_BIN || path.join(repoRoot, 'build/pollhub'));
const skip = !fs.existsSync(release) && `no release build at ${release}: run \`make build/pollhub\``;
const size = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const MEMBERS = size('MEMORY_MEMBERS', 200), STALLED = size('MEMORY_STALLED', 200), READERS = size('MEMORY_READERS', 200);
const MB = (kb) => `${(kb / 1024).toFixed(1)} MB`;
// libpq keeps each connection's input buffer at the largest message it carried: after
// the stalled streams, every pooled connection (8) and the notifier's two have carried
// answers of up to 1 MiB, which a fresh responder's baseline does not hold. A fixed
// cost of the pool, not of clients: allowed beside the 2x.
const LIBPQ_KB = (8 + 2) * 1024;

/** A raw client of group: negotiate, the transport, the handshake; counts what it gets. */
class Raw {
	constructor(hubUrl, group, kind) {
		this.hubUrl = hubUrl;
		this.group = group;
		this.kind = kind;	// 'sse' or 'lp'
		this.bytes = 0;
		this.tail = '';
		this.stopped = false;
		this.ended = null;
		this.ac = new AbortController();
	}

	get url() { return `${this.hubUrl}?group=${this.group}&id=${encodeURIComponent(this.token)}`; }

	take(text) {
		this.bytes += text.length;
		this.tail = (this.tail + text).slice(-400);
	}

	/** Until the text seen ends with (or has recently had) s. */
	saw(s) { return this.tail.includes(s); }

	async open() {
		const n = await fetch(`${this.hubUrl}/negotiate?negotiateVersion=1&group=${this.group}`, { method: 'POST' });
		if (n.status !== 200) throw new Error(`negotiate answered ${n.status}`);
		this.token = (await n.json()).connectionToken;
		if (this.kind === 'lp') {
			const first = await fetch(this.url, { signal: this.ac.signal });
			await first.text();
			this.loop = this.pollLoop();
		} else {
			const r = await fetch(this.url, { headers: { Accept: 'text/event-stream' }, signal: this.ac.signal });
			if (r.status !== 200) throw new Error(`stream answered ${r.status}`);
			const decoder = new TextDecoder();
			this.loop = (async () => {
				try {
					for await (const chunk of r.body) this.take(decoder.decode(chunk, { stream: true }));
				} catch { /* aborted */ }
				this.ended ||= 'stream ended';
			})();
		}
		const h = await fetch(this.url, { method: 'POST', body: HANDSHAKE });
		await h.text();
		if (h.status !== 200) throw new Error(`handshake answered ${h.status}`);
		await waitFor(() => this.saw(`{}${RS}`), 15000, 'the handshake answer');
	}

	async pollLoop() {
		while (!this.stopped) {
			try {
				const r = await fetch(this.url, { signal: this.ac.signal });
				const text = await r.text();
				if (r.status !== 200) { this.ended = `poll answered ${r.status}`; return; }
				this.take(text);
			} catch {
				if (this.stopped) return;
				await sleep(100);
			}
		}
	}

	async close() {
		this.stopped = true;
		this.ac.abort();
		await fetch(this.url, { method: 'DELETE' }).then((r) => r.text()).catch(() => {});
		await this.loop?.catch(() => {});
	}
}

/** A raw stream that stops reading after its handshake (as crowd.test.mjs makes them). */
function stalledStream(hubUrl, group) {
	return new Promise((resolve, reject) => {
		fetch(`${hubUrl}/negotiate?negotiateVersion=1&group=${group}`, { method: 'POST' })
			.then((n) => n.json()).then(({ connectionToken }) => {
				const url = `${hubUrl}?group=${group}&id=${encodeURIComponent(connectionToken)}`;
				const s = { ended: false, res: null, req: null };
				s.req = http.request(url, { headers: { Accept: 'text/event-stream' }, agent: false }, (res) => {
					s.res = res;
					let text = '';
					const onData = (c) => {
						text += c;
						if (!text.includes(`{}${RS}`)) return;
						res.off('data', onData);
						res.pause();
						res.socket.pause();	// the kernel's buffers and the server's fill
						resolve(s);
					};
					res.setEncoding('utf8');
					res.on('data', onData);
					res.on('close', () => { s.ended = true; });
					res.on('error', () => {});
					fetch(url, { method: 'POST', body: HANDSHAKE }).then((r) => r.text()).catch(reject);
				});
				s.req.on('error', (e) => { s.ended = true; reject(e); });
				s.req.end();
			}).catch(reject);
	});
}

describe(`the responder's memory comes back (release build, ${transportName})`, { skip, timeout: 600000 }, () => {
	let stack;
	let savedBin;
	const kind = transportName === 'ServerSentEvents' ? 'sse' : 'lp';

	before(async () => {
		savedBin = process.env.POLLHUB_BIN;
		process.env.POLLHUB_BIN = release;
		try {
			// Room for a 30 KB meeting in one invocation. The stalled streams are
			// closed by the responder's byte cap (POLLHUB_MAX_BUFFERED), which is what
			// they measure: the reaper's pending cap (1,000 messages by default) would
			// close some first once the pushes pass 1,000.
			stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group', POLLHUB_MAX_MESSAGE_SIZE: '262144',
				POLLHUB_MAX_PENDING: '100000' } });
		} finally {
			if (savedBin === undefined) delete process.env.POLLHUB_BIN;
			else process.env.POLLHUB_BIN = savedBin;
		}
	});
	after(async () => { await stack?.stop(); });

	const rss = () => {
		const pid = stack.responderPids()[0];
		const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
		return Number(m[1]);
	};
	const log = () => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');

	/** Runs fn while sampling RSS; then waits up to settleMs for it to come back within 2x. */
	async function measure(t, what, fn, { settleMs = 8000, allowKb = 0 } = {}) {
		await sleep(1000);
		const baseline = rss();
		let peak = baseline;
		const sampler = setInterval(() => { try { peak = Math.max(peak, rss()); } catch { /* gone */ } }, 100);
		const t0 = Date.now();
		try {
			await fn();
		} finally {
			clearInterval(sampler);
		}
		const ended = Date.now();
		let now = rss();
		while (now > 2 * baseline + allowKb && Date.now() - ended < settleMs) {
			await sleep(500);
			now = rss();
		}
		await sleep(Math.max(0, 3000 - (Date.now() - ended)));	// a few seconds in any case
		now = rss();
		peak = Math.max(peak, now);
		const line = `${what}: baseline ${MB(baseline)}, peak ${MB(peak)}, after ${MB(now)} ` +
			`(${((Date.now() - ended) / 1000).toFixed(1)} s after; the scenario took ${Date.now() - t0 - (Date.now() - ended)} ms)`;
		t.diagnostic(line);
		console.log(`memory: ${line}`);
		if (process.env.MEMORY_PAUSE_MS) {	// to look at the responder (gdb, /proc) before it goes on
			console.log(`memory: responder pid ${stack.responderPids()[0]}, pausing`);
			await sleep(Number(process.env.MEMORY_PAUSE_MS));
		}
		assert.ok(now <= 2 * baseline + allowKb, `${what}: RSS ${MB(now)} within 2x of its baseline ${MB(baseline)}` +
			`${allowKb ? ` plus ${MB(allowKb)}` : ''}`);
	}

	async function open(group, n) {
		const clients = [];
		for (let i = 0; i < n; i += 20) {
			const wave = Array.from({ length: Math.min(20, n - i) }, () => new Raw(stack.hubUrl, group, kind));
			await Promise.all(wave.map((c) => c.open()));
			clients.push(...wave);
		}
		return clients;
	}

	// Each scenario has a responder of its own, so that what one kept does not hide in the
	// next one's baseline.
	const test = (name, opts, fn) => it(name, opts, async (t) => stack.guard(async () => {
		await stack.restartResponder();
		await fn(t);
	})());

	test(`a batch of about 1 MiB to ${MEMBERS} members`, {}, async (t) => {
		const members = await open('mem-batch', MEMBERS);
		try {
			await measure(t, `1 MiB batch to ${MEMBERS} ${kind} members`, async () => {
				await stack.psql(`SELECT count(pollhub.send_to_group('mem-batch', 'notify',
					json_build_array(repeat('x', 1000)))) FROM generate_series(1, 950)`);
				await stack.psql(`SELECT pollhub.send_to_group('mem-batch', 'notify', '["batch done"]')`);
				await waitFor(() => members.every((c) => c.saw('batch done')), 120000,
					`every member has the batch (${members.filter((c) => c.saw('batch done')).length} of ${MEMBERS})`);
			});
			for (const c of members) assert.ok(c.bytes > 950 * 1000, `a member got the whole batch (${c.bytes} bytes)`);
		} finally {
			await Promise.all(members.map((c) => c.close()));
		}
	});

	test(`${STALLED} streams that stop reading, closed at the cap`,
		{ skip: kind !== 'sse' && 'stalled readers are server-sent-events streams: the ServerSentEvents runs' }, async (t) => {
			const stalled = [];
			const from = log().length;
			// The innocent client of another calendar, for the figures only: whether
			// the stalled streams slow anyone else is issue 18's item 1.
			const probe = await innocent(stack.hubUrl);
			const closedCount = () => (log().slice(from).match(/client not reading/g) || []).length;
			try {
				await measure(t, `${STALLED} stalled streams closed at the cap`, async () => {
					for (let i = 0; i < STALLED; i += 20)
						stalled.push(...await Promise.all(Array.from({ length: Math.min(20, STALLED - i) },
							() => stalledStream(stack.hubUrl, 'mem-stall'))));
					// Pushes of 28 KB, each committed alone (a notification each, as a busy
					// calendar's creates), 5 every 200 ms, until every one is closed for not
					// reading: the web server's and the kernel's buffers (autotuned: several
					// MB behind Apache), then POLLHUB_MAX_BUFFERED. A stream whose client has
					// its fill takes one record a second, and only when news comes (sse.c):
					// the pushes go on until the last is closed, not for a fixed count.
					const pushUntil = Date.now() + 170000;
					// Behind Apache a few go first by its Timeout (its write to the stalled
					// client blocked that long: "client (stream closed)"): every stalled
					// connection gone is what is waited for, and the cap must have closed
					// the others.
					const stalledLeft = async () => Number(await stack.psql(
						"SELECT count(*) FROM pollhub.connections WHERE group_name = 'mem-stall'"));
					for (let round = 0; Date.now() < pushUntil && await stalledLeft() > 0; round++) {
						await stack.psql(`DO $$ BEGIN FOR i IN 1..5 LOOP
							PERFORM pollhub.send_to_group('mem-stall', 'notify', json_build_array(repeat('y', 28000)));
							COMMIT; END LOOP; END $$`);
						await sleep(200);
					}
					t.diagnostic(`after the pushes: ${closedCount()} closed for not reading; connections ${
						await stack.psql("SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM pollhub.connections WHERE group_name = 'mem-stall' GROUP BY 1) s")
					}; pushes ${await stack.psql("SELECT count(*) FROM pollhub.outbox WHERE group_name = 'mem-stall'")}`);
					await waitFor(async () => await stalledLeft() === 0, 10000,
						`every stalled stream closed (${closedCount()} of ${STALLED} at the cap)`);
					t.diagnostic(`${closedCount()} closed for not reading`);
					assert.ok(closedCount() >= STALLED / 2,
						`the cap closed the stalled streams (${closedCount()} of ${STALLED})`);
				}, { allowKb: LIBPQ_KB });
			} finally {
				for (const s of stalled) s.req.destroy();
				const f = await probe.stop();
				t.diagnostic(`innocent client during the stalled streams: ${showInnocent(f)}`);
				console.log(`memory: innocent client during the stalled streams: ${showInnocent(f)}`);
			}
		});

	test(`a busy calendar: ${READERS} readers, 30 KB meetings 5 times a second for 10 s`, {}, async (t) => {
		const readers = await open('mem-busy', READERS);
		// A raw writer: one invocation per POST, whatever the earlier ones' fate (a
		// real client would queue them into one POST while one is in flight).
		const writer = new Raw(stack.hubUrl, 'mem-busy', 'lp');
		await writer.open();
		const meeting = (title) => ({
			ID: null, Title: title, Start: '2026-12-03T10:00:00.000Z', End: '2026-12-03T10:30:00.000Z',
			IsAllDay: false, RoomID: 1, Attendees: [1], Description: 'z'.repeat(30000), RecurrenceRule: '',
			RecurrenceID: null, RecurrenceException: '', StartTimezone: '', EndTimezone: '',
		});
		try {
			await measure(t, `busy calendar to ${READERS} ${kind} readers`, async () => {
				const calls = [];
				for (let i = 0; i < 50; i++) {
					const body = JSON.stringify({ type: 1, invocationId: String(i), target: 'create',
						arguments: [meeting(`busy ${i}`)] }) + RS;
					calls.push(fetch(writer.url, { method: 'POST', body }).then(async (r) => { await r.text(); return r.status; },
						(e) => e.message));
					await sleep(200);
				}
				const statuses = await Promise.all(calls);
				// Whether the hub keeps up is the notifier's matter (issue 18, item 1): here
				// only what it costs in memory is judged.
				t.diagnostic(`creates posted: ${statuses.filter((x) => x === 200).length} of 50 answered 200` +
					` (others: ${[...new Set(statuses.filter((x) => x !== 200))].join(', ') || 'none'})`);
				await stack.psql(`SELECT pollhub.send_to_group('mem-busy', 'notify', '["busy done"]')`);
				await waitFor(() => readers.every((c) => c.saw('busy done') || c.ended), 120000,
					`every reader has the last push (${readers.filter((c) => c.saw('busy done')).length} of ${READERS})`);
			});
		} finally {
			await Promise.all([writer, ...readers].map((c) => c.close()));
		}
	});
});
