// Grants in PostgreSQL (issue 20), the database's half, through a real stack: the
// SQL-level assertions of tests/sql/auth.sql (token keys, permission_of through roles,
// default calendars, connection_create's verdicts, revocation and downgrade of open
// connections, the read-only refusal, authors, the audit, send_to_user); the migration
// turning stored tokens into keys; and with live clients: a revocation closes a page
// with the reason in its onclose while another user's page goes on, a page downgraded
// to read cannot write, every change names its author in meetings and the audit, and
// send_to_user reaches every page of that user and no other. The responder's own
// identity (POLLHUB_AUTH) is not used here: a live connection is given its user and
// permission in SQL, as connection_create gives them at negotiate. Two sessions show
// that a negotiate and a revocation racing each other never leave a connection open on
// a revoked grant.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStack, connect, stopAll, waitFor, sleep, repoRoot, adminSession } from './stack.mjs';

const execFileP = promisify(execFile);
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

describe('grants, revocation, authors and the audit in PostgreSQL', { timeout: 120000 }, () => {
	let stack;
	let role;	// the database role psql runs as: 'db:<role>' is its author name
	before(async () => {
		stack = await startStack({ env: { POLLHUB_GROUP_PARAM: 'group' } });
		role = await stack.psql('SELECT session_user');
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const hub = (group) => `${stack.hubUrl}?group=${encodeURIComponent(group)}`;
	// What connection_create gives a connection opened by user under identity.
	const identify = (conn, user, permission) => stack.psql(`UPDATE pollhub.connections
		SET user_name = ${q(user)}, permission = ${q(permission)} WHERE id = ${q(conn.connectionId)}`);
	const meeting = (title) => ({ ID: null, Title: title, Start: '2026-12-04T09:00:00Z', End: '2026-12-04T10:00:00Z' });

	test('tests/sql/auth.sql: keys, grants, default calendars, verdicts, revocation, authors, audit', async () => {
		const { stdout } = await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', stack.dbName,
			'-f', path.join(repoRoot, 'tests/sql/auth.sql')], { env: { ...process.env } });
		assert.match(stdout, /auth\.sql: all assertions held/);
	});

	test('the migration turns the tokens of a database at 008 into keys', async () => {
		const db = `${stack.dbName}_keys`;
		const env = { ...process.env };
		delete env.PGDATABASE;
		const psqlDb = async (sql) => (await execFileP('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', db, '-c', sql], { env })).stdout.trim();
		try {
			await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', `CREATE DATABASE "${db}"`], { env });
			await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db,
				'-f', path.join(repoRoot, 'tests/sql/fixtures/pollhub-008.sql')], { env });
			await psqlDb(`INSERT INTO pollhub.connections (id, token, group_name) VALUES ('old-1', 'abc', 'up')`);
			const { stdout } = await execFileP('bash', [path.join(repoRoot, 'deploy/scripts/migrate.sh'), '--db', db], { env });
			assert.match(stdout, /applied 015_auth\.sql/);
			assert.equal(await psqlDb(`SELECT token FROM pollhub.connections WHERE id = 'old-1'`),
				'YJ9uNtJAVYUYjVz9dh9AfHzEan0_MUyIJwRp3eMV_NE', "the stored token is now token_key('', 'abc')");
			assert.equal(await psqlDb(`SELECT user_name IS NULL AND permission IS NULL FROM pollhub.connections WHERE id = 'old-1'`), 't');
			assert.equal(await psqlDb(`SELECT created_by IS NULL AND updated_by IS NULL FROM pollhub.meetings WHERE group_name = 'up'`), 't',
				'older meetings have no author');
			// The old signatures are gone, the new ones there: 0.14's (kept for a
			// responder of 0.14 during a restart) and 0.15's, which names the hub.
			assert.equal(await psqlDb(`SELECT string_agg(pg_get_function_identity_arguments(p.oid), ' | '
					ORDER BY p.pronargs)
				FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
				WHERE n.nspname = 'pollhub' AND p.proname = 'classic_negotiate'`),
				'p_id text, p_key text, p_user text, p_group text, p_remote_addr text, p_user_agent text,'
				+ ' OUT verdict text, OUT group_name text, OUT permission text'
				+ ' | p_id text, p_key text, p_user text, p_group text, p_remote_addr text, p_user_agent text,'
				+ ' p_hub text, OUT verdict text, OUT group_name text, OUT permission text');
		} finally {
			await execFileP('psql', ['-X', '-q', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`], { env }).catch(() => {});
		}
	});

	test('revoking a grant closes the live page with the reason; another user\'s page goes on', async () => {
		const group = 'rev-1';
		await stack.psql(`SELECT pollhub.grant_group('rev-alice', ${q(group)}, 'write'), pollhub.grant_group('rev-bob', ${q(group)}, 'write')`);
		const [a, b] = await Promise.all([connect(hub(group)), connect(hub(group))]);
		try {
			await identify(a, 'rev-alice', 'write');
			await identify(b, 'rev-bob', 'write');
			const closed = new Promise((resolve) => a.onclose(resolve));
			assert.equal(await stack.psql(`SELECT pollhub.revoke_group('rev-alice', ${q(group)})`), 't');
			const err = await Promise.race([closed, sleep(5000).then(() => 'timeout')]);
			assert.notEqual(err, 'timeout', 'the page was closed within seconds');
			assert.match(String(err?.message), /Not allowed: access to calendar 'rev-1' was revoked/);
			// Nothing more of the calendar reaches it; the other page gets its pushes.
			await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
				VALUES (${q(group)}, 'After the revocation', now(), now())`);
			await waitFor(() => b.pushes.count('create') === 1, 5000, 'the create at the other page');
			assert.equal(a.pushes.count('create'), 0);
			assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id = ${q(b.connectionId)} AND state = 'open'`), '1');
			await waitFor(async () => (await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id = ${q(a.connectionId)}`)) === '0',
				5000, 'the revoked connection\'s row to go');
		} finally {
			await stopAll(a, b);
		}
	});

	test('a page downgraded to read cannot write (the trigger refuses), keeps reading, and is upgraded back', async () => {
		const group = 'down-1';
		await stack.psql(`SELECT pollhub.grant_group('down-carol', ${q(group)}, 'write')`);
		const a = await connect(hub(group));
		try {
			await identify(a, 'down-carol', 'write');
			const made = await a.invoke('create', meeting('Before the downgrade'));
			await stack.psql(`SELECT pollhub.grant_group('down-carol', ${q(group)}, 'read')`);
			assert.equal(await stack.psql(`SELECT state || ' ' || permission FROM pollhub.connections WHERE id = ${q(a.connectionId)}`),
				'open read');
			await assert.rejects(a.invoke('create', meeting('By a reader')));
			await assert.rejects(a.invoke('destroy', made));
			assert.deepEqual((await a.invoke('read')).map((m) => m.Title), ['Before the downgrade'], 'nothing stored, still reading');
			const refused = await stack.psql(`SELECT count(*) FROM pollhub.audit WHERE group_name = ${q(group)}`);
			assert.equal(refused, '1', 'only the first create is in the audit');

			await stack.psql(`SELECT pollhub.grant_group('down-carol', ${q(group)}, 'write')`);
			await a.invoke('destroy', made);
			assert.deepEqual(await a.invoke('read'), []);
		} finally {
			await stopAll(a);
		}
	});

	test('every change names its author: the page\'s user, and db:<role> from psql, in meetings and the audit', async () => {
		const group = 'auth-1';
		await stack.psql(`SELECT pollhub.grant_group('auth-dan', ${q(group)}, 'write'), pollhub.grant_group('auth-eve', ${q(group)}, 'write')`);
		const [d, e] = await Promise.all([connect(hub(group)), connect(hub(group))]);
		try {
			await identify(d, 'auth-dan', 'write');
			await identify(e, 'auth-eve', 'write');
			const made = await d.invoke('create', meeting('By dan'));
			await waitFor(() => e.pushes.count('create') === 1, 5000, 'eve sees dan\'s create');
			await e.invoke('update', { ...made, Title: 'Changed by eve' });
			const row = async () => JSON.parse(await stack.psql(`SELECT row_to_json(m) FROM (SELECT created_by, updated_by
				FROM pollhub.meetings WHERE id = ${q(made.ID)}) m`));
			assert.deepEqual(await row(), { created_by: 'auth-dan', updated_by: 'auth-eve' });
			await stack.psql(`UPDATE pollhub.meetings SET title = 'Changed in psql' WHERE id = ${q(made.ID)}`);
			assert.deepEqual(await row(), { created_by: 'auth-dan', updated_by: `db:${role}` });
			assert.deepEqual(JSON.parse(await stack.psql(`SELECT row_to_json(m) FROM (SELECT created_by, updated_by
				FROM pollhub.admin_meetings WHERE group_name = ${q(group)}) m`)),
				{ created_by: ['auth-dan'], updated_by: [`db:${role}`] }, 'admin_meetings names the authors');
			await d.invoke('destroy', { ...made, Title: 'Changed in psql' });

			const audit = JSON.parse(await stack.psql(`SELECT json_agg(a ORDER BY a.id) FROM (SELECT id, action, actor,
				connection_id, remote_addr, db_role, title, changed FROM pollhub.admin_audit WHERE meeting_id = ${q(made.ID)}) a`));
			assert.deepEqual(audit.map((a) => [a.action, a.actor, a.connection_id]), [
				['create', 'auth-dan', d.connectionId],
				['update', 'auth-eve', e.connectionId],
				['update', `db:${role}`, null],
				['destroy', 'auth-dan', d.connectionId],
			]);
			assert.equal(audit[0].remote_addr, '127.0.0.1');
			assert.equal(audit[0].db_role, 'pollhub_app', 'the responder\'s database role');
			assert.equal(audit[2].db_role, role);
			assert.deepEqual(audit[1].changed, { title: ['By dan', 'Changed by eve'] });
			assert.equal(audit[3].title, 'Changed in psql');
		} finally {
			await stopAll(d, e);
		}
	});

	test('send_to_user reaches every page of that user and no one else\'s', async () => {
		const group = 'user-1';
		const notes = [[], [], []];
		const cs = await Promise.all([0, 1, 2].map((i) => connect(hub(group),
			{ handlers: { notify: (...args) => { notes[i].push(args); } } })));
		try {
			await identify(cs[0], 'stu-frank', 'read');
			await identify(cs[1], 'stu-frank', 'read');
			await identify(cs[2], 'stu-gail', 'read');
			assert.equal(await stack.psql(`SELECT pollhub.send_to_user('stu-frank', 'notify', '["for frank", 1]')`), '2');
			await waitFor(() => notes[0].length === 1 && notes[1].length === 1, 5000, 'frank\'s two pages');
			assert.deepEqual(notes[0][0], ['for frank', 1]);
			assert.deepEqual(notes[1][0], ['for frank', 1]);
			await sleep(300);
			assert.equal(notes[2].length, 0, 'gail got nothing');
		} finally {
			await stopAll(cs);
		}
	});

	// A negotiate (connection_create) and a revocation in two transactions: whichever
	// commits first, no connection stays open on the revoked grant.
	test('a negotiate racing a revocation: the revocation first refuses it; the negotiate first is closed', async () => {
		const group = 'race-1';
		await stack.psql(`SELECT pollhub.grant_group('race-hal', ${q(group)}, 'write')`);
		const admin = adminSession(stack.dbName, 'grants-race');
		try {
			// Revocation first, not yet committed: the negotiate waits, then finds no grant.
			await admin.run(`BEGIN; SELECT pollhub.revoke_group('race-hal', ${q(group)});`, /\bt\b/);
			let done = false;
			const negotiate = stack.psql(`SELECT verdict FROM pollhub.connection_create('race-c1', 'race-k1', 'race-hal', ${q(group)}, NULL, NULL)`)
				.finally(() => { done = true; });
			await sleep(500);
			assert.equal(done, false, 'the negotiate waits for the revocation');
			await admin.run('COMMIT;', /COMMIT/);
			assert.equal(await negotiate, 'no-grant');
			assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE id = 'race-c1'`), '0');

			// Negotiate first, not yet committed: the revocation waits, then closes it.
			await stack.psql(`SELECT pollhub.grant_group('race-hal', ${q(group)}, 'write')`);
			await admin.run(`BEGIN; SELECT verdict FROM pollhub.connection_create('race-c2', 'race-k2', 'race-hal', ${q(group)}, NULL, NULL);`, /\bok\b/);
			done = false;
			const revoke = stack.psql(`SELECT pollhub.revoke_group('race-hal', ${q(group)})`).finally(() => { done = true; });
			await sleep(500);
			assert.equal(done, false, 'the revocation waits for the negotiate');
			await admin.run('COMMIT;', /COMMIT/);
			assert.equal(await revoke, 't');
			assert.equal(await stack.psql(`SELECT state FROM pollhub.connections WHERE id = 'race-c2'`), 'closing');
			assert.match(await stack.psql(`SELECT payload FROM pollhub.connection_messages WHERE connection_id = 'race-c2'`),
				/Not allowed: access to calendar 'race-1' was revoked/);
		} finally {
			await admin.end();
		}
	});
});
