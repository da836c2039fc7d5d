// A hub written in SQL in the test itself (issue 21, not shipped): its table, its row type,
// a query method, value methods that push, one that RAISEs and one that is broken, made
// in psql while the stack runs and called by @microsoft/signalr and by the classic
// protocol (jquery.signalR's requests). Asserts: methods resolve case-insensitively and by
// arity, with ASP.NET Core's words when they do not; a RAISE is the completion error with
// its message, a broken function a completion error and a log line, never a crash; the
// query method takes Kendo's filter, sort and page over its columns and refuses other
// fields; pushes reach the other members of the group on this hub only (not a MeetingHub
// connection of the same group name); a CREATE OR REPLACE FUNCTION is in force at the next
// call and a hub row added in psql is served at once, with no restart of anything; a read-
// only caller cannot run a VOLATILE method.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor, sleep, collector, transportName, repoRoot } from './stack.mjs';

/** README.md's ```sql block under "Adding a hub for an existing table". */
function readmeSteps() {
	const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
	const at = readme.indexOf('### Adding a hub for an existing table');
	assert.ok(at > 0, 'README.md has the section');
	const m = /```sql\n([^]*?)\n```/.exec(readme.slice(at));
	assert.ok(m, 'the section has a sql block');
	return m[1];
}

const NOTES_SQL = `
CREATE SCHEMA notes;
GRANT USAGE ON SCHEMA notes TO pollhub_app;
CREATE TABLE notes.notes (id serial PRIMARY KEY, group_name text NOT NULL, body text NOT NULL,
	stars integer NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());
GRANT SELECT, INSERT, UPDATE, DELETE ON notes.notes TO pollhub_app;
GRANT USAGE ON SEQUENCE notes.notes_id_seq TO pollhub_app;
CREATE TYPE notes.note AS ("ID" integer, "Body" text, "Stars" integer, "CreatedAt" timestamptz);
CREATE FUNCTION notes.read(call pollhub.hub_call, query jsonb DEFAULT NULL) RETURNS SETOF notes.note
LANGUAGE sql STABLE AS $$
	SELECT n.id, n.body, n.stars, n.created_at FROM notes.notes n
	 WHERE n.group_name = call.group_name ORDER BY n.id
$$;
CREATE FUNCTION notes.add(call pollhub.hub_call, note jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	r notes.notes;
	item jsonb;
BEGIN
	IF jsonb_typeof(note->'Body') IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'Invalid note: ''Body'' must be a string.';
	END IF;
	INSERT INTO notes.notes (group_name, body, stars)
	VALUES (call.group_name, note->>'Body', coalesce((note->>'Stars')::integer, 0)) RETURNING * INTO r;
	item := jsonb_build_object('ID', r.id, 'Body', r.body, 'Stars', r.stars);
	PERFORM pollhub.push_others(call, 'added', jsonb_build_array(item));
	RETURN item;
END
$$;
CREATE FUNCTION notes.whoami(call pollhub.hub_call) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('hub', call.hub, 'group', call.group_name, 'connection', call.connection_id)
$$;
CREATE FUNCTION notes."MixedCase"(call pollhub.hub_call) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'quoted' $$;
CREATE FUNCTION notes.version(call pollhub.hub_call) RETURNS integer LANGUAGE sql STABLE AS $$ SELECT 1 $$;
CREATE FUNCTION notes.nothing(call pollhub.hub_call, x json DEFAULT NULL) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION notes.refuse(call pollhub.hub_call) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'No notes on Sundays (group %).', call.group_name;
END
$$;
CREATE FUNCTION notes.broken(call pollhub.hub_call) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT to_jsonb(x.no_such_column) FROM notes.notes x LIMIT 1);
END
$$;
CREATE FUNCTION notes.announce(call pollhub.hub_call, text jsonb) RETURNS bigint LANGUAGE sql AS $$
	SELECT pollhub.push_group(call, 'announced', jsonb_build_array(text))
$$;
CREATE FUNCTION notes.tell(call pollhub.hub_call, who jsonb, text jsonb) RETURNS integer LANGUAGE sql AS $$
	SELECT pollhub.push_user(call, who #>> '{}', 'told', jsonb_build_array(text))
$$;
CREATE FUNCTION notes.whisper(call pollhub.hub_call, conn jsonb, text jsonb) RETURNS boolean LANGUAGE sql AS $$
	SELECT pollhub.push_connection(call, conn #>> '{}', 'whispered', jsonb_build_array(text))
$$;
CREATE FUNCTION notes.shout_and_fail(call pollhub.hub_call) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pollhub.push_group(call, 'announced', '["never sent"]');
	RAISE EXCEPTION 'changed my mind';
END
$$;
INSERT INTO pollhub.hubs (name, path, schema_name) VALUES ('NotesHub', '/notes', 'notes');
`;

