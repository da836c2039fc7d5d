-- SQL-level tests of the admin views, functions and roles (sql/migrations/007_admin.sql),
-- run by tests/integration/admin.test.mjs with psql -v ON_ERROR_STOP=1 against a fresh
-- database: every ASSERT that fails stops the script with an error. Runs in a
-- transaction that is rolled back.
BEGIN;

-- A connection, as negotiate and the handshake make it.
INSERT INTO pollhub.connections (id, token, group_name, transport, remote_addr, user_agent)
VALUES ('conn-a', 'secret-token-a', 'cal-1', 'LongPolling', '192.0.2.1', 'test agent'),
       ('conn-b', 'secret-token-b', 'cal-1', 'ServerSentEvents', '192.0.2.2', 'test agent');
SELECT pollhub.join_group('conn-a', 'cal-1');
SELECT pollhub.join_group('conn-b', 'cal-1');

DO $$
DECLARE
	r record;
	n bigint;
BEGIN
	-- The views never show a token.
	ASSERT NOT EXISTS (SELECT FROM information_schema.columns
		WHERE table_schema = 'pollhub' AND table_name LIKE 'admin\_%' AND column_name = 'token'),
	    'no admin view has a token column';
	SELECT * INTO r FROM pollhub.admin_connections WHERE id = 'conn-a';
	ASSERT r.group_name = 'cal-1' AND r.transport = 'LongPolling' AND r.remote_addr = '192.0.2.1'
	    AND r.user_agent = 'test agent' AND r.pending = 0, 'admin_connections row of conn-a';
	SELECT * INTO r FROM pollhub.admin_groups WHERE group_name = 'cal-1';
	ASSERT r.members = 2 AND r.pending = 0, 'admin_groups: 2 members, nothing pending';

	-- A meeting inserted from SQL is queued for the group as a create push.
	INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
	VALUES ('cal-1', 'From psql', '2026-12-01T10:00Z', '2026-12-01T11:00Z');
	SELECT * INTO r FROM pollhub.outbox WHERE group_name = 'cal-1' ORDER BY seq DESC LIMIT 1;
	ASSERT r.sender IS NULL, 'a change from psql has no sender: nobody is skipped';
	ASSERT (r.payload::json ->> 'target') = 'create' AND (r.payload::json -> 'arguments' -> 0 ->> 'Title') = 'From psql',
	    'the push is a create with the meeting';
	ASSERT (SELECT pending FROM pollhub.admin_connections WHERE id = 'conn-b') = 1, 'one pending for conn-b';
	ASSERT (SELECT pending FROM pollhub.admin_groups WHERE group_name = 'cal-1') = 1, 'one pending in the group';
	ASSERT (SELECT depth FROM pollhub.admin_outbox) >= 1, 'admin_outbox counts it';
	ASSERT (SELECT meetings FROM pollhub.admin_meetings WHERE group_name = 'cal-1') = 1, 'admin_meetings';

	-- send_to_group: a push without sender, of the given method and arguments.
	n := pollhub.send_to_group('cal-1', 'notify', '["Maintenance at 18:00", 5]');
	SELECT * INTO r FROM pollhub.outbox WHERE group_name = 'cal-1' AND seq = n;
	ASSERT r.payload::jsonb = '{"type":1,"target":"notify","arguments":["Maintenance at 18:00",5]}'::jsonb,
	    'send_to_group queues the invocation';

	-- send_to_connection: only that connection's queue.
	ASSERT pollhub.send_to_connection('conn-a', 'notify', '["just you"]'), 'send_to_connection: true';
	ASSERT (SELECT count(*) FROM pollhub.connection_messages WHERE connection_id = 'conn-a') = 1
	    AND (SELECT count(*) FROM pollhub.connection_messages WHERE connection_id = 'conn-b') = 0,
	    'only conn-a got the message';
	ASSERT NOT pollhub.send_to_connection('no-such', 'notify', '[]'), 'unknown connection: false';

	-- Bad arguments are refused with a clear error.
	BEGIN
		PERFORM pollhub.send_to_group('cal-1', 'notify', '{"not":"an array"}');
		ASSERT false, 'an object as arguments must be refused';
	EXCEPTION WHEN raise_exception THEN
		ASSERT SQLERRM LIKE 'arguments must be a JSON array%', SQLERRM;
	END;
	BEGIN
		PERFORM pollhub.send_to_group('cal-1', '', '[]');
		ASSERT false, 'an empty method name must be refused';
	EXCEPTION WHEN raise_exception THEN
		NULL;
	END;

	-- disconnect_connection: a Close with the reason, after what is queued; the
	-- connection leaves its group and is closing.
	ASSERT pollhub.disconnect_connection('conn-a', 'Kicked by the administrator'), 'disconnect: true';
	SELECT payload INTO r FROM pollhub.connection_messages WHERE connection_id = 'conn-a' ORDER BY id DESC LIMIT 1;
	ASSERT r.payload::jsonb = '{"type":7,"error":"Kicked by the administrator","allowReconnect":false}'::jsonb,
	    'the Close message carries the reason';
	ASSERT (SELECT state FROM pollhub.connections WHERE id = 'conn-a') = 'closing', 'closing';
	ASSERT NOT EXISTS (SELECT FROM pollhub.memberships WHERE connection_id = 'conn-a'), 'left its group';
	ASSERT NOT pollhub.disconnect_connection('conn-a', 'again'), 'a closing connection: false';

	-- purge_group: every meeting of the group, exceptions of recurring ones included,
	-- each pushed as a destroy.
	INSERT INTO pollhub.meetings (id, group_name, title, start_at, end_at, recurrence_rule)
	VALUES ('00000000-0000-0000-0000-000000000001', 'cal-1', 'Weekly', '2026-12-02T10:00Z', '2026-12-02T11:00Z', 'FREQ=WEEKLY');
	INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, recurrence_id)
	VALUES ('cal-1', 'Moved once', '2026-12-09T12:00Z', '2026-12-09T13:00Z', '00000000-0000-0000-0000-000000000001');
	INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
	VALUES ('cal-2', 'Other calendar', '2026-12-01T10:00Z', '2026-12-01T11:00Z');
	ASSERT pollhub.purge_group('cal-1') = 3, 'purge_group deleted 3';
	ASSERT NOT EXISTS (SELECT FROM pollhub.meetings WHERE group_name = 'cal-1'), 'cal-1 is empty';
	ASSERT EXISTS (SELECT FROM pollhub.meetings WHERE group_name = 'cal-2'), 'cal-2 is untouched';
	ASSERT (SELECT count(*) FROM pollhub.outbox WHERE group_name = 'cal-1'
		AND payload::json ->> 'target' = 'destroy') = 3, 'three destroy pushes';

	-- send_to_connection refuses a classic connection (it would never be delivered)
	-- and queues nothing for it.
	INSERT INTO pollhub.connections (id, token, group_name, transport)
	VALUES ('conn-classic', 'tok-classic', 'cal-1', 'ClassicLongPolling');
	BEGIN
		PERFORM pollhub.send_to_connection('conn-classic', 'notify', '["x"]');
		ASSERT false, 'send_to_connection to a classic connection must be refused';
	EXCEPTION WHEN feature_not_supported THEN
		NULL;
	END;
	ASSERT NOT EXISTS (SELECT FROM pollhub.connection_messages WHERE connection_id = 'conn-classic'),
	    'nothing queued for the classic connection';
	DELETE FROM pollhub.connections WHERE id = 'conn-classic';

	-- reap_now: a connection unseen for longer than the timeouts goes.
	UPDATE pollhub.connections SET last_seen = now() - interval '1 hour' WHERE id = 'conn-b';
	ASSERT pollhub.reap_now() >= 1, 'reap_now removed the stale connection';
	ASSERT NOT EXISTS (SELECT FROM pollhub.connections WHERE id = 'conn-b'), 'conn-b is gone';
