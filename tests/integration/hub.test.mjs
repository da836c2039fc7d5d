// The MeetingHub through the real @microsoft/signalr client over LongPolling.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack, connect, stopAll, waitFor, sleep } from './stack.mjs';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_Z_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

let seq = 0;
function meeting(over = {}) {
	seq++;
	return {
		ID: null,
		Title: `Standup ${seq}`,
		Start: '2026-11-26T10:00:00.000Z',
		End: '2026-11-26T10:30:00.000Z',
		IsAllDay: false,
		RoomID: 1,
		Attendees: [1, 2],
		Description: '',
		RecurrenceRule: '',
		RecurrenceID: null,
		RecurrenceException: '',
		StartTimezone: '',
		EndTimezone: '',
		...over,
	};
}

async function rejects(promise, check, what) {
	let err;
	try {
		await promise;
	} catch (e) {
		err = e;
	}
	assert.ok(err, `${what}: the invocation must be rejected`);
	check(err.message);
	return err;
}

const byId = (rows, id) => rows.find((r) => r.ID === id);

describe('MeetingHub (default groups)', { timeout: 150000 }, () => {
	let stack;
	let hub;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '5' } });
		hub = stack.hubUrl;
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));

	test('connect and read an array', async () => {
		const c = await connect(hub);
		try {
			assert.equal(c.state, 'Connected');
			const rows = await c.invoke('read');
			assert.ok(Array.isArray(rows), `read returned ${JSON.stringify(rows)}`);
		} finally {
			await stopAll(c);
		}
	});

	test('create, read, update, destroy', async () => {
		const c = await connect(hub);
		try {
			const sent = meeting({ Title: 'Standup' });
			const created = await c.invoke('create', sent);
			assert.match(created.ID, UUID_RE, `ID ${created.ID}`);
			assert.match(created.CreatedAt, ISO_Z_RE, `CreatedAt ${created.CreatedAt}`);
			assert.equal(created.Title, 'Standup');
			assert.equal(created.Start, sent.Start);
			assert.equal(created.End, sent.End);
			assert.equal(created.IsAllDay, false);
			assert.equal(created.RoomID, 1);
			assert.deepEqual(created.Attendees, [1, 2]);

			let rows = await c.invoke('read');
			assert.deepEqual(byId(rows, created.ID), created, 'read returns the created row as create did');

			const changed = { ...created, Title: 'Standup (moved)', Start: '2026-11-26T09:45:00.000Z' };
			await c.invoke('update', changed);
			rows = await c.invoke('read');
			const row = byId(rows, created.ID);
			assert.ok(row, 'updated meeting still there');
			assert.equal(row.Title, 'Standup (moved)');
			assert.equal(row.Start, '2026-11-26T09:45:00.000Z');
			assert.equal(row.End, sent.End);
			assert.equal(row.CreatedAt, created.CreatedAt);

			await c.invoke('destroy', changed);
			rows = await c.invoke('read');
			assert.equal(byId(rows, created.ID), undefined, 'destroyed meeting gone');
			const n = await stack.psql(`SELECT count(*) FROM pollhub.meetings WHERE id = '${created.ID}'`);
			assert.equal(n, '0', 'row deleted in the database');
		} finally {
			await stopAll(c);
		}
	});

	test('create accepts ID "" and 0 and a missing ID', async () => {
		const c = await connect(hub);
		try {
			const a = await c.invoke('create', meeting({ ID: '' }));
			const b = await c.invoke('create', meeting({ ID: 0 }));
			const m = meeting();
			delete m.ID;
			const d = await c.invoke('create', m);
			for (const x of [a, b, d]) assert.match(x.ID, UUID_RE);
			assert.equal(new Set([a.ID, b.ID, d.ID]).size, 3, 'distinct IDs');
			const rows = await c.invoke('read');
			for (const x of [a, b, d]) assert.ok(byId(rows, x.ID), `${x.ID} readable`);
		} finally {
			await stopAll(c);
		}
	});

	test('three clients: each change reaches the two others exactly once, never the caller', async () => {
		const [a, b, c] = await Promise.all([connect(hub), connect(hub), connect(hub)]);
		try {
			const created = await a.invoke('create', meeting({ Title: 'Push test' }));
			await waitFor(() => b.pushes.count('create') >= 1 && c.pushes.count('create') >= 1, 5000, 'create pushes');
			for (const x of [b, c]) {
				assert.equal(x.pushes.count('create'), 1);
				assert.deepEqual(x.pushes.payloads('create')[0], created, 'create push equals the returned object');
			}

			const updated = { ...created, Title: 'Push test (updated)' };
			await b.invoke('update', updated);
			await waitFor(() => a.pushes.count('update') >= 1 && c.pushes.count('update') >= 1, 5000, 'update pushes');
			for (const x of [a, c]) {
				assert.equal(x.pushes.count('update'), 1);
				const p = x.pushes.payloads('update')[0];
				assert.equal(p.ID, created.ID);
				assert.equal(p.Title, 'Push test (updated)');
			}

			await c.invoke('destroy', updated);
			await waitFor(() => a.pushes.count('destroy') >= 1 && b.pushes.count('destroy') >= 1, 5000, 'destroy pushes');
			for (const x of [a, b]) assert.equal(x.pushes.payloads('destroy')[0].ID, created.ID);

			await sleep(1000);
			assert.equal(a.pushes.count('create'), 0, 'the creator gets no create push');
			assert.equal(b.pushes.count('update'), 0, 'the updater gets no update push');
			assert.equal(c.pushes.count('destroy'), 0, 'the destroyer gets no destroy push');
			for (const [x, n] of [[a, 2], [b, 2], [c, 2]])
				assert.equal(x.pushes.count(), n, `pushes ${JSON.stringify(x.pushes.events.map((e) => e.target))}`);
		} finally {
			await stopAll(a, b, c);
		}
	});

	test('invalid meetings and bad calls are rejected; the connection keeps working', async () => {
		const c = await connect(hub);
		try {
			const ok = async () => assert.ok(Array.isArray(await c.invoke('read')), 'read after an error');
			const base = meeting();

			await rejects(c.invoke('create', meeting({ Start: '2026-11-26T11:00:00.000Z' })),
				(m) => assert.match(m, /End/), 'End before Start');
			await ok();
			const noStart = meeting();
			delete noStart.Start;
			await rejects(c.invoke('create', noStart), (m) => assert.match(m, /Start/), 'missing Start');
			await ok();
			await rejects(c.invoke('create', meeting({ Start: 'not a date' })),
				(m) => assert.match(m, /Start/), 'Start not a date');
			await ok();
			await rejects(c.invoke('create', meeting({ Title: 42 })),
				(m) => assert.match(m, /Title/), 'Title a number');
			await ok();
			await rejects(c.invoke('update', { ...base, ID: crypto.randomUUID() }),
				(m) => assert.match(m, /ID/), 'update of an unknown ID');
			await ok();
			await rejects(c.invoke('create', base, base), (m) => assert.equal(m,
				"Failed to invoke 'create' due to an error on the server. InvalidDataException: " +
				'Invocation provides 2 argument(s) but target expects 1.'), 'create with 2 arguments');
			await ok();
			await rejects(c.invoke('nope'), (m) => assert.equal(m,
				"Failed to invoke 'nope' due to an error on the server. HubException: Method does not exist."),
			'unknown method');
			await ok();
			assert.equal(c.state, 'Connected');
			// None of the rejected creates was stored.
			const rows = await c.invoke('read');
			assert.equal(rows.filter((r) => r.Title === base.Title).length, 0);
		} finally {
			await stopAll(c);
		}
	});

	test('read accepts {} and a Kendo filter object', async () => {
		const c = await connect(hub);
		try {
			const created = await c.invoke('create', meeting({ Title: 'Filter test' }));
			const all = await c.invoke('read');
			const a = await c.invoke('read', {});
			const b = await c.invoke('read', { filter: { logic: 'and', filters: [] } });
			for (const rows of [a, b]) {
				assert.ok(Array.isArray(rows));
				assert.ok(byId(rows, created.ID), 'the new meeting is in the result');
				assert.equal(rows.length, all.length);
			}
		} finally {
			await stopAll(c);
		}
	});

	test('meetings survive a restart of the responder', async () => {
		const c = await connect(hub);
		const created = await c.invoke('create', meeting({ Title: 'Survivor' }));
		await stopAll(c);
		await stack.stopResponder();
		await stack.startResponder();
		const d = await connect(hub);
		try {
			const rows = await d.invoke('read');
			assert.deepEqual(byId(rows, created.ID), created);
		} finally {
			await stopAll(d);
		}
	});

	test('3 clients × 20 concurrent creates: every other client gets each create once', async () => {
		const clients = await Promise.all([connect(hub), connect(hub), connect(hub)]);
		try {
			const made = await Promise.all(clients.map((cl, i) => Promise.all(Array.from({ length: 20 },
				(_, k) => cl.invoke('create', meeting({ Title: `Burst ${i}.${k}` }))))));
			const ids = made.map((list) => list.map((m) => m.ID));
			assert.equal(new Set(ids.flat()).size, 60, '60 distinct IDs');
			await waitFor(() => clients.every((cl) => cl.pushes.count('create') >= 40), 15000,
				'40 create pushes per client');
			await sleep(1000);
			clients.forEach((cl, i) => {
				const got = cl.pushes.payloads('create').map((p) => p.ID);
				assert.equal(got.length, 40, `client ${i} got ${got.length} create pushes`);
				assert.equal(new Set(got).size, 40, `client ${i} got duplicates`);
				const expected = ids.filter((_, j) => j !== i).flat();
				assert.deepEqual([...got].sort(), [...expected].sort(), `client ${i}: the others' creates`);
				for (const own of ids[i]) assert.ok(!got.includes(own), `client ${i} got its own create`);
			});
		} finally {
			await stopAll(clients);
		}
	});

	test('fan-out: 40 members, 5 creates: each other member gets each once, in order', async () => {
		const clients = await Promise.all(Array.from({ length: 40 }, () => connect(hub)));
		try {
			const made = [];
			for (let k = 0; k < 5; k++) made.push((await clients[0].invoke('create', meeting({ Title: `Fan ${k}` }))).ID);
			await waitFor(() => clients.slice(1).every((cl) => cl.pushes.count('create') >= 5), 15000,
				'5 create pushes at every other member');
			await sleep(500);
			assert.equal(clients[0].pushes.count('create'), 0, 'the caller gets none');
			for (const cl of clients.slice(1))
				assert.deepEqual(cl.pushes.payloads('create').map((p) => p.ID), made, 'once each, in commit order');
		} finally {
			await stopAll(clients);
		}
	});

	test('without POLLHUB_GROUP_PARAM all clients from 127.0.0.1 share one group', async () => {
		const a = await connect(`${hub}?group=a`);
		const b = await connect(`${hub}?group=b`);
		try {
			const created = await a.invoke('create', meeting({ Title: 'Shared' }));
			await waitFor(() => b.pushes.count('create') >= 1, 5000, 'push across ?group= values');
			assert.equal(b.pushes.payloads('create')[0].ID, created.ID);
			assert.ok(byId(await b.invoke('read'), created.ID), 'b reads a\'s meeting');
		} finally {
			await stopAll(a, b);
		}
	});
});

