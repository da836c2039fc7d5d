// One busy calendar must not starve the others (issue 18, item 1): BUSY_READERS (200)
// raw server-sent-events clients of calendar 'busy' while a client of it creates
// meetings with BUSY_KB (30) KB descriptions BUSY_RATE times a second for BUSY_S (15) s.
// The issue's case is BUSY_RATE=5: 30 MB a second to the readers, more than the ASan
// build (and a shared 2-core test machine) can write, so the readers fall behind and the
// test measures the machine; the default, 2 (12 MB a second), keeps the busy calendar
// busy all along and is what the suite runs. BUSY_RATE=5 with the release build
// (POLLHUB_BIN=build/pollhub) is the issue's case. A 30 KB description fits POLLHUB_MAX_MESSAGE_SIZE's default (32 KiB): the
// invocation is about 30.3 KB. Beside it, the innocent client (innocent.mjs) in its own
// calendar. The busy readers run in a worker thread (busyreaders.mjs), so that reading
// 30 MB a second does not starve the innocent client's event loop.
// 1. The readers read: the innocent client's bounds hold (push p99 < 200 ms, every
//    connect succeeds, invokes < 1 s), each reader gets every push exactly once, the
//    LISTEN connection is never dropped, and the responder's RSS stays bounded.
// 2. The readers never read (their sockets paused after the handshake; the server may
//    close them): the innocent client's bounds hold, the LISTEN connection stays.
// 3. drain_many itself (psql, three long-polling connections with no poll held): past
//    p_total the waiters are answered 'later' and nothing of theirs moves; the first is
//    always admitted; each record is drained once.
// RSS: the peak of VmRSS (/proc/PID/status, sampled every 100 ms) over the run minus
// the baseline before it. The bound is what the responder may hold by design: two
// batches of FANOUT_BATCH_BYTES (1 MiB, fcgi/fanout.h: drain_many's result and the
// waiters' copies of it), plus, per stream, BUSY_STREAM_KB (2048: its output queued up
// to POLLHUB_MAX_BUFFERED, 1 MiB, and the event being framed, up to POLLHUB_MAX_ANSWER,
// 1 MiB), plus BUSY_RSS_SLACK_MB (64) for the rest. Before issue 18 one batch could
// return 1,000 waiters x 1 MiB. ASan keeps freed memory in quarantine and pads every
// allocation, so the bound is asserted only for a release build (POLLHUB_BIN not under
// build/asan/, e.g. build/pollhub); under ASan the figure is reported and the test says
// it did not assert it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { startStack, sleep, waitFor, RS } from './stack.mjs';
import { innocent, showInnocent, assertInnocent, missedByNoise } from './innocent.mjs';

const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const READERS = num('BUSY_READERS', 200);
const KB = num('BUSY_KB', 30);
const RATE = num('BUSY_RATE', 2);
const SECONDS = num('BUSY_S', 15);
const STREAM_KB = num('BUSY_STREAM_KB', 2048);
const RSS_SLACK_MB = num('BUSY_RSS_SLACK_MB', 64);
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const asan = /\/asan\//.test(process.env.POLLHUB_BIN || '');

const meeting = (title, description = '') => ({
	ID: null, Title: title, Start: '2026-12-05T10:00:00.000Z', End: '2026-12-05T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: description, RecurrenceRule: '',
	RecurrenceID: null, RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function request(url, { method = 'GET', body, headers = {} } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method, headers, agent }, (res) => {
			res.setEncoding('utf8');
			let text = '';
			res.on('data', (c) => { text += c; });
			res.on('end', () => resolve({ status: res.statusCode, body: text }));
		});
		req.on('error', reject);
		req.end(body);
	});
}

/** A raw server-sent-events client of a group: counts the create pushes by title. */
class Stream {
	constructor(hubUrl, group) {
		this.hub = hubUrl;
		this.group = group;
		this.titles = new Map();
		this.completions = new Set();
		this.ended = null;
		this.handshaken = false;
	}

