// The innocent client (issue 18): a calendar that has nothing to do with a fault or an
// attack, measured while it runs. Two real @microsoft/signalr clients of their own
// calendar: the writer invokes create every everyMs (open loop: whether or not the
// earlier ones were answered), the reader receives the pushes; every connectEveryMs a
// new page connects and reads. stop() returns the figures; assertInnocent() judges them.
//
//   const probe = await innocent(stack.hubUrl);          // the stack needs POLLHUB_GROUP_PARAM=group
//   ... the fault ...
//   const f = await probe.stop();
//   console.log(showInnocent(f));
//   assertInnocent(f, { allowMs: 0 });                  // allowMs: what the fault's own bound permits
import assert from 'node:assert/strict';
import { connect, stopAll, waitFor, sleep } from './stack.mjs';

const percentile = (sorted, q) => (sorted.length ? sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] : NaN);
function summary(values) {
	const s = [...values].sort((a, b) => a - b);
	return { n: s.length, p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99), max: s.at(-1) };
}
const ms = (v) => (Number.isFinite(v) ? `${Math.round(v)}` : 'never');
export const showSummary = (x) => `n=${x.n} p50=${ms(x.p50)} p95=${ms(x.p95)} p99=${ms(x.p99)} max=${ms(x.max)} ms`;

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-03T10:00:00.000Z', End: '2026-12-03T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});

/**
 * Starts the probe in calendar opts.group (default 'innocent'). opts.everyMs (200): one
 * create per period; opts.connectEveryMs (1000): one new page (connect + read) per period.
 */
export async function innocent(hubUrl, opts = {}) {
	const group = opts.group || 'innocent';
	const everyMs = opts.everyMs ?? 200;
	const connectEveryMs = opts.connectEveryMs ?? 1000;
	const url = `${hubUrl}?group=${encodeURIComponent(group)}`;
	const writer = await connect(url);
	const reader = await connect(url);
	const closed = [];
	for (const [name, c] of [['writer', writer], ['reader', reader]])
		c.onclose((e) => closed.push(`${name}: ${e?.message || 'closed'}`));
	const calls = [];
	const pages = [];
	let k = 0;
	const t0 = Date.now();

	const createTimer = setInterval(() => {
		const c = { start: Date.now(), end: null, ok: null, id: null, error: null };
		calls.push(c);
		c.done = writer.invoke('create', meeting(`innocent ${k++}`)).then(
			(r) => { c.end = Date.now(); c.ok = true; c.id = r.ID; },
			(e) => { c.end = Date.now(); c.ok = false; c.error = e.message; });
	}, everyMs);
	const pageTimer = setInterval(() => {
		const p = { start: Date.now(), connectMs: null, readMs: null, error: null, conn: null };
		pages.push(p);
		p.done = (async () => {
			try {
				p.conn = await connect(url, { collect: false });
				p.connectMs = Date.now() - p.start;
				const t1 = Date.now();
				await p.conn.invoke('read');
				p.readMs = Date.now() - t1;
			} catch (e) {
				p.error = e.message;
			} finally {
				if (p.conn) await p.conn.stop().catch(() => {});
			}
		})();
	}, connectEveryMs);

	return {
		group,
		/** Stops the load, waits up to settleMs for what is under way, closes the clients. */
		async stop(settleMs = 25000) {
			clearInterval(createTimer);
			clearInterval(pageTimer);
			const all = Promise.all([...calls.map((c) => c.done), ...pages.map((p) => p.done)]);
			await Promise.race([all, sleep(settleMs)]);
			// The pushes of the last answered creates.
			const answered = calls.filter((c) => c.ok);
			await waitFor(() => answered.every((c) => reader.pushes.payloads('create').some((m) => m.ID === c.id)),
				settleMs, 'the innocent pushes').catch(() => {});
			const pushAt = new Map(reader.pushes.of('create').map((e) => [e.args[0].ID, e.at]));
			const f = {
				group,
				seconds: (Date.now() - t0) / 1000,
				creates: calls.length,
				failed: calls.filter((c) => c.ok === false).map((c) => c.error),
				unanswered: calls.filter((c) => c.end === null).length,
				invoke: summary(calls.map((c) => (c.end === null ? Infinity : c.end - c.start))),
				push: summary(answered.map((c) => (pushAt.has(c.id) ? pushAt.get(c.id) - c.start : Infinity))),
				missed: answered.filter((c) => !pushAt.has(c.id)).length,
				pages: pages.length,
				pageErrors: pages.filter((p) => p.error).map((p) => p.error),
				connect: summary(pages.filter((p) => p.connectMs !== null).map((p) => p.connectMs)),
				closed: [...closed],
			};
			await stopAll(writer, reader);
			return f;
		},
	};
}

export const showInnocent = (f) =>
	`innocent '${f.group}' over ${f.seconds.toFixed(1)} s: ${f.creates} creates (${f.failed.length} failed,` +
	` ${f.unanswered} unanswered); invoke ${showSummary(f.invoke)}; push ${showSummary(f.push)}` +
	` (${f.missed} missed); ${f.pages} pages (${f.pageErrors.length} failed), connect ${showSummary(f.connect)}` +
	`${f.closed.length ? `; closed: ${f.closed.join(', ')}` : ''}`;

/**
 * The issue's bound: push p99 < 200 ms, every connect succeeds, every invoke answers
 * in under 1 s; allowMs widens the invoke and push bounds by what the fault's own
 * deadline permits (a stopped session noticed after N ms).
 */
export function assertInnocent(f, { allowMs = 0, pushP99 = 200, invokeMax = 1000 } = {}) {
	const why = showInnocent(f);
	assert.equal(f.closed.length, 0, `the innocent clients stayed connected: ${why}`);
	assert.equal(f.failed.length, 0, `no innocent invoke failed: ${why}`);
	assert.equal(f.unanswered, 0, `every innocent invoke was answered: ${why}`);
	assert.equal(f.missed, 0, `every innocent push arrived: ${why}`);
	assert.equal(f.pageErrors.length, 0, `every innocent page connected and read: ${why}`);
	assert.ok(f.push.p99 < pushP99 + allowMs, `innocent push p99 < ${pushP99 + allowMs} ms: ${why}`);
	assert.ok(f.invoke.max < invokeMax + allowMs, `innocent invokes answered in < ${invokeMax + allowMs} ms: ${why}`);
}

/**
 * Whether f missed the latency bounds only, and by noise: nothing failed, was missed or
 * closed, and nothing waited a second. A shared 2-core machine running two test files
 * at once has bursts of tens of milliseconds that are not the server's; a test may then
 * run its round once more and judge that one (lockstall.test.mjs does the same). A stall
 * (what these tests guard against: seconds) misses in every round.
 */
export function missedByNoise(f, { allowMs = 0, pushP99 = 200, invokeMax = 1000 } = {}) {
	const clean = f.closed.length === 0 && f.failed.length === 0 && f.unanswered === 0 && f.missed === 0 &&
		f.pageErrors.length === 0;
	const late = f.push.p99 >= pushP99 + allowMs || f.invoke.max >= invokeMax + allowMs;
	return clean && late && f.push.max < 1000 + allowMs && f.invoke.max < 1000 + allowMs;
}
