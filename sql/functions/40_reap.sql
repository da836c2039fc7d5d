-- The reaper: stale connections, the outbox trim and the pending cap
-- (POLLHUB_MAX_PENDING; see 006_bounded.sql), run by every responder every
-- few seconds as CALL pollhub.maintain(...), and by an administrator as
-- reap_now() (60_admin.sql).
--
-- Short locks: maintain() commits after each step, so no transaction holds
-- more than one group's row (or one batch of connection rows) at a time, and
-- it never waits for a lock: what another session holds is skipped and looked
-- at on the next run.

-- The reap thresholds in force: the longest poll and disconnect timeouts of
-- the responders seen in the last ten minutes (pollhub.responders), so that
-- no responder reaps another's live polls; 90 s / 15 s, the defaults, when
-- none is.
CREATE OR REPLACE FUNCTION pollhub.reap_thresholds(OUT poll_timeout interval,
	OUT disconnect_timeout interval)
LANGUAGE sql STABLE AS $$
	SELECT coalesce(max(r.poll_timeout), '90 seconds'),
	       coalesce(max(r.disconnect_timeout), '15 seconds')
	  FROM pollhub.responders r WHERE r.seen_at > now() - interval '10 minutes'
$$;

-- A responder says it is alive, with its timeouts (at start-up and on every
-- maintenance run; the id is host:pid, so a restart in place keeps its row).
-- Returns the thresholds in force.
CREATE OR REPLACE FUNCTION pollhub.responder_seen(p_id text, p_poll interval,
	p_disconnect interval, OUT poll_timeout interval, OUT disconnect_timeout interval)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pollhub.responders AS r (id, poll_timeout, disconnect_timeout)
	VALUES (p_id, p_poll, p_disconnect)
	ON CONFLICT (id) DO UPDATE
	   SET poll_timeout = excluded.poll_timeout,
	       disconnect_timeout = excluded.disconnect_timeout, seen_at = now();
	DELETE FROM pollhub.responders r WHERE r.seen_at < now() - interval '10 minutes';
	SELECT t.poll_timeout, t.disconnect_timeout INTO poll_timeout, disconnect_timeout
	  FROM pollhub.reap_thresholds() t;
END
$$;

-- A responder stops: its timeouts no longer count.
CREATE OR REPLACE FUNCTION pollhub.responder_leave(p_id text) RETURNS void
LANGUAGE sql AS $$
	DELETE FROM pollhub.responders WHERE id = p_id
$$;

-- Messages pending per connection (only connections with some), as the cap
-- counts them: its connection_messages plus, in each of its groups, the rows
-- past what it was sent (a group's seqs have no gaps, and rows past a cursor
-- are never trimmed). Also for operators:
--   SELECT * FROM pollhub.pending_counts() ORDER BY pending DESC LIMIT 10;
-- SECURITY DEFINER: the admin views call it, and it reads tables an
-- administrator has no right to (tokens are there).
CREATE OR REPLACE FUNCTION pollhub.pending_counts() RETURNS TABLE (id text, pending bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
	SELECT p.id, sum(p.n)::bigint
	  FROM (SELECT m.connection_id, g.last_seq - coalesce(m.sent, m.cursor)
		  FROM pollhub.memberships m
		  JOIN pollhub.groups g ON g.name = m.group_name
		 WHERE g.last_seq > coalesce(m.sent, m.cursor)
		UNION ALL
		SELECT d.connection_id, count(*)
		  FROM pollhub.connection_messages d
		 GROUP BY d.connection_id) AS p(id, n)
	 GROUP BY p.id
$$;

-- pending_counts() for one connection.
CREATE OR REPLACE FUNCTION pollhub.pending_of(p_id text) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT sum(g.last_seq - coalesce(m.sent, m.cursor))
			   FROM pollhub.memberships m JOIN pollhub.groups g ON g.name = m.group_name
			  WHERE m.connection_id = p_id AND g.last_seq > coalesce(m.sent, m.cursor)), 0)
	     + (SELECT count(*) FROM pollhub.connection_messages d WHERE d.connection_id = p_id)
$$;

-- Remove up to p_limit connections that stopped polling (idle longer than
-- p_disconnect, or active — a held poll, a stream — and unseen for longer
-- than any poll may last plus p_disconnect: its responder died). Rows
-- another session holds are skipped. Returns the ids removed.
CREATE OR REPLACE FUNCTION pollhub.reap_stale_ids(p_disconnect interval, p_poll interval,
	p_limit integer) RETURNS text[]
