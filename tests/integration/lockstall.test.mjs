// A lock held in psql stalls one calendar, not the hub (issue 10, item 1).
//
// An administrator runs, in psql, `BEGIN; UPDATE pollhub.meetings SET title = … WHERE
// id = …;` on a meeting of calendar A and leaves the transaction open (a psql child
// whose stdin stays open; the test checks that it really holds the row: pg_stat_activity
// says 'idle in transaction', pg_locks has its lock on pollhub.meetings, and a FOR UPDATE
// NOWAIT of that row fails). Meanwhile:
//
// - 20 real @microsoft/signalr clients of calendar A invoke create (two waves, at the
//   start of the lock and 3 s into it), and 5 of them also update the locked meeting;
// - 3 other calendars (3 clients each) keep creating, open-loop (one create every 80 ms,
//   whether or not the earlier ones were answered), and their members receive the pushes;
// - 2.5 s into the lock a new page connects and reads in another calendar, and one in A.
//
// Then the administrator COMMITs (after 6 s: longer than the 2 s lock_timeout a server
// may set on its own statements). Expected:
//
// - the other calendars do not notice: the completion and push latencies of their
//   creates made during the lock (about 75 creates, 150 pushes) have p99 < 200 ms;
// - the new pages connect and read in under 1 s each, during the lock;
// - every create of calendar A is either stored and pushed exactly once to each other
//   member of A (never to its caller), or was reported failed to its caller and not
//   stored: rows stored = successful invokes; likewise the updates of the locked meeting;
// - no invocation stays unanswered for more than 15 s.
//
// The scenario runs in before(); each test then judges one of these and prints its
// figures (the baseline latencies, measured the same way before the lock, too). Latency
// on a shared 2-core machine (the suite runs two test files at once) has bursts that
// are not the server's: when the first round misses the p99 bound, the lock phase runs
// once more on the same stack and the latency test judges that round (the figures of
// both are printed); the stall this guards against (every request waiting for the
// COMMIT, seconds) misses it in every round. Correctness is judged over all rounds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll, waitFor, sleep, transportName, adminSession } from './stack.mjs';

const A = 'cal-a';
const OTHERS = ['cal-b', 'cal-c', 'cal-d'];
const A_CLIENTS = 20;
const A_UPDATERS = 5;
const OTHER_CLIENTS = 3;		// per other calendar
const HOLD_MS = 6000;			// the admin's transaction stays open this long
const WAVE2_MS = 3000;			// the second wave of A's creates, into the lock
const PAGES_MS = 2500;			// the new pages connect, into the lock
const OPEN_LOOP_MS = 80;		// one create in another calendar every 80 ms
const BASELINE_MS = 2000;
const P99_MS = 200;
const PAGE_MS = 1000;
const ANSWER_MS = 15000;
const ADMIN_APP = 'pollhub-lockstall-admin';

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-03T10:00:00.000Z', End: '2026-12-03T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});

const percentile = (sorted, q) => sorted.length ? sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] : NaN;
const ms = (v) => (Number.isFinite(v) ? `${Math.round(v)}` : 'never');
function summary(values) {
	const s = [...values].sort((a, b) => a - b);
	return { n: s.length, p50: percentile(s, 0.5), p90: percentile(s, 0.9), p99: percentile(s, 0.99), max: s.at(-1) };
}
const show = (x) => `n=${x.n} p50=${ms(x.p50)} p90=${ms(x.p90)} p99=${ms(x.p99)} max=${ms(x.max)} ms`;