	async open() {
		const n = await request(`${this.hub}/negotiate?negotiateVersion=1&group=${this.group}`, { method: 'POST' });
		if (n.status !== 200) throw new Error(`negotiate answered ${n.status}`);
		this.token = JSON.parse(n.body).connectionToken;
		this.url = `${this.hub}?id=${encodeURIComponent(this.token)}`;
		await new Promise((resolve, reject) => {
			const req = http.request(this.url, { headers: { Accept: 'text/event-stream' }, agent }, (res) => {
				if (res.statusCode !== 200) {
					res.resume();
					reject(new Error(`stream answered ${res.statusCode}`));
					return;
				}
				this.res = res;
				res.setEncoding('utf8');
				let buf = '';
				res.on('data', (c) => {
					buf += c;
					let i;
					while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
						const data = buf.slice(0, i).split('\r\n').filter((l) => l.startsWith('data: '));
						buf = buf.slice(i + 4);
						for (const rec of data.map((l) => l.slice(6)).join('\n').split(RS)) if (rec) this.record(rec);
					}
				});
				res.on('close', () => { this.ended ||= 'stream ended'; });
				res.on('error', () => {});
				resolve();
			});
			req.on('error', reject);
			req.end();
		});
		const h = await request(this.url, { method: 'POST', body: HANDSHAKE });
		if (h.status !== 200) throw new Error(`handshake answered ${h.status}`);
		await waitFor(() => this.handshaken, 15000, 'the handshake answer');
	}

	record(rec) {
		if (rec === '{}') { this.handshaken = true; return; }
		let m;
		try { m = JSON.parse(rec); } catch { return; }
		if (m.type === 1 && m.target === 'create') {
			const t = m.arguments?.[0]?.Title;
			this.titles.set(t, (this.titles.get(t) || 0) + 1);
		} else if (m.type === 3) this.completions.add(m.invocationId);
	}

	post(body) { return request(this.url, { method: 'POST', body }); }

	close() { this.res?.destroy(); }
}

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

/** Samples the responder's RSS until stop(); returns { base, peak } in KB. */
function rssWatch(pid) {
	const base = rssKb(pid);
	let peak = base;
	const t = setInterval(() => { try { peak = Math.max(peak, rssKb(pid)); } catch { /* gone */ } }, 100);
	return { stop: () => { clearInterval(t); return { base, peak }; } };
}

/** BUSY_READERS raw streams of group in a worker: report() and close(). */
async function readersOf(hubUrl, group, stall) {
	const worker = new Worker(new URL('./busyreaders.mjs', import.meta.url),
		{ workerData: { hubUrl, group, n: READERS, stall } });
	const next = () => new Promise((resolve, reject) => {
		worker.once('message', resolve);
		worker.once('error', reject);
	});
	const first = await next();
	if (first.error) throw new Error(`busy readers: ${first.error}`);
	let closed = false;
	return {
		async report() { worker.postMessage('report'); return (await next()).report; },
		async close() {
			if (closed) return;
			closed = true;
			worker.postMessage('close');
			await Promise.race([next(), sleep(5000)]);
			await worker.terminate();
		},
	};
}

async function openAll(clients) {
	for (let i = 0; i < clients.length; i += 50)
		await Promise.all(clients.slice(i, i + 50).map((c) => c.open()));
}

/** The busy writer: RATE creates a second with KB KB descriptions for SECONDS s. */
async function write(creator, tag) {
	const pad = 'x'.repeat(KB * 1000);
	const titles = [];
	const posts = [];
	const total = RATE * SECONDS;
	const t0 = Date.now();
	for (let k = 0; k < total; k++) {
		const title = `${tag} ${k}`;
		titles.push(title);
		const body = JSON.stringify({ type: 1, invocationId: `b${k}`, target: 'create', arguments: [meeting(title, pad)] }) + RS;
		posts.push(creator.post(body).then((r) => r.status));
		const next = t0 + ((k + 1) * 1000) / RATE;
		if (next > Date.now()) await sleep(next - Date.now());
	}
	const statuses = await Promise.all(posts);
	return { titles, statuses };
}

