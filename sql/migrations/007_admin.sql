-- 007_admin: administering pollhub with psql. Views of who is connected and
-- what is pending, functions to message, close and clean up, and two roles:
-- pollhub_app (what the responder needs, nothing more) and pollhub_admin
-- (the views and functions below, and the meetings). README "Administering
-- with psql" shows each in use.

-- Roles are cluster-wide: created once, by whoever runs the first migration
-- with the CREATEROLE right; a migrator without it needs them made for it.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pollhub_app') THEN
		IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			RAISE EXCEPTION 'role pollhub_app does not exist and % may not create it',
			    current_user
			    USING HINT = 'As a superuser: CREATE ROLE pollhub_app LOGIN; '
				'CREATE ROLE pollhub_admin NOLOGIN; then migrate again.';
		END IF;
		-- LOGIN without a password: give it one, or map it in pg_hba.conf.
		-- Two databases of one cluster migrating at once race here.
		BEGIN
			CREATE ROLE pollhub_app LOGIN;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;	-- the other one made it
		END;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pollhub_admin') THEN
		BEGIN
			CREATE ROLE pollhub_admin NOLOGIN;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;
		END;
	END IF;
END
$$;

-- The responder: read and write the tables, use the sequences, run the
-- functions; no DDL (it owns nothing), and not the migrations' record.
GRANT USAGE ON SCHEMA pollhub TO pollhub_app, pollhub_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pollhub TO pollhub_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA pollhub TO pollhub_app;
REVOKE ALL ON pollhub.schema_migrations FROM pollhub_app;
-- Tables of later migrations (made by the same migrating role) likewise.
ALTER DEFAULT PRIVILEGES IN SCHEMA pollhub
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pollhub_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA pollhub GRANT USAGE, SELECT ON SEQUENCES TO pollhub_app;

-- An administrator edits meetings directly (the trigger pushes each change).
-- The trigger's queueing then runs with its owner's rights, so the admin
-- needs no rights on the outbox.
GRANT SELECT, INSERT, UPDATE, DELETE ON pollhub.meetings TO pollhub_admin;
ALTER FUNCTION pollhub.enqueue(text, text) SECURITY DEFINER SET search_path = pg_catalog, pollhub;

-- Views run the functions they call with the reader's rights: the pending
-- counts read tables an administrator has no right to (tokens are there).
ALTER FUNCTION pollhub.pending_counts() SECURITY DEFINER SET search_path = pg_catalog, pollhub;

-- Who is connected (never the token): one row per connection.
-- pending: messages waiting for it (its queue plus its groups' rows past its
-- cursor; see pending_counts() in 006_bounded.sql).
CREATE VIEW pollhub.admin_connections AS
SELECT c.id, c.group_name, c.transport, c.state, c.remote_addr, c.user_agent,
       c.connected_at, c.last_seen, c.poll_active AS waiting,
       coalesce(p.pending, 0) AS pending
  FROM pollhub.connections c
  LEFT JOIN pollhub.pending_counts() p ON p.id = c.id;

-- Groups: members now, pushes queued and not yet delivered to every member.
CREATE VIEW pollhub.admin_groups AS
SELECT g.name AS group_name,
       (SELECT count(*) FROM pollhub.memberships m WHERE m.group_name = g.name) AS members,
       (SELECT count(*) FROM pollhub.outbox o WHERE o.group_name = g.name) AS pending,
       g.last_seq
  FROM pollhub.groups g;

-- The outbox as a whole: how many rows wait, and for how long the oldest has.
CREATE VIEW pollhub.admin_outbox AS
SELECT count(*) AS depth, min(created_at) AS oldest, now() - min(created_at) AS oldest_age
  FROM pollhub.outbox;

-- Meetings per group (calendar).
CREATE VIEW pollhub.admin_meetings AS
SELECT group_name, count(*) AS meetings, min(start_at) AS first_start, max(end_at) AS last_end
  FROM pollhub.meetings GROUP BY group_name;

GRANT SELECT ON pollhub.admin_connections, pollhub.admin_groups, pollhub.admin_outbox,
	pollhub.admin_meetings TO pollhub_admin;

-- A hub invocation record (a push without invocationId) of client method
-- p_target with the JSON array p_arguments.
CREATE FUNCTION pollhub.invocation(p_target text, p_arguments json) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_target IS NULL OR p_target = '' THEN
		RAISE EXCEPTION 'a client method name is required';
	END IF;
	IF json_typeof(p_arguments) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'arguments must be a JSON array, not %', coalesce(json_typeof(p_arguments), 'NULL')
		    USING HINT = 'e.g. ''["Maintenance at 18:00"]''::json';
	END IF;
	RETURN json_build_object('type', 1, 'target', p_target, 'arguments', p_arguments)::text;
