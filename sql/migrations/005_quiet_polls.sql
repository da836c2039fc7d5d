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

-- Batched drain (see 003_fanout.sql); likewise.
CREATE OR REPLACE FUNCTION pollhub.drain_many(p_ids text[], p_polls bigint[])
RETURNS TABLE (n bigint, status text, payload text)
LANGUAGE plpgsql AS $$
BEGIN
	-- Lock first, in id order (concurrent batches cannot deadlock), and
	-- only then read: the next statement's snapshot sees whatever a drain
	-- we waited for committed (a single statement would not, and would
	-- hand out the same rows twice).
	PERFORM 1 FROM pollhub.connections c
	  JOIN unnest(p_ids) AS w(id) ON w.id = c.id
	 ORDER BY c.id
	   FOR UPDATE OF c;

	RETURN QUERY
	WITH want AS (
		SELECT w.id, w.poll_no, w.n
		  FROM unnest(p_ids, p_polls) WITH ORDINALITY AS w(id, poll_no, n)),
	live AS (
		SELECT c.id, c.poll_no FROM pollhub.connections c
		  JOIN want w ON w.id = c.id AND w.poll_no = c.poll_no
		 WHERE c.state = 'open'),
	direct AS (
		DELETE FROM pollhub.connection_messages d USING live l
		 WHERE d.connection_id = l.id
		RETURNING d.connection_id, d.id, d.payload),
	pending AS (
		SELECT m.connection_id, o.group_name, o.seq, o.sender, o.payload
		  FROM live l
		  JOIN pollhub.memberships m ON m.connection_id = l.id
		  JOIN pollhub.outbox o ON o.group_name = m.group_name AND o.seq > m.cursor),
	moved AS (
		UPDATE pollhub.memberships m SET cursor = p.top
		  FROM (SELECT pe.connection_id, pe.group_name, max(pe.seq) AS top
			  FROM pending pe GROUP BY pe.connection_id, pe.group_name) p
		 WHERE m.connection_id = p.connection_id AND m.group_name = p.group_name),
	d AS (
		SELECT di.connection_id, string_agg(di.payload || chr(30), '' ORDER BY di.id) AS s
		  FROM direct di GROUP BY di.connection_id),
	g AS (
		SELECT pe.connection_id,
		       string_agg(pe.payload || chr(30), '' ORDER BY pe.group_name, pe.seq)
			FILTER (WHERE pe.sender IS DISTINCT FROM pe.connection_id) AS s
		  FROM pending pe GROUP BY pe.connection_id),
	-- A long poll that gets records answers with them: it ends here.
	-- Streams are not written at all (touch() vouches for them), so a
	-- push to N streams writes N membership rows and nothing else.
	ended AS (
		UPDATE pollhub.connections c SET last_seen = now(), poll_active = false
		  FROM live l LEFT JOIN d ON d.connection_id = l.id
		       LEFT JOIN g ON g.connection_id = l.id
		 WHERE c.id = l.id AND c.transport = 'LongPolling'
		   AND (d.s IS NOT NULL OR g.s IS NOT NULL))
	SELECT w.n, CASE WHEN l.id IS NULL THEN 'self' ELSE 'ok' END,
	       coalesce(d.s, '') || coalesce(g.s, '')
	  FROM want w
	  -- A superseded poll of the same connection may be in the batch too.
	  LEFT JOIN live l ON l.id = w.id AND l.poll_no = w.poll_no
	  LEFT JOIN d ON d.connection_id = l.id
	  LEFT JOIN g ON g.connection_id = l.id
	 ORDER BY w.n;
END
$$;
