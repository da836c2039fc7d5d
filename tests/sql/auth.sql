-- SQL-level tests of identity, grants, revocation, authors and the audit
-- (sql/migrations/015_auth.sql, sql/functions/15_auth.sql), run by
-- tests/integration/grants.test.mjs with psql -v ON_ERROR_STOP=1 against a
-- migrated database: every ASSERT that fails stops the script with an error.
-- Runs in a transaction that is rolled back.
BEGIN;

DO $$
DECLARE
	r record;
BEGIN
	-- token_key: the vectors of the design (and of id_token_key in C).
	ASSERT pollhub.token_key('alice', 'abc') = 'izvVd3xzLdgL6RWIRICaabRGxJ6Nk24AKZw7du3PatU',
	    'token_key(alice, abc): ' || pollhub.token_key('alice', 'abc');
	ASSERT pollhub.token_key('', 'abc') = 'YJ9uNtJAVYUYjVz9dh9AfHzEan0_MUyIJwRp3eMV_NE',
	    'token_key('''', abc): ' || pollhub.token_key('', 'abc');
	ASSERT length(pollhub.token_key('bob', repeat('x', 1000))) = 43, 'always 43 characters';
	ASSERT pollhub.token_key('ab', 'c') <> pollhub.token_key('a', 'bc'), 'the NUL separates user and token';
	-- The migration's inline expression (tokens of rows made before it) is the same.
	ASSERT translate(rtrim(encode(sha256('\x00'::bytea || convert_to('abc', 'UTF8')), 'base64'), '='), '+/', '-_')
	    = pollhub.token_key('', 'abc'), 'migration expression = token_key('''', token)';

	-- permission_of: own grants and roles', the highest wins; NULL = none.
	PERFORM pollhub.grant_group('alice', 'cal-a', 'read');
	ASSERT pollhub.permission_of('alice', 'cal-a') = 'read', 'own grant';
	ASSERT pollhub.permission_of('alice', 'cal-b') IS NULL, 'no grant: NULL';
	ASSERT pollhub.grant_role('editors', 'alice'), 'grant_role: a new member';
	ASSERT NOT pollhub.grant_role('editors', 'alice'), 'grant_role again: already one';
	ASSERT EXISTS (SELECT FROM pollhub.roles WHERE name = 'editors'), 'the role is made on first use';
	PERFORM pollhub.grant_group('editors', 'cal-a', 'write');
	PERFORM pollhub.grant_group('editors', 'cal-b', 'read');
	ASSERT pollhub.permission_of('alice', 'cal-a') = 'write', 'a role''s higher grant wins: ' ||
	    coalesce(pollhub.permission_of('alice', 'cal-a'), 'NULL');
	ASSERT pollhub.permission_of('alice', 'cal-b') = 'read', 'through the role only';
	PERFORM pollhub.grant_group('alice', 'cal-a', 'admin');
	ASSERT pollhub.permission_of('alice', 'cal-a') = 'admin', 'own higher grant wins';
	ASSERT (SELECT count(*) FROM pollhub.grants WHERE principal = 'alice' AND group_name = 'cal-a') = 1,
	    'grant_group replaces (one row)';
	ASSERT pollhub.permission_of('carol', 'cal-a') IS NULL, 'a non-member has none';
	ASSERT (SELECT granted_by FROM pollhub.grants WHERE principal = 'alice' AND group_name = 'cal-a')
	    = session_user, 'granted_by: the database role';
	BEGIN
		PERFORM pollhub.grant_group('alice', 'cal-a', 'owner');
		ASSERT false, 'an unknown permission must be refused';
	EXCEPTION WHEN invalid_parameter_value THEN
		ASSERT SQLERRM LIKE 'permission must be ''read'', ''write'' or ''admin''%', SQLERRM;
	END;

	-- The views of who may open what.
	SELECT * INTO r FROM pollhub.admin_access WHERE user_name = 'alice' AND group_name = 'cal-a';
	ASSERT r.permission = 'admin' AND r.via = ARRAY['alice'], 'admin_access: admin via alice';
	SELECT * INTO r FROM pollhub.admin_access WHERE user_name = 'alice' AND group_name = 'cal-b';
	ASSERT r.permission = 'read' AND r.via = ARRAY['editors'], 'admin_access: read via editors';
	ASSERT NOT EXISTS (SELECT FROM pollhub.admin_access WHERE user_name = 'editors'), 'a role is no user';
	ASSERT (SELECT kind FROM pollhub.admin_grants WHERE principal = 'editors' AND group_name = 'cal-a') = 'role'
	    AND (SELECT kind FROM pollhub.admin_grants WHERE principal = 'alice' AND group_name = 'cal-a') = 'user',
	    'admin_grants: kind';

	-- default_group: the granted default; else the one granted calendar; else none.
	ASSERT pollhub.default_group('alice') IS NULL, 'two calendars, no default: none';
	PERFORM pollhub.set_default_group('alice', 'cal-b');
	ASSERT pollhub.default_group('alice') = 'cal-b', 'the default';
	PERFORM pollhub.set_default_group('alice', 'cal-z');
	ASSERT pollhub.default_group('alice') IS NULL, 'a default not granted does not count';
	PERFORM pollhub.grant_group('dave', 'cal-d', 'read');
	ASSERT pollhub.default_group('dave') = 'cal-d', 'the one granted calendar';
	PERFORM pollhub.set_default_group('dave', 'cal-z');
	ASSERT pollhub.default_group('dave') = 'cal-d', 'an ungranted default falls back to the one calendar';
	ASSERT pollhub.default_group('nobody') IS NULL, 'no grant: none';

	-- connection_create: without identity as before; with one, the verdicts.
	SELECT * INTO r FROM pollhub.connection_create('c-anon', pollhub.token_key('', 'tok-anon'), NULL,
	    '192.0.2.9', '192.0.2.9', 'agent');
	ASSERT r.verdict = 'ok' AND r.group_name = '192.0.2.9' AND r.permission IS NULL, 'anonymous: ok';
	SELECT * INTO r FROM pollhub.connections WHERE id = 'c-anon';
	ASSERT r.token = pollhub.token_key('', 'tok-anon'), 'the key is stored';
	ASSERT r.user_name IS NULL AND r.permission IS NULL AND r.transport IS NULL AND r.state = 'open'
	    AND r.remote_addr = '192.0.2.9' AND r.user_agent = 'agent', 'anonymous row as before';
	SELECT * INTO r FROM pollhub.connection_create('c-a1', pollhub.token_key('alice', 't1'), 'alice',
	    'cal-a', '192.0.2.1', 'agent');
	ASSERT r.verdict = 'ok' AND r.group_name = 'cal-a' AND r.permission = 'admin', 'alice on cal-a: ok, admin';
	ASSERT (SELECT user_name = 'alice' AND permission = 'admin' FROM pollhub.connections WHERE id = 'c-a1'),
	    'the row has the user and the permission';
	SELECT * INTO r FROM pollhub.connection_create('c-x', 'k-x', 'alice', NULL, NULL, NULL);
	ASSERT r.verdict = 'no-default' AND r.group_name IS NULL, 'several calendars, no default: ' || r.verdict;
	SELECT * INTO r FROM pollhub.connection_create('c-x', 'k-x', 'alice', 'cal-c', NULL, NULL);
	ASSERT r.verdict = 'no-grant' AND r.group_name = 'cal-c', 'a calendar not granted: ' || r.verdict;
	SELECT * INTO r FROM pollhub.connection_create('c-x', 'k-x', 'nobody', NULL, NULL, NULL);
	ASSERT r.verdict = 'no-grant' AND r.group_name IS NULL, 'nothing granted at all: ' || r.verdict;
	ASSERT NOT EXISTS (SELECT FROM pollhub.connections WHERE id = 'c-x'), 'no row unless ok';
	SELECT * INTO r FROM pollhub.connection_create('c-d1', 'k-d1', 'dave', NULL, NULL, NULL);
	ASSERT r.verdict = 'ok' AND r.group_name = 'cal-d' AND r.permission = 'read', 'the default calendar';
	SELECT * INTO r FROM pollhub.classic_negotiate('c-cl', 'k-cl', 'alice', 'cal-b', NULL, NULL);
	ASSERT r.verdict = 'ok' AND r.permission = 'read', 'classic: the same rules';
	ASSERT (SELECT transport FROM pollhub.connections WHERE id = 'c-cl') = 'ClassicLongPolling', 'a classic row';
	SELECT * INTO r FROM pollhub.classic_negotiate('c-cx', 'k-cx', 'carol', 'cal-b', NULL, NULL);
	ASSERT r.verdict = 'no-grant', 'classic: no grant';
	SELECT * INTO r FROM pollhub.classic_negotiate('c-can', 'k-can', NULL, 'g-anon', NULL, NULL);
	ASSERT r.verdict = 'ok' AND (SELECT user_name IS NULL FROM pollhub.connections WHERE id = 'c-can'),
	    'classic without identity';

	-- send_begin gives the identity.
	SELECT * INTO r FROM pollhub.send_begin(pollhub.token_key('alice', 't1'), false, true);
	ASSERT r.id = 'c-a1' AND r.locked AND r.permission = 'admin' AND r.user_name = 'alice',
	    'send_begin: permission and user_name';
	SELECT * INTO r FROM pollhub.send_begin(pollhub.token_key('', 'tok-anon'), false, true);
	ASSERT r.id = 'c-anon' AND r.permission IS NULL AND r.user_name IS NULL, 'send_begin: no identity';
	ASSERT NOT EXISTS (SELECT FROM pollhub.send_begin(pollhub.token_key('bob', 't1'), false, true)),
	    'another user''s key finds nothing';
