-- Create a classic connection at negotiate (not yet in its group).
CREATE OR REPLACE FUNCTION pollhub.classic_negotiate(p_id text, p_token text, p_group text,
	p_remote_addr text, p_user_agent text) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO pollhub.connections (id, token, group_name, transport, remote_addr, user_agent)
	VALUES (p_id, p_token, p_group, 'ClassicLongPolling', p_remote_addr, p_user_agent)
$$;

-- /connect: bind the transport (a fallback from server-sent events to long
-- polling connects again, and replaces it), join the group (once), and give
-- the cursor to start from: the membership's.
-- status: 'ok'; 'gone' (no such connection); 'transport' (a Core
-- connection); 'closed' (closing: it was removed).
CREATE OR REPLACE FUNCTION pollhub.classic_connect(p_token text, p_transport text,
	OUT status text, OUT connection_id text, OUT group_name text, OUT cursor bigint)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
BEGIN
	SELECT * INTO c FROM pollhub.connections WHERE token = p_token FOR UPDATE;
	IF NOT FOUND THEN
		status := 'gone';
		RETURN;
	END IF;
	IF c.transport IS NULL OR c.transport NOT IN ('ClassicLongPolling', 'ClassicServerSentEvents') THEN
		status := 'transport';
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
-- one is held). All NULL for an unknown token; transport alone for a Core
-- connection.
CREATE OR REPLACE FUNCTION pollhub.classic_receive_begin(p_token text,
	OUT connection_id text, OUT group_name text, OUT poll_no bigint, OUT transport text)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
BEGIN
	SELECT * INTO c FROM pollhub.connections WHERE token = p_token FOR UPDATE;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	transport := coalesce(c.transport, '');	-- '' : a Core connection before its first poll
	IF c.transport IS NULL OR c.transport NOT IN ('ClassicLongPolling', 'ClassicServerSentEvents') THEN
		RETURN;
	END IF;
	UPDATE pollhub.connections
	   SET poll_no = c.poll_no + 1, poll_active = true, last_seen = now()
	 WHERE id = c.id;
	IF c.poll_active THEN
		PERFORM pg_notify('pollhub', 'c:' || c.id);
	END IF;
	connection_id := c.id;
	group_name := c.group_name;
	poll_no := c.poll_no + 1;
END
$$;

-- What a classic receive request gets: the group's outbox rows after
-- p_cursor (at most p_limit), in sequence order, minus the connection's own
-- pushes, as 0x1E-terminated Core records; cursor = the position after the
-- last row looked at (own rows included, so the client steps over them).
-- Nothing is consumed; the membership cursor moves up to p_cursor (the
-- client has processed everything up to it), which lets the reaper trim.
-- A cursor past the group's end (another database, a forged one) restarts at
-- the end. status: 'ok'; 'gone'; 'superseded' (a newer receive request
-- exists); 'closed' (the connection was closing, e.g. closed by an
-- administrator or the pending cap: it is removed now; payload = the reason
-- its Close carried, or '').
CREATE OR REPLACE FUNCTION pollhub.classic_drain(p_token text, p_poll bigint, p_cursor bigint,
	p_limit integer, OUT status text, OUT cursor bigint, OUT payload text)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
	top bigint;
	from_seq bigint;
BEGIN
	payload := '';
	cursor := p_cursor;
	-- The row lock orders this against the connection's sends and drains.
	SELECT * INTO c FROM pollhub.connections WHERE token = p_token FOR UPDATE;
	IF NOT FOUND THEN
		status := 'gone';
		RETURN;
	END IF;
	IF c.poll_no <> p_poll THEN
		status := 'superseded';
		RETURN;
	END IF;
	IF c.state = 'closing' THEN
		-- The reason a Close carries (disconnect_connection, the pending
		-- cap) becomes the client's error; payload is that text here.
		SELECT coalesce((SELECT d.payload::json->>'error' FROM pollhub.connection_messages d
			 WHERE d.connection_id = c.id AND d.payload::json->>'type' = '7'
			 ORDER BY d.id DESC LIMIT 1), '')
		  INTO payload;
		DELETE FROM pollhub.connections WHERE id = c.id;
		status := 'closed';
		RETURN;
	END IF;
	SELECT g.last_seq INTO top FROM pollhub.memberships m
	  JOIN pollhub.groups g ON g.name = m.group_name
	 WHERE m.connection_id = c.id AND m.group_name = c.group_name;
	IF NOT FOUND THEN
		-- Not in its group (yet): nothing can be pending.
		UPDATE pollhub.connections SET last_seen = now() WHERE id = c.id;
		status := 'ok';
		RETURN;
	END IF;
	from_seq := least(p_cursor, top);
	UPDATE pollhub.memberships m SET cursor = greatest(m.cursor, from_seq)
	 WHERE m.connection_id = c.id AND m.group_name = c.group_name;
	-- Sequence numbers are taken under the group row's lock held until
	-- commit, so no row after from_seq can still commit below a row read here.
	SELECT coalesce(max(b.seq), from_seq),
	       coalesce(string_agg(b.payload || chr(30), '' ORDER BY b.seq)
			FILTER (WHERE b.sender IS DISTINCT FROM c.id), '')
	  INTO cursor, payload
	  FROM (SELECT o.seq, o.sender, o.payload FROM pollhub.outbox o
		 WHERE o.group_name = c.group_name AND o.seq > from_seq
		 ORDER BY o.seq LIMIT p_limit) b;
	UPDATE pollhub.connections SET last_seen = now() WHERE id = c.id;
	status := 'ok';
END
$$;
