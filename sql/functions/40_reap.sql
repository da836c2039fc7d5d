-- Messages pending per connection (only connections with some), as
-- close_overfull() counts them. Also for operators:
--   SELECT * FROM pollhub.pending_counts() ORDER BY pending DESC LIMIT 10;
-- SECURITY DEFINER: the admin views call it, and it reads tables an
-- administrator has no right to (tokens are there).
CREATE OR REPLACE FUNCTION pollhub.pending_counts() RETURNS TABLE (id text, pending bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
	SELECT p.id, sum(p.n)::bigint
	  FROM (SELECT m.connection_id, g.last_seq - m.cursor
		  FROM pollhub.memberships m
		  JOIN pollhub.groups g ON g.name = m.group_name
		 WHERE g.last_seq > m.cursor
		UNION ALL
		SELECT d.connection_id, count(*)
		  FROM pollhub.connection_messages d
		 GROUP BY d.connection_id) AS p(id, n)
	 GROUP BY p.id
$$;

-- Close every open connection with more than p_max_pending messages pending:
-- its connection_messages plus, in each of its groups, the outbox rows past
-- its cursor (last_seq - cursor: a group's seqs have no gaps, and rows past a
-- cursor are never trimmed). Returns how many were closed.
--
-- Rows are locked in id order like drain_many() and touch(), and SKIP LOCKED:
-- a connection being drained right now is about to have fewer pending, and
-- is looked at again on the next run. Its pending count is taken again once
-- locked, since a drain that committed meanwhile may have moved its cursors.
CREATE OR REPLACE FUNCTION pollhub.close_overfull(p_max_pending integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	ids text[];
BEGIN
	SELECT array_agg(c.id) INTO ids
	  FROM (SELECT c.id FROM pollhub.connections c
		 WHERE c.state = 'open' AND c.id IN (
			SELECT p.id FROM pollhub.pending_counts() p WHERE p.pending > p_max_pending)
		 ORDER BY c.id FOR UPDATE OF c SKIP LOCKED) c;
	IF ids IS NULL THEN
		RETURN 0;
	END IF;
	-- A new snapshot: what committed before the locks were taken.
	SELECT array_agg(p.id) INTO ids
	  FROM pollhub.pending_counts() p
	 WHERE p.id = ANY(ids) AND p.pending > p_max_pending;
	IF ids IS NULL THEN
		RETURN 0;
	END IF;

	INSERT INTO pollhub.connection_messages (connection_id, payload)
	SELECT i.id, format('{"type":7,"error":%s,"allowReconnect":true}',
		to_json(format('Connection closed with an error. More than %s messages were'
		    ' pending for this connection: it did not poll or read its stream.',
		    p_max_pending)))
	  FROM unnest(ids) AS i(id)
	 ORDER BY i.id;
	UPDATE pollhub.connections SET state = 'closing' WHERE id = ANY(ids);
	DELETE FROM pollhub.memberships WHERE connection_id = ANY(ids);
	-- Wake its held poll or stream, in any process, to deliver the Close.
	PERFORM pg_notify('pollhub', 'c:' || i.id) FROM unnest(ids) AS i(id);
	RETURN cardinality(ids);
END
$$;

-- Remove connections that stopped polling (idle longer than p_disconnect,
-- or holding a poll far longer than any poll may last: its process died),
-- then trim outbox rows every member has passed and forget empty groups.
-- Returns the number of connections removed.
CREATE OR REPLACE FUNCTION pollhub.reap(p_disconnect interval, p_poll interval) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
	g record;
BEGIN
	WITH gone AS (
		DELETE FROM pollhub.connections
		 WHERE (NOT poll_active AND last_seen < now() - p_disconnect)
		    OR (poll_active AND last_seen < now() - p_poll - p_disconnect)
		RETURNING id)
	SELECT count(pg_notify('pollhub', 'c:' || id)) INTO n FROM gone;

	-- Skip groups whose lock a writer or joiner holds; they are trimmed next time.
	FOR g IN SELECT name FROM pollhub.groups FOR UPDATE SKIP LOCKED LOOP
		DELETE FROM pollhub.outbox o
		 WHERE o.group_name = g.name
		   AND o.seq <= coalesce(
			(SELECT min(m.cursor) FROM pollhub.memberships m WHERE m.group_name = g.name),
			(SELECT gr.last_seq FROM pollhub.groups gr WHERE gr.name = g.name));
		-- A group nobody is in and nothing is queued for is forgotten; its
		-- sequence restarts safely since no cursor refers to it.
		DELETE FROM pollhub.groups gr
		 WHERE gr.name = g.name
		   AND NOT EXISTS (SELECT 1 FROM pollhub.memberships m WHERE m.group_name = g.name)
		   AND NOT EXISTS (SELECT 1 FROM pollhub.outbox o WHERE o.group_name = g.name);
	END LOOP;
	RETURN n;
END
$$;

-- The reaper with the cap: reap and trim as reap(interval, interval) does
-- (that two-argument form stays, for a responder that passes no cap), then
-- close the connections over the cap; the next run trims what they held.
-- In this order the closing never waits for a lock (SKIP LOCKED) while
-- holding connection rows, so it cannot deadlock with the reap's DELETE
-- and a batched drain. Returns the number of connections removed (closed
-- ones are removed by their next poll, their stream, or a later reap).
CREATE OR REPLACE FUNCTION pollhub.reap(p_disconnect interval, p_poll interval, p_max_pending integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	removed integer;
	closed integer;
BEGIN
	removed := pollhub.reap(p_disconnect, p_poll);
	closed := pollhub.close_overfull(p_max_pending);
	IF closed > 0 THEN
		RAISE LOG 'pollhub: closed % connection(s) with more than % messages pending',
		    closed, p_max_pending;
	END IF;
	RETURN removed;
END
$$;
