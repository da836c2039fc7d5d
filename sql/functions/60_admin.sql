-- Administering with psql (README): views of who is connected and what is
-- pending, and functions to message, close and clean up, run by the role
-- pollhub_admin (sql/migrations/007_admin.sql creates the roles).

-- Who is connected (never the token): one row per connection.
-- pending: messages waiting for it (its queue plus its groups' rows past its
-- cursor; see pending_counts() in 006_bounded.sql).
-- user_name and permission: its identity (NULL without one).
CREATE OR REPLACE VIEW pollhub.admin_connections AS
SELECT c.id, c.group_name, c.transport, c.state, c.remote_addr, c.user_agent,
       c.connected_at, c.last_seen, c.poll_active AS waiting,
       coalesce(p.pending, 0) AS pending, c.user_name, c.permission
  FROM pollhub.connections c
  LEFT JOIN pollhub.pending_counts() p ON p.id = c.id;

-- Groups: members now, pushes queued and not yet delivered to every member.
CREATE OR REPLACE VIEW pollhub.admin_groups AS
SELECT g.name AS group_name,
       (SELECT count(*) FROM pollhub.memberships m WHERE m.group_name = g.name) AS members,
       (SELECT count(*) FROM pollhub.outbox o WHERE o.group_name = g.name) AS pending,
       g.last_seq
  FROM pollhub.groups g;

-- The outbox as a whole: how many rows wait, and for how long the oldest has.
CREATE OR REPLACE VIEW pollhub.admin_outbox AS
SELECT count(*) AS depth, min(created_at) AS oldest, now() - min(created_at) AS oldest_age
  FROM pollhub.outbox;

-- Meetings per group (calendar), and who wrote them: the distinct authors
-- of its meetings (created_by) and of their latest changes (updated_by),
-- NULL for a connection without identity, 'db:<role>' for psql. Each
-- meeting's own are in pollhub.meetings, every change in admin_audit.
CREATE OR REPLACE VIEW pollhub.admin_meetings AS
SELECT group_name, count(*) AS meetings, min(start_at) AS first_start, max(end_at) AS last_end,
       array_agg(DISTINCT created_by) AS created_by,
       array_agg(DISTINCT updated_by) AS updated_by
  FROM pollhub.meetings GROUP BY group_name;

-- Grants as given: principal, whether it names a role or a user, the
-- calendar, the permission, when and by which database role.
CREATE OR REPLACE VIEW pollhub.admin_grants AS
SELECT g.principal,
       CASE WHEN EXISTS (SELECT 1 FROM pollhub.roles r WHERE r.name = g.principal)
	    THEN 'role' ELSE 'user' END AS kind,
       g.group_name, g.permission, g.granted_at, g.granted_by
  FROM pollhub.grants g;

-- Who may open what: one row per user and calendar, with the effective
-- permission (as pollhub.permission_of computes it) and the principals that
-- give it (the user itself and/or its roles; those of a lower grant are
-- left out). Users are the principals that are not roles, and the members
-- of roles.
CREATE OR REPLACE VIEW pollhub.admin_access AS
WITH users AS (
	SELECT g.principal AS user_name FROM pollhub.grants g
	 WHERE NOT EXISTS (SELECT 1 FROM pollhub.roles r WHERE r.name = g.principal)
	UNION
	SELECT rm.user_name FROM pollhub.role_members rm),
access AS (
	SELECT u.user_name, a.group_name, a.permission, a.principal,
	       max(pollhub.permission_rank(a.permission))
		   OVER (PARTITION BY u.user_name, a.group_name) AS top
	  FROM users u CROSS JOIN LATERAL pollhub.grants_of(u.user_name) a)
SELECT user_name, group_name, (ARRAY['read', 'write', 'admin'])[top] AS permission,
       array_agg(DISTINCT principal ORDER BY principal) AS via
  FROM access
 WHERE pollhub.permission_rank(permission) = top
 GROUP BY user_name, group_name, top;

-- Every change of a meeting, newest first: when, what, who (actor: the
-- user; 'db:<role>' from psql; NULL for a connection without identity),
-- through which connection and from which address, the database role, the
-- title, and for an update the fields that changed ({"field": [before,
-- after]}); the whole rows in before and after.
CREATE OR REPLACE VIEW pollhub.admin_audit AS
SELECT a.id, a.at, a.action, a.actor, a.group_name, a.meeting_id,
       coalesce(a.after, a.before) ->> 'title' AS title,
       (SELECT jsonb_object_agg(k.key, jsonb_build_array(a.before -> k.key, k.value))
	  FROM jsonb_each(a.after) k
	 WHERE a.before IS NOT NULL AND k.key NOT IN ('updated_by')
	   AND a.before -> k.key IS DISTINCT FROM k.value) AS changed,
       a.connection_id, a.remote_addr, a.db_role, a.before, a.after
  FROM pollhub.audit a
 ORDER BY a.id DESC;

-- The pollhub release whose deploy/scripts/migrate.sh last migrated this
-- database (its tables and these functions): SELECT pollhub.version();
-- The number is written once, in common/version.h; migrate.sh reads it from
-- there and passes it as the psql variable pollhub_version (this file run on
-- its own by psql says 'unknown'). The responder reports its own in its
-- "ready" log line and with `pollhub --version`.
\if :{?pollhub_version}
\else
\set pollhub_version unknown
\endif
CREATE OR REPLACE FUNCTION pollhub.version() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN :'pollhub_version';

