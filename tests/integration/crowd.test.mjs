// A crowd on the default configuration (issue 11, items 4 and 7): held clients must not
// each pin one of POLLHUB_THREADS (128) worker threads, so the hub does not stop at the
// 129th page.
//
// The crowd (once per web server: it mixes both transports itself, so it runs in the
// LongPolling run of the matrix only):
// 1. CROWD_CLIENTS raw HTTP clients (2,000 behind lighttpd), half long polling (a poll
//    always outstanding, re-polled on every answer), half server-sent events, plus
//    CROWD_REAL (5) real @microsoft/signalr clients of both transports, all in one group
//    (the default group is the client's address: 127.0.0.1), opened in waves of CROWD_WAVE
//    (100) as page loads would. Every one completes its handshake within CROWD_WAVE_MS,
//    the handshake answer is the first record each raw client gets, and the database
//    counts every one a member.
// 2. A real client's `create`: its completion comes, and every other member (each raw
//    client and the other real clients) gets the push, within CROWD_PUSH_MS (15 s).
// 3. Late clients (real @microsoft/signalr, one per transport) connect after the crowd and
//    `read` the calendar, the meeting of 2 included.
// 4. The responder's thread count (/proc/<pid>/task) with the crowd held is at most what it
//    was with no client plus CROWD_THREAD_SLACK (8): threads do not grow with clients.
// 5. CROWD_STALLED (200) raw server-sent-events clients that stop reading (socket paused
//    after the handshake) while large pushes (CROWD_BIG_KB, 28 KB each, in rounds of 30 up
//    to CROWD_BIG_PUSHES, 220, until nine in ten of them are full end to end: once every
//    reader has the pushes so far, their cursor still lags the group's, or the server
//    closed them) go to their group; the reading clients keep getting their pushes: every
//    one of CROWD_READERS (20) raw readers of that group gets each round within
//    CROWD_PUSH_MS and then a last small push within CROWD_STALL_PUSH_MS (5 s), and every
//    member of the crowd a small push of its own group within CROWD_STALL_PUSH_MS. End to
//    end is about 4.5 MB per stalled client behind lighttpd (measured: its kernel send
//    buffer to the client grows to about 4 MB, the client's receive buffer holds 128 KB,
//    the unix socket to the responder 208 KB), plus whatever the responder buffers
//    itself: about 160 pushes with the thread-per-request responder. The stalled clients
//    and their readers come from 127.0.0.2, a group of its own, so that the large pushes
//    do not go to the whole crowd (2,000 x 5 MB through an ASan responder and Node would
//    take minutes); nothing is asserted about the stalled clients themselves (the server
//    may close them). A large create answered 503 (nothing stored) is posted again.
// Handshake first (every combination of the matrix): on a stack with
// POLLHUB_KEEPALIVE_INTERVAL=1, raw clients of both transports that wait 3 s before
// posting their handshake, while a member of their group keeps creating meetings, get the
// handshake answer {} as their first record: no Ping, push or Close before it.
//
// Sizes are environment variables (above), so a quick run is possible, e.g.
//   CROWD_CLIENTS=80 CROWD_STALLED=10 CROWD_READERS=10 POLLHUB_TEST_MATRIX=lighttpd:LongPolling \
//     bash tests/run-integration.sh tests/integration/crowd.test.mjs
// Behind Apache the crowd is smaller: mod_proxy_fcgi keeps one httpd worker thread per
// held request, and deploy/apache/pollhub.conf allows MaxRequestWorkers (1,024) of them
// (read from the file); every held client of this test together stays under 60 % of it,
// the rest being the room a long-polling client needs for its sends. lighttpd holds a
// client in two descriptors, whatever the count: the 2,000 are for it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startStack, connect, stopAll, sleep, waitFor, RS, transportName, repoRoot } from './stack.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';