describe(`a psql transaction holding a meeting of one calendar (${transportName})`, { timeout: 150000 }, () => {
	let stack;
	let admin;
	const aClients = [];
	const others = {};			// calendar → its clients
	const calls = [];			// every invocation of the scenario
	const lock = {};			// what the lock checks saw
	let pages = [];				// the new pages' figures
	let seed;				// the locked meeting (as pushed)
	let tLock = 0, tCommit = 0;		// of the last round
	let round = 0;
	const roundNotes = [];
	const allPages = [];
	const closed = [];

	/** Invokes target on conn and records when and how it was answered. */
	function track(conn, fields, target, arg) {
		const c = { round, ...fields, target, title: arg.Title, start: Date.now(), end: null, ok: null, result: null, error: null };
		calls.push(c);
		c.done = conn.invoke(target, arg).then(
			(r) => { c.end = Date.now(); c.ok = true; c.result = r; },
			(e) => { c.end = Date.now(); c.ok = false; c.error = e.message; });
		return c;
	}

	/** Open-loop creates in the other calendars until stop(); phase labels them. */
	function otherLoad(phase) {
		let k = 0;
		const timer = setInterval(() => {
			const g = OTHERS[k % OTHERS.length];
			const i = Math.floor(k / OTHERS.length) % OTHER_CLIENTS;
			track(others[g][i], { kind: 'other', phase, group: g, client: i }, 'create', meeting(`${g} ${phase} ${k}`));
			k++;
		}, OPEN_LOOP_MS);
		return () => clearInterval(timer);
	}

	async function newPage(group) {
		const r = { group, connectMs: null, readMs: null, error: null, conn: null, rows: null };
		const t0 = Date.now();
		try {
			r.conn = await connect(`${stack.hubUrl}?group=${group}`);
			r.connectMs = Date.now() - t0;
			const t1 = Date.now();
			r.rows = await r.conn.invoke('read');
			r.readMs = Date.now() - t1;
		} catch (e) {
			r.error = e.message;
		}
		return r;
	}

	const probeRow = async (sql) => {
		try {
			await stack.psql(sql);
			return 'not locked';
		} catch (e) {
			return /could not obtain lock/.test(e.stderr || e.message) ? 'locked' : `error: ${(e.stderr || e.message).trim()}`;
		}
	};
	async function lockState() {
		const state = await stack.psql(`SELECT state FROM pg_stat_activity WHERE application_name = '${ADMIN_APP}'`);
		const modes = await stack.psql(`SELECT string_agg(l.mode, ',' ORDER BY l.mode) FROM pg_locks l
			JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE a.application_name = '${ADMIN_APP}' AND l.granted AND l.relation = 'pollhub.meetings'::regclass`);
		const row = await probeRow(`SELECT 1 FROM pollhub.meetings WHERE id = '${seed.ID}' FOR UPDATE NOWAIT`);
		const group = await probeRow(`SELECT 1 FROM pollhub.groups WHERE name = '${A}' FOR UPDATE NOWAIT`);
		return { state, modes, row, group };
	}

	/** Latency figures of the other calendars' creates of one phase (and round). */
	function otherFigures(phase, r = null) {
		const mine = calls.filter((c) => c.kind === 'other' && c.phase === phase && (r === null || c.round === r));
		const completion = mine.map((c) => (c.ok ? c.end - c.start : Infinity));
		const push = mine.flatMap((c) => others[c.group].flatMap((m, j) => {
			if (j === c.client) return [];
			const e = c.ok && m.pushes.events.find((x) => x.target === 'create' && x.args[0].ID === c.result.ID);
			return [e ? e.at - c.start : Infinity];
		}));
		const t0 = mine[0]?.start ?? 0;
		const slowest = [...mine].sort((a, b) => (b.end ?? Infinity) - b.start - ((a.end ?? Infinity) - a.start))
			.slice(0, 3).map((c) => `${ms((c.end ?? Infinity) - c.start)} ms at +${c.start - t0}`).join(', ');
		return { creates: mine.length, failed: mine.filter((c) => c.ok === false).length, slowest,
			unanswered: mine.filter((c) => c.end === null).length,
			completion: summary(completion), push: summary(push) };
	}
	const showFigures = (f) => `${f.creates} creates (${f.failed} failed, ${f.unanswered} unanswered);` +
		` completion ${show(f.completion)}; push ${show(f.push)}; slowest completions ${f.slowest}`;

	before(async () => {
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group', POLLHUB_POLL_TIMEOUT: '10' } });
		const hub = stack.hubUrl;
		const conns = await Promise.all([
			...Array.from({ length: A_CLIENTS }, () => connect(`${hub}?group=${A}`)),
			...OTHERS.flatMap((g) => Array.from({ length: OTHER_CLIENTS }, () => connect(`${hub}?group=${g}`))),
		]);
		aClients.push(...conns.slice(0, A_CLIENTS));
		OTHERS.forEach((g, k) => {
			others[g] = conns.slice(A_CLIENTS + k * OTHER_CLIENTS, A_CLIENTS + (k + 1) * OTHER_CLIENTS);
		});
		conns.forEach((c, i) => c.onclose((e) => closed.push(`client ${i}: ${e?.message || 'closed'}`)));

		// The meeting the administrator will hold, inserted as an administrator would.
		const id = await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
			VALUES ('${A}', 'Locked', '2026-12-03T09:00Z', '2026-12-03T09:30Z') RETURNING id`);
		await waitFor(() => aClients.every((c) => c.pushes.count('create') === 1), 5000, 'the seed push in A');
		seed = aClients[0].pushes.payloads('create')[0];
		assert.equal(seed.ID, id);
		for (const c of aClients) c.pushes.clear();

		// Baseline: the same open-loop creates, without the lock.
		const stopBaseline = otherLoad('baseline');
		await sleep(BASELINE_MS);
		stopBaseline();
		await Promise.all(calls.map((c) => c.done));

		await lockPhase();
		if (otherFigures('lock', round).completion.p99 >= P99_MS || otherFigures('lock', round).push.p99 >= P99_MS) {
			roundNotes.push(`round 1 missed the bound (${showFigures(otherFigures('lock', 1))}); the lock phase ran again`);
			await lockPhase();
		}
	});

	/** One open transaction of the administrator, with the load around it. */
	async function lockPhase() {
		round++;
		const edit = `Admin edit ${round}`;
		// The administrator's open transaction.
		admin = adminSession(stack.dbName, ADMIN_APP);
		await admin.run(`BEGIN; UPDATE pollhub.meetings SET title = '${edit}' WHERE id = '${seed.ID}';`, /UPDATE 1/);
		lock.atStart = await lockState();
		tLock = Date.now();

		const stopLoad = otherLoad('lock');
		const aWave = (wave) => aClients.forEach((c, i) =>
			track(c, { kind: 'a', wave, client: i }, 'create', meeting(`A create ${round}.${wave}.${i}`)));
		await sleep(200);
		aWave(1);
		aClients.slice(0, A_UPDATERS).forEach((c, i) =>
			track(c, { kind: 'a-update', client: i }, 'update', { ...seed, Title: `A update ${round}.${i}` }));
		await sleep(PAGES_MS - 200);
		// The new pages (their connect cannot be left pending for ever: 20 s at most).
		const pagesDone = Promise.race([
			Promise.all([newPage(OTHERS[0]), newPage(A)]),
			sleep(20000).then(() => null),
		]);
		await sleep(WAVE2_MS - PAGES_MS);
		aWave(2);
		await sleep(HOLD_MS - WAVE2_MS);
		stopLoad();

		lock.atEnd = await lockState();
		await admin.run('COMMIT;', /COMMIT/);
		tCommit = Date.now();
		await admin.end();

		pages = (await pagesDone) || [{ group: OTHERS[0], error: 'still connecting 20 s later' },
			{ group: A, error: 'still connecting 20 s later' }];
		allPages.push(...pages);

		// Every invocation answered, or ANSWER_MS after the last one began.
		const last = Math.max(...calls.map((c) => c.start));
		await waitFor(() => calls.every((c) => c.end !== null), Math.max(0, last + ANSWER_MS - Date.now()),
			'every invocation to be answered').catch(() => {});
		// Then every push that should come (and a moment more for any that should not).
		await waitFor(() => calls.every((c) => {
			if (!c.ok) return true;
			const members = c.kind === 'other' ? others[c.group] : aClients;
			return members.every((m, j) => j === c.client ||
				m.pushes.events.some((e) => e.target === c.target && e.args[0].Title === c.title));
		}), 10000, 'the pushes').catch(() => {});
		await sleep(500);
	}

	after(async () => {
		await admin?.end();
		await stopAll(aClients, Object.values(others).flat(), allPages.map((p) => p.conn));
		await stack?.stop();
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test('the administrator\'s transaction really held the meeting\'s row for the whole time', async (t) => {
		t.diagnostic(`at the start: ${JSON.stringify(lock.atStart)}; before COMMIT: ${JSON.stringify(lock.atEnd)};` +
			` held ${tCommit - tLock} ms`);
		for (const s of [lock.atStart, lock.atEnd]) {
			assert.equal(s.state, 'idle in transaction', 'pg_stat_activity: the admin session');
			assert.match(s.modes, /RowExclusiveLock/, 'pg_locks: its lock on pollhub.meetings');
			assert.equal(s.row, 'locked', 'a FOR UPDATE NOWAIT of the meeting fails');
		}
		assert.ok(tCommit - tLock >= HOLD_MS, `held ${tCommit - tLock} ms`);
	});

	test(`the other calendars keep their latency: create completions and pushes p99 < ${P99_MS} ms`, async (t) => {
		const base = otherFigures('baseline');
		const during = otherFigures('lock', round);
		for (const note of roundNotes) t.diagnostic(note);
		for (const [name, f] of [['baseline', base], [`during the lock (round ${round})`, during]])
			t.diagnostic(`${name}: ${showFigures(f)}`);
		// Nothing of another calendar reached a client of A, nor the reverse.
		const aTitles = new Set(calls.filter((c) => c.kind !== 'other').map((c) => c.title));
		for (const c of aClients) assert.ok(!c.pushes.events.some((e) => /^cal-/.test(e.args[0].Title)), 'another calendar\'s push in A');
		for (const m of Object.values(others).flat())
			assert.ok(!m.pushes.events.some((e) => aTitles.has(e.args[0].Title) || e.args[0].ID === seed.ID), 'A\'s push elsewhere');
		assert.ok(during.creates >= 50, `${during.creates} creates during the lock`);
		assert.equal(during.failed, 0, 'creates of the other calendars failed');
		assert.ok(during.completion.p99 < P99_MS, `completion p99 ${ms(during.completion.p99)} ms during the lock`);
		assert.ok(during.push.p99 < P99_MS, `push p99 ${ms(during.push.p99)} ms during the lock`);
	});

	test(`new pages connect and read in under ${PAGE_MS} ms during the lock (another calendar, and A)`, async (t) => {
		for (const p of pages)
			t.diagnostic(`new page in ${p.group}: connect ${ms(p.connectMs ?? Infinity)} ms, read ${ms(p.readMs ?? Infinity)} ms` +
				`${p.error ? ` (${p.error})` : ''}`);
		for (const p of pages) {
			assert.equal(p.error, null, `page in ${p.group}`);
			assert.ok(p.connectMs < PAGE_MS, `page in ${p.group}: connected after ${p.connectMs} ms`);
			assert.ok(p.readMs < PAGE_MS, `page in ${p.group}: read after ${p.readMs} ms`);
		}
		const inA = pages.find((p) => p.group === A);
		assert.ok(inA.rows.some((m) => m.ID === seed.ID), 'the page in A reads the locked meeting');
	});

	test('every create of A is stored and pushed once to the others of A, or reported failed and not stored', async (t) => {
		const creates = calls.filter((c) => c.kind === 'a');
		const updates = calls.filter((c) => c.kind === 'a-update');
		const stored = (await stack.psql(`SELECT title FROM pollhub.meetings WHERE group_name = '${A}'
			AND title LIKE 'A create %'`)).split('\n').filter(Boolean).sort();
		const okTitles = creates.filter((c) => c.ok).map((c) => c.title).sort();
		// Timed from the last round's lock (the diagnostics), judged over every round.
		const answered = (list) => list.filter((c) => c.end !== null && c.round === round).map((c) => c.end - tLock);
		t.diagnostic(`A creates: ${creates.length} invoked, ${okTitles.length} succeeded, ` +
			`${creates.filter((c) => c.ok === false).length} failed, ${creates.filter((c) => c.end === null).length} unanswered; ` +
			`${stored.length} rows stored; answered ${show(summary(answered(creates)))} after the lock began` +
			` (COMMIT at ${tCommit - tLock} ms)`);
		t.diagnostic(`A updates of the locked meeting: ${updates.filter((c) => c.ok).length} succeeded, ` +
			`${updates.filter((c) => c.ok === false).length} failed, ${updates.filter((c) => c.end === null).length} unanswered; ` +
			`answered ${show(summary(answered(updates)))} after the lock began`);
		const errors = [...new Set(calls.filter((c) => c.ok === false).map((c) => c.error))];
		if (errors.length) t.diagnostic(`errors: ${errors.join(' | ')}`);
		if (closed.length) t.diagnostic(`closed: ${closed.join('; ')}`);

		assert.deepEqual(stored, okTitles, 'the rows stored are the successful creates');
		const problems = [];
		for (const c of [...creates, ...updates]) {
			aClients.forEach((m, j) => {
				const n = m.pushes.events.filter((e) => e.target === c.target && e.args[0].Title === c.title).length;
				const want = c.ok && j !== c.client ? 1 : 0;
				if (n !== want) problems.push(`${c.title} (${c.ok ? 'ok' : c.ok === false ? 'failed' : 'unanswered'}): ${n} pushes at client ${j}`);
			});
		}
		// The administrator's own edit (each round's) reaches every member of A once.
		for (let r = 1; r <= round; r++) {
			aClients.forEach((m, j) => {
				const n = m.pushes.events.filter((e) => e.target === 'update' && e.args[0].Title === `Admin edit ${r}`).length;
				if (n !== 1) problems.push(`Admin edit ${r}: ${n} pushes at client ${j}`);
			});
		}
		assert.deepEqual(problems.slice(0, 20), [], `${problems.length} wrong push counts`);
		const title = await stack.psql(`SELECT title FROM pollhub.meetings WHERE id = '${seed.ID}'`);
		assert.ok([`Admin edit ${round}`, ...updates.filter((c) => c.ok && c.round === round).map((c) => c.title)].includes(title),
			`the locked meeting's title ${title}`);
		assert.deepEqual(closed, [], 'no client was closed');
	});

	test(`no invocation stays unanswered for more than ${ANSWER_MS / 1000} s`, async (t) => {
		const now = Date.now();
		const slow = calls.filter((c) => (c.end ?? now) - c.start > ANSWER_MS);
		const waits = summary(calls.map((c) => (c.end ?? now) - c.start));
		t.diagnostic(`${calls.length} invocations: answered after ${show(waits)}`);
		assert.deepEqual(slow.map((c) => `${c.title}: ${c.end === null ? 'unanswered' : `${c.end - c.start} ms`}`), []);
	});
});
