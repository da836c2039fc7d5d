-- 001_core: connections, groups, memberships, the per-group outbox, the
-- per-connection queue, and the MeetingHub's meetings with the triggers that
-- turn every change of a meeting into a push for its group.
--
-- Applied by deploy/scripts/migrate.sh inside one transaction.

CREATE SCHEMA IF NOT EXISTS pollhub;

-- A group's last_seq is taken under the group row's lock, held until commit,
-- so within one group sequence order is commit order: a member's cursor can
-- never step over a row whose transaction commits later.
CREATE TABLE pollhub.groups (
	name		text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 256),
	last_seq	bigint NOT NULL DEFAULT 0
);

-- One row per SignalR connection. Looked up by token (secret); id is public.
CREATE TABLE pollhub.connections (
	id		text PRIMARY KEY,
	token		text NOT NULL UNIQUE,
	group_name	text NOT NULL CHECK (length(group_name) BETWEEN 1 AND 256),
	transport	text CHECK (transport IN ('LongPolling', 'ServerSentEvents')),
	state		text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closing')),
	handshaken	boolean NOT NULL DEFAULT false,
	poll_no		bigint NOT NULL DEFAULT 0,	-- bumped by every poll; a newer poll supersedes
	poll_active	boolean NOT NULL DEFAULT false,
	inbound		bytea NOT NULL DEFAULT '',	-- an incomplete record carried to the next POST
	remote_addr	text,
	user_agent	text,
	connected_at	timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_last_seen ON pollhub.connections (last_seen);

CREATE TABLE pollhub.memberships (
	connection_id	text NOT NULL REFERENCES pollhub.connections (id) ON DELETE CASCADE,
	group_name	text NOT NULL REFERENCES pollhub.groups (name),
	cursor		bigint NOT NULL,	-- last group seq given to this connection
	PRIMARY KEY (connection_id, group_name)
);
CREATE INDEX memberships_group ON pollhub.memberships (group_name);

-- One row per push per group; deleted once every member is past it.
CREATE TABLE pollhub.outbox (
	group_name	text NOT NULL REFERENCES pollhub.groups (name),
	seq		bigint NOT NULL,
	sender		text,		-- connection that caused it: never sent back to it
	payload		text NOT NULL,	-- one hub record without the 0x1E terminator
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (group_name, seq)
);

-- Completions, handshake answers and Close messages for one connection.
-- Written only under the connection row's lock, so id order is commit order.
CREATE TABLE pollhub.connection_messages (
	id		bigserial PRIMARY KEY,
	connection_id	text NOT NULL REFERENCES pollhub.connections (id) ON DELETE CASCADE,
	payload		text NOT NULL
);
CREATE INDEX connection_messages_conn ON pollhub.connection_messages (connection_id, id);

CREATE TABLE pollhub.meetings (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	group_name		text NOT NULL,
	title			text NOT NULL DEFAULT '',
	description		text,
	start_at		timestamptz NOT NULL,
	end_at			timestamptz NOT NULL,
	start_timezone		text,
	end_timezone		text,
	is_all_day		boolean NOT NULL DEFAULT false,
	room_id			integer,
	recurrence_rule		text,
	recurrence_id		uuid,
	recurrence_exception	text,
	attendees		integer[] NOT NULL DEFAULT '{}',
	created_at		timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
	CONSTRAINT meetings_end_after_start CHECK (end_at >= start_at),
	CONSTRAINT meetings_id_group UNIQUE (id, group_name),
	-- An exception of a recurring meeting belongs to the head's group; deleting
	-- the head deletes its exceptions (and the trigger pushes each destroy).
	CONSTRAINT meetings_recurrence FOREIGN KEY (recurrence_id, group_name)
		REFERENCES pollhub.meetings (id, group_name) ON DELETE CASCADE
);
CREATE INDEX meetings_group_start ON pollhub.meetings (group_name, start_at);

-- ISO 8601 in UTC with 'Z', milliseconds like JavaScript's toISOString()
-- (microseconds only when there are any), so dates round-trip exactly.
-- PostgreSQL's own text form has no 'T' and browsers would read it as local time.
CREATE FUNCTION pollhub.iso_utc(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
	    || CASE WHEN extract(microseconds FROM t)::bigint % 1000 = 0
		    THEN to_char(t AT TIME ZONE 'UTC', '.MS')
		    ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
	    || 'Z'
$$;

-- The JSON the hub sends for a meeting: the seed's PascalCase names.
CREATE FUNCTION pollhub.meeting_json(m pollhub.meetings) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'ID', m.id,
		'Title', m.title,
		'Description', m.description,
		'Start', pollhub.iso_utc(m.start_at),
		'End', pollhub.iso_utc(m.end_at),
		'StartTimezone', m.start_timezone,
		'EndTimezone', m.end_timezone,
		'IsAllDay', m.is_all_day,
		'RoomID', m.room_id,
		'RecurrenceRule', m.recurrence_rule,
		'RecurrenceID', m.recurrence_id,
		'RecurrenceException', m.recurrence_exception,
		'Attendees', m.attendees,
		'CreatedAt', pollhub.iso_utc(m.created_at))
$$;

-- Queue one hub record for every member of group g and wake the pollers.
-- The sender is the transaction-local setting pollhub.sender (set by the hub
-- to the calling connection's id); changes made from psql have none.
CREATE FUNCTION pollhub.enqueue(g text, record text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	s bigint;
BEGIN
	INSERT INTO pollhub.groups AS gr (name, last_seq) VALUES (g, 1)
	    ON CONFLICT (name) DO UPDATE SET last_seq = gr.last_seq + 1
	    RETURNING gr.last_seq INTO s;
	INSERT INTO pollhub.outbox (group_name, seq, sender, payload)
	    VALUES (g, s, nullif(current_setting('pollhub.sender', true), ''), record);
	PERFORM pg_notify('pollhub', 'g:' || g);
	RETURN s;
END
$$;

CREATE FUNCTION pollhub.meetings_push() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM pollhub.enqueue(NEW.group_name, json_build_object('type', 1,
		    'target', 'create', 'arguments', json_build_array(pollhub.meeting_json(NEW)))::text);
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM pollhub.enqueue(OLD.group_name, json_build_object('type', 1,
		    'target', 'destroy', 'arguments', json_build_array(pollhub.meeting_json(OLD)))::text);
	ELSIF OLD.group_name IS DISTINCT FROM NEW.group_name THEN
		-- Moved to another calendar: it leaves one group and appears in the other.
		PERFORM pollhub.enqueue(OLD.group_name, json_build_object('type', 1,
		    'target', 'destroy', 'arguments', json_build_array(pollhub.meeting_json(OLD)))::text);
		PERFORM pollhub.enqueue(NEW.group_name, json_build_object('type', 1,
		    'target', 'create', 'arguments', json_build_array(pollhub.meeting_json(NEW)))::text);
	ELSE
		PERFORM pollhub.enqueue(NEW.group_name, json_build_object('type', 1,
		    'target', 'update', 'arguments', json_build_array(pollhub.meeting_json(NEW)))::text);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER meetings_push AFTER INSERT OR UPDATE OR DELETE ON pollhub.meetings
	FOR EACH ROW EXECUTE FUNCTION pollhub.meetings_push();

-- Join group g, starting after everything already queued for it. Taking the
-- group row's lock waits for writers in flight, so none of their rows can
-- land at or below the cursor.
CREATE FUNCTION pollhub.join_group(p_connection text, g text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s bigint;
BEGIN
	INSERT INTO pollhub.groups AS gr (name) VALUES (g)
	    ON CONFLICT (name) DO UPDATE SET last_seq = gr.last_seq
	    RETURNING gr.last_seq INTO s;
	INSERT INTO pollhub.memberships (connection_id, group_name, cursor)
	    VALUES (p_connection, g, s) ON CONFLICT DO NOTHING;
END
$$;

-- Start a poll: supersede any older poll of this connection (it answers 204)
-- and say whether this is the connection's first poll (answered at once).
CREATE FUNCTION pollhub.poll_begin(p_token text,
	OUT connection_id text, OUT group_name text, OUT poll_no bigint,
	OUT first_poll boolean, OUT transport text)
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE pollhub.connections c
	   SET poll_no = c.poll_no + 1, poll_active = true, last_seen = now(),
	       transport = coalesce(c.transport, 'LongPolling')
	 WHERE c.token = p_token
	RETURNING c.id, c.group_name, c.poll_no, c.poll_no = 1, c.transport
	     INTO connection_id, group_name, poll_no, first_poll, transport;
	IF FOUND AND poll_no > 1 THEN
		PERFORM pg_notify('pollhub', 'c:' || connection_id);
	END IF;
END
$$;

-- Everything pending for one poll, as 0x1E-terminated records: the
-- connection's own queue first (the handshake answer must lead), then its
-- groups' outbox rows in sequence order, minus its own pushes. Cursors move
-- in the same transaction, so each row goes out once per connection.
-- status: 'ok', 'gone' (no such connection), 'superseded' (a newer poll
-- exists), 'closed' (closing and nothing left: the connection is removed).
CREATE FUNCTION pollhub.poll_drain(p_token text, p_poll bigint,
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
	status := 'ok';
END
$$;

-- A poll has answered: the connection is idle until its next poll.
CREATE FUNCTION pollhub.poll_end(p_connection text, p_poll bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE pollhub.connections SET poll_active = false, last_seen = now()
	 WHERE id = p_connection AND poll_no = p_poll
$$;

-- Remove a connection: it leaves its groups; a held poll wakes and ends.
CREATE FUNCTION pollhub.disconnect(p_token text) RETURNS boolean
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

-- Remove connections that stopped polling (idle longer than p_disconnect,
-- or holding a poll far longer than any poll may last: its process died),
-- then trim outbox rows every member has passed and forget empty groups.
-- Returns the number of connections removed.
CREATE FUNCTION pollhub.reap(p_disconnect interval, p_poll interval) RETURNS integer
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
