-- Server-sent events: a connection's one stream, and the liveness of streams.

-- Open the server-sent events stream of a connection. A connection has one
-- stream for its whole life: when it ends, the connection is removed.
-- status: 'ok'; 'gone' (no such connection); 'transport' (it long-polls);
-- 'busy' (its stream is or was already open).
CREATE FUNCTION pollhub.stream_begin(p_token text,
	OUT status text, OUT connection_id text, OUT group_name text, OUT poll_no bigint)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
BEGIN
	SELECT * INTO c FROM pollhub.connections WHERE token = p_token FOR UPDATE;
	IF NOT FOUND THEN
		status := 'gone';
		RETURN;
	END IF;
	IF c.transport = 'LongPolling' THEN
		status := 'transport';
		RETURN;
	END IF;
	IF c.transport = 'ServerSentEvents' THEN
		status := 'busy';
		RETURN;
	END IF;
	UPDATE pollhub.connections
	   SET transport = 'ServerSentEvents', poll_no = c.poll_no + 1,
	       poll_active = true, last_seen = now()
	 WHERE id = c.id;
	status := 'ok';
	connection_id := c.id;
	group_name := c.group_name;
	poll_no := c.poll_no + 1;
END
$$;

-- A responder says, for all its open streams at once, that they are alive;
-- reap() removes an active connection nobody has vouched for in a while
-- (its responder died).
CREATE FUNCTION pollhub.touch(p_ids text[]) RETURNS void
LANGUAGE sql AS $$
	UPDATE pollhub.connections SET last_seen = now()
	 WHERE id = ANY(p_ids) AND poll_active
$$;

-- A poll of a connection that streams must not touch it (it would
-- supersede the stream): only long-polling connections start polls.
CREATE OR REPLACE FUNCTION pollhub.poll_begin(p_token text,
	OUT connection_id text, OUT group_name text, OUT poll_no bigint,
	OUT first_poll boolean, OUT transport text)
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE pollhub.connections c
	   SET poll_no = c.poll_no + 1, poll_active = true, last_seen = now(),
	       transport = 'LongPolling'
	 WHERE c.token = p_token AND coalesce(c.transport, 'LongPolling') = 'LongPolling'
	RETURNING c.id, c.group_name, c.poll_no, c.poll_no = 1, c.transport
	     INTO connection_id, group_name, poll_no, first_poll, transport;
	IF NOT FOUND THEN
		-- Unknown (all NULL), or another transport (the caller refuses).
		SELECT c.id, c.group_name, c.poll_no, false, c.transport
		  INTO connection_id, group_name, poll_no, first_poll, transport
		  FROM pollhub.connections c WHERE c.token = p_token;
		RETURN;
	END IF;
	IF poll_no > 1 THEN
		PERFORM pg_notify('pollhub', 'c:' || connection_id);
	END IF;
END
$$;

-- status 'closing': the last records of a closing connection.
CREATE OR REPLACE FUNCTION pollhub.poll_drain(p_token text, p_poll bigint,
	OUT status text, OUT payload text)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
	direct text;
	grouped text;
BEGIN
	payload := '';
	-- The row lock serialises drains of one connection with each other and
	-- with its POSTs; later statements see what those committed.
	SELECT * INTO c FROM pollhub.connections WHERE token = p_token FOR UPDATE;
	IF NOT FOUND THEN
		status := 'gone';
		RETURN;
	END IF;
	IF c.poll_no <> p_poll THEN
		status := 'superseded';
		RETURN;
	END IF;
	WITH d AS (
		DELETE FROM pollhub.connection_messages WHERE connection_id = c.id
		RETURNING id, connection_messages.payload)
	SELECT string_agg(d.payload || chr(30), '' ORDER BY d.id) INTO direct FROM d;

	WITH pending AS (
		SELECT o.group_name, o.seq, o.sender, o.payload
		  FROM pollhub.memberships m
		  JOIN pollhub.outbox o ON o.group_name = m.group_name AND o.seq > m.cursor
		 WHERE m.connection_id = c.id),
	moved AS (
		UPDATE pollhub.memberships m SET cursor = p.top
		  FROM (SELECT pending.group_name, max(seq) AS top FROM pending
			 GROUP BY pending.group_name) p
		 WHERE m.connection_id = c.id AND m.group_name = p.group_name)
	SELECT string_agg(pending.payload || chr(30), '' ORDER BY pending.group_name, seq)
		FILTER (WHERE sender IS DISTINCT FROM c.id)
	  INTO grouped FROM pending;

	payload := coalesce(direct, '') || coalesce(grouped, '');
	IF payload = '' AND c.state = 'closing' THEN
		DELETE FROM pollhub.connections WHERE id = c.id;
		status := 'closed';
		RETURN;
	END IF;
	UPDATE pollhub.connections SET last_seen = now() WHERE id = c.id;
	-- A stream ends after a closing connection's last records; a poll
	-- delivers them and the next poll answers 204.
	status := CASE WHEN c.state = 'closing' THEN 'closing' ELSE 'ok' END;
END
$$;
