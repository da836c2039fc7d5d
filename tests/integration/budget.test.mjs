// Every answer is bounded in bytes (issue 12, item 2). With POLLHUB_MAX_ANSWER at 64 KiB:
//
// - 120 pushes of about 2 KB each (240 KB) committed at once (one transaction in psql)
//   reach a long-polling client over several polls and a server-sent-events client over
//   several events, each answer or event at most the budget, all of them, once each, in
//   commit order;
// - the same with the client away while they were committed (a poll after the fact);
// - a read of the calendar (now larger than the budget) is a completion error that names
//   POLLHUB_MAX_ANSWER, and the hub goes on serving (a create still completes and pushes).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll, waitFor, openStream, sseEvents, RS } from './stack.mjs';

const BUDGET = 65536;
const PUSHES = 120;
const GROUP = 'budget';

describe('answers bounded by POLLHUB_MAX_ANSWER', () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_MAX_ANSWER: String(BUDGET), POLLHUB_GROUP_PARAM: 'group',
			POLLHUB_POLL_TIMEOUT: '5' } });
	});
	after(async () => { await stack?.stop(); });

	const hub = () => `${stack.hubUrl}?group=${GROUP}`;
	const post = (url, body) => fetch(url, { method: 'POST', body }).then(async (r) => ({ status: r.status, text: await r.text() }));
	async function rawClient() {
		const neg = await (await post(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=${GROUP}`, '')).text;
		const token = JSON.parse(neg).connectionToken;
		return { token, url: `${stack.hubUrl}?group=${GROUP}&id=${encodeURIComponent(token)}` };
	}
	// Commit PUSHES meetings in one transaction, titles numbered in order.
	const burst = (tag) => stack.psql(`INSERT INTO pollhub.meetings (group_name, title, description, start_at, end_at)
		SELECT '${GROUP}', '${tag} ' || lpad(i::text, 4, '0'), repeat('x', 2000), now(), now()
		  FROM generate_series(1, ${PUSHES}) i`);
	const titles = (records, tag) => records.filter((r) => r.type === 1 && r.target === 'create')
		.map((r) => r.arguments[0].Title).filter((t) => t.startsWith(tag));
	const expected = (tag) => Array.from({ length: PUSHES }, (_, i) => `${tag} ${String(i + 1).padStart(4, '0')}`);

	it('long polling: a burst larger than the budget arrives over several polls, each within it, in order, once', async () => {
		const c = await rawClient();
		assert.equal((await fetch(c.url)).status, 200);	// the first poll
		assert.equal((await post(c.url, `{"protocol":"json","version":1}${RS}`)).status, 200);
		assert.equal(await (await fetch(c.url)).text(), `{}${RS}`);
		for (const tag of ['held', 'away']) {
			let pending;
			if (tag === 'held') {
				pending = fetch(c.url).then((r) => r.text());	// held when the burst commits
				await new Promise((r) => setTimeout(r, 300));
				await burst(tag);
			} else {
				await burst(tag);	// nobody polling: the next polls drain it
			}
			const got = [], sizes = [];
			while (got.length < PUSHES) {
				const body = pending ? await pending : await (await fetch(c.url)).text();
				pending = null;
				if (body === '') continue;	// a poll timeout
				sizes.push(Buffer.byteLength(body));
				got.push(...titles(body.split(RS).filter(Boolean).map((r) => JSON.parse(r)), tag));
			}
			assert.ok(sizes.length >= 4, `${tag}: several answers (${sizes})`);
			for (const n of sizes) assert.ok(n <= BUDGET, `${tag}: an answer of ${n} bytes is within ${BUDGET}`);
			assert.deepEqual(got, expected(tag), `${tag}: every push once, in commit order`);
		}
	});

	it('server-sent events: a burst larger than the budget arrives as several events, each within it, in order, once', async () => {
		const c = await rawClient();
		const s = await openStream(stack.hubUrl, c.token);
		try {
			assert.equal(s.status, 200);
			assert.equal((await post(c.url, `{"protocol":"json","version":1}${RS}`)).status, 200);
			await s.until(/data: \{\}\x1e/, 5000, 'the handshake answer');
			await burst('sse');
			const records = () => sseEvents(s.text).flatMap((e) => e.split(RS).filter(Boolean).map((r) => JSON.parse(r)));
			await waitFor(() => titles(records(), 'sse').length >= PUSHES, 15000, 'every push on the stream');
			const events = sseEvents(s.text).filter((e) => e.includes('"sse '));
			assert.ok(events.length >= 4, `several events (${events.length})`);
			for (const e of events) assert.ok(Buffer.byteLength(e) <= BUDGET, `an event of ${Buffer.byteLength(e)} bytes is within ${BUDGET}`);
			assert.deepEqual(titles(records(), 'sse'), expected('sse'), 'every push once, in commit order');
		} finally {
			s.abort();
		}
	});

	it('a read larger than the budget is a completion error naming the limit; the hub goes on', async () => {
		const a = await connect(hub());
		const b = await connect(hub());
		try {
			await assert.rejects(a.invoke('read'), (e) => {
				// "more than N": the server stops one row past what could fit (0.15).
				assert.match(e.message, /too large to send \((?:more than )?\d+ bytes; POLLHUB_MAX_ANSWER is 65536\)/);
				return true;
			});
			const made = await a.invoke('create', {
				ID: null, Title: 'after the refused read', Start: '2026-12-03T10:00:00.000Z', End: '2026-12-03T10:30:00.000Z',
				IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
				RecurrenceException: '', StartTimezone: '', EndTimezone: '',
			});
			assert.equal(made.Title, 'after the refused read');
			await waitFor(() => b.pushes.payloads('create').some((p) => p.Title === 'after the refused read'), 5000, 'the push');
		} finally {
			await stopAll(a, b);
		}
	});
});