END
$$;

-- Roles: the application role may use the tables but not change the schema or run the
-- admin functions; the admin role runs the functions and reads the views.
DO $$
BEGIN
	ASSERT has_table_privilege('pollhub_app', 'pollhub.connections', 'SELECT, INSERT, UPDATE, DELETE'),
	    'pollhub_app uses the tables';
	ASSERT NOT has_schema_privilege('pollhub_app', 'pollhub', 'CREATE'), 'pollhub_app: no DDL';
	ASSERT NOT has_table_privilege('pollhub_app', 'pollhub.schema_migrations', 'INSERT'),
	    'pollhub_app does not touch the migrations record';
	ASSERT NOT has_function_privilege('pollhub_app', 'pollhub.send_to_group(text, text, json)', 'EXECUTE'),
	    'pollhub_app may not run admin functions';
	ASSERT NOT (SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'pollhub_app'),
	    'pollhub_app has no special rights';
	ASSERT has_function_privilege('pollhub_admin', 'pollhub.disconnect_connection(text, text, boolean)', 'EXECUTE'),
	    'pollhub_admin runs them';
	ASSERT has_table_privilege('pollhub_admin', 'pollhub.admin_connections', 'SELECT'), 'pollhub_admin reads views';
	ASSERT has_table_privilege('pollhub_admin', 'pollhub.meetings', 'UPDATE'), 'pollhub_admin edits meetings';
	ASSERT NOT has_table_privilege('pollhub_admin', 'pollhub.connections', 'SELECT'),
	    'pollhub_admin reads connections only through the view (no tokens)';
END
$$;

-- As the admin role itself: a meeting change pushes although the admin has no right on
-- the outbox.
SET LOCAL ROLE pollhub_admin;
INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
VALUES ('cal-3', 'By the admin', '2026-12-01T10:00Z', '2026-12-01T11:00Z');
SELECT pollhub.send_to_group('cal-3', 'notify', '["hello"]');
RESET ROLE;
DO $$
BEGIN
	ASSERT (SELECT count(*) FROM pollhub.outbox WHERE group_name = 'cal-3') = 2,
	    'the admin role queued a create and a notify';
END
$$;

ROLLBACK;
\echo admin.sql: all assertions held
