-- A new poll used to NOTIFY 'c:<id>' every time, to end an older poll of the
-- same connection held in any process. Long-polling clients poll one at a
-- time, so that NOTIFY almost never had anyone to wake, yet each one cost a
-- serialised commit and, in every listening process, a batched drain of the
-- new poll itself: a 1,000-member fan-out paid 1,000 of them (make bench).
-- Notify only when an older poll is still held (poll_active).
--
-- And a long poll that is answered with records no longer needs its own
-- poll_end() round trip (1,000 of them through the query pool held up the
-- answers of a fan-out): the drain that returns the records ends the poll.
CREATE OR REPLACE FUNCTION pollhub.poll_begin(p_token text,
	OUT connection_id text, OUT group_name text, OUT poll_no bigint,
	OUT first_poll boolean, OUT transport text)
LANGUAGE plpgsql AS $$
DECLARE
	was_active boolean;
BEGIN
	-- The row lock orders this against poll_end of the older poll.
	SELECT c.poll_active INTO was_active FROM pollhub.connections c
	 WHERE c.token = p_token AND coalesce(c.transport, 'LongPolling') = 'LongPolling'
	   FOR UPDATE;
	IF NOT FOUND THEN
		-- Unknown (all NULL), or another transport (the caller refuses).
		SELECT c.id, c.group_name, c.poll_no, false, c.transport
		  INTO connection_id, group_name, poll_no, first_poll, transport
		  FROM pollhub.connections c WHERE c.token = p_token;
		RETURN;
	END IF;
	UPDATE pollhub.connections c
	   SET poll_no = c.poll_no + 1, poll_active = true, last_seen = now(),
	       transport = 'LongPolling'
	 WHERE c.token = p_token
	RETURNING c.id, c.group_name, c.poll_no, c.poll_no = 1, c.transport
	     INTO connection_id, group_name, poll_no, first_poll, transport;
	IF was_active AND poll_no > 1 THEN
		PERFORM pg_notify('pollhub', 'c:' || connection_id);
	END IF;
END
$$;

-- Drain (see 002_sse.sql); a long poll answered with records ends.
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
	-- A long poll that gets records answers with them: it ends here.
	UPDATE pollhub.connections
	   SET last_seen = now(),
	       poll_active = poll_active AND NOT (transport = 'LongPolling' AND payload <> '')
	 WHERE id = c.id;
	-- A stream ends after a closing connection's last records; a poll
	-- delivers them and the next poll answers 204.
	status := CASE WHEN c.state = 'closing' THEN 'closing' ELSE 'ok' END;
END
$$;

-- A poll has answered: the connection is idle until its next poll.
CREATE OR REPLACE FUNCTION pollhub.poll_end(p_connection text, p_poll bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE pollhub.connections SET poll_active = false, last_seen = now()
	 WHERE id = p_connection AND poll_no = p_poll
$$;

-- Open the server-sent events stream of a connection. A connection has one
-- stream for its whole life: when it ends, the connection is removed.
-- status: 'ok'; 'gone' (no such connection); 'transport' (it long-polls);
-- 'busy' (its stream is or was already open).
CREATE OR REPLACE FUNCTION pollhub.stream_begin(p_token text,
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

-- touch() locked connection rows in whatever order the UPDATE met them, and
-- drain_many() locks them in id order: the two could deadlock (seen under
-- make bench). Lock in id order here too.
CREATE OR REPLACE FUNCTION pollhub.touch(p_ids text[]) RETURNS void
LANGUAGE sql AS $$
	UPDATE pollhub.connections c SET last_seen = now()
	  FROM (SELECT id FROM pollhub.connections
		 WHERE id = ANY(p_ids) AND poll_active
		 ORDER BY id FOR UPDATE) l
	 WHERE c.id = l.id
$$;

-- Remove a connection: it leaves its groups; a held poll wakes and ends.
CREATE OR REPLACE FUNCTION pollhub.disconnect(p_token text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	cid text;
BEGIN
	DELETE FROM pollhub.connections WHERE token = p_token RETURNING id INTO cid;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM pg_notify('pollhub', 'c:' || cid);
	RETURN true;
END
$$;