END
$$;

-- Revocation, authors and the audit.
DO $$
DECLARE
	r record;
	m uuid;
	h uuid;
BEGIN
	PERFORM pollhub.join_group('c-a1', 'cal-a');
	PERFORM pollhub.grant_group('bob', 'cal-a', 'write');
	PERFORM pollhub.connection_create('c-b1', 'k-b1', 'bob', 'cal-a', '198.51.100.2', 'agent');
	PERFORM pollhub.connection_create('c-b2', 'k-b2', 'bob', 'cal-a', '198.51.100.3', 'agent');
	PERFORM pollhub.join_group('c-b1', 'cal-a');
	PERFORM pollhub.join_group('c-b2', 'cal-a');
	-- A downgrade updates the permission of the open connections.
	PERFORM pollhub.grant_group('bob', 'cal-a', 'read');
	ASSERT (SELECT count(*) FROM pollhub.connections WHERE user_name = 'bob' AND permission = 'read'
		AND state = 'open') = 2, 'downgraded to read, still open';

	-- Authors: a sender with a user; psql's role.
	PERFORM set_config('pollhub.sender', 'c-a1', true);
	INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, created_by)
	VALUES ('cal-a', 'By alice', '2026-12-01T10:00Z', '2026-12-01T11:00Z', 'forged') RETURNING id INTO m;
	SELECT * INTO r FROM pollhub.meetings WHERE id = m;
	ASSERT r.created_by = 'alice' AND r.updated_by = 'alice', 'a connection''s user, whatever it gave';

	-- A read-only sender's change is refused (42501, 'Not allowed:'), nothing stored.
	PERFORM set_config('pollhub.sender', 'c-b1', true);
	BEGIN
		INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
		VALUES ('cal-a', 'By bob', '2026-12-01T10:00Z', '2026-12-01T11:00Z');
		ASSERT false, 'a read-only create must be refused';
	EXCEPTION WHEN insufficient_privilege THEN
		ASSERT SQLERRM LIKE 'Not allowed:%', SQLERRM;
	END;
	BEGIN
		UPDATE pollhub.meetings SET title = 'Changed by bob' WHERE id = m;
		ASSERT false, 'a read-only update must be refused';
	EXCEPTION WHEN insufficient_privilege THEN
		ASSERT SQLERRM LIKE 'Not allowed:%', SQLERRM;
	END;
	BEGIN
		DELETE FROM pollhub.meetings WHERE id = m;
		ASSERT false, 'a read-only destroy must be refused';
	EXCEPTION WHEN insufficient_privilege THEN
		ASSERT SQLERRM LIKE 'Not allowed:%', SQLERRM;
	END;
	ASSERT (SELECT title FROM pollhub.meetings WHERE id = m) = 'By alice', 'nothing changed';
	ASSERT NOT EXISTS (SELECT FROM pollhub.meetings WHERE title = 'By bob'), 'nothing stored';

	-- An upgrade: bob may write, and is then the one who updated it.
	PERFORM pollhub.grant_group('bob', 'cal-a', 'write');
	ASSERT (SELECT count(*) FROM pollhub.connections WHERE user_name = 'bob' AND permission = 'write') = 2,
	    'upgraded to write';
	UPDATE pollhub.meetings SET title = 'Changed by bob' WHERE id = m;
	SELECT * INTO r FROM pollhub.meetings WHERE id = m;
	ASSERT r.created_by = 'alice' AND r.updated_by = 'bob', 'created_by stays, updated_by: bob';

	-- A connection without identity: NULL authors.
	PERFORM set_config('pollhub.sender', 'c-anon', true);
	UPDATE pollhub.meetings SET title = 'Anonymous' WHERE id = m;
	ASSERT (SELECT updated_by IS NULL AND created_by = 'alice' FROM pollhub.meetings WHERE id = m),
	    'no identity: updated_by NULL';

	-- From psql (no sender): 'db:<role>'.
	PERFORM set_config('pollhub.sender', '', true);
	UPDATE pollhub.meetings SET title = 'From psql' WHERE id = m;
	ASSERT (SELECT updated_by FROM pollhub.meetings WHERE id = m) = 'db:' || session_user, 'db:<role>';
	INSERT INTO pollhub.meetings (id, group_name, title, start_at, end_at, recurrence_rule)
	VALUES (gen_random_uuid(), 'cal-a', 'Weekly', '2026-12-02T10:00Z', '2026-12-02T11:00Z', 'FREQ=WEEKLY')
	RETURNING id INTO h;
	INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, recurrence_id)
	VALUES ('cal-a', 'Exception', '2026-12-09T12:00Z', '2026-12-09T13:00Z', h);
	ASSERT (SELECT created_by FROM pollhub.meetings WHERE id = h) = 'db:' || session_user, 'created_by db:<role>';
	INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, created_by, updated_by)
	VALUES ('cal-r', 'Restored', '2026-12-01T10:00Z', '2026-12-01T11:00Z', 'erin', 'frank');
	ASSERT (SELECT created_by = 'erin' AND updated_by = 'frank' FROM pollhub.meetings WHERE title = 'Restored'),
	    'an INSERT from psql keeps the authors it gives (a restore)';

	-- The audit: every change, with actor, connection and address.
	SELECT * INTO r FROM pollhub.audit WHERE meeting_id = m ORDER BY id LIMIT 1;
	ASSERT r.action = 'create' AND r.actor = 'alice' AND r.connection_id = 'c-a1'
	    AND r.remote_addr = '192.0.2.1' AND r.db_role = session_user AND r.before IS NULL
	    AND r.after ->> 'title' = 'By alice', 'audit of the create';
	ASSERT (SELECT array_agg(actor ORDER BY id) FROM pollhub.audit WHERE meeting_id = m AND action = 'update')
	    IS NOT DISTINCT FROM ARRAY['bob', NULL, 'db:' || session_user], 'audit of the updates';
	SELECT * INTO r FROM pollhub.admin_audit WHERE meeting_id = m LIMIT 1;
	ASSERT r.action = 'update' AND r.actor = 'db:' || session_user AND r.connection_id IS NULL
	    AND r.changed = '{"title": ["Anonymous", "From psql"]}'::jsonb, 'admin_audit: newest first, what changed';
	PERFORM set_config('pollhub.sender', 'c-a1', true);
	DELETE FROM pollhub.meetings WHERE id = h;
	ASSERT (SELECT count(*) FROM pollhub.audit WHERE action = 'destroy' AND actor = 'alice'
		AND group_name = 'cal-a' AND meeting_id IN (SELECT (before ->> 'id')::uuid FROM pollhub.audit
		    WHERE before ->> 'recurrence_id' = h::text OR before ->> 'id' = h::text)) = 2,
	    'the destroy of the head and of its exception (the cascade), by alice';
	PERFORM set_config('pollhub.sender', '', true);
	SELECT * INTO r FROM pollhub.admin_meetings WHERE group_name = 'cal-a';
	ASSERT r.created_by = ARRAY['alice'] AND r.updated_by = ARRAY['db:' || session_user],
	    'admin_meetings: its authors';

	-- Revocation: every open connection that lost access is closed with the
	-- reason; the others keep theirs.
	ASSERT pollhub.revoke_group('bob', 'cal-a'), 'revoke_group: true';
	ASSERT NOT pollhub.revoke_group('bob', 'cal-a'), 'revoke_group again: false';
	FOR r IN SELECT * FROM pollhub.connections WHERE id IN ('c-b1', 'c-b2') LOOP
		ASSERT r.state = 'closing', r.id || ' closing';
		ASSERT NOT EXISTS (SELECT FROM pollhub.memberships WHERE connection_id = r.id), r.id || ' left cal-a';
		ASSERT (SELECT payload::jsonb FROM pollhub.connection_messages WHERE connection_id = r.id
			ORDER BY id DESC LIMIT 1)
		    = '{"type": 7, "error": "Not allowed: access to calendar ''cal-a'' was revoked", "allowReconnect": false}'::jsonb,
		    r.id || ': a Close with the reason';
	END LOOP;
	ASSERT (SELECT state FROM pollhub.connections WHERE id = 'c-a1') = 'open', 'alice keeps cal-a';

	-- Through a role: leaving it loses what only it gave.
	ASSERT (SELECT permission FROM pollhub.connections WHERE id = 'c-cl') = 'read', 'classic alice on cal-b';
	ASSERT pollhub.revoke_role('editors', 'alice'), 'revoke_role: true';
	ASSERT (SELECT state FROM pollhub.connections WHERE id = 'c-cl') = 'closing', 'cal-b (via editors) closed';
	ASSERT (SELECT state = 'open' AND permission = 'admin' FROM pollhub.connections WHERE id = 'c-a1'),
	    'cal-a (own grant) stays';
	-- A role's grant lowered: the members' connections follow; a role dropped: closed.
	PERFORM pollhub.grant_role('editors', 'erin');
	PERFORM pollhub.connection_create('c-e1', 'k-e1', 'erin', 'cal-a', NULL, NULL);
	ASSERT (SELECT permission FROM pollhub.connections WHERE id = 'c-e1') = 'write', 'erin writes via editors';
	PERFORM pollhub.grant_group('editors', 'cal-a', 'read');
	ASSERT (SELECT permission FROM pollhub.connections WHERE id = 'c-e1') = 'read', 'the role lowered: read';
	DELETE FROM pollhub.roles WHERE name = 'editors';
	ASSERT (SELECT state FROM pollhub.connections WHERE id = 'c-e1') = 'closing', 'the role dropped: closed';
	-- An administrator's direct edit of the table counts too: the grant moved
	-- to another calendar closes what it gave.
	UPDATE pollhub.grants SET group_name = 'cal-y' WHERE principal = 'alice' AND group_name = 'cal-a';
	ASSERT (SELECT state FROM pollhub.connections WHERE id = 'c-a1') = 'closing', 'the grant moved away: closed';
	-- Without identity nothing is re-evaluated.
	ASSERT (SELECT state FROM pollhub.connections WHERE id = 'c-anon') = 'open', 'anonymous untouched';
