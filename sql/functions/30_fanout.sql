-- Batched fan-out: one statement drains many waiting polls and streams.

-- Drain the connections p_ids[i] whose current poll is p_polls[i] and which
-- are open, as poll_drain does for one: the same merge (drain_merge, in
-- 20_connections.sql: pushes and the own queue merged in commit order;
-- cursors advance), over the whole batch at once. Rows come back
-- in the order of p_ids, numbered from 1, at most p_budget bytes of records
-- each, and at most p_total bytes in all: waiters are admitted in the order
-- of p_ids while the records so far fit p_total (the first with records
-- always is, so each call makes progress). status 'ok' with the records,
-- 'more' with the records when the budget left some behind (the waiter
-- drains itself after), 'later': past p_total, not drained at all (nothing
-- read or moved: the caller drains it in a later batch), or
-- 'self': not drained (closing, superseded, gone, or its row is held by
-- another session right now): the waiter must call poll_drain itself.
--
-- Never waits for a row lock: a connection another session holds (its own
-- drain elsewhere, an administrator's open transaction) is skipped, so one
-- locked row cannot stall a process's whole fan-out; the skipped waiter
-- drains on its own, later, in order.
CREATE OR REPLACE FUNCTION pollhub.drain_many(p_ids text[], p_polls bigint[],
	p_budget integer DEFAULT 2147483647, p_total integer DEFAULT 2147483647)
RETURNS TABLE (n bigint, status text, payload text)
LANGUAGE plpgsql AS $$
DECLARE
	locked text[];
BEGIN
	-- Lock first, in id order, and only then read: the next statement's
	-- snapshot sees whatever a drain that held a row before committed.
	SELECT array_agg(l.id) INTO locked
	  FROM (SELECT c.id FROM pollhub.connections c
		  JOIN unnest(p_ids) AS w(id) ON w.id = c.id
		 ORDER BY c.id
		   FOR NO KEY UPDATE OF c SKIP LOCKED) l;

	RETURN QUERY
	WITH want AS (
		SELECT w.id, w.poll_no, w.n
		  FROM unnest(p_ids, p_polls) WITH ORDINALITY AS w(id, poll_no, n)),
	live AS (
		SELECT c.id, c.poll_no, c.group_name FROM pollhub.connections c
		  JOIN want w ON w.id = c.id AND w.poll_no = c.poll_no
		 WHERE c.state = 'open' AND c.id = ANY(locked)),
	-- The batch's order, for p_total: where a connection first appears in
	-- p_ids (a superseded poll of the same connection may be in it too).
	batch AS (
		SELECT array_agg(l.id ORDER BY f.n, l.id) AS ids,
		       array_agg(l.group_name ORDER BY f.n, l.id) AS groups
		  FROM live l
		  JOIN (SELECT w.id, min(w.n) AS n FROM want w GROUP BY w.id) f ON f.id = l.id),
	merged AS (
		SELECT m.* FROM batch b, pollhub.drain_merge(b.ids, b.groups, p_budget, p_total) m),
	-- A long poll that gets records answers with them: it ends here.
	-- Streams are not written at all (touch() vouches for them), so a
	-- push to N streams writes N membership rows and nothing else.
	ended AS (
		UPDATE pollhub.connections c SET last_seen = now(), poll_active = false
		  FROM merged m
		 WHERE m.admitted AND c.id = m.connection_id AND c.transport = 'LongPolling')
	-- 'more': the budget left records behind; the waiter drains again.
	SELECT w.n, CASE WHEN l.id IS NULL THEN 'self'
			 WHEN m.connection_id IS NOT NULL AND NOT m.admitted
			 THEN 'later' WHEN m.more THEN 'more' ELSE 'ok' END,
	       coalesce(m.records, '')
	  FROM want w
	  -- A superseded poll of the same connection may be in the batch too.
	  LEFT JOIN live l ON l.id = w.id AND l.poll_no = w.poll_no
	  LEFT JOIN merged m ON m.connection_id = l.id
	 ORDER BY w.n;
END
$$;
