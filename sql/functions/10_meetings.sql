-- Meetings: their JSON, the outbox they push to (enqueue and the trigger),
-- and joining a group. Every file of sql/functions/ is applied by every run of
-- deploy/scripts/migrate.sh, in file name order, after the migrations: one
-- definition of each function, CREATE OR REPLACE.

-- ISO 8601 in UTC with 'Z', milliseconds like JavaScript's toISOString()
-- (microseconds only when there are any), so dates round-trip exactly.
-- PostgreSQL's own text form has no 'T' and browsers would read it as local time.
CREATE OR REPLACE FUNCTION pollhub.iso_utc(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
	    || CASE WHEN extract(microseconds FROM t)::bigint % 1000 = 0
		    THEN to_char(t AT TIME ZONE 'UTC', '.MS')
		    ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
	    || 'Z'
$$;

-- The JSON the hub sends for a meeting: the seed's PascalCase names.
CREATE OR REPLACE FUNCTION pollhub.meeting_json(m pollhub.meetings) RETURNS json
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
-- SECURITY DEFINER: an administrator's meeting edits push (the trigger) without
-- rights on the outbox.
CREATE OR REPLACE FUNCTION pollhub.enqueue(g text, record text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
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

CREATE OR REPLACE FUNCTION pollhub.meetings_push() RETURNS trigger
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

CREATE OR REPLACE TRIGGER meetings_push AFTER INSERT OR UPDATE OR DELETE ON pollhub.meetings
	FOR EACH ROW EXECUTE FUNCTION pollhub.meetings_push();

-- Join group g, starting after everything committed to it so far: seqs are
-- taken under the group row's lock held until commit, so every row not yet
-- committed has a seq above the committed last_seq read here, and reaches the
-- new member. The read holds the group row FOR KEY SHARE until commit: a push
-- (enqueue's update of last_seq, FOR NO KEY UPDATE) neither waits for it nor
-- makes it wait, but trim_group (FOR UPDATE SKIP LOCKED) skips the group, so
-- a push that commits between this read and the membership's insert is not
-- trimmed before the new member is counted (tests/sql/concurrency.c,
-- 4c-join-races-trim). Only a trim's own short lock is ever waited for.
CREATE OR REPLACE FUNCTION pollhub.join_group(p_connection text, g text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s bigint;
BEGIN
	FOR attempt IN 1..3 LOOP
		SELECT gr.last_seq INTO s FROM pollhub.groups gr WHERE gr.name = g FOR KEY SHARE;
		IF NOT FOUND THEN
			INSERT INTO pollhub.groups (name) VALUES (g) ON CONFLICT DO NOTHING;
			s := 0;
			SELECT gr.last_seq INTO s FROM pollhub.groups gr WHERE gr.name = g
			   FOR KEY SHARE;
		END IF;
		BEGIN
			INSERT INTO pollhub.memberships (connection_id, group_name, cursor)
			    VALUES (p_connection, g, s) ON CONFLICT DO NOTHING;
			RETURN;
		EXCEPTION WHEN foreign_key_violation THEN
			-- The reaper forgot the (empty) group in between: make it again.
			NULL;
		END;
	END LOOP;
	RAISE EXCEPTION 'could not join group %', g;
END
$$;

-- The causal-order stamp of a connection's own queue (see 009_delivery.sql):
-- unless the writer gave one (a read() stamps what its own snapshot saw), a
-- row is stamped with its group's last_seq as this statement sees it.
CREATE OR REPLACE FUNCTION pollhub.connection_messages_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.group_seq IS NULL THEN
		SELECT g.last_seq INTO NEW.group_seq
		  FROM pollhub.connections c JOIN pollhub.groups g ON g.name = c.group_name
		 WHERE c.id = NEW.connection_id;
		NEW.group_seq := coalesce(NEW.group_seq, 0);
	END IF;
	RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER connection_messages_stamp BEFORE INSERT ON pollhub.connection_messages
	FOR EACH ROW EXECUTE FUNCTION pollhub.connection_messages_stamp();

-- The end of a recurring series, from its RRULE's UNTIL (RFC 5545: a date,
-- or a date-time in UTC), or NULL: no UNTIL (endless, or bounded by COUNT,
-- which only expanding the series could tell), or one that does not parse.
-- A range read returns a series head unless its UNTIL lies before the range.
CREATE OR REPLACE FUNCTION pollhub.rrule_until(rule text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	m text[] := regexp_match(rule, '(?:^|;)UNTIL=([0-9]{8})(?:T([0-9]{6})Z?)?', 'i');
BEGIN
	IF m IS NULL THEN
		RETURN NULL;
	END IF;
	-- A date alone ends the series at the end of that day.
	RETURN CASE WHEN m[2] IS NULL
		THEN to_timestamp(m[1], 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' + interval '1 day'
		ELSE to_timestamp(m[1] || m[2], 'YYYYMMDDHH24MISS')::timestamp AT TIME ZONE 'UTC' END;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
	RETURN NULL;
END
$$;