END
$$;

-- send_to_user: every open Core connection of the user, no other; classic
-- ones skipped.
DO $$
BEGIN
	PERFORM pollhub.grant_group('gina', 'cal-g', 'read');
	PERFORM pollhub.grant_group('hank', 'cal-g', 'read');
	PERFORM pollhub.connection_create('c-g1', 'k-g1', 'gina', 'cal-g', NULL, NULL);
	PERFORM pollhub.connection_create('c-g2', 'k-g2', 'gina', 'cal-g', NULL, NULL);
	PERFORM pollhub.connection_create('c-h1', 'k-h1', 'hank', 'cal-g', NULL, NULL);
	PERFORM pollhub.classic_negotiate('c-g3', 'k-g3', 'gina', 'cal-g', NULL, NULL);
	ASSERT pollhub.send_to_user('gina', 'notify', '["for gina"]') = 2, 'two Core connections';
	ASSERT (SELECT array_agg(connection_id ORDER BY connection_id) FROM pollhub.connection_messages
		WHERE payload::jsonb = '{"type":1,"target":"notify","arguments":["for gina"]}'::jsonb)
	    = ARRAY['c-g1', 'c-g2'], 'only gina''s Core connections';
	ASSERT pollhub.send_to_user('nobody', 'notify', '[]') = 0, 'an unknown user: 0';