describe('MeetingHub with POLLHUB_GROUP_PARAM=group', { timeout: 60000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '5', POLLHUB_GROUP_PARAM: 'group' } });
	});
	after(async () => { await stack?.stop(); });

	it('groups a and b see neither each other\'s pushes nor meetings', async () => {
		await stack.guard(async () => {
			const [a1, a2, b1, b2] = await Promise.all([
				connect(`${stack.hubUrl}?group=a`), connect(`${stack.hubUrl}?group=a`),
				connect(`${stack.hubUrl}?group=b`), connect(`${stack.hubUrl}?group=b`)]);
			try {
				const ma = await a1.invoke('create', meeting({ Title: 'In a' }));
				const mb = await b1.invoke('create', meeting({ Title: 'In b' }));
				await waitFor(() => a2.pushes.count('create') >= 1 && b2.pushes.count('create') >= 1, 5000,
					'pushes inside each group');
				await sleep(1000);
				assert.deepEqual(a2.pushes.payloads('create').map((m) => m.ID), [ma.ID]);
				assert.deepEqual(b2.pushes.payloads('create').map((m) => m.ID), [mb.ID]);
				assert.equal(a1.pushes.count(), 0, 'a1 got a push from b');
				assert.equal(b1.pushes.count(), 0, 'b1 got a push from a');

				const ra = await a2.invoke('read');
				const rb = await b2.invoke('read');
				assert.deepEqual(ra.map((m) => m.ID), [ma.ID], 'group a reads only its meeting');
				assert.deepEqual(rb.map((m) => m.ID), [mb.ID], 'group b reads only its meeting');

				// Changes across groups are refused: b cannot update or destroy a's meeting.
				await rejects(b1.invoke('update', { ...ma, Title: 'hijack' }),
					(m) => assert.match(m, /ID/), 'cross-group update');
				assert.equal(byId(await a1.invoke('read'), ma.ID).Title, 'In a');
			} finally {
				await stopAll(a1, a2, b1, b2);
			}
		})();
	});
});
