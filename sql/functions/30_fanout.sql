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

-- The group's fan-out (issue 22): one read of the group's new outbox rows for
-- all the waiting members of this process, not a merge per member.
--
-- p_ids[i] / p_polls[i]: the waiting polls and streams of group p_group. Of
-- them, the members that are open, whose poll is still p_polls[i], whose row
-- no other session holds (SKIP LOCKED) and whose own queue
-- (connection_messages: completions, Close) is empty are candidates. from is
-- the cursor most of them share (the lowest of equals); the rows (from, top]
-- are read once, top being the last row that fits p_budget bytes (the first
-- row always). Candidates at from or ahead of it are served: each gets the
-- rows past its own cursor, and the cursors below top move to top (one
-- UPDATE; a compare-and-set, since the rows are locked and the cursors read
-- after the lock). A member with a cursor behind from, a superseded poll or a
-- row held elsewhere is left out ('self', by absence): it drains alone, in
-- causal order (drain_one's merge); one with a queued record is 'queued'. The long polls among
-- the served that get a row not their own end here.
--
-- Result: first the rows (n NULL: seq, sender, payload), in seq order; then a
-- row per candidate at from or ahead (n, its index in p_ids from 1; status;
-- seq: its cursor): 'ok' served; 'more' served, with rows left past top (its
-- next turn takes them); 'later' not served, past p_total (each served
-- member costs the caller the rows' bytes; the first always is): untouched,
-- for the next batch; and one per member with a queued record: 'queued', not
-- served (the caller gives it to the connection ids' turn, drain_many, which
-- merges its queue with its pushes).
--
-- Plans: every statement is an index lookup by primary key or a range of one
-- group's outbox, whatever the estimates; plan_cache_mode keeps PL/pgSQL from
-- switching to a generic plan for the array arguments.
CREATE OR REPLACE FUNCTION pollhub.fanout_group(p_group text, p_ids text[], p_polls bigint[],
	p_budget integer DEFAULT 2147483647, p_total integer DEFAULT 2147483647)
RETURNS TABLE (n bigint, status text, seq bigint, sender text, payload text)
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
	l_ids text[];		-- locked: open, current poll
	l_ns bigint[];
	l_lp boolean[];
	m_ids text[];		-- ... with an empty queue, and their cursors
	m_ns bigint[];
	m_curs bigint[];
	m_lp boolean[];
	q_ns bigint[];		-- ... with a queued record
	s_ids text[];		-- served
	s_curs bigint[];
	s_lp boolean[];
	v_head bigint;
	v_from bigint;
	v_top bigint;
	v_bytes bigint := 0;
	v_more boolean := false;
	r_seq bigint[] := '{}';
	r_sender text[] := '{}';
	r_payload text[] := '{}';
	r record;
	cap integer;
	k integer;
BEGIN
	-- Lock first, in id order, and only then read: the next statement's
	-- snapshot sees whatever a drain that held a row before committed.
	SELECT array_agg(l.id), array_agg(l.n), array_agg(l.transport = 'LongPolling')
	  INTO l_ids, l_ns, l_lp
	  FROM (SELECT c.id, w.n, c.transport
		  FROM unnest(p_ids, p_polls) WITH ORDINALITY AS w(id, poll_no, n)
		  JOIN pollhub.connections c ON c.id = w.id AND c.poll_no = w.poll_no
		 WHERE c.state = 'open'
		 ORDER BY c.id
		   FOR NO KEY UPDATE OF c SKIP LOCKED) l;
	IF l_ids IS NULL THEN
		RETURN;
	END IF;

	-- One snapshot for the cursors, the queues and the head: a completion
	-- committed with a push is seen with it or not at all.
	-- (Materialized, in the order of p_ids: each member's queue is looked
	-- at once, and the arrays need no sort each.)
	WITH l AS MATERIALIZED (
		SELECT l.id, l.n, l.lp, m.cursor,
		       EXISTS (SELECT 1 FROM pollhub.connection_messages d
			        WHERE d.connection_id = l.id) AS q
		  FROM unnest(l_ids, l_ns, l_lp) AS l(id, n, lp)
		  JOIN pollhub.memberships m ON m.connection_id = l.id
		   AND m.group_name = p_group
		 ORDER BY l.n)
	SELECT array_agg(l.id) FILTER (WHERE NOT l.q), array_agg(l.n) FILTER (WHERE NOT l.q),
	       array_agg(l.cursor) FILTER (WHERE NOT l.q), array_agg(l.lp) FILTER (WHERE NOT l.q),
	       array_agg(l.n) FILTER (WHERE l.q),
	       (SELECT g.last_seq FROM pollhub.groups g WHERE g.name = p_group)
	  INTO m_ids, m_ns, m_curs, m_lp, q_ns, v_head
	  FROM l;
	IF m_ids IS NULL THEN
		RETURN QUERY SELECT q.n, 'queued'::text, NULL::bigint, NULL::text, NULL::text
		  FROM unnest(q_ns) AS q(n);
		RETURN;
	END IF;
	SELECT c.cur INTO v_from FROM unnest(m_curs) AS c(cur)
	 GROUP BY c.cur ORDER BY count(*) DESC, c.cur LIMIT 1;
	v_top := v_from;

	-- The rows (from, head], within the budget. Rows up to a committed head
	-- are all committed (a group's seqs are taken under its row's lock).
	FOR r IN SELECT o.seq, o.sender, o.payload FROM pollhub.outbox o
		  WHERE o.group_name = p_group AND o.seq > v_from AND o.seq <= v_head
		  ORDER BY o.seq LOOP
		IF v_top > v_from AND v_bytes + octet_length(r.payload) + 1 > p_budget THEN
			v_more := true;
			EXIT;
		END IF;
		v_bytes := v_bytes + octet_length(r.payload) + 1;
		v_top := r.seq;
		r_seq := r_seq || r.seq;
		r_sender := r_sender || r.sender;
		r_payload := r_payload || r.payload;
	END LOOP;

	-- Served: the candidates at from or ahead, in the order of p_ids, as
	-- many as p_total holds copies of the rows.
	cap := CASE WHEN v_bytes = 0 THEN 2147483647
		    ELSE greatest(1, p_total / v_bytes)::integer END;
	SELECT array_agg(x.id ORDER BY x.n), array_agg(x.cur ORDER BY x.n),
	       array_agg(x.lp ORDER BY x.n)
	  INTO s_ids, s_curs, s_lp
	  FROM (SELECT m.id, m.n, m.cur, m.lp FROM unnest(m_ids, m_ns, m_curs, m_lp) AS m(id, n, cur, lp)
		 WHERE m.cur >= v_from ORDER BY m.n LIMIT cap) x;

	IF v_top > v_from THEN
		UPDATE pollhub.memberships m SET cursor = v_top
		 WHERE m.connection_id = ANY(s_ids) AND m.group_name = p_group
		   AND m.cursor < v_top;
		-- A long poll that gets a row not its own answers with it: it
		-- ends here. Streams are not written (touch() vouches for them).
		UPDATE pollhub.connections c SET last_seen = now(), poll_active = false
		 WHERE c.id = ANY(ARRAY(
			SELECT x.id FROM unnest(s_ids, s_curs, s_lp) AS x(id, cur, lp)
			 WHERE x.lp AND EXISTS (SELECT 1 FROM unnest(r_seq, r_sender) AS o(sq, who)
						 WHERE o.sq > x.cur AND o.who IS DISTINCT FROM x.id)));
	END IF;

	FOR k IN 1 .. coalesce(array_length(r_seq, 1), 0) LOOP
		RETURN QUERY SELECT NULL::bigint, NULL::text, r_seq[k], r_sender[k], r_payload[k];
	END LOOP;
	RETURN QUERY
	SELECT x.n, CASE WHEN x.rank <= cap THEN CASE WHEN v_more THEN 'more' ELSE 'ok' END
			 ELSE 'later' END, x.cur, NULL::text, NULL::text
	  FROM (SELECT m.n, m.cur, row_number() OVER (ORDER BY m.n) AS rank
		  FROM unnest(m_ns, m_curs) AS m(n, cur) WHERE m.cur >= v_from) x;
	-- Members with a queued record (a completion): the turn of the
	-- connection ids merges it with their pushes (drain_many), in order.
	RETURN QUERY SELECT q.n, 'queued'::text, NULL::bigint, NULL::text, NULL::text
	  FROM unnest(q_ns) AS q(n);
END
$$;