END
$$;

-- The administrator's role does its work with its own rights.
SET LOCAL ROLE pollhub_admin;
DO $$
BEGIN
	PERFORM pollhub.grant_group('ivy', 'cal-i', 'write');
	PERFORM pollhub.grant_role('staff', 'ivy');
	PERFORM pollhub.set_default_group('ivy', 'cal-i');
	ASSERT (SELECT permission FROM pollhub.admin_access WHERE user_name = 'ivy' AND group_name = 'cal-i') = 'write',
	    'pollhub_admin reads admin_access';
	ASSERT (SELECT count(*) FROM pollhub.admin_audit) > 0, 'pollhub_admin reads admin_audit';
	ASSERT pollhub.revoke_role('staff', 'ivy') AND pollhub.revoke_group('ivy', 'cal-i'), 'and revokes';
	BEGIN
		INSERT INTO pollhub.audit (action, meeting_id, group_name) VALUES ('create', gen_random_uuid(), 'x');
		ASSERT false, 'pollhub_admin must not write the audit';
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
END
$$;
RESET ROLE;

-- The responder's role opens connections under the grants it cannot read.
SET LOCAL ROLE pollhub_app;
DO $$
DECLARE
	r record;
BEGIN
	PERFORM pollhub.grant_group('ivy', 'cal-i', 'read');
	ASSERT false, 'pollhub_app must not grant';