describe(`a hub written in SQL (${transportName})`, { timeout: 120000 }, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } });
		await stack.psql(NOTES_SQL);
	});
	after(async () => {
		await stack?.stop();
	});
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const at = (path, group) => `${stack.url}${path}?group=${encodeURIComponent(group)}`;
	const rejects = async (p, re) => {
		await assert.rejects(p, (e) => {
			assert.match(e.message, re);
			return true;
		});
	};

	test('methods by name in any case and by arity; pushes stay on the hub and group', async () => {
		const a = await connect(at('/notes', 'n1'));
		const b = await connect(at('/notes', 'n1'));
		const other = await connect(at('/notes', 'n2'));
		const meetings = await connect(at('/meetings', 'n1'));	// MeetingHub, same group name
		const gotB = collector(b, ['added']);
		const gotOther = collector(other, ['added']);
		const gotMeetings = collector(meetings, ['added']);
		try {
			const made = await a.invoke('ADD', { Body: 'first', Stars: 2 });
			assert.equal(made.Body, 'first');
			assert.equal(made.Stars, 2);
			await waitFor(() => gotB.count('added') === 1, 5000, 'the push to the other member');
			assert.deepEqual(gotB.payloads('added')[0], made);
			assert.deepEqual(await a.invoke('whoami'), { hub: 'NotesHub', group: 'n1', connection: a.connectionId });
			assert.equal(await a.invoke('version'), 1);
			// A quoted name in mixed case, called in another case: found all the same.
			assert.equal(await a.invoke('mixedcase'), 'quoted');
			assert.equal(await a.invoke('MIXEDCASE'), 'quoted');
			assert.equal(await a.invoke('nothing'), null);
			assert.equal(await a.invoke('Nothing', { any: 1 }), null);
			await rejects(a.invoke('nothing', 1, 2), /Failed to invoke 'nothing' due to an error on the server\./);
			await rejects(a.invoke('nope'), /^Failed to invoke 'nope' due to an error on the server\. HubException: Method does not exist\.$/);
			// A MeetingHub method is not this hub's.
			await rejects(a.invoke('create', { Title: 'x' }), /Method does not exist/);
			await sleep(300);
			assert.equal(gotOther.count('added'), 0, 'another group heard nothing');
			assert.equal(gotMeetings.count('added'), 0, 'a MeetingHub connection of the same group name heard nothing');
		} finally {
			await stopAll(a, b, other, meetings);
		}
	});

	test("the longest group name a client may give: its key 'NotesHub/…' still fits", async () => {
		const longest = '\u00e9'.repeat(256);	// 256 characters, 512 bytes
		const a = await connect(at('/notes', longest));
		const b = await connect(at('/notes', longest));
		const got = collector(b, ['added']);
		try {
			assert.equal((await a.invoke('whoami')).group, longest);
			await a.invoke('add', { Body: 'long' });
			await waitFor(() => got.count('added') === 1, 5000, 'the push in the long group');
			assert.equal(await stack.psql(`SELECT length(group_name) FROM pollhub.connections WHERE id = '${a.connectionId}'`),
				String('NotesHub/'.length + 256));
		} finally {
			await stopAll(a, b);
		}
	});

	test('push_group, push_user and push_connection reach whom they name, and only if the method commits', async () => {
		const a = await connect(at('/notes', 'p'));
		const b = await connect(at('/notes', 'p'));
		const far = await connect(at('/notes', 'elsewhere'));	// bob's, in another group
		const meetings = await connect(at('/meetings', 'p'));	// bob's too, on MeetingHub
		const heard = (conn) => collector(conn, ['announced', 'told', 'whispered']);
		const [ha, hb, hfar, hm] = [heard(a), heard(b), heard(far), heard(meetings)];
		try {
			for (const c of [b, far, meetings])
				await stack.psql(`UPDATE pollhub.connections SET user_name = 'bob' WHERE id = '${c.connectionId}'`);
			await a.invoke('announce', 'to all of p');
			await waitFor(() => ha.count('announced') === 1 && hb.count('announced') === 1, 5000, 'push_group: the caller too');
			assert.equal(await a.invoke('tell', 'bob', 'hi bob'), 2, "bob's two connections on this hub");
			await waitFor(() => hb.count('told') === 1 && hfar.count('told') === 1, 5000, 'push_user');
			assert.equal(await a.invoke('whisper', b.connectionId, 'psst'), true);
			assert.equal(await a.invoke('whisper', meetings.connectionId, 'psst'), false, "another hub's connection");
			await waitFor(() => hb.count('whispered') === 1, 5000, 'push_connection');
			await assert.rejects(a.invoke('shout_and_fail'), /changed my mind/);
			await sleep(500);
			assert.equal(ha.count('announced'), 1, 'a push of a method that failed is never sent');
			assert.equal(hb.count('announced'), 1);
			assert.equal(ha.count('told') + ha.count('whispered'), 0, 'nothing else reached the caller');
			assert.equal(hfar.count('announced') + hfar.count('whispered'), 0);
			assert.equal(hm.count('announced') + hm.count('told') + hm.count('whispered'), 0, 'MeetingHub heard nothing');
		} finally {
			await stopAll(a, b, far, meetings);
		}
	});

	test('RAISE is the completion error with its message; a broken function is one too', async () => {
		const a = await connect(at('/notes', 'n3'));
		try {
			await rejects(a.invoke('refuse'),
				/^An unexpected error occurred invoking 'refuse' on the server\. HubException: No notes on Sundays \(group n3\)\.$/);
			await rejects(a.invoke('add', { Body: 7 }), /HubException: Invalid note: 'Body' must be a string\.$/);
			await rejects(a.invoke('broken'), /^An unexpected error occurred invoking 'broken' on the server\./);
			// The connection goes on.
			assert.equal((await a.invoke('add', { Body: 'after' })).Body, 'after');
			await waitFor(() => /hub method 'broken' failed: SQLSTATE 42703/.test(stack.logs()), 5000,
				"the broken method's log line");
		} finally {
			await stopAll(a);
		}
	});

	test("a query method takes Kendo's filter, sort and page over its columns", async () => {
		await stack.psql(`INSERT INTO notes.notes (group_name, body, stars)
			SELECT 'q', 'note ' || i, i % 5 FROM generate_series(1, 40) i;
			INSERT INTO notes.notes (group_name, body) VALUES ('q', '100% sure'), ('q', 'a_b')`);
		const a = await connect(at('/notes', 'q'));
		try {
			const all = await a.invoke('read');
			assert.equal(all.length, 42);
			assert.deepEqual(Object.keys(all[0]), ['ID', 'Body', 'Stars', 'CreatedAt']);
			assert.match(all[0].CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
			const page = await a.invoke('read', {
				take: 5, skip: 0, sort: [{ field: 'Stars', dir: 'desc' }],
				filter: { logic: 'and', filters: [{ field: 'Body', operator: 'startswith', value: 'NOTE' }] },
			});
			assert.equal(page.Total, 40);
			assert.equal(page.Data.length, 5);
			assert.ok(page.Data.every((n) => n.Stars === 4), JSON.stringify(page.Data));
			// Stable pages: the sort is completed by the first column.
			const ids = [];
			for (let skip = 0; skip < 40; skip += 7) {
				const p = await a.invoke('read', { take: 7, skip, sort: [{ field: 'Stars', dir: 'asc' }],
					filter: { field: 'Body', operator: 'contains', value: 'note' } });
				ids.push(...p.Data.map((n) => n.ID));
			}
			assert.equal(new Set(ids).size, 40, 'pages neither overlap nor skip');
			// % and _ are characters, not patterns.
			assert.deepEqual((await a.invoke('read', { filter: { field: 'Body', operator: 'contains', value: '%' } }))
				.map((n) => n.Body), ['100% sure']);
			assert.deepEqual((await a.invoke('read', { filter: { field: 'Body', operator: 'contains', value: '_' } }))
				.map((n) => n.Body), ['a_b']);
			await rejects(a.invoke('read', { filter: { field: 'group_name', operator: 'eq', value: 'n1' } }),
				/Invalid read query: unknown field 'group_name'/);
			await rejects(a.invoke('read', { filter: { field: 'Body") OR true --', operator: 'eq', value: 'x' } }),
				/Invalid read query: unknown field/);
			await rejects(a.invoke('read', { sort: [{ field: 'Stars', dir: 'sideways' }] }), /Invalid read query/);
			await rejects(a.invoke('read', 'all'), /Failed to invoke 'read'/);
			assert.equal(await stack.psql(`SELECT count(*) FROM notes.notes WHERE group_name = 'q'`), '42');
		} finally {
			await stopAll(a);
		}
	});

	test('CREATE OR REPLACE FUNCTION and a new hub row take effect at once, with no restart', async () => {
		const a = await connect(at('/notes', 'live'));
		try {
			assert.equal(await a.invoke('version'), 1);
			await stack.psql(`CREATE OR REPLACE FUNCTION notes.version(call pollhub.hub_call) RETURNS integer
				LANGUAGE sql STABLE AS $$ SELECT 2 $$`);
			assert.equal(await a.invoke('version'), 2, 'the replaced function answers the next call');
			await stack.psql(`CREATE FUNCTION notes.later(call pollhub.hub_call) RETURNS text
				LANGUAGE sql STABLE AS $$ SELECT 'added live' $$`);
			assert.equal(await a.invoke('later'), 'added live');
			await stack.psql(`INSERT INTO pollhub.hubs (name, path, schema_name) VALUES ('LiveHub', '/live', 'notes')`);
			const b = await connect(at('/live', 'live'));
			try {
				assert.deepEqual(await b.invoke('whoami'), { hub: 'LiveHub', group: 'live', connection: b.connectionId });
			} finally {
				await stopAll(b);
			}
			await assert.rejects(connect(at('/nowhere', 'live')), /404/);
		} finally {
			await stopAll(a);
		}
	});

	test('a caller that may only read cannot run a VOLATILE method; a STABLE one it can', async () => {
		const a = await connect(at('/notes', 'ro'));
		try {
			await stack.psql(`UPDATE pollhub.connections SET user_name = 'reader', permission = 'read'
				WHERE id = '${a.connectionId}'`);
			await rejects(a.invoke('add', { Body: 'no' }), /^Not allowed: user 'reader' may only read calendar 'ro'\.$/);
			assert.equal((await a.invoke('read')).length, 0);
		} finally {
			await stopAll(a);
		}
	});

	test("README's steps add a hub for an existing table, live", async () => {
		await stack.psql(`CREATE TABLE public.tasks (id serial PRIMARY KEY, team text NOT NULL,
			title text NOT NULL, done boolean NOT NULL DEFAULT false, due date)`);
		await stack.psql(readmeSteps());
		const a = await connect(at('/tasks', 'ops'));
		const b = await connect(at('/tasks', 'ops'));
		const got = collector(b, ['create']);
		try {
			const made = await a.invoke('create', { Title: 'Renew certificates', Due: '2026-12-20' });
			assert.deepEqual({ ...made, ID: 0 }, { ID: 0, Title: 'Renew certificates', Done: false, Due: '2026-12-20' });
			await waitFor(() => got.count('create') === 1, 5000, 'the push');
			await rejects(a.invoke('create', { Title: '' }), /HubException: Invalid task: 'Title' is required\.$/);
			const page = await a.invoke('read', { take: 10, skip: 0, filter: { field: 'Done', operator: 'eq', value: false } });
			assert.equal(page.Total, 1);
			assert.equal(page.Data[0].Title, 'Renew certificates');
		} finally {
			await stopAll(a, b);
		}
	});

	test('classic clients reach the hub by its proxy name', async () => {
		const CD = JSON.stringify([{ name: 'notesHub' }]);
		const qs = (o) => new URLSearchParams(o).toString();
		const base = `${stack.url}/notes`;
		const neg = await (await fetch(`${base}/negotiate?${qs({ clientProtocol: '2.1', connectionData: CD, group: 'cl' })}`)).json();
		const p = { transport: 'longPolling', clientProtocol: '2.1', connectionToken: neg.ConnectionToken, connectionData: CD };
		const conn = await (await fetch(`${base}/connect?${qs(p)}`)).json();
		assert.ok(conn.C, JSON.stringify(conn));
		assert.equal((await (await fetch(`${base}/start?${qs(p)}`)).json()).Response, 'started');
		const form = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
		const send = async (data) => (await fetch(`${base}/send?${qs(p)}`, { method: 'POST', headers: form,
			body: qs({ data: JSON.stringify(data) }) })).json();
		const r = await send({ H: 'notesHub', M: 'add', A: [{ Body: 'classic' }], I: 0 });
		assert.equal(r.R.Body, 'classic', JSON.stringify(r));
		assert.equal((await send({ H: 'notesHub', M: 'whoami', A: [], I: 1 })).R.hub, 'NotesHub');
		// The connection serves the hub its connectionData named.
		assert.match((await send({ H: 'meetings', M: 'read', A: [], I: 2 })).E, /could not be resolved/);
		// A Core member of the group hears the classic add; a classic poll hears a Core add.
		const core = await connect(at('/notes', 'cl'));
		try {
			const poll = fetch(`${base}/poll?${qs({ ...p, messageId: conn.C })}`).then((x) => x.json());
			await core.invoke('add', { Body: 'from core' });
			const got = await poll;
			assert.deepEqual(got.M.map((m) => [m.H, m.M, m.A[0].Body]), [['notesHub', 'added', 'from core']]);
		} finally {
			await stopAll(core);
		}
		const unknown = await fetch(`${base}/negotiate?${qs({ clientProtocol: '2.1', connectionData: JSON.stringify([{ name: 'chat' }]) })}`);
		assert.equal(unknown.status, 400);
		assert.match(await unknown.text(), /could not be resolved/);
	});
});