-- A hub invocation record (a push without invocationId) of client method
-- p_target with the JSON array p_arguments.
CREATE OR REPLACE FUNCTION pollhub.invocation(p_target text, p_arguments json) RETURNS text
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
CREATE OR REPLACE FUNCTION pollhub.send_to_group(p_group text, p_target text, p_arguments json)
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
-- Returns false if there is no such open connection. A classic (SignalR 2.x)
-- connection is refused with an error: its client reads only its group's
-- pushes (by message id), so nothing is queued that it would never receive.
CREATE OR REPLACE FUNCTION pollhub.send_to_connection(p_connection text, p_target text, p_arguments json)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	record text := pollhub.invocation(p_target, p_arguments);
	c_transport text;
	c_group text;
BEGIN
	-- The connection's send lock (send_begin, 20_connections.sql): its queue
	-- is written by one transaction at a time, in commit order, like its
	-- POSTs. The row lock keeps it open (not being closed) until commit.
	PERFORM pollhub.send_lock(p_connection, true);
	SELECT c.transport, c.group_name INTO c_transport, c_group FROM pollhub.connections c
	 WHERE c.id = p_connection AND c.state = 'open' FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF pollhub.is_classic(c_transport) THEN
		RAISE EXCEPTION 'connection % is a classic SignalR 2.x (jquery.signalR) client, which cannot receive messages sent to one connection', p_connection
		    USING ERRCODE = 'feature_not_supported',
			  HINT = format('Send to its group instead (every page of it receives the push): SELECT pollhub.send_to_group(%L, ...);', c_group);
	END IF;
	INSERT INTO pollhub.connection_messages (connection_id, payload) VALUES (p_connection, record);
	PERFORM pg_notify('pollhub', 'c:' || p_connection);
	RETURN true;
END
$$;

-- Call client method p_target with p_arguments on every open connection of
-- user p_user (as ASP.NET Core's Clients.User), e.g.
--   SELECT pollhub.send_to_user('alice', 'notify', '["Your export is ready"]');
-- Returns how many connections it was queued for. Classic (SignalR 2.x)
-- connections cannot receive messages sent to one connection (see
-- send_to_connection): they are skipped, and a NOTICE says how many.
-- Send locks in id order, like drain_many's row locks: two of these never
-- wait for each other in a cycle.
CREATE OR REPLACE FUNCTION pollhub.send_to_user(p_user text, p_target text, p_arguments json)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	record text := pollhub.invocation(p_target, p_arguments);
	classic integer;
BEGIN
	SELECT count(*) INTO classic FROM pollhub.connections c
	 WHERE c.user_name = p_user AND c.state = 'open' AND pollhub.is_classic(c.transport);
	IF classic > 0 THEN
		RAISE NOTICE '% classic SignalR 2.x connection(s) of user % skipped: they receive only their group''s pushes',
		    classic, quote_literal(p_user);
	END IF;
	RETURN pollhub.queue_to_user(p_user, NULL, record);
END
$$;

-- Close one connection: the client receives a Close message with p_reason
-- as its error (after what is already queued for it) and disconnects; its
-- next poll answers 204. With p_allow_reconnect a client configured with
-- withAutomaticReconnect() comes back (as a new connection). E.g.
--   SELECT pollhub.disconnect_connection('q3Yc…', 'Closed by the administrator');
-- Returns false if there is no such open connection.
CREATE OR REPLACE FUNCTION pollhub.disconnect_connection(p_connection text, p_reason text,
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
CREATE OR REPLACE FUNCTION pollhub.purge_group(p_group text) RETURNS bigint
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
-- seconds) and trim the outbox, with the timeouts in force (reap_thresholds())
-- unless given. Returns how many were removed.
CREATE OR REPLACE FUNCTION pollhub.reap_now(p_disconnect interval DEFAULT NULL,
	p_poll interval DEFAULT NULL) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
	SELECT pollhub.reap(coalesce(p_disconnect, t.disconnect_timeout), coalesce(p_poll, t.poll_timeout))
	  FROM pollhub.reap_thresholds() t
$$;

GRANT SELECT ON pollhub.admin_connections, pollhub.admin_groups, pollhub.admin_outbox,
	pollhub.admin_meetings, pollhub.admin_grants, pollhub.admin_access,
	pollhub.admin_audit TO pollhub_admin;
-- The responder needs none of the views of grants and the audit.
REVOKE ALL ON pollhub.admin_grants, pollhub.admin_access, pollhub.admin_audit FROM pollhub_app;








-- Only administrators run these (functions are executable by everyone unless
-- revoked).
REVOKE EXECUTE ON FUNCTION pollhub.send_to_group(text, text, json),
	pollhub.send_to_connection(text, text, json),
	pollhub.send_to_user(text, text, json),
	pollhub.disconnect_connection(text, text, boolean),
	pollhub.purge_group(text),
	pollhub.reap_now(interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pollhub.send_to_group(text, text, json),
	pollhub.send_to_connection(text, text, json),
	pollhub.send_to_user(text, text, json),
	pollhub.disconnect_connection(text, text, boolean),
	pollhub.purge_group(text),
	pollhub.reap_now(interval, interval) TO pollhub_admin;