EXCEPTION WHEN insufficient_privilege THEN
	SELECT * INTO r FROM pollhub.connection_create('c-app', 'k-app', 'gina', 'cal-g', NULL, NULL);
	ASSERT r.verdict = 'ok' AND r.permission = 'read', 'pollhub_app: connection_create works';
	BEGIN
		PERFORM 1 FROM pollhub.grants;
		ASSERT false, 'pollhub_app must not read the grants';
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
END
$$;
RESET ROLE;

-- Rights: the responder opens connections but reads no grant and writes no audit.
DO $$
BEGIN
	ASSERT has_function_privilege('pollhub_app', 'pollhub.connection_create(text, text, text, text, text, text)', 'EXECUTE'),
	    'pollhub_app opens connections';
	ASSERT has_function_privilege('pollhub_app', 'pollhub.classic_negotiate(text, text, text, text, text, text)', 'EXECUTE'),
	    'pollhub_app opens classic connections';
	ASSERT NOT has_table_privilege('pollhub_app', 'pollhub.grants', 'SELECT'), 'pollhub_app reads no grants';
	ASSERT NOT has_table_privilege('pollhub_app', 'pollhub.role_members', 'SELECT'), 'nor role members';
	ASSERT NOT has_table_privilege('pollhub_app', 'pollhub.audit', 'INSERT')
	    AND NOT has_table_privilege('pollhub_app', 'pollhub.audit', 'DELETE'), 'pollhub_app cannot touch the audit';
	ASSERT NOT has_function_privilege('pollhub_app', 'pollhub.grant_group(text, text, text)', 'EXECUTE'),
	    'pollhub_app grants nothing';
	ASSERT NOT has_function_privilege('pollhub_app', 'pollhub.send_to_user(text, text, json)', 'EXECUTE'),
	    'send_to_user is the administrator''s';
	ASSERT has_function_privilege('pollhub_admin', 'pollhub.grant_group(text, text, text)', 'EXECUTE')
	    AND has_function_privilege('pollhub_admin', 'pollhub.revoke_role(text, text)', 'EXECUTE')
	    AND has_function_privilege('pollhub_admin', 'pollhub.send_to_user(text, text, json)', 'EXECUTE'),
	    'pollhub_admin administers';
	ASSERT has_table_privilege('pollhub_admin', 'pollhub.admin_access', 'SELECT')
	    AND has_table_privilege('pollhub_admin', 'pollhub.admin_audit', 'SELECT')
	    AND NOT has_table_privilege('pollhub_admin', 'pollhub.audit', 'DELETE'), 'pollhub_admin reads the audit only';
	ASSERT NOT has_function_privilege('pollhub_admin', 'pollhub.connection_create(text, text, text, text, text, text)', 'EXECUTE'),
	    'pollhub_admin opens no connection';
END
$$;

\echo auth.sql: all assertions held
ROLLBACK;
