// A POST's transaction (issue 22 item 4: creates near pgbench): it writes the connection's
// row only when what the row keeps changes (a partial record carried over, a handshake),
// so a create's POST is the send lock, the method and its completion; a POST of several
// invocations still runs each in its own savepoint (a failed one changes nothing of the
// others). Over raw long polling in every combination: the row is read between requests,
// with no poll held (a poll writes the row itself).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, RS, request } from './stack.mjs';

const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
let seq = 0;
const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-01T10:00:00.000Z', End: '2026-12-01T10:30:00.000Z',
	IsAllDay: false,
});
const invocation = (target, args) =>
	JSON.stringify({ type: 1, invocationId: String(++seq), target, arguments: args }) + RS;
const records = (body) => (body === '' ? [] : body.slice(0, -1).split(RS).map((s) => JSON.parse(s)));

describe('a POST writes the connection\'s row only when it changes', { timeout: 60000 }, () => {
	let stack;
	before(async () => { stack = await startStack({}); });
	after(async () => { await stack?.stop(); });

	it('a create leaves the row as it was; a partial record is kept, then cleared', async () => stack.guard(async () => {
		const hub = stack.hubUrl;
		const n = JSON.parse((await request(`${hub}/negotiate?negotiateVersion=1`, { method: 'POST' })).body);
		const q = `${hub}?id=${encodeURIComponent(n.connectionToken)}`;
		const poll = () => request(q);
		const send = (body) => request(q, { method: 'POST', body });
		// The row's version (xmin changes with every UPDATE of it) and what it carries over.
		const row = () => stack.psql(`SELECT xmin::text || ' ' || octet_length(inbound) || ' ' || handshaken
			FROM pollhub.connections WHERE id = '${n.connectionId}'`);

		assert.equal((await poll()).status, 200);
		assert.equal((await send(HANDSHAKE)).status, 200);
		assert.equal((await poll()).body, `{}${RS}`);
		const before0 = await row();
		assert.match(before0, / 0 true$/, 'handshaken, nothing carried over');

		// A failed method, then two creates, in one POST.
		assert.equal((await send(invocation('nope', []) + invocation('create', [meeting('Sp A')]) +
			invocation('create', [meeting('Sp B')]))).status, 200);
		assert.equal(await row(), before0, 'the POST did not write the connection\'s row');
		const recs = records((await poll()).body);
		assert.equal(recs.length, 3, JSON.stringify(recs));
		assert.match(recs[0].error, /Method does not exist/);
		assert.deepEqual(recs.slice(1).map((r) => r.result?.Title), ['Sp A', 'Sp B']);
		assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.meetings WHERE title IN ('Sp A', 'Sp B')`), '2');

		// Half a record is kept in the row; the POST with the rest runs it and clears it.
		const whole = invocation('create', [meeting('Sp C')]);
		const cut = Math.floor(whole.length / 2);
		assert.equal((await send(whole.slice(0, cut))).status, 200);
		const carried = await row();
		assert.notEqual(carried.split(' ')[0], before0.split(' ')[0], 'the row was written');
		assert.equal(carried.split(' ')[1], String(cut), 'the partial record is carried over');
		assert.equal((await send(whole.slice(cut))).status, 200);
		assert.match(await row(), / 0 true$/, 'nothing carried over any more');
		const c = records((await poll()).body);
		assert.deepEqual(c.map((r) => r.result?.Title), ['Sp C']);
	})());
});
