// Administering with psql: changes to pollhub.meetings made from psql reach the pages of
// that group as create/update/destroy pushes (the same JSON as the hub's own); the admin
// views show the live connections; the admin functions message a group or a connection
// and close a connection (the client gets the reason); the responder runs as the
// least-privilege role; and the SQL-level assertions of tests/sql/admin.sql hold.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStack, connect, stopAll, waitFor, sleep, repoRoot, transportName } from './stack.mjs';

const execFileP = promisify(execFile);
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

describe('administering with psql', { timeout: 120000 }, () => {
	let stack;
	before(async () => { stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } }); });
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const hub = (group) => `${stack.hubUrl}?group=${encodeURIComponent(group)}`;

	test('tests/sql/admin.sql: views, functions and roles', async () => {
		const { stdout } = await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', stack.dbName,
			'-f', path.join(repoRoot, 'tests/sql/admin.sql')], { env: { ...process.env } });
		assert.match(stdout, /admin\.sql: all assertions held/);
	});

	test('INSERT, UPDATE, DELETE from psql reach every page of the group, as the hub would send them', async () => {
		const [a, b] = await Promise.all([connect(hub('psql-1')), connect(hub('psql-1'))]);
		const other = await connect(hub('psql-2'));
		try {
			const t0 = Date.now();
			const id = await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, attendees)
				VALUES ('psql-1', 'Planned in psql', '2026-12-03T09:00:00Z', '2026-12-03T09:45:00Z', '{7}') RETURNING id`);
			await waitFor(() => a.pushes.count('create') === 1 && b.pushes.count('create') === 1, 5000, 'the create at both pages');
			assert.ok(Date.now() - t0 < 1000 + 500, `within a second (${Date.now() - t0} ms, psql's start included)`);
			const [read] = (await a.invoke('read')).filter((m) => m.ID === id);
			assert.deepEqual(a.pushes.payloads('create')[0], read, 'the same JSON as read() returns');
			assert.equal(read.Title, 'Planned in psql');
			assert.equal(read.Start, '2026-12-03T09:00:00.000Z');

			await stack.psql(`UPDATE pollhub.meetings SET title = 'Moved in psql', start_at = start_at + interval '1 hour',
				end_at = end_at + interval '1 hour' WHERE id = ${q(id)}`);
			await waitFor(() => a.pushes.count('update') === 1 && b.pushes.count('update') === 1, 5000, 'the update');
			assert.equal(b.pushes.payloads('update')[0].Title, 'Moved in psql');
			assert.equal(b.pushes.payloads('update')[0].Start, '2026-12-03T10:00:00.000Z');

			await stack.psql(`DELETE FROM pollhub.meetings WHERE id = ${q(id)}`);
			await waitFor(() => a.pushes.count('destroy') === 1 && b.pushes.count('destroy') === 1, 5000, 'the destroy');
			assert.equal(a.pushes.payloads('destroy')[0].ID, id);

			// Through the hub: pushed once to the others, never to the caller.
			const made = await a.invoke('create', { ID: null, Title: 'Via the hub', Start: '2026-12-04T09:00:00Z', End: '2026-12-04T10:00:00Z' });
			await waitFor(() => b.pushes.count('create') === 2, 5000, 'the hub create at b');
			await sleep(300);
			assert.equal(a.pushes.count('create'), 1, 'no echo to the caller');
			assert.deepEqual(b.pushes.payloads('create')[1], made);
			assert.equal(other.pushes.count(), 0, 'another group saw nothing');
		} finally {
			await stopAll(a, b, other);
		}
	});

	test('admin views show the live connections; messages to a group and to one connection', async () => {
		const notes = [[], []];
		const cs = await Promise.all([0, 1].map((i) => connect(hub('admin-1'),
			{ handlers: { notify: (...args) => { notes[i].push(args); } } })));
		try {
			const rows = JSON.parse(await stack.psql(`SELECT json_agg(c ORDER BY c.id) FROM pollhub.admin_connections c
				WHERE group_name = 'admin-1'`));
			assert.deepEqual(rows.map((r) => r.id).sort(), cs.map((c) => c.connectionId).sort(), 'the two connections, by id');
			for (const r of rows) {
				assert.equal(r.transport, transportName);
				assert.equal(r.remote_addr, '127.0.0.1');
				assert.match(r.user_agent, /Microsoft SignalR/);
				assert.equal(r.state, 'open');
				assert.ok(!('token' in r), 'no token');
			}
			assert.equal(await stack.psql(`SELECT members FROM pollhub.admin_groups WHERE group_name = 'admin-1'`), '2');

			await stack.psql(`SELECT pollhub.send_to_group('admin-1', 'notify', '["Maintenance at 18:00", {"minutes": 5}]')`);
			await waitFor(() => notes.every((n) => n.length === 1), 5000, 'the notification at both');
			assert.deepEqual(notes[0][0], ['Maintenance at 18:00', { minutes: 5 }]);

			await stack.psql(`SELECT pollhub.send_to_connection(${q(cs[1].connectionId)}, 'notify', '["just you"]')`);
			await waitFor(() => notes[1].length === 2, 5000, 'the message at connection 1');
			await sleep(300);
			assert.deepEqual(notes[1][1], ['just you']);
			assert.equal(notes[0].length, 1, 'connection 0 did not get it');
		} finally {
			await stopAll(cs);
		}
	});

	test('disconnect a connection from psql: the client gets the reason; the others go on', async () => {
		const [a, b] = await Promise.all([connect(hub('kick-1')), connect(hub('kick-1'))]);
		try {
			const closed = new Promise((resolve) => a.onclose(resolve));
			assert.equal(await stack.psql(`SELECT pollhub.disconnect_connection(${q(a.connectionId)}, 'Closed by the administrator')`), 't');
			const err = await Promise.race([closed, sleep(5000).then(() => 'timeout')]);
			assert.notEqual(err, 'timeout', 'the client was closed');
			assert.match(String(err?.message), /Closed by the administrator/);
			await waitFor(async () => (await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id = ${q(a.connectionId)}`)) === '0',
				5000, 'the connection row to go');
			const m = await b.invoke('create', { ID: null, Title: 'Still here', Start: '2026-12-04T09:00:00Z', End: '2026-12-04T10:00:00Z' });
			assert.equal(m.Title, 'Still here');
			assert.equal(await stack.psql(`SELECT pollhub.purge_group('kick-1')`), '1');
			await waitFor(() => b.pushes.count('destroy') === 1, 5000, 'the purge pushed a destroy');
			assert.deepEqual(await b.invoke('read'), []);
		} finally {
			await stopAll(a, b);
		}
	});

	test('a database at 008 (the last release) upgrades in place, keeping its data, and a second run applies nothing', async () => {
		// tests/sql/fixtures/pollhub-008.sql: pg_dump of a database migrated by the 008-era
		// tree (every function still in the migrations), with one meeting in group 'up'.
		const db = `${stack.dbName}_up`;
		const env = { ...process.env };
		delete env.PGDATABASE;
		const psqlDb = async (sql) => (await execFileP('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], { env })).stdout.trim();
		try {
			await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', `CREATE DATABASE "${db}"`], { env });
			await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db,
				'-f', path.join(repoRoot, 'tests/sql/fixtures/pollhub-008.sql')], { env });
			assert.equal(await psqlDb('SELECT max(name) FROM pollhub.schema_migrations'), '008_classic.sql');
			const { stdout } = await execFileP('bash', [path.join(repoRoot, 'deploy/scripts/migrate.sh'), '--create-db', db], { env });
			assert.doesNotMatch(stdout, /applied 00[1-8]/, 'applied files are skipped');
			assert.match(stdout, /applied 009_delivery\.sql/);
			assert.match(stdout, /functions applied/);
			assert.equal(await psqlDb(`SELECT title FROM pollhub.meetings WHERE group_name = 'up'`), 'Kept');
			assert.equal(await psqlDb(`SELECT meetings FROM pollhub.admin_meetings WHERE group_name = 'up'`), '1');
			// The code that runs is the tree's: the new signatures are there, the old ones gone.
			assert.equal(await psqlDb(`SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
				WHERE n.nspname = 'pollhub' AND p.proname = 'disconnect' AND p.pronargs = 2`), '1');
			assert.equal(await psqlDb(`SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
				WHERE n.nspname = 'pollhub' AND p.proname IN ('disconnect', 'reap', 'close_overfull')
				AND p.pronargs IN (1, 3) AND p.prokind = 'f' AND p.proname <> 'close_overfull'`), '0');
			assert.equal(await psqlDb(`SELECT prokind FROM pg_proc WHERE proname = 'maintain'`), 'p');
			// A meeting edit still pushes (the trigger is the tree's, once).
			assert.equal(await psqlDb(`SELECT count(*) FROM pg_trigger WHERE tgname = 'meetings_push'`), '1');
			await psqlDb(`UPDATE pollhub.meetings SET title = 'Edited' WHERE group_name = 'up'`);
			assert.match(await psqlDb(`SELECT payload FROM pollhub.outbox WHERE group_name = 'up' ORDER BY seq DESC LIMIT 1`), /"Edited"/);
			const again = await execFileP('bash', [path.join(repoRoot, 'deploy/scripts/migrate.sh'), '--create-db', db], { env });
			assert.doesNotMatch(again.stdout, /applied 0/, 'a second run applies no migration');
		} finally {
			await execFileP('psql', ['-X', '-q', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`], { env }).catch(() => {});
		}
	});

	test('the README\'s restore is all or nothing; while it holds the table a page\'s read is a completion error, then works', async () => {
		const group = 'restore-1';
		await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
			VALUES (${q(group)}, 'Before the restore', now(), now())`);
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-restore-'));
		const env = { ...process.env, PGDATABASE: stack.dbName };
		const a = await connect(hub(group));
		try {
			// A dump whose COPY fails half-way (a row of another shape): the restore rolls back.
			const bad = path.join(dir, 'meetings.sql');
			fs.writeFileSync(bad, 'COPY pollhub.meetings (group_name, title, start_at, end_at) FROM stdin;\n' +
				`${group}\tRestored\t2026-12-01 09:00:00+00\t2026-12-01 10:00:00+00\n` +
				`${group}\tBroken\tnot a date\t2026-12-01 10:00:00+00\n\\.\n`);
			await assert.rejects(execFileP('psql', ['-d', stack.dbName, '-v', 'ON_ERROR_STOP=1', '--single-transaction',
				'-c', 'TRUNCATE pollhub.meetings', '-f', bad], { env }), /invalid input syntax/);
			assert.deepEqual((await a.invoke('read')).map((m) => m.Title), ['Before the restore'], 'the old meetings stayed');

			// An administrator holding the table (as a restore does): the read answers within
			// the lock timeout with a completion error, other requests go on, and after the
			// COMMIT the read works again.
			const admin = spawn('psql', ['-X', '-q', '-d', stack.dbName], { env, stdio: ['pipe', 'ignore', 'ignore'] });
			try {
				admin.stdin.write('BEGIN; LOCK pollhub.meetings IN ACCESS EXCLUSIVE MODE;\n');
				await waitFor(async () => (await stack.psql(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
					WHERE c.relname = 'meetings' AND l.mode = 'AccessExclusiveLock' AND l.granted`)) === '1', 5000, 'the lock');
				const t0 = Date.now();
				await assert.rejects(a.invoke('read'), /being changed in another session/);
				assert.ok(Date.now() - t0 < 4000, `answered after ${Date.now() - t0} ms`);
				const b = await connect(hub('restore-2'));	// a new page elsewhere connects meanwhile
				await b.stop();
			} finally {
				admin.stdin.end('COMMIT;\n');
				await new Promise((r) => admin.once('exit', r));
			}
			assert.deepEqual((await a.invoke('read')).map((m) => m.Title), ['Before the restore']);
		} finally {
			await stopAll(a);
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	test('the responder connects as pollhub_app, which has no DDL rights', async () => {
		const users = await stack.psql(`SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`);
		assert.equal(users, 'pollhub_app');
		await assert.rejects(execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'pollhub_app', '-d', stack.dbName,
			'-c', 'CREATE TABLE pollhub.intruder (x int)'], { env: { ...process.env } }), /permission denied/);
	});
});
