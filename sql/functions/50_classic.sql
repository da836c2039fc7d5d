-- Classic (ASP.NET SignalR 2.x) connections, as common/classicstore.c calls
-- them; see sql/migrations/008_classic.sql and 010_classic_delivery.sql.
--
-- A token is valid on its own protocol's endpoints only: every function here
-- looks for a classic connection (is_classic) and treats a Core one's token
-- as unknown, without touching its row. Rows are locked FOR NO KEY UPDATE,
-- like the Core drains (20_connections.sql); a classic /send or /start takes
-- the send lock of send_begin there, not the row. Statuses and transports
-- are named once for C in common/sqlproto.h.

-- A classic connection's transport (its rows are told from Core ones by it).
CREATE OR REPLACE FUNCTION pollhub.is_classic(p_transport text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(p_transport IN ('ClassicLongPolling', 'ClassicServerSentEvents'), false)
$$;

-- Create a classic connection at negotiate (not yet in its group), under
-- the same identity rules as a Core one (connection_open, 15_auth.sql):
-- p_key is the token's key, p_user NULL without identity; verdict 'ok',
-- 'no-default' or 'no-grant', the calendar and the permission.
CREATE OR REPLACE FUNCTION pollhub.classic_negotiate(p_id text, p_key text, p_user text,
	p_group text, p_remote_addr text, p_user_agent text, p_hub text,
	OUT verdict text, OUT group_name text, OUT permission text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	h text;
BEGIN
	-- The hub its connectionData names (jquery.signalR lower-cases names).
	SELECT x.name INTO h FROM pollhub.hubs x WHERE lower(x.name) = lower(p_hub);
	IF NOT FOUND THEN
		verdict := 'no-hub';
		RETURN;
	END IF;
	SELECT o.verdict, o.group_name, o.permission INTO verdict, group_name, permission
	  FROM pollhub.connection_open(p_id, p_key, p_user, p_group, p_remote_addr, p_user_agent,
		'ClassicLongPolling', h) o;
END
$$;

-- The release before hubs (0.14), during a restart in place: MeetingHub's.
CREATE OR REPLACE FUNCTION pollhub.classic_negotiate(p_id text, p_key text, p_user text,
	p_group text, p_remote_addr text, p_user_agent text,
	OUT verdict text, OUT group_name text, OUT permission text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
	SELECT o.verdict, o.group_name, o.permission
	  FROM pollhub.classic_negotiate(p_id, p_key, p_user, p_group, p_remote_addr, p_user_agent,
		'MeetingHub') o
$$;

-- Only the responder opens connections (connection_open has the grants).
REVOKE EXECUTE ON FUNCTION pollhub.classic_negotiate(text, text, text, text, text, text),
	pollhub.classic_negotiate(text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pollhub.classic_negotiate(text, text, text, text, text, text),
	pollhub.classic_negotiate(text, text, text, text, text, text, text) TO pollhub_app;

-- Whether p_token names a classic connection (a /ping that names one).
CREATE OR REPLACE FUNCTION pollhub.classic_exists(p_token text) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM pollhub.connections c
			WHERE c.token = p_token AND pollhub.is_classic(c.transport))
$$;

-- /connect: bind the transport (a fallback from server-sent events to long
-- polling connects again, and replaces it), join the group (once), and give
-- the cursor to start from: the membership's (what the client acknowledged).
-- status: 'ok'; 'gone' (no such classic connection: a Core one's token is
-- not looked at); 'closed' (closing: it was removed).
CREATE OR REPLACE FUNCTION pollhub.classic_connect(p_token text, p_transport text,
	OUT status text, OUT connection_id text, OUT group_name text, OUT cursor bigint)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
BEGIN
	SELECT * INTO c FROM pollhub.connections x
	 WHERE x.token = p_token AND pollhub.is_classic(x.transport) FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		status := 'gone';
		RETURN;
	END IF;
	IF c.state <> 'open' THEN
		DELETE FROM pollhub.connections WHERE id = c.id;
		status := 'closed';
		RETURN;
	END IF;
	UPDATE pollhub.connections SET transport = p_transport, last_seen = now() WHERE id = c.id;
	PERFORM pollhub.join_group(c.id, c.group_name);
	SELECT m.cursor INTO cursor FROM pollhub.memberships m
	 WHERE m.connection_id = c.id AND m.group_name = c.group_name;
	status := 'ok';
	connection_id := c.id;
	group_name := c.group_name;
END
$$;

-- A receive request (poll, reconnect, a stream) starts: it supersedes an
-- older one of the same connection, held in any process (NOTIFY c:<id> when
-- one is held). status: 'ok'; 'gone' (no such classic connection).
CREATE OR REPLACE FUNCTION pollhub.classic_receive_begin(p_token text,
	OUT status text, OUT connection_id text, OUT group_name text, OUT poll_no bigint)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
BEGIN
	SELECT * INTO c FROM pollhub.connections x
	 WHERE x.token = p_token AND pollhub.is_classic(x.transport) FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		status := 'gone';
		RETURN;
	END IF;
	UPDATE pollhub.connections
	   SET poll_no = c.poll_no + 1, poll_active = true, last_seen = now()
	 WHERE id = c.id;
	IF c.poll_active THEN
		PERFORM pg_notify('pollhub', 'c:' || c.id);
	END IF;
	status := 'ok';
	connection_id := c.id;
	group_name := c.group_name;
	poll_no := c.poll_no + 1;
END
$$;

-- What a classic receive request gets: the group's outbox rows after p_from
-- (at most p_limit looked at), in sequence order, minus the connection's own
-- pushes: one result row per record (seq, payload: a Core record without its
-- 0x1E), or a single row with seq and payload NULL when there is none.
-- cursor (the same in every row) = the position after the last row looked
-- at (own rows included, so the client steps over them). Nothing is
-- consumed: the client may ask again from the same position.
--
-- p_ack is what the client has acknowledged: the messageId of the request
-- (a long poll's, or the /connect or /reconnect that opened a stream). The
-- membership cursor moves up to it only, so the trim keeps every row the
-- client may still ask for. A stream reads on from p_from, the position it
-- has written up to; with p_stream the membership's sent becomes the new
-- cursor (what this stream is given to write: the pending cap and the trim
-- count its progress), a long poll sets sent NULL (its progress is its
-- acknowledgement). A cursor past the group's end (another database, a
-- forged one) restarts at the end.
--
-- status: 'ok'; 'gone' (no such classic connection); 'superseded' (a newer
-- receive request exists); 'closed' (the connection was closing, e.g.
-- closed by an administrator or the pending cap: it is removed now; payload
-- = the reason its Close carried, or '').
CREATE OR REPLACE FUNCTION pollhub.classic_drain(p_token text, p_poll bigint, p_ack bigint,
	p_from bigint, p_stream boolean, p_limit integer)
RETURNS TABLE (status text, cursor bigint, seq bigint, payload text)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
	top bigint;
	from_seq bigint;
	ack bigint;
	reason text;
BEGIN
	-- The row lock orders this against the connection's other drains and
	-- receive requests, and against closing it.
	SELECT * INTO c FROM pollhub.connections x
	 WHERE x.token = p_token AND pollhub.is_classic(x.transport) FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'gone'::text, p_from, NULL::bigint, NULL::text;
		RETURN;
	END IF;
	IF c.poll_no <> p_poll THEN
		RETURN QUERY SELECT 'superseded'::text, p_from, NULL::bigint, NULL::text;
		RETURN;
	END IF;
	IF c.state = 'closing' THEN
		-- The reason a Close carries (disconnect_connection, the pending
		-- cap) becomes the client's error.
		SELECT coalesce((SELECT d.payload::json->>'error' FROM pollhub.connection_messages d
			 WHERE d.connection_id = c.id AND d.payload::json->>'type' = '7'
			 ORDER BY d.id DESC LIMIT 1), '')
		  INTO reason;
		DELETE FROM pollhub.connections WHERE id = c.id;
		RETURN QUERY SELECT 'closed'::text, p_from, NULL::bigint, reason;
		RETURN;
	END IF;
	SELECT g.last_seq INTO top FROM pollhub.memberships m
	  JOIN pollhub.groups g ON g.name = m.group_name
	 WHERE m.connection_id = c.id AND m.group_name = c.group_name;
	IF NOT FOUND THEN
		-- Not in its group (yet): nothing can be pending.
		UPDATE pollhub.connections SET last_seen = now() WHERE id = c.id;
		RETURN QUERY SELECT 'ok'::text, p_from, NULL::bigint, NULL::text;
		RETURN;
	END IF;
	from_seq := least(p_from, top);
	ack := least(p_ack, from_seq);
	UPDATE pollhub.connections SET last_seen = now() WHERE id = c.id;
	-- One statement, one snapshot: the rows returned are the rows the
	-- cursor and sent account for. Sequence numbers are taken under the
	-- group row's lock held until commit, so no row after from_seq can
	-- still commit below a row read here.
	RETURN QUERY
	WITH b AS (
		SELECT o.seq, o.sender, o.payload FROM pollhub.outbox o
		 WHERE o.group_name = c.group_name AND o.seq > from_seq
		 ORDER BY o.seq LIMIT p_limit),
	t AS (SELECT coalesce(max(b.seq), from_seq) AS last FROM b),
	moved AS (
		UPDATE pollhub.memberships m
		   SET cursor = greatest(m.cursor, ack),
		       sent = CASE WHEN p_stream THEN greatest(t.last, m.cursor, ack) END
		  FROM t
		 WHERE m.connection_id = c.id AND m.group_name = c.group_name)
	SELECT 'ok'::text, t.last, b.seq, b.payload
	  FROM t LEFT JOIN b ON b.sender IS DISTINCT FROM c.id
	 ORDER BY b.seq;
END
$$;