END
$$;

-- Call client method p_target with p_arguments on every connection of group
-- p_group (every page of that calendar), e.g.
--   SELECT pollhub.send_to_group('10.0.0.7', 'notify', '["Maintenance at 18:00"]');
-- Returns the group's sequence number of the push.
CREATE FUNCTION pollhub.send_to_group(p_group text, p_target text, p_arguments json)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	-- Not from any connection: every member gets it.
	PERFORM set_config('pollhub.sender', '', true);
	RETURN pollhub.enqueue(p_group, pollhub.invocation(p_target, p_arguments));
END
$$;

-- Call client method p_target with p_arguments on one connection (an id from
-- admin_connections), e.g.
--   SELECT pollhub.send_to_connection('q3Yc…', 'notify', '["Please reload"]');
-- Returns false if there is no such open connection.
CREATE FUNCTION pollhub.send_to_connection(p_connection text, p_target text, p_arguments json)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	record text := pollhub.invocation(p_target, p_arguments);
BEGIN
	-- The row lock keeps the connection's queue in commit order (001_core.sql).
	PERFORM 1 FROM pollhub.connections WHERE id = p_connection AND state = 'open' FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	INSERT INTO pollhub.connection_messages (connection_id, payload) VALUES (p_connection, record);
	PERFORM pg_notify('pollhub', 'c:' || p_connection);
	RETURN true;
END
$$;

-- Close one connection: the client receives a Close message with p_reason
-- as its error (after what is already queued for it) and disconnects; its
-- next poll answers 204. With p_allow_reconnect a client configured with
-- withAutomaticReconnect() comes back (as a new connection). E.g.
--   SELECT pollhub.disconnect_connection('q3Yc…', 'Closed by the administrator');
-- Returns false if there is no such open connection.
CREATE FUNCTION pollhub.disconnect_connection(p_connection text, p_reason text,
	p_allow_reconnect boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	PERFORM 1 FROM pollhub.connections WHERE id = p_connection AND state = 'open' FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	INSERT INTO pollhub.connection_messages (connection_id, payload)
	    VALUES (p_connection, json_build_object('type', 7,
		'error', coalesce(nullif(p_reason, ''), 'Connection closed by the server.'),
		'allowReconnect', p_allow_reconnect)::text);
	UPDATE pollhub.connections SET state = 'closing' WHERE id = p_connection;
	DELETE FROM pollhub.memberships WHERE connection_id = p_connection;
	PERFORM pg_notify('pollhub', 'c:' || p_connection);
	RETURN true;
END
$$;

-- Delete every meeting of group p_group; each open page gets a destroy push
-- for each (the trigger). Returns how many were deleted.
CREATE FUNCTION pollhub.purge_group(p_group text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	exceptions bigint;
	heads bigint;
BEGIN
	PERFORM set_config('pollhub.sender', '', true);
	-- Exceptions first, so the cascade from their heads finds nothing left.
	DELETE FROM pollhub.meetings WHERE group_name = p_group AND recurrence_id IS NOT NULL;
	GET DIAGNOSTICS exceptions = ROW_COUNT;
	DELETE FROM pollhub.meetings WHERE group_name = p_group;
	GET DIAGNOSTICS heads = ROW_COUNT;
	RETURN exceptions + heads;
END
$$;

-- Remove stale connections now (as the responders' reapers do every few
-- seconds), with the responders' default timeouts unless given. Returns how
-- many were removed.
CREATE FUNCTION pollhub.reap_now(p_disconnect interval DEFAULT '15 seconds',
	p_poll interval DEFAULT '90 seconds') RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
	SELECT pollhub.reap(p_disconnect, p_poll)
$$;

-- Only administrators run these (functions are executable by everyone unless
-- revoked).
REVOKE EXECUTE ON FUNCTION pollhub.send_to_group(text, text, json),
	pollhub.send_to_connection(text, text, json),
	pollhub.disconnect_connection(text, text, boolean),
	pollhub.purge_group(text),
	pollhub.reap_now(interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pollhub.send_to_group(text, text, json),
	pollhub.send_to_connection(text, text, json),
	pollhub.disconnect_connection(text, text, boolean),
	pollhub.purge_group(text),
	pollhub.reap_now(interval, interval) TO pollhub_admin;
