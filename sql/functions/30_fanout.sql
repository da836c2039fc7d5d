-- The drain: one statement drains many waiting polls and streams (fan-out),
-- or one (a poll or a stream draining itself: drain_one).

-- Drain the connections p_ids[i] whose current poll is p_polls[i] and which
-- are open, in one statement. Per connection, the records pending,
-- 0x1E-terminated, in causal order: its group's pushes (minus its own) and its
-- own queue (completions, handshake answer, Close) merged by commit order. A
-- queued row carries group_seq, the group's last_seq when it was written:
-- pushes up to it go first. Rows of groups other than the connection's own
-- (none today) go last. Consumes what it returns: those queue rows are
-- deleted and each cursor moves up to the first push left behind (past the
-- connection's own pushes too). Rows come back
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
--
-- p_one (drain_one, for poll_drain): the caller has locked the connections
-- (none is skipped), closing ones are drained too, and a long poll is not
-- ended here (poll_drain writes the row itself).
CREATE OR REPLACE FUNCTION pollhub.drain_many(p_ids text[], p_polls bigint[],
	p_budget integer DEFAULT 2147483647, p_total integer DEFAULT 2147483647,
	p_one boolean DEFAULT false)
RETURNS TABLE (n bigint, status text, payload text)
LANGUAGE plpgsql AS $$
DECLARE
	locked text[];
BEGIN
	IF p_one THEN
		locked := p_ids;
	ELSE
		-- Lock first, in id order, and only then read: the next
		-- statement's snapshot sees whatever a drain that held a row
		-- before committed.
		SELECT array_agg(l.id) INTO locked
		  FROM (SELECT c.id FROM pollhub.connections c
			  JOIN unnest(p_ids) AS w(id) ON w.id = c.id
			 ORDER BY c.id
			   FOR NO KEY UPDATE OF c SKIP LOCKED) l;
	END IF;

	RETURN QUERY
	WITH want AS (
		SELECT w.id, w.poll_no, w.n
		  FROM unnest(p_ids, p_polls) WITH ORDINALITY AS w(id, poll_no, n)),
	live AS (
		SELECT c.id, c.poll_no, c.group_name FROM pollhub.connections c
		  JOIN want w ON w.id = c.id AND w.poll_no = c.poll_no
		 WHERE (c.state = 'open' OR p_one) AND c.id = ANY(locked)),
	direct AS (
		SELECT d.connection_id, d.id, d.group_seq, d.payload
		  FROM pollhub.connection_messages d JOIN live l ON d.connection_id = l.id),
	pending AS (
		SELECT m.connection_id, o.group_name, o.seq, o.sender, o.payload,
		       l.group_name AS own_group
		  FROM live l
		  JOIN pollhub.memberships m ON m.connection_id = l.id
		  JOIN pollhub.outbox o ON o.group_name = m.group_name AND o.seq > m.cursor),
	-- The merge, per connection, with its budget.
	items AS (
		SELECT pe.connection_id,
		       CASE WHEN pe.group_name = pe.own_group THEN pe.seq
			    ELSE 9223372036854775807 END AS k, 0 AS kind,
		       pe.group_name AS g, pe.seq AS i, pe.payload
		  FROM pending pe WHERE pe.sender IS DISTINCT FROM pe.connection_id
		UNION ALL
		SELECT di.connection_id, di.group_seq, 1, '', di.id, di.payload FROM direct di),
	ordered AS (
		SELECT it.*, row_number() OVER w AS rn,
		       sum(octet_length(it.payload) + 1) OVER w AS upto
		  FROM items it
		WINDOW w AS (PARTITION BY it.connection_id ORDER BY it.k, it.kind, it.g, it.i
			     ROWS UNBOUNDED PRECEDING)),
	-- What each connection would take, and which fit the batch's p_total.
	sized AS (
		SELECT o.connection_id, sum(octet_length(o.payload) + 1) AS bytes
		  FROM ordered o WHERE o.rn = 1 OR o.upto <= p_budget
		 GROUP BY o.connection_id),
	running AS (
		SELECT s.connection_id, s.bytes,
		       sum(s.bytes) OVER (ORDER BY s.first_n, s.connection_id
					  ROWS UNBOUNDED PRECEDING) AS upto
		  FROM (SELECT sz.connection_id, sz.bytes, min(w.n) AS first_n
			  FROM sized sz JOIN want w ON w.id = sz.connection_id
			 GROUP BY sz.connection_id, sz.bytes) s),
	admitted AS (
		SELECT ru.connection_id FROM running ru
		 WHERE ru.upto = ru.bytes OR ru.upto <= p_total),
	-- Past p_total: not touched at all. Every other connection moves its
	-- cursors, also past its own pushes when it takes nothing else.
	later AS (
		SELECT ru.connection_id FROM running ru
		 WHERE NOT (ru.upto = ru.bytes OR ru.upto <= p_total)),
	taken AS (
		SELECT o.* FROM ordered o JOIN admitted a ON a.connection_id = o.connection_id
		 WHERE o.rn = 1 OR o.upto <= p_budget),
	left_behind AS (
		SELECT o.connection_id, o.g, min(o.i) AS first FROM ordered o
		 WHERE o.kind = 0 AND NOT (o.rn = 1 OR o.upto <= p_budget)
		 GROUP BY o.connection_id, o.g),
	cut AS (
		SELECT DISTINCT o.connection_id FROM ordered o
		 WHERE NOT (o.rn = 1 OR o.upto <= p_budget)),
	gone AS (
		DELETE FROM pollhub.connection_messages d USING taken t
		 WHERE t.kind = 1 AND d.connection_id = t.connection_id AND d.id = t.i),
	moved AS (
		UPDATE pollhub.memberships m SET cursor = p.top
		  FROM (SELECT pe.connection_id, pe.group_name, max(pe.seq) AS top
			  FROM pending pe
			  LEFT JOIN later lt ON lt.connection_id = pe.connection_id
			  LEFT JOIN left_behind lb ON lb.connection_id = pe.connection_id
			   AND lb.g = pe.group_name
			 WHERE lt.connection_id IS NULL AND (lb.first IS NULL OR pe.seq < lb.first)
			 GROUP BY pe.connection_id, pe.group_name) p
		 WHERE m.connection_id = p.connection_id AND m.group_name = p.group_name),
	r AS (
		SELECT t.connection_id, string_agg(t.payload || chr(30), '' ORDER BY t.rn) AS s
		  FROM taken t GROUP BY t.connection_id),
	-- A long poll that gets records answers with them: it ends here.
	-- Streams are not written at all (touch() vouches for them), so a
	-- push to N streams writes N membership rows and nothing else.
	ended AS (
		UPDATE pollhub.connections c SET last_seen = now(), poll_active = false
		  FROM live l JOIN r ON r.connection_id = l.id
		 WHERE c.id = l.id AND c.transport = 'LongPolling' AND NOT p_one)
	-- 'more': the budget left records behind; the waiter drains again.
	SELECT w.n, CASE WHEN l.id IS NULL THEN 'self'
			 WHEN sz.connection_id IS NOT NULL AND a.connection_id IS NULL
			 THEN 'later' WHEN cu.connection_id IS NOT NULL
			 THEN 'more' ELSE 'ok' END,
	       coalesce(r.s, '')
	  FROM want w
	  -- A superseded poll of the same connection may be in the batch too.
	  LEFT JOIN live l ON l.id = w.id AND l.poll_no = w.poll_no
	  LEFT JOIN r ON r.connection_id = l.id
	  LEFT JOIN sized sz ON sz.connection_id = l.id
	  LEFT JOIN admitted a ON a.connection_id = l.id
	  LEFT JOIN cut cu ON cu.connection_id = l.id
	 ORDER BY w.n;
END
$$;

-- The records pending for connection c (locked by the caller), at most
-- p_budget bytes of them (the first record always, whatever its size),
-- consumed: drain_many's merge for this one connection, closing or not.
-- more: something was left.
CREATE OR REPLACE FUNCTION pollhub.drain_one(c pollhub.connections,
	p_budget integer DEFAULT 2147483647, OUT records text, OUT more boolean)
LANGUAGE sql AS $$
	SELECT d.payload, d.status = 'more'
	  FROM pollhub.drain_many(ARRAY[c.id], ARRAY[c.poll_no], p_budget, 2147483647, true) d
$$;
