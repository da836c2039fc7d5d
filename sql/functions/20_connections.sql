-- Core (ASP.NET Core SignalR) connections: polls, the stream, sends and
-- disconnects, as common/store.c calls them.
--
-- Locks: a drain or a poll locks its connection row FOR NO KEY UPDATE, which
-- the foreign-key checks of a send's inserts (KEY SHARE) do not conflict
-- with. A send (POST) serialises with the other sends of its connection by an
-- advisory lock (send_begin), not by the row, so a send waiting for a
-- calendar's lock (an administrator's open transaction) never holds up its
-- connection's polls. Every pooled connection has a lock_timeout: no wait is
-- unbounded.
--
-- Statuses and transports are named once for C in common/sqlproto.h.

-- A connection of the Core protocol (not a classic one, whose transports
-- start with 'Classic'): a token is valid on its own protocol's endpoints only.
CREATE OR REPLACE FUNCTION pollhub.is_core(p_transport text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT p_transport IS NULL OR p_transport IN ('LongPolling', 'ServerSentEvents')
$$;

-- Start a long poll: supersede an older poll of this connection (it answers
-- 204; NOTIFY only when one is still held, in any process) and say whether
-- this is the connection's first poll (answered at once). All NULL for an
-- unknown token (or a classic one); transport alone when the connection
-- streams (the caller refuses).
CREATE OR REPLACE FUNCTION pollhub.poll_begin(p_token text,
	OUT connection_id text, OUT group_name text, OUT poll_no bigint,
	OUT first_poll boolean, OUT transport text)
LANGUAGE plpgsql AS $$
DECLARE
	was_active boolean;
BEGIN
	SELECT c.poll_active INTO was_active FROM pollhub.connections c
	 WHERE c.token = p_token AND coalesce(c.transport, 'LongPolling') = 'LongPolling'
	   FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		SELECT c.id, c.group_name, c.poll_no, false, c.transport
		  INTO connection_id, group_name, poll_no, first_poll, transport
		  FROM pollhub.connections c WHERE c.token = p_token AND pollhub.is_core(c.transport);
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

-- Everything pending for one poll or stream (drain_one, in 30_fanout.sql), at
-- most p_budget bytes of it. status: 'ok'; 'gone' (no such Core connection);
-- 'superseded' (a newer poll exists); 'closed' (closing and nothing left: the
-- connection is removed); 'closing' (the last records of a closing
-- connection: a stream ends after them, a poll delivers them and the next
-- poll answers 204). A
-- long poll answered with records ends here (no poll_end round trip). more:
-- the budget left records behind (a stream drains again at once; a poll's
-- next poll gets them).
CREATE OR REPLACE FUNCTION pollhub.poll_drain(p_token text, p_poll bigint,
	p_budget integer DEFAULT 2147483647, OUT status text, OUT payload text, OUT more boolean)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
BEGIN
	payload := '';
	more := false;
	-- The row lock serialises drains of one connection; later statements
	-- see what those committed.
	SELECT * INTO c FROM pollhub.connections
	 WHERE token = p_token AND pollhub.is_core(transport) FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		status := 'gone';
		RETURN;
	END IF;
	IF c.poll_no <> p_poll THEN
		status := 'superseded';
		RETURN;
	END IF;
	-- Nothing pending (what a long poll's next poll finds after a push, as
	-- a rule): two index probes instead of drain_one's merge, and no write;
	-- poll_begin has just set last_seen, touch() vouches for a stream.
	IF c.state = 'open'
	   AND NOT EXISTS (SELECT 1 FROM pollhub.connection_messages d WHERE d.connection_id = c.id)
	   AND NOT EXISTS (SELECT 1 FROM pollhub.memberships m
			     JOIN pollhub.groups g ON g.name = m.group_name
			    WHERE m.connection_id = c.id AND g.last_seq > m.cursor) THEN
		status := 'ok';
		RETURN;
	END IF;
	SELECT d.records, d.more INTO payload, more FROM pollhub.drain_one(c, p_budget) d;
	IF payload = '' AND c.state = 'closing' THEN
		DELETE FROM pollhub.connections WHERE id = c.id;
		status := 'closed';
		RETURN;
	END IF;
	UPDATE pollhub.connections
	   SET last_seen = now(),
	       poll_active = poll_active AND NOT (transport = 'LongPolling' AND payload <> '')
	 WHERE id = c.id;
	-- A closing connection's Close is its last record: not yet, while more.
	status := CASE WHEN c.state = 'closing' AND NOT more THEN 'closing' ELSE 'ok' END;
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
-- status: 'ok'; 'gone' (no such Core connection); 'transport' (it
-- long-polls); 'busy' (its stream is or was already open).
CREATE OR REPLACE FUNCTION pollhub.stream_begin(p_token text,
	OUT status text, OUT connection_id text, OUT group_name text, OUT poll_no bigint)
LANGUAGE plpgsql AS $$
DECLARE
	c pollhub.connections;
BEGIN
	SELECT * INTO c FROM pollhub.connections
	 WHERE token = p_token AND pollhub.is_core(transport) FOR NO KEY UPDATE;
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
-- the reaper removes an active connection nobody has vouched for in a while
-- (its responder died). Rows locked in id order (as drain_many), and a row
-- another session holds is skipped: it is vouched for next time.
CREATE OR REPLACE FUNCTION pollhub.touch(p_ids text[]) RETURNS void
LANGUAGE sql AS $$
	UPDATE pollhub.connections c SET last_seen = now()
	  FROM (SELECT id FROM pollhub.connections
		 WHERE id = ANY(p_ids) AND poll_active
		 ORDER BY id FOR NO KEY UPDATE SKIP LOCKED) l
	 WHERE c.id = l.id
$$;

-- A connection's send lock (transaction-scoped): everything that writes its
-- queue (connection_messages) takes it, so that writes run one at a time and
-- id order is commit order: POSTs (send_begin), send_to_connection, the
-- pending cap (close_overfull, try only). disconnect_connection instead locks
-- the row FOR UPDATE, which every writer's foreign-key check (KEY SHARE)
-- waits for and which waits for them. The connection row itself is not what
-- serialises the queue any more (001_core.sql's comment said so). The
-- two-key form, class 0x7068 ('ph'), is apart from any other advisory lock.
-- p_wait false: try only; false when another transaction holds it.
CREATE OR REPLACE FUNCTION pollhub.send_lock(p_connection text, p_wait boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF p_wait THEN
		PERFORM pg_advisory_xact_lock(28776, hashtext(p_connection));
		RETURN true;
	END IF;
	RETURN pg_try_advisory_xact_lock(28776, hashtext(p_connection));
END
$$;

-- Begin a send (a POST; the caller has BEGUN): take the connection's send
-- lock, so its POSTs run one at a time (the partial record carried in
-- inbound, the order of its queue), then read the row. The row itself is not
-- locked: a send that waits for a calendar's lock holds up no drain of this
-- connection. No row for an unknown token or one of the other protocol.
-- p_wait false: do not wait for the send lock; when another send of the
-- connection holds it (it may itself be waiting for a calendar's lock),
-- locked is false and only id and group_name are given (the caller waits
-- elsewhere: it must not hold a shared pool connection while it waits).
-- Locked, it sets pollhub.sender to the connection's id for the transaction
-- (the meetings trigger and push_others leave the sender out of their pushes).
-- permission and user_name: the connection's identity (015_auth.sql; both
-- NULL without one): the hub refuses a 'read' connection's writes before
-- they run (the meetings trigger refuses them again).
CREATE OR REPLACE FUNCTION pollhub.send_begin(p_token text, p_classic boolean, p_wait boolean)
RETURNS TABLE (id text, group_name text, handshaken boolean, closing boolean, inbound bytea,
	locked boolean, permission text, user_name text)
LANGUAGE plpgsql AS $$
DECLARE
	cid text;
	grp text;
	perm text;
	usr text;
BEGIN
	SELECT c.id, c.group_name, c.permission, c.user_name INTO cid, grp, perm, usr
	  FROM pollhub.connections c
	 WHERE c.token = p_token AND pollhub.is_core(c.transport) <> p_classic;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF NOT pollhub.send_lock(cid, p_wait) THEN
		RETURN QUERY SELECT cid, grp, NULL::boolean, NULL::boolean, NULL::bytea, false, perm, usr;
		RETURN;
	END IF;
	-- The sender of what this send pushes (the triggers leave it out of
	-- their pushes): set here, not in a statement of its own.
	PERFORM set_config('pollhub.sender', cid, true);
	-- A new snapshot: what the send we may have waited for committed (a
	-- revocation's new permission too).
	RETURN QUERY SELECT c.id, c.group_name, c.handshaken, c.state = 'closing', c.inbound, true,
		c.permission, c.user_name
	  FROM pollhub.connections c WHERE c.id = cid;
END
$$;

-- Remove a connection: it leaves its groups; a held poll wakes and ends.
-- False when there is no such connection of that protocol.
-- disconnect() that names the connection removed (NULL: none), and whether
-- it was still open (not closing after a Close either way), for the log.
CREATE OR REPLACE FUNCTION pollhub.disconnect_id(p_token text, p_classic boolean,
	OUT id text, OUT was_open boolean)
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM pollhub.connections c
	 WHERE c.token = p_token AND pollhub.is_core(c.transport) <> p_classic
	RETURNING c.id, c.state = 'open' INTO id, was_open;
	IF FOUND THEN
		-- A POST of the connection in flight is, as good as always, the
		-- client's Close sent just before this DELETE: it tells why.
		was_open := was_open AND pollhub.send_lock(id, false);
		PERFORM pg_notify('pollhub', 'c:' || id);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION pollhub.disconnect(p_token text, p_classic boolean) RETURNS boolean
LANGUAGE sql AS $$
	SELECT d.id IS NOT NULL FROM pollhub.disconnect_id(p_token, p_classic) d
$$;


-- A POST of nothing but Ping records, in one statement and no transaction of
-- its own: true when the token is an open, handshaken Core connection with no
-- partial record waiting (inbound empty) whose sends are not running
-- elsewhere right now (send_lock, not waited for). Otherwise false, and the
-- POST takes the full path (send_begin). A Ping changes nothing: a stream is
-- vouched for by touch(), a poll by the polls themselves.
CREATE OR REPLACE FUNCTION pollhub.ping(p_token text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	cid text;
BEGIN
	SELECT c.id INTO cid FROM pollhub.connections c
	 WHERE c.token = p_token AND pollhub.is_core(c.transport) AND c.state = 'open'
	   AND c.handshaken AND c.inbound = ''::bytea;
	RETURN FOUND AND pollhub.send_lock(cid, false);
END
$$;