function size(name, dflt) {
	const v = process.env[name];
	if (v === undefined || v === '') return dflt;
	const n = Number(v);
	if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not '${v}'`);
	return n;
}

const REAL = size('CROWD_REAL', 5);
const WAVE = Math.max(1, size('CROWD_WAVE', 100));
const WAVE_MS = size('CROWD_WAVE_MS', 15000);
const PUSH_MS = size('CROWD_PUSH_MS', 15000);
const THREAD_SLACK = size('CROWD_THREAD_SLACK', 8);
const STALLED = size('CROWD_STALLED', 200);
const READERS = Math.max(2, size('CROWD_READERS', 20));
const BIG_KB = size('CROWD_BIG_KB', 28);
const BIG_PUSHES = size('CROWD_BIG_PUSHES', 220);
const STALL_PUSH_MS = size('CROWD_STALL_PUSH_MS', 5000);

// Behind Apache: every held client of the test (crowd, real ones, the late ones, the
// stalled ones and their readers and creator) under 60 % of MaxRequestWorkers.
function apacheWorkers() {
	const conf = fs.readFileSync(path.join(repoRoot, 'deploy/apache/pollhub.conf'), 'utf8');
	const m = /^\s*MaxRequestWorkers\s+(\d+)/m.exec(conf);
	if (!m) throw new Error('no MaxRequestWorkers in deploy/apache/pollhub.conf');
	return Number(m[1]);
}
const CLIENTS = web === 'apache'
	? Math.min(size('CROWD_CLIENTS', 2000),
		Math.max(0, Math.floor(apacheWorkers() * 0.6) - REAL - 2 - STALLED - READERS - 1))
	: size('CROWD_CLIENTS', 2000);

const crowdSkip = transportName !== 'LongPolling'
	? `the crowd mixes both transports itself: it runs in the LongPolling run of each web server (transport under test: ${transportName})`
	: CLIENTS === 0 && 'CROWD_CLIENTS=0';

let seq = 0;
const meeting = (title, description = '') => ({
	ID: null, Title: title, Start: '2026-12-01T10:00:00.000Z', End: '2026-12-01T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: description, RecurrenceRule: '',
	RecurrenceID: null, RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});
const invocation = (target, args, id = String(++seq)) =>
	JSON.stringify({ type: 1, invocationId: id, target, arguments: args }) + RS;

/** Rejects with what after ms unless p settles first. */
function within(p, ms, what) {
	let t;
	return Promise.race([
		p,
		new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); }),
	]).finally(() => clearTimeout(t));
}

/**
 * One HTTP request; resolves { status, body }. Sockets: `agents.poll` keeps them alive (a
 * long poll re-polls on the socket its answer came on, and polls again if that socket was
 * closing), `agents.once` opens one per request (a POST never goes out on a kept-alive
 * socket the server may be closing).
 */
function request(agents, url, { method = 'GET', body, headers = {}, from, keep = false } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, {
			method, headers, agent: keep ? agents.poll : agents.once, localAddress: from,
		}, (res) => {
			res.setEncoding('utf8');
			let text = '';
			res.on('data', (c) => { text += c; });
			res.on('end', () => resolve({ status: res.statusCode, body: text }));
			res.on('close', () => { if (!res.complete) reject(new Error('response cut short')); });
		});
		req.on('error', reject);
		req.end(body);
	});
}

function makeAgents() {
	return {
		poll: new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100000 }),
		once: new http.Agent({ keepAlive: false, maxSockets: Infinity }),
		destroy() { this.poll.destroy(); this.once.destroy(); },
	};
}

/**
 * A raw client (no SignalR library): kind 'lp' or 'sse', from a source address of
 * 127.0.0.0/8 (its default group). What it records: the first record, the titles of the
 * create pushes, the completions by invocation id, a Close; opts.keep: every record.
 */
class Raw {
	constructor(stack, agents, kind, { from = '127.0.0.1', keep = false } = {}) {
		this.hub = stack.hubUrl;
		this.agents = agents;
		this.kind = kind;
		this.from = from;
		this.records = keep ? [] : null;
		this.first = undefined;
		this.titles = new Set();
		this.completions = new Map();
		this.closeMessage = null;
		this.handshaken = false;
		this.ended = null;	// why it ended
		this.stopped = false;
		this.retries = 0;
		this.res = null;
		this.handshake = new Promise((resolve, reject) => { this.hsOk = resolve; this.hsFail = reject; });
		this.handshake.catch(() => {});
	}

	get url() { return `${this.hub}?id=${encodeURIComponent(this.token)}`; }

	post(body) {
		return request(this.agents, this.url, { method: 'POST', body, from: this.from });
	}

	record(rec) {
		if (this.records) this.records.push(rec);
		if (this.first === undefined) this.first = rec;
		if (rec === '{}') {
			this.handshaken = true;
			this.hsOk();
			return;
		}
		let m;
		try { m = JSON.parse(rec); } catch { return; }
		if (m.type === 1 && m.target === 'create') this.titles.add(m.arguments?.[0]?.Title);
		else if (m.type === 3) this.completions.set(m.invocationId, m);
		else if (m.type === 7) this.closeMessage = m;
		else if (m.error !== undefined && !this.handshaken) this.end(`handshake refused: ${rec}`);
	}

	end(why) {
		if (this.ended) return;
		this.ended = why;
		if (!this.handshaken) this.hsFail(new Error(why));
	}

	/** Negotiates, opens its transport, then (after delayMs) posts the handshake. */
	async open({ delayMs = 0 } = {}) {
		const n = await request(this.agents, `${this.hub}/negotiate?negotiateVersion=1`,
			{ method: 'POST', from: this.from });
		if (n.status !== 200) throw new Error(`negotiate answered ${n.status}`);
		const body = JSON.parse(n.body);
		this.token = body.connectionToken;
		this.id = body.connectionId;
		if (this.kind === 'lp') {
			// The first poll answers at once; then, as the SignalR client does, a poll is
			// always outstanding, the handshake posted beside it.
			const first = await request(this.agents, this.url, { from: this.from, keep: true });
			if (first.status !== 200) throw new Error(`first poll answered ${first.status}`);
			this.pollLoop();
		} else {
			await this.openStream();
		}
		if (delayMs) await sleep(delayMs);
		this.beforeHandshake = this.records ? this.records.length : undefined;
		const h = await this.post(HANDSHAKE);
		if (h.status !== 200) throw new Error(`handshake POST answered ${h.status}`);
		await this.handshake;
	}

	async pollLoop() {
		let failures = 0;
		while (!this.stopped && !this.ended) {
			let r;
			try {
				r = await request(this.agents, this.url, { from: this.from, keep: true });
				failures = 0;
			} catch (e) {
				// A kept-alive socket the server closed as the poll went out: poll again.
				if (this.stopped) return;
				if (++failures > 3) return this.end(`poll failed: ${e.message}`);
				this.retries++;
				await sleep(50);
				continue;
			}
			if (r.status !== 200) return this.end(`poll answered ${r.status}`);
			for (const rec of r.body.split(RS)) if (rec) this.record(rec);
			if (this.closeMessage) return this.end('closed by the server');
		}
	}

	openStream() {
		return new Promise((resolve, reject) => {
			const req = http.request(this.url, {
				headers: { Accept: 'text/event-stream' }, agent: this.agents.once, localAddress: this.from,
			}, (res) => {
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
						if (!data.length) continue;
						for (const rec of data.map((l) => l.slice(6)).join('\n').split(RS)) if (rec) this.record(rec);
					}
				});
				res.on('close', () => this.end(this.stopped ? 'closed by the test' : 'stream ended'));
				res.on('error', () => {});
				resolve();
			});
			req.on('error', (e) => { this.end(`stream failed: ${e.message}`); reject(e); });
			req.end();
		});
	}

	/** Stops reading: the socket is paused, so the kernel's buffers and the server's fill. */
	stall() {
		this.res.pause();
		this.res.socket.pause();
	}

	close() {
		this.stopped = true;
		this.res?.destroy();
	}
}

/** For messages: how many of clients ended, and why (""  when none did). */
function ended(clients) {
	const gone = clients.filter((c) => c.ended);
	if (!gone.length) return '';
	return `; ${gone.length} of them had ended (${[...new Set(gone.map((c) => c.ended))].slice(0, 3).join('; ')})`;
}

/** Counts by kind, for messages: "12 of 1000 lp, 3 of 1000 sse". */
function tally(clients, pred) {
	const by = {};
	for (const c of clients) {
		const k = c.kind || 'real';
		by[k] ||= { n: 0, of: 0 };
		by[k].of++;
		if (pred(c)) by[k].n++;
	}
	return Object.entries(by).map(([k, v]) => `${v.n} of ${v.of} ${k}`).join(', ');
}

describe(`a crowd of ${CLIENTS} held clients in one group on the default configuration`,
	{ skip: crowdSkip, timeout: 150000 }, () => {
		let stack;
		let agents;
		let idleThreads;
		const raws = [];	// the crowd: lp, sse, lp, ...
		const reals = [];
		const others = [];	// every other connection the test opens (closed in after)
		let created;	// the meeting of 2
		let crowdUp = false;

		before(async () => {
			stack = await startStack();
			agents = makeAgents();
			await sleep(1000);
			idleThreads = stack.responderThreads();
		});
		after(async () => {
			for (const c of [...raws, ...others]) c.close?.();
			agents?.destroy();
			await stopAll(reals, others.filter((c) => !(c instanceof Raw)));
			await stack?.stop();
		});
		const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

		test(`1. ${CLIENTS} raw clients (half long polling, half server-sent events) and ${REAL} real ones ` +
			`connect in waves of ${WAVE}, the handshake answer first`, async (t) => {
			const t0 = Date.now();
			for (let i = 0; i < REAL; i++) {
				const transport = i % 2 ? 'ServerSentEvents' : 'LongPolling';
				reals.push(await within(connect(stack.hubUrl, { transport }), WAVE_MS, `real client ${i} (${transport})`));
			}
			for (let i = 0; i < CLIENTS; i++) raws.push(new Raw(stack, agents, i % 2 ? 'sse' : 'lp'));
			let slowest = 0;
			for (let w = 0; w < CLIENTS; w += WAVE) {
				const wave = raws.slice(w, w + WAVE);
				const w0 = Date.now();
				const results = await Promise.allSettled(
					wave.map((c, k) => within(c.open(), WAVE_MS, `client ${w + k} (${c.kind})`)));
				slowest = Math.max(slowest, Date.now() - w0);
				const failed = results.filter((r) => r.status === 'rejected');
				if (failed.length) {
					const reasons = [...new Set(failed.map((r) => r.reason.message.replace(/client \d+ /, 'client ')))];
					assert.fail(`wave ${w / WAVE + 1} of ${Math.ceil(CLIENTS / WAVE)}: ${failed.length} of ` +
						`${wave.length} clients did not connect within ${WAVE_MS} ms (${reasons.slice(0, 3).join('; ')}); ` +
						`connected so far: ${tally(raws, (c) => c.handshaken)} raw clients, ${reals.length} real ` +
						`(the hub stops once every worker thread holds a request)`);
				}
			}
			t.diagnostic(`${CLIENTS + REAL} clients connected in ${Date.now() - t0} ms (slowest wave ${slowest} ms)`);
			const notFirst = raws.filter((c) => c.first !== '{}');
			assert.equal(notFirst.length, 0, `the handshake answer must be the first record: ${notFirst.length} ` +
				`clients got something else first (e.g. ${JSON.stringify(notFirst[0]?.first)?.slice(0, 100)})`);
			const members = Number(await stack.psql(
				"SELECT count(*) FROM pollhub.memberships WHERE group_name = '127.0.0.1'"));
			assert.ok(members >= CLIENTS + REAL, `${members} members of group 127.0.0.1 in the database, ` +
				`${CLIENTS + REAL} expected`);
			crowdUp = true;
		});

		test(`4. the responder's threads do not grow with the clients (at most idle + ${THREAD_SLACK})`, async (t) => {
			const held = raws.filter((c) => c.handshaken && !c.ended).length + reals.length;
			const now = stack.responderThreads();
			t.diagnostic(`threads: ${idleThreads} with no client, ${now} with ${held} clients held`);
			assert.ok(held > 0, 'no client is held');
			assert.ok(now <= idleThreads + THREAD_SLACK, `the responder has ${now} threads with ${held} clients ` +
				`held, ${idleThreads} with none: more than ${THREAD_SLACK} more`);
		});

		test(`2. a create reaches every member within ${PUSH_MS} ms, the creator gets its completion`, async (t) => {
			assert.ok(reals.length > 0, 'no real client connected');
			const [creator, ...rest] = reals;
			const title = `crowd push ${Date.now()}`;
			const t0 = Date.now();
			const done = creator.invoke('create', meeting(title));
			done.catch(() => {});
			created = await within(done, PUSH_MS, 'the creator\'s completion');
			assert.equal(created.Title, title);
			const members = raws.filter((c) => c.handshaken);
			const got = () => members.every((c) => c.titles.has(title)) &&
				rest.every((c) => c.pushes.payloads('create').some((m) => m.ID === created.ID));
			try {
				await waitFor(got, Math.max(0, PUSH_MS - (Date.now() - t0)), 'the push');
			} catch {
				assert.fail(`within ${PUSH_MS} ms of the create the push reached ` +
					`${tally(members, (c) => c.titles.has(title))} raw clients and ` +
					`${rest.filter((c) => c.pushes.payloads('create').some((m) => m.ID === created.ID)).length} of ` +
					`${rest.length} other real clients${ended(members)}`);
			}
			const retries = raws.reduce((a, c) => a + c.retries, 0);
			t.diagnostic(`every one of ${members.length + rest.length} members had the push ${Date.now() - t0} ms ` +
				`after the create${retries ? ` (${retries} polls sent again: their kept-alive socket was closing)` : ''}`);
			assert.ok(crowdUp, 'the crowd of 1 was not complete');
		});

		test('3. late clients (one per transport) connect after the crowd and read the calendar', async () => {
			await Promise.all(['LongPolling', 'ServerSentEvents'].map(async (transport) => {
				const go = (async () => {
					const late = await connect(stack.hubUrl, { transport });
					others.push(late);
					return late.invoke('read');
				})();
				go.catch(() => {});
				const rows = await within(go, PUSH_MS, `a late ${transport} client's connect and read`);
				assert.ok(Array.isArray(rows), `read returned ${JSON.stringify(rows)?.slice(0, 200)}`);
				assert.ok(created, 'no meeting was created in 2');
				assert.ok(rows.some((m) => m.ID === created.ID),
					`a late ${transport} client's read (${rows.length} meetings) lacks the meeting of 2`);
			}));
		});

		test(`5. ${STALLED} clients that stop reading do not hold up the others`, async (t) => {
			// Their own group (source address 127.0.0.2): the stalled ones, readers of both
			// transports, and a creator that posts the pushes.
			const from = '127.0.0.2';
			const group = [];
			const stalled = [];
			const readers = [];
			for (let i = 0; i < STALLED; i++) stalled.push(new Raw(stack, agents, 'sse', { from }));
			for (let i = 0; i < READERS; i++) readers.push(new Raw(stack, agents, i % 2 ? 'sse' : 'lp', { from }));
			const creator = new Raw(stack, agents, 'sse', { from });
			group.push(creator, ...readers, ...stalled);
			others.push(...group);
			for (let w = 0; w < group.length; w += WAVE) {
				const wave = group.slice(w, w + WAVE);
				const results = await Promise.allSettled(wave.map((c) => within(c.open(), WAVE_MS, `a ${c.kind} client of ${from}`)));
				const failed = results.filter((r) => r.status === 'rejected');
				assert.equal(failed.length, 0, `${failed.length} of ${wave.length} clients of ${from} did not connect ` +
					`(${failed[0]?.reason.message})`);
			}
			for (const c of stalled) c.stall();
			const ids = stalled.map((c) => `'${c.id}'`).join(',');
			// Full end to end: the server cannot give it more (its cursor lags the group's)
			// or closed it (no membership left).
			const full = async () => Number(await stack.psql(`
				SELECT count(*) FROM unnest(ARRAY[${ids}]::text[]) AS s(id)
				LEFT JOIN pollhub.memberships m ON m.connection_id = s.id
				WHERE m.connection_id IS NULL
				   OR m.cursor < (SELECT last_seq FROM pollhub.groups WHERE name = '${from}')`));
			const pad = 'x'.repeat(BIG_KB * 1000);
			const titles = [];
			const allSoFar = (c) => titles.every((x) => c.titles.has(x));
			let n = 0;
			let filled = 0;
			let busy = 0;
			const t0 = Date.now();
			while (n < BIG_PUSHES) {
				for (let k = 0; k < 30 && n < BIG_PUSHES; k++, n++) {
					const title = `big ${n}`;
					titles.push(title);
					// A 503 (no pooled database connection within POLLHUB_DB_ACQUIRE_TIMEOUT)
					// stored nothing: posted again, a few times.
					let r;
					for (let a = 0; ; a++) {
						r = await within(creator.post(invocation('create', [meeting(title, pad)], `big${n}`)),
							PUSH_MS, `create ${title}`);
						if (r.status !== 503 || a === 4) break;
						busy++;
						await sleep(200);
					}
					assert.equal(r.status, 200, `create ${title}: POST answered ${r.status}`);
				}
				// Once every reader has everything so far, the server has delivered what it
				// could: a stalled client whose cursor still lags could not take more.
				try {
					await waitFor(() => readers.every(allSoFar), PUSH_MS, 'the readers');
				} catch {
					assert.fail(`${PUSH_MS} ms after ${n} pushes of ${BIG_KB} KB, ${readers.filter(allSoFar).length} of ` +
						`${readers.length} readers of ${from} had them all (${filled} of ${STALLED} stalled clients ` +
						`full at the last count)${ended(readers)}`);
				}
				await sleep(300);
				filled = await full();
				if (filled * 10 >= STALLED * 9) break;
			}
			const closed = stalled.filter((c) => c.ended).length;
			t.diagnostic(`${n} pushes of ${BIG_KB} KB in ${Date.now() - t0} ms: ${filled} of ${STALLED} stalled ` +
				`clients full (the server closed ${closed} that the test saw)${busy ? `; ${busy} POSTs answered 503 and were posted again` : ''}`);
			if (filled * 10 < STALLED * 9)
				t.diagnostic(`the pushes did not fill nine in ten of the stalled clients: raise CROWD_BIG_PUSHES`);

			// While they are stalled: a small push in each group.
			const mark2 = `stall mark ${Date.now()}`;
			const t2 = Date.now();
			const r = await within(creator.post(invocation('create', [meeting(mark2)], 'mark2')), STALL_PUSH_MS,
				`the creator's last create (${from})`);
			assert.equal(r.status, 200);
			const allBig = (c) => c.titles.has(mark2) && allSoFar(c);
			try {
				await waitFor(() => readers.every(allBig) && creator.completions.has('mark2'),
					STALL_PUSH_MS, 'the readers');
			} catch {
				assert.fail(`within ${STALL_PUSH_MS} ms, ${readers.filter(allBig).length} of ${readers.length} readers ` +
					`of ${from} had every push (${tally(readers, (c) => c.titles.has(mark2))} had the last), the creator ` +
					`${creator.completions.has('mark2') ? 'had' : 'lacked'} its completion${ended([creator, ...readers])}`);
			}
			t.diagnostic(`readers of ${from}: all ${n + 1} pushes ${Date.now() - t2} ms after the last create`);

			if (reals.length > 0) {
				const [real, ...rest] = reals;
				const mark1 = `crowd mark ${Date.now()}`;
				const t1 = Date.now();
				const done = real.invoke('create', meeting(mark1));
				done.catch(() => {});
				const m = await within(done, STALL_PUSH_MS, 'a create in the crowd while clients are stalled');
				const members = raws.filter((c) => c.handshaken);
				const got = () => members.every((c) => c.titles.has(mark1)) &&
					rest.every((c) => c.pushes.payloads('create').some((x) => x.ID === m.ID));
				try {
					await waitFor(got, Math.max(0, STALL_PUSH_MS - (Date.now() - t1)), 'the crowd');
				} catch {
					assert.fail(`within ${STALL_PUSH_MS} ms, the crowd's push reached ` +
						`${tally(members, (c) => c.titles.has(mark1))} raw clients and ` +
						`${rest.filter((c) => c.pushes.payloads('create').some((x) => x.ID === m.ID)).length} of ` +
						`${rest.length} other real clients${ended(members)}`);
				}
				t.diagnostic(`the crowd (${members.length + rest.length}): its push ${Date.now() - t1} ms after the create`);
			}
			for (const c of stalled) c.close();
		});
	});