// A method slower than statement_timeout: the server ends it, the client is told so, and the
// connection goes on (its own stack: POLLHUB_DB_STATEMENT_TIMEOUT of 2 s).
describe(`a hub method slower than the statement timeout (${transportName})`, {
	timeout: 60000,
	skip: transportName !== 'LongPolling' && 'transport-independent: runs in the LongPolling runs only',
}, () => {
	let stack;
	before(async () => {
		stack = await startStack({ env: { POLLHUB_DB_STATEMENT_TIMEOUT: '2000' } });
		await stack.psql(`CREATE SCHEMA slow;
			GRANT USAGE ON SCHEMA slow TO pollhub_app;
			CREATE FUNCTION slow.nap(call pollhub.hub_call, s jsonb) RETURNS text
			LANGUAGE sql AS $$ SELECT pg_sleep((s #>> '{}')::float8)::text || 'awake' $$;
			INSERT INTO pollhub.hubs (name, path, schema_name) VALUES ('SlowHub', '/slow', 'slow');`);
	});
	after(async () => { await stack?.stop(); });

	it('is a completion error that says so, and the connection goes on', async (t) => stack.guard(async () => {
		const a = await connect(`${stack.url}/slow`);
		try {
			const t0 = Date.now();
			await assert.rejects(a.invoke('nap', 5), (e) => {
				assert.match(e.message, /HubException: The method ran longer than the database allows a statement \(POLLHUB_DB_STATEMENT_TIMEOUT\); nothing was saved\.$/);
				return true;
			});
			const took = Date.now() - t0;
			t.diagnostic(`refused after ${took} ms`);
			assert.ok(took < 4500, `ended by the statement timeout (2 s), not the nap (5 s): ${took} ms`);
			assert.equal(await a.invoke('nap', 0), 'awake');
		} finally {
			await stopAll(a);
		}
	})(t));
});