LANGUAGE sql AS $$
	WITH victims AS (
		SELECT c.id FROM pollhub.connections c
		 WHERE (NOT c.poll_active AND c.last_seen < now() - p_disconnect)
		    OR (c.poll_active AND c.last_seen < now() - p_poll - p_disconnect)
		 ORDER BY c.id LIMIT p_limit
		   FOR UPDATE SKIP LOCKED),
	gone AS (
		DELETE FROM pollhub.connections c USING victims v WHERE c.id = v.id
		RETURNING c.id)
	SELECT coalesce(array_agg(gone.id ORDER BY gone.id) FILTER (WHERE
		pg_notify('pollhub', 'c:' || gone.id) IS NOT NULL), '{}') FROM gone
$$;

-- reap_stale_ids(), counted.
CREATE OR REPLACE FUNCTION pollhub.reap_stale(p_disconnect interval, p_poll interval,
	p_limit integer) RETURNS integer
LANGUAGE sql AS $$
	SELECT coalesce(cardinality(pollhub.reap_stale_ids(p_disconnect, p_poll, p_limit)), 0)
$$;

-- Trim group g: delete the outbox rows every member is past, and forget the
-- group when nobody is in it and nothing is queued (its sequence restarts
-- safely: no cursor refers to it). A classic stream's member keeps the rows
-- after what its client acknowledged (cursor), but not more than
-- p_keep behind what it was sent. Skips a group whose row another session
-- holds (a writer, an administrator's open transaction). Returns the rows
-- deleted, or -1 when skipped.
CREATE OR REPLACE FUNCTION pollhub.trim_group(g text, p_keep integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM 1 FROM pollhub.groups gr WHERE gr.name = g FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN -1;
	END IF;
	DELETE FROM pollhub.outbox o
	 WHERE o.group_name = g
	   AND o.seq <= coalesce(
		(SELECT min(CASE WHEN m.sent IS NULL THEN m.cursor
				 ELSE greatest(m.cursor, m.sent - p_keep) END)
		   FROM pollhub.memberships m WHERE m.group_name = g),
		(SELECT gr.last_seq FROM pollhub.groups gr WHERE gr.name = g));
	GET DIAGNOSTICS n = ROW_COUNT;
	DELETE FROM pollhub.groups gr
	 WHERE gr.name = g
	   AND NOT EXISTS (SELECT 1 FROM pollhub.memberships m WHERE m.group_name = g)
	   AND NOT EXISTS (SELECT 1 FROM pollhub.outbox o WHERE o.group_name = g);
	RETURN n;
END
$$;

-- Close connection p_id if more than p_max_pending messages are pending for
-- it, the way a protocol error does: a Close with an error and
-- allowReconnect is queued after what is there, it is marked closing and
-- leaves its groups (its cursors no longer hold back the trim), and its held
-- poll or stream is woken to deliver the Close. Skipped (false) when another
-- session holds its row or its send lock (a POST writing its queue: the Close
-- must come after what that POST queues, in id order as in commit order);
-- counted again on the next run.
CREATE OR REPLACE FUNCTION pollhub.close_overfull(p_id text, p_max_pending integer)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM pollhub.connections c
	 WHERE c.id = p_id AND c.state = 'open' FOR NO KEY UPDATE SKIP LOCKED;
	IF NOT FOUND OR pollhub.pending_of(p_id) <= p_max_pending
	   OR NOT pollhub.send_lock(p_id, false) THEN
		RETURN false;
	END IF;
	INSERT INTO pollhub.connection_messages (connection_id, payload)
	VALUES (p_id, format('{"type":7,"error":%s,"allowReconnect":true}',
		to_json(format('Connection closed with an error. More than %s messages were'
		    ' pending for this connection: it did not poll or read its stream.',
		    p_max_pending))));
	UPDATE pollhub.connections SET state = 'closing' WHERE id = p_id;
	DELETE FROM pollhub.memberships WHERE connection_id = p_id;
	PERFORM pg_notify('pollhub', 'c:' || p_id);
	RETURN true;
END
$$;

-- One transaction with explicit thresholds: what reap_now() runs for an
-- administrator (who chose to hold the locks for its length).
CREATE OR REPLACE FUNCTION pollhub.reap(p_disconnect interval, p_poll interval) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer := 0;
	g text;
BEGIN
	n := pollhub.reap_stale(p_disconnect, p_poll, 2147483647);
	FOR g IN SELECT name FROM pollhub.groups ORDER BY name LOOP
		PERFORM pollhub.trim_group(g, 1000);
	END LOOP;
	RETURN n;
END
$$;

-- What each responder runs every few seconds: it says it is alive (with its
-- timeouts), then removes stale connections (batches of 1,000) by the
-- thresholds in force, trims every group that needs it and applies the
-- pending cap, one connection at a time, committing after each step.
-- removed: connections removed; closed: connections closed by the cap;
-- skipped: groups skipped (locked); max_lock_ms: the longest any one step
-- held its locks; removed_ids, closed_ids: the first 20 of each, for the
-- responder's log (the signature changed in 011_maintain_ids.sql).
CREATE OR REPLACE PROCEDURE pollhub.maintain(p_responder text, p_poll interval,
	p_disconnect interval, p_max_pending integer,
	INOUT removed integer DEFAULT 0, INOUT closed integer DEFAULT 0,
	INOUT skipped integer DEFAULT 0, INOUT max_lock_ms double precision DEFAULT 0,
	INOUT removed_ids text[] DEFAULT '{}', INOUT closed_ids text[] DEFAULT '{}')
LANGUAGE plpgsql AS $$
DECLARE
	th record;
	n integer;
	t timestamptz;
	names text[];
	ids text[];
	gone text[];
	g text;
	cid text;
BEGIN
	removed := 0; closed := 0; skipped := 0; max_lock_ms := 0;
	removed_ids := '{}'; closed_ids := '{}';
	SELECT * INTO th FROM pollhub.responder_seen(p_responder, p_poll, p_disconnect);
	COMMIT;
	LOOP
		t := clock_timestamp();
		-- Every step is redone by the next run if a crash loses it.
		PERFORM set_config('synchronous_commit', 'off', true);
		gone := pollhub.reap_stale_ids(th.disconnect_timeout, th.poll_timeout, 1000);
		COMMIT;
		n := cardinality(gone);
		removed_ids := (removed_ids || gone)[1:20];
		max_lock_ms := greatest(max_lock_ms, extract(epoch FROM clock_timestamp() - t) * 1000);
		removed := removed + n;
		EXIT WHEN n < 1000;
	END LOOP;

	-- Only the groups with something to do are locked (a lock is a
	-- transaction to commit): rows every member is past, or nobody left.
	SELECT array_agg(gr.name ORDER BY gr.name) INTO names
	  FROM pollhub.groups gr
	 WHERE NOT EXISTS (SELECT 1 FROM pollhub.memberships m WHERE m.group_name = gr.name)
	    OR EXISTS (SELECT 1 FROM pollhub.outbox o
		        WHERE o.group_name = gr.name
			  AND o.seq <= (SELECT min(CASE WHEN m.sent IS NULL THEN m.cursor
						   ELSE greatest(m.cursor, m.sent - p_max_pending) END)
					  FROM pollhub.memberships m WHERE m.group_name = gr.name));
	FOREACH g IN ARRAY coalesce(names, '{}') LOOP
		t := clock_timestamp();
		PERFORM set_config('synchronous_commit', 'off', true);
		IF pollhub.trim_group(g, p_max_pending) < 0 THEN
			skipped := skipped + 1;
		END IF;
		COMMIT;
		max_lock_ms := greatest(max_lock_ms, extract(epoch FROM clock_timestamp() - t) * 1000);
	END LOOP;

	SELECT array_agg(p.id ORDER BY p.id) INTO ids
	  FROM pollhub.pending_counts() p WHERE p.pending > p_max_pending;
	FOREACH cid IN ARRAY coalesce(ids, '{}') LOOP
		t := clock_timestamp();
		PERFORM set_config('synchronous_commit', 'off', true);
		IF pollhub.close_overfull(cid, p_max_pending) THEN
			closed := closed + 1;
			IF closed <= 20 THEN
				closed_ids := closed_ids || cid;
			END IF;
		END IF;
		COMMIT;
		max_lock_ms := greatest(max_lock_ms, extract(epoch FROM clock_timestamp() - t) * 1000);
	END LOOP;
	IF closed > 0 THEN
		RAISE LOG 'pollhub: closed % connection(s) with more than % messages pending',
		    closed, p_max_pending;
	END IF;
END
$$;
