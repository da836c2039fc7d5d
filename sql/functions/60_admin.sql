-- Administering with psql (README): views of who is connected and what is
-- pending, and functions to message, close and clean up, run by the role
-- pollhub_admin (sql/migrations/007_admin.sql creates the roles).

-- Who is connected (never the token): one row per connection.
-- pending: messages waiting for it (its queue plus its groups' rows past its
-- cursor; see pending_counts() in 006_bounded.sql).
CREATE OR REPLACE VIEW pollhub.admin_connections AS
SELECT c.id, c.group_name, c.transport, c.state, c.remote_addr, c.user_agent,
       c.connected_at, c.last_seen, c.poll_active AS waiting,
       coalesce(p.pending, 0) AS pending
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

-- Meetings per group (calendar).
CREATE OR REPLACE VIEW pollhub.admin_meetings AS
SELECT group_name, count(*) AS meetings, min(start_at) AS first_start, max(end_at) AS last_end
  FROM pollhub.meetings GROUP BY group_name;

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
	pollhub.admin_meetings TO pollhub_admin;








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