describe('handshake first under a slow handshake (POLLHUB_KEEPALIVE_INTERVAL=1)', { timeout: 60000 }, () => {
	let stack;
	let agents;
	let pusher;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_KEEPALIVE_INTERVAL: '1' } });
		agents = makeAgents();
		pusher = await connect(stack.hubUrl);
	});
	after(async () => {
		agents?.destroy();
		await stopAll(pusher);
		await stack?.stop();
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const SLOW = 5;

	/** A member of the same group (127.0.0.1) creates meetings until the returned stop(). */
	const push = () => {
		let on = true;
		const loop = (async () => {
			for (let i = 0; on; i++) {
				await pusher.invoke('create', meeting(`pusher ${i}`)).catch(() => {});
				await sleep(100);
			}
		})();
		return async () => { on = false; await loop; };
	};

	for (const kind of ['sse', 'lp']) {
		const what = kind === 'sse' ? 'server-sent events' : 'long polling';
		test(`${what}: ${SLOW} clients post the handshake 3 s after opening, pushes due all along; the first record is {}`, async () => {
			const clients = Array.from({ length: SLOW }, () => new Raw(stack, agents, kind, { keep: true }));
			const stop = push();
			try {
				await Promise.all(clients.map((c) => within(c.open({ delayMs: 3000 }), 15000, `a slow ${what} client`)));
				// Pushes reach them once they are members (at the handshake).
				await waitFor(() => clients.every((c) => c.titles.size > 0), 5000, 'a push after the handshake');
				await stop();
				for (const c of clients) {
					assert.equal(c.beforeHandshake, 0, 'records before the handshake was posted: ' +
						`${JSON.stringify(c.records.slice(0, 3))}`);
					assert.equal(c.records[0], '{}', `the first record: ${JSON.stringify(c.records[0])?.slice(0, 100)}`);
				}
				// Quiet now: the keep-alive (1 s, so three were due while the handshake waited)
				// does run, after the handshake answer.
				if (kind === 'sse')
					await waitFor(() => clients.every((c) => c.records.includes('{"type":6}')), 5000, 'a Ping after the handshake');
			} finally {
				await stop();
				for (const c of clients) c.close();
			}
		});
	}
});
