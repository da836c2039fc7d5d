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
