// Invocations per POST and bytes pending per connection are bounded (issue 18 item 1):
// 300 `read` invocations of a 0.9 MB calendar in one 6 KB POST were answered 200 and queued
// 267 MB in connection_messages (the database grew from 21 to 287 MB). Now a POST runs at
// most POLLHUB_MAX_INVOCATIONS invocations (the rest get a completion error naming the
// limit, so no client invoke waits for ever), and a read whose result would take the
// connection's own queue past POLLHUB_MAX_PENDING_BYTES is refused with a completion error
// naming that limit: the database grows by no more than that bound.
//
// The POST of 300 reads goes over raw long polling in every combination (its answers are
// polled for one by one); the @microsoft/signalr client uses the transport under test.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll, sleep, RS, request } from './stack.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const MAX_INVOCATIONS = 32;			// the defaults, named here
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const READS = 300;

const records = (body) => (body === '' ? [] : body.slice(0, -1).split(RS).map((s) => JSON.parse(s)));

/** A calendar of about 0.9 MB of meeting JSON (300 meetings, long descriptions), by psql. */
async function bigCalendar(stack, group) {
	await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, description, start_at, end_at)
		SELECT '${group}', 'Meeting ' || i,
		       (SELECT string_agg(md5(i::text || ':' || j::text), ' ') FROM generate_series(1, 85) j),
		       '2026-12-01T10:00Z'::timestamptz + i * interval '1 hour',
		       '2026-12-01T10:30Z'::timestamptz + i * interval '1 hour'
		  FROM generate_series(1, 300) i`);
	return Number(await stack.psql(`SELECT octet_length(json_agg(pollhub.meeting_json(m))::text)
		FROM pollhub.meetings m WHERE m.group_name = '${group}'`));
}

describe('bounded POSTs: invocations per POST and bytes pending per connection', { timeout: 180000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } });
	});
	after(async () => { await stack?.stop(); });

	it(`${READS} reads of a 0.9 MB calendar in one POST: clear errors past the bounds, the database bounded`, async (t) => stack.guard(async () => {
		const size = await bigCalendar(stack, 'big');
		assert.ok(size > 850000 && size < 1000000, `the calendar is about 0.9 MB (${size} B)`);
		await sleep(2500);	// the reaper trims the pushes of the inserts (no member)
		const dbSize = async () => Number(await stack.psql('SELECT pg_database_size(current_database())'));
		const before0 = await dbSize();

		const q = (tok) => `${stack.hubUrl}?id=${encodeURIComponent(tok)}&group=big`;
		const n = JSON.parse((await request(`${stack.hubUrl}/negotiate?negotiateVersion=1&group=big`,
			{ method: 'POST' })).body);
		const tok = n.connectionToken;
		assert.equal((await request(q(tok))).status, 200, 'first poll');
		const body = HANDSHAKE + Array.from({ length: READS }, (_, i) =>
			JSON.stringify({ type: 1, invocationId: String(i + 1), target: 'read', arguments: [] }) + RS).join('');
		const t0 = Date.now();
		const post = await request(q(tok), { method: 'POST', body });
		const postMs = Date.now() - t0;
		assert.equal(post.status, 200, 'the POST is answered');
		const grew = (await dbSize()) - before0;
		const queued = Number(await stack.psql(`SELECT coalesce(sum(octet_length(payload)), 0)
			FROM pollhub.connection_messages WHERE connection_id = '${n.connectionId}'`));
		const sizes = `POST answered in ${postMs} ms; queued ${queued} B; database grew ${grew} B`;
		t.diagnostic(sizes);
		assert.ok(queued <= MAX_PENDING_BYTES, `the queue is within the bound: ${sizes}`);
		// Table and TOAST pages, the index: the bound plus 2 MiB of slack.
		assert.ok(grew <= MAX_PENDING_BYTES + 2 * 1024 * 1024, `the database grew by no more than the bound: ${sizes}`);

		// Every invocation gets exactly one completion.
		const got = [];
		for (let i = 0; got.length < READS + 1 && i < 100; i++) {
			const p = await request(q(tok));
			assert.equal(p.status, 200, `poll ${i}`);
			got.push(...records(p.body));
		}
		assert.deepEqual(got[0], {}, 'the handshake answer first');
		const completions = got.slice(1);
		assert.deepEqual(completions.map((c) => c.invocationId), Array.from({ length: READS }, (_, i) => String(i + 1)),
			'one completion per invocation, in order');
		const results = completions.filter((c) => Array.isArray(c.result));
		const byInvocations = completions.filter((c) => /POLLHUB_MAX_INVOCATIONS/.test(c.error || ''));
		const byBytes = completions.filter((c) => /POLLHUB_MAX_PENDING_BYTES/.test(c.error || ''));
		const report = `${results.length} results, ${byBytes.length} refused by POLLHUB_MAX_PENDING_BYTES,` +
			` ${byInvocations.length} by POLLHUB_MAX_INVOCATIONS`;
		t.diagnostic(report);
		assert.equal(results.length + byBytes.length + byInvocations.length, READS, report);
		assert.equal(byInvocations.length, READS - MAX_INVOCATIONS, report);
		assert.ok(completions.slice(MAX_INVOCATIONS).every((c) => byInvocations.includes(c)),
			`the invocations past the limit are the ones refused by it: ${report}`);
		assert.ok(results.length > 0 && results.length * size <= MAX_PENDING_BYTES &&
			(results.length + 2) * size > MAX_PENDING_BYTES, `as many results as fit: ${report}`);
		assert.ok(results.every((r) => r.result.length === 300), 'each result the whole calendar');
		assert.match(byInvocations[0].error, new RegExp(`^An unexpected error occurred invoking 'read' on the server\\. HubException: More than ${MAX_INVOCATIONS} invocations in one request \\(POLLHUB_MAX_INVOCATIONS\\)`));
		assert.match(byBytes[0].error, /HubException: The result \(\d+ bytes\) would take what is queued for this connection \(\d+ bytes\) past POLLHUB_MAX_PENDING_BYTES \(8388608\)/);
		assert.equal((await request(q(tok), { method: 'DELETE' })).status, 202);
	})());

	it('a @microsoft/signalr client invoking 100 reads at once gets answers or errors, never hangs', async (t) => stack.guard(async () => {
		if (Number(await stack.psql(`SELECT count(*) FROM pollhub.meetings WHERE group_name = 'big'`)) === 0)
			await bigCalendar(stack, 'big');
		const c = await connect(`${stack.hubUrl}?group=big`);
		const closed = [];
		c.onclose((e) => closed.push(e?.message || 'closed'));
		try {
			const t0 = Date.now();
			const settled = await Promise.race([
				Promise.allSettled(Array.from({ length: 100 }, () => c.invoke('read'))),
				sleep(60000).then(() => null),
			]);
			assert.ok(settled, 'every invoke settled within 60 s');
			const ok = settled.filter((s) => s.status === 'fulfilled');
			const refused = settled.filter((s) => s.status === 'rejected');
			t.diagnostic(`100 reads in ${Date.now() - t0} ms: ${ok.length} answered, ${refused.length} refused` +
				` (${[...new Set(refused.map((s) => s.reason.message.replace(/\d+/g, 'N')))].join(' | ')})`);
			assert.ok(ok.length > 0, 'some reads are answered');
			assert.ok(ok.every((s) => s.value.length === 300), 'each answer the whole calendar');
			assert.ok(refused.every((s) => /POLLHUB_MAX_(INVOCATIONS|PENDING_BYTES)/.test(s.reason.message)),
				'every refusal names its limit');
			assert.deepEqual(closed, [], 'the client stays connected');
			assert.equal((await c.invoke('read')).length, 300, 'and reads again');
		} finally {
			await stopAll(c);
		}
	})());
});
