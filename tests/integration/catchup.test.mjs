// A client that catches up a backlog gets all of it, exactly once, and stays connected
// (issue 18, item 3: "a stream that catches up is closed as 'not reading'").
//
// A real @microsoft/signalr client over the transport under test, in group 'catchup':
// - 995 pushes committed in one statement (pollhub.send_to_group), each record (its JSON
//   and the 0x1E after it) 1,057 bytes: the default POLLHUB_MAX_ANSWER budget (1 MiB)
//   holds 992 of them with 32 bytes to spare, less than an event's framing. Before the
//   fix the stream was judged before it was flushed and closed as not reading after 992.
//   The same with 1,058-byte records (991 fit, 98 bytes to spare).
// - a backlog of 3 x POLLHUB_MAX_BUFFERED (its default, 2 MiB) under a raised
//   POLLHUB_MAX_PENDING: a stream drains again only below its low-water mark, so a fast
//   backlog never piles up past the cap on its own.
// Each push carries its number: the client must get 1..n in order, none twice; under
// LongPolling over successive polls, under ServerSentEvents over one stream. The
// responder's log must not say 'client not reading'.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, sleep, transportName } from './stack.mjs';

const GROUP = 'catchup';
const MAX_ANSWER = 1048576;	// POLLHUB_MAX_ANSWER's default
const MAX_BUFFERED = 2097152;	// POLLHUB_MAX_BUFFERED's default

describe(`a backlog caught up over ${transportName}`, { timeout: 240000 }, () => {
	let stack;
	let overhead;	// bytes of a record beyond its argument string's characters

	before(async () => {
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group', POLLHUB_MAX_PENDING: '20000' } });
		// A record is pollhub.invocation's text and its 0x1E separator.
		const one = Number(await stack.psql(
			"SELECT octet_length(pollhub.invocation('notify', json_build_array('x'))) + 1"));
		overhead = one - 1;
	});
	after(async () => { await stack?.stop(); });

	const log = () => fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');

	/** Commits count pushes of recordBytes each (numbered 00001...) in one statement. */
	const backlog = (count, recordBytes) => {
		const n = recordBytes - overhead;
		assert.ok(n > 5, `records of ${recordBytes} bytes leave room for the number`);
		return stack.psql(`SELECT count(pollhub.send_to_group('${GROUP}', 'notify',
			json_build_array(lpad(i::text, 5, '0') || repeat('x', ${n - 5}))))
			FROM generate_series(1, ${count}) i`);
	};

	/** slowMs: the client spends this long on each push (its socket is not read meanwhile). */
	async function catchUp(t, count, recordBytes, ms, slowMs = 0) {
		const got = [];
		const closed = [];
		const conn = await connect(`${stack.hubUrl}?group=${GROUP}`, {
			handlers: {
				notify: (s) => {
					got.push(s);
					for (const until = Date.now() + slowMs; Date.now() < until;);
				},
			},
		});
		conn.onclose((e) => closed.push(e ? e.message : 'closed'));
		try {
			const logBefore = log().length;
			const t0 = Date.now();
			await backlog(count, recordBytes);
			const sizes = new Set(got.map((s) => s.length));
			await waitFor(() => got.length >= count || closed.length > 0, ms,
				`${count} pushes (${got.length} so far)`);
			// Nothing more may follow (a duplicate would come now).
			await sleep(1000);
			t.diagnostic(`${got.length} of ${count} pushes of ${recordBytes} bytes in ${Date.now() - t0} ms` +
				`${closed.length ? `; closed: ${closed.join('; ')}` : ''}`);
			const nums = got.map((s) => Number(s.slice(0, 5)));
			const expected = Array.from({ length: count }, (_, i) => i + 1);
			assert.equal(got.length, count, `every push arrived (${got.length} of ${count}; last ${nums.at(-1)})`);
			assert.deepEqual(nums, expected, 'in order, each once');
			for (const s of got) sizes.add(s.length);
			assert.deepEqual([...sizes], [recordBytes - overhead], 'each push whole');
			assert.deepEqual(closed, [], 'the connection stayed open');
			assert.equal(conn.state, 'Connected');
			const text = log().slice(logBefore);
			assert.doesNotMatch(text, /client not reading/, 'no stream closed as not reading');
			assert.doesNotMatch(text, /not delivered|records lost/, 'nothing dropped');
		} finally {
			await stopAll(conn);
		}
	}

	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test('995 records of 1,057 bytes: the budget holds 992 with 32 bytes to spare', async (t) => {
		assert.equal(Math.floor(MAX_ANSWER / 1057), 992);
		assert.equal(MAX_ANSWER - 992 * 1057, 32);
		await catchUp(t, 995, 1057, 60000);
	});

	test('995 records of 1,058 bytes: the budget holds 991 with 98 bytes to spare', async (t) => {
		assert.equal(MAX_ANSWER - 991 * 1058, 98);
		await catchUp(t, 995, 1058, 60000);
	});

	test('a backlog of 3 x POLLHUB_MAX_BUFFERED (2,000-byte records)', async (t) => {
		const count = Math.ceil((3 * MAX_BUFFERED) / 2000);
		await catchUp(t, count, 2000, 120000);
	});

	// The client takes about 1 ms per push (about 2 MB/s): behind a web server that
	// passes back-pressure on (Apache), the responder's buffer is what waits.
	test('the same backlog to a client that reads slowly', async (t) => {
		const count = Math.ceil((3 * MAX_BUFFERED) / 2000);
		await catchUp(t, count, 2000, 120000, 1);
	});
});