function checkLog(stack) {
	const log = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
	const dropped = log.split('\n').filter((l) => /lost the (LISTEN session|database connection)/.test(l));
	const failed = log.split('\n').filter((l) => /batched drain .*failed/.test(l));
	return { dropped, failed };
}

describe(`one busy calendar: ${READERS} streams, ${KB} KB pushes ${RATE}/s for ${SECONDS} s`, { timeout: 180000 }, () => {
	let stack;
	let clients = [];
	const workers = [];
	before(async () => {
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } });
	});
	after(async () => {
		for (const c of clients) c.close();
		for (const w of workers) await w.close().catch(() => {});
		agent.destroy();
		await stack?.stop();
	});

	// One round of case 1 in calendar `group`: everything but the innocent client's latency
	// bounds is judged here; its figures are returned.
	async function readRound(t, group) {
		const readers = await readersOf(stack.hubUrl, group, false);
		workers.push(readers);
		const creator = new Stream(stack.hubUrl, group);
		clients = [creator];
		await openAll(clients);
		const pid = stack.responderPids()[0];
		const rss = rssWatch(pid);
		const probe = await innocent(stack.hubUrl);
		const { titles, statuses } = await write(creator, group);
		const f = await probe.stop();
		const all = (c) => titles.every((x) => c.titles[x]);
		let report = [];
		await waitFor(async () => (report = await readers.report()).every(all), 60000,
			'every reader to have every push').catch(() => {});
		const { base, peak } = rss.stop();
		const lagging = await stack.psql(`SELECT count(*) FROM pollhub.memberships m
			JOIN pollhub.groups g ON g.name = m.group_name WHERE g.name = '${group}' AND m.cursor < g.last_seq`);
		t.diagnostic(showInnocent(f));
		t.diagnostic(`busy members whose cursor lags the group's: ${lagging}`);
		const missing = report.reduce((a, c) => a + titles.filter((x) => !c.titles[x]).length, 0);
		const dups = report.reduce((a, c) => a + Object.values(c.titles).filter((v) => v > 1).length, 0);
		const log = checkLog(stack);
		const boundKb = 2 * 1024 + READERS * STREAM_KB + RSS_SLACK_MB * 1024;
		t.diagnostic(`${group}: ${titles.length} pushes (${statuses.filter((s) => s !== 200).length} POSTs not 200); ` +
			`${report.filter(all).length} of ${READERS} readers had all, ${missing} missing, ${dups} duplicated, ` +
			`${report.filter((c) => c.ended).length} ended; RSS ${Math.round(base / 1024)} MB -> peak ` +
			`${Math.round(peak / 1024)} MB (bound +${Math.round(boundKb / 1024)} MB${asan ? ', not asserted under ASan' : ''}); ` +
			`log: ${log.failed.length} failed batches, ${log.dropped.length} LISTEN drops`);
		assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every create was accepted');
		assert.equal(missing, 0, 'every reader got every push');
		assert.equal(dups, 0, 'no reader got a push twice');
		assert.deepEqual(log.dropped, [], 'the LISTEN connection was never dropped');
		if (!asan)
			assert.ok(peak - base < boundKb, `RSS grew ${Math.round((peak - base) / 1024)} MB, bound ${Math.round(boundKb / 1024)} MB`);
		for (const c of clients) c.close();
		clients = [];
		await readers.close();
		return f;
	}

	it(`1. its readers read: the innocent client's bounds hold, each reader gets every push once, RSS bounded`,
		async (t) => stack.guard(async () => {
			let f = await readRound(t, 'busy');
			if (missedByNoise(f)) {
				t.diagnostic('round 1 missed a latency bound by noise (nothing failed, nothing waited 1 s): one more round, judged');
				f = await readRound(t, 'busy-again');
			}
			assertInnocent(f);
		})(t));

	// One round of case 2 in calendar `group`; the innocent client's figures are returned.
	async function stallRound(t, group) {
		const stalled = await readersOf(stack.hubUrl, group, true);
		workers.push(stalled);
		const creator = new Stream(stack.hubUrl, group);
		clients = [creator];
		await openAll(clients);
		const pid = stack.responderPids()[0];
		const rss = rssWatch(pid);
		const probe = await innocent(stack.hubUrl);
		const { titles, statuses } = await write(creator, group);
		const f = await probe.stop();
		const { base, peak } = rss.stop();
		const log = checkLog(stack);
		t.diagnostic(showInnocent(f));
		t.diagnostic(`${group}: ${titles.length} pushes (${statuses.filter((s) => s !== 200).length} POSTs not 200); ` +
			`RSS ${Math.round(base / 1024)} MB -> peak ${Math.round(peak / 1024)} MB; ${log.dropped.length} LISTEN drops`);
		assert.deepEqual(log.dropped, [], 'the LISTEN connection was never dropped');
		const boundKb = 2 * 1024 + READERS * STREAM_KB + RSS_SLACK_MB * 1024;
		if (!asan)
			assert.ok(peak - base < boundKb, `RSS grew ${Math.round((peak - base) / 1024)} MB, bound ${Math.round(boundKb / 1024)} MB`);
		for (const c of clients) c.close();
		clients = [];
		await stalled.close();
		return f;
	}

	it(`2. its ${READERS} streams never read: the innocent client's bounds hold`, async (t) => stack.guard(async () => {
		let f = await stallRound(t, 'stalled');
		if (missedByNoise(f)) {
			t.diagnostic('round 1 missed a latency bound by noise (nothing failed, nothing waited 1 s): one more round, judged');
			f = await stallRound(t, 'stalled-again');
		}
		assertInnocent(f);
	})(t));

	it('3. drain_many keeps to its total budget: the first always, the rest while they fit, the others later (nothing moved)',
		async () => stack.guard(async () => {
			const group = 'totals';
			const ids = [];
			for (let i = 0; i < 3; i++) {
				const n = await request(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=${group}`, { method: 'POST' });
				const { connectionToken, connectionId } = JSON.parse(n.body);
				const url = `${stack.hubUrl}?id=${encodeURIComponent(connectionToken)}`;
				assert.equal((await request(url)).status, 200);	// the first poll answers at once
				assert.equal((await request(url, { method: 'POST', body: HANDSHAKE })).status, 200);
				assert.equal((await request(url)).body, `{}${RS}`);	// then no poll is held
				ids.push(connectionId);
			}
			await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, description, start_at, end_at)
				SELECT '${group}', 'total ' || i, repeat('y', 1000), now(), now() FROM generate_series(1, 3) i`);
			const drain = async (which, total) => (await stack.psql(`
				SELECT string_agg(d.status || ':' || (length(d.payload) - length(replace(d.payload, 'total ', ''))) / 6, ' ' ORDER BY d.n)
				  FROM pollhub.drain_many(ARRAY[${which.map((i) => `'${ids[i]}'`).join(',')}]::text[],
					(SELECT array_agg(c.poll_no ORDER BY array_position(ARRAY[${which.map((i) => `'${ids[i]}'`).join(',')}]::text[], c.id))
					   FROM pollhub.connections c WHERE c.id IN (${which.map((i) => `'${ids[i]}'`).join(',')})),
					1048576, ${total}) d`)).trim();
			const lagging = async () => Number(await stack.psql(`SELECT count(*) FROM pollhub.memberships m
				JOIN pollhub.groups g ON g.name = m.group_name WHERE g.name = '${group}' AND m.cursor < g.last_seq`));
			// About 3.7 KB each: a total of 5,000 admits the first only, 100 still the first.
			assert.equal(await drain([0, 1, 2], 5000), 'ok:3 later:0 later:0');
			assert.equal(await lagging(), 2, 'the later ones were not moved');
			assert.equal(await drain([1, 2], 100), 'ok:3 later:0');
			assert.equal(await drain([2], 100), 'ok:3');
			assert.equal(await lagging(), 0);
			assert.equal(await drain([0, 1, 2], 100), 'ok:0 ok:0 ok:0', 'each got them once');
		})());
});
