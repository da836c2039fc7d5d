-- MeetingHub (migration 018_meetinghub.sql): the hub at /meetings, whose
-- methods read, create, update and destroy the meetings of the caller's
-- calendar (pollhub.meetings, group_name = the group as the client named
-- it). Found and called by pollhub.invoke (12_hubs.sql). The pushes to the
-- other pages of the calendar are the table's trigger's (meetings_push in
-- 10_meetings.sql), so that an edit made in psql pushes the same way.
--
-- Validation answers as the C hub of 0.14 did (its common/meeting.c), message
-- for message: each names the field, in Kendo's name for it
-- (tests/sql/meetinghub.sql holds the cases, with 0.14's answers). Only the
-- functions whose first argument is pollhub.hub_call are methods; the
-- others here are their helpers.

-- An instant as a client may send it, or NULL when s is not one (the rules
-- of common/isoparse.c, by which kendoquery.c checks a read's Start and End,
-- and 0.14 checked a meeting's): ISO 8601 with a zone ('Z' or ±hh[:]mm; 'T' and 'Z' in either case), seconds
-- optional, a fraction of 1 to 9 digits only after seconds (truncated to
-- microseconds), fields in range (no leap second), a year of 1..9999 once
-- in UTC. PostgreSQL's own input is far laxer ('tomorrow', no zone read as
-- the session's), so it never sees what this refuses.
CREATE OR REPLACE FUNCTION meetinghub.parse_instant(s text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	y int;
	mo int;
	d int;
	zone text := '';
	body text;
	t timestamp;
BEGIN
	-- The shape first, without captures: PostgreSQL's regex engine takes a
	-- millisecond to report the captures of a match of this pattern, and
	-- microseconds to say whether it matches. Then the fields by position.
	IF s !~ ('^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}'
		'(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[-+][0-9]{2}:?[0-9]{2})$') THEN
		RETURN NULL;
	END IF;
	IF right(s, 1) NOT IN ('Z', 'z') THEN
		-- ±hh:mm or ±hhmm
		zone := right(s, CASE WHEN substr(s, length(s) - 5, 1) IN ('+', '-') THEN 6 ELSE 5 END);
	END IF;
	body := left(s, length(s) - greatest(length(zone), 1));
	y := substr(s, 1, 4)::int;
	mo := substr(s, 6, 2)::int;
	d := substr(s, 9, 2)::int;
	IF y < 1 OR mo NOT BETWEEN 1 AND 12 OR d < 1
	    OR d > (CASE WHEN mo IN (4, 6, 9, 11) THEN 30 WHEN mo <> 2 THEN 31
		WHEN y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0) THEN 29 ELSE 28 END)
	    OR substr(s, 12, 2)::int > 23 OR substr(s, 15, 2)::int > 59
	    OR (length(body) >= 19 AND substr(body, 18, 2)::int > 59)
	    OR (zone <> '' AND (substr(zone, 2, 2)::int > 23 OR right(zone, 2)::int > 59)) THEN
		RETURN NULL;
	END IF;
	-- A fraction is truncated to microseconds, as isoparse.c truncates it.
	t := make_timestamp(y, mo, d, substr(s, 12, 2)::int, substr(s, 15, 2)::int,
		CASE WHEN length(body) >= 19 THEN substr(body, 18, 2)::int ELSE 0 END)
	    + rpad(substr(body, 21, 6), 6, '0')::bigint * interval '1 microsecond'
	    - CASE left(zone, 1) WHEN '+' THEN 1 WHEN '-' THEN -1 ELSE 0 END
		* (coalesce(nullif(substr(zone, 2, 2), '')::int, 0) * 60
		   + coalesce(nullif(right(zone, 2), '')::int, 0)) * interval '1 minute';
	IF t < '0001-01-01 00:00:00' OR t >= '10000-01-01 00:00:00' THEN
		RETURN NULL;
	END IF;
	RETURN t AT TIME ZONE 'UTC';
END
$$;

-- Refuse the meeting: field is wrong, why says how (meeting.c's fail()).
-- VOLATILE: a call with constant arguments must raise when it runs, not
-- when the planner folds it.
CREATE OR REPLACE FUNCTION meetinghub.refuse(field text, why text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION USING MESSAGE = format('Invalid meeting: ''%s'' %s.', field, why);
END
$$;

-- The value of v when it is a JSON integer (a number written without a
-- fraction; json-c's int), else NULL. jsonb keeps "1.0" as written but
-- reads 1e3 as 1000: an integer written with an exponent, which JSON.stringify
-- never writes, passes here where json-c refused it.
CREATE OR REPLACE FUNCTION meetinghub.json_integer(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN jsonb_typeof(v) = 'number' AND v::text ~ '^-?[0-9]+$' THEN v::numeric END
$$;

-- "No value" as Kendo sends it, depending on the schema: absent (SQL NULL),
-- null, "" or 0.
CREATE OR REPLACE FUNCTION meetinghub.is_none(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT v IS NULL OR v = 'null' OR v = '""' OR coalesce(meetinghub.json_integer(v) = 0, false)
$$;

-- An optional string field: absent or null → NULL ("" too when
-- empty_is_null), else a string of at most 65536 bytes.
CREATE OR REPLACE FUNCTION meetinghub.text_field(obj jsonb, field text, empty_is_null boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v jsonb := obj -> field;
	s text;
BEGIN
	IF v IS NULL OR v = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'string' THEN
		PERFORM meetinghub.refuse(field, 'must be a string');
	END IF;
	s := v #>> '{}';
	IF octet_length(s) > 65536 THEN
		PERFORM meetinghub.refuse(field, 'is too long');
	END IF;
	-- A NUL (\u0000) never gets here: jsonb refuses it.
	RETURN CASE WHEN s = '' AND empty_is_null THEN NULL ELSE s END;
END
$$;

-- A required instant (parse_instant).
CREATE OR REPLACE FUNCTION meetinghub.instant_field(obj jsonb, field text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v jsonb := obj -> field;
	t timestamptz;
BEGIN
	IF v IS NULL OR v = 'null' THEN
		PERFORM meetinghub.refuse(field, 'is required');
	END IF;
	IF jsonb_typeof(v) = 'string' THEN
		t := meetinghub.parse_instant(v #>> '{}');
	END IF;
	IF t IS NULL THEN
		PERFORM meetinghub.refuse(field,
		    'must be an ISO 8601 date and time with a zone, like 2026-11-26T10:00:00.000Z');
	END IF;
	RETURN t;
END
$$;

-- A meeting ID: a string of a UUID with its hyphens, hex digits in either
-- case (PostgreSQL's uuid input also takes braces and no hyphens).
CREATE OR REPLACE FUNCTION meetinghub.uuid_field(v jsonb, field text) RETURNS uuid
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF jsonb_typeof(v) IS DISTINCT FROM 'string' OR (v #>> '{}') !~
	    '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$' THEN
		PERFORM meetinghub.refuse(field, 'must be a meeting ID (a UUID)');
	END IF;
	RETURN (v #>> '{}')::uuid;
END
$$;

-- The meeting a client sent (obj) for mode 'create', 'update' or 'destroy',
-- checked field by field in meeting.c's order, as the row to write: on
-- create any ID is ignored (null, "", 0 or a stale one); update and destroy
-- need one; destroy reads nothing else.
CREATE OR REPLACE FUNCTION meetinghub.meeting_of(obj jsonb, mode text) RETURNS pollhub.meetings
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	m pollhub.meetings;
	v jsonb;
	n numeric;
	ok boolean;
BEGIN
	IF jsonb_typeof(obj) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION USING
		    MESSAGE = 'Invalid meeting: expected an object with the meeting''s fields.';
	END IF;
	IF mode <> 'create' THEN
		v := obj -> 'ID';
		IF meetinghub.is_none(v) THEN
			PERFORM meetinghub.refuse('ID', 'is required');
		END IF;
		m.id := meetinghub.uuid_field(v, 'ID');
		IF mode = 'destroy' THEN
			RETURN m;
		END IF;
	END IF;
	m.title := coalesce(meetinghub.text_field(obj, 'Title', false), '');
	m.description := meetinghub.text_field(obj, 'Description', true);
	m.start_at := meetinghub.instant_field(obj, 'Start');
	m.end_at := meetinghub.instant_field(obj, 'End');
	IF m.end_at < m.start_at THEN
		PERFORM meetinghub.refuse('End', 'must not be before ''Start''');
	END IF;
	m.start_timezone := meetinghub.text_field(obj, 'StartTimezone', true);
	m.end_timezone := meetinghub.text_field(obj, 'EndTimezone', true);
	m.recurrence_rule := meetinghub.text_field(obj, 'RecurrenceRule', true);
	m.recurrence_exception := meetinghub.text_field(obj, 'RecurrenceException', true);

	v := obj -> 'IsAllDay';
	IF v IS NOT NULL AND jsonb_typeof(v) NOT IN ('null', 'boolean') THEN
		PERFORM meetinghub.refuse('IsAllDay', 'must be true or false');
	END IF;
	m.is_all_day := v IS NOT NULL AND v = 'true';

	-- 0 is a room; "", null or nothing: none.
	v := obj -> 'RoomID';
	n := meetinghub.json_integer(v);
	IF n IS NOT NULL OR NOT meetinghub.is_none(v) THEN
		IF n IS NULL OR n NOT BETWEEN -2147483648 AND 2147483647 THEN
			PERFORM meetinghub.refuse('RoomID', 'must be an integer');
		END IF;
		m.room_id := n;
	END IF;

	v := obj -> 'RecurrenceID';
	IF NOT meetinghub.is_none(v) THEN
		m.recurrence_id := meetinghub.uuid_field(v, 'RecurrenceID');
	END IF;

	v := obj -> 'Attendees';
	IF v IS NULL OR v = 'null' THEN
		m.attendees := '{}';
	ELSIF jsonb_typeof(v) <> 'array' THEN
		PERFORM meetinghub.refuse('Attendees', 'must be an array of integers');
	ELSIF jsonb_array_length(v) > 1000 THEN
		PERFORM meetinghub.refuse('Attendees', 'has too many entries');
	ELSE
		SELECT coalesce(bool_and(coalesce(x.n BETWEEN -2147483648 AND 2147483647, false)), true),
		       coalesce(array_agg(CASE WHEN x.n BETWEEN -2147483648 AND 2147483647
				THEN x.n::integer END ORDER BY x.o), '{}')
		  INTO ok, m.attendees
		  FROM (SELECT meetinghub.json_integer(e.value) AS n, e.o
			  FROM jsonb_array_elements(v) WITH ORDINALITY e(value, o)) x;
		IF NOT ok THEN
			PERFORM meetinghub.refuse('Attendees', 'must be an array of integers');
		END IF;
	END IF;
	RETURN m;
END
$$;

-- Why a write of a meeting failed, in the client's terms, for the errors
-- that are the client's (corestore.c's meeting_failure of 0.14): a
-- constraint, or a date PostgreSQL cannot hold.
CREATE OR REPLACE FUNCTION meetinghub.write_failure(state text, cons text, message text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN state = '22008' THEN 'Invalid meeting: a date is out of range.'
		WHEN cons = 'meetings_recurrence'
		THEN 'Invalid meeting: ''RecurrenceID'' does not name a meeting of this calendar.'
		WHEN cons = 'meetings_end_after_start'
		THEN 'Invalid meeting: ''End'' must not be before ''Start''.'
		ELSE 'Invalid meeting: ' || message END
$$;

-- The instant of a read's query named name (Start or End), in any case
-- (Kendo and ASP.NET bind names case-insensitively; kendoquery.c has refused
-- a name given twice and a value that is no instant): NULL when absent or
-- null. IMMUTABLE: a query the statement gives as a constant is read once,
-- when the statement is planned, and the planner sees the range.
CREATE OR REPLACE FUNCTION meetinghub.query_instant(query jsonb, name text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT meetinghub.parse_instant(coalesce(query -> name,
		(SELECT e.value FROM jsonb_each(CASE WHEN jsonb_typeof(query) = 'object' THEN query END) e
		  WHERE lower(e.key) = lower(name) LIMIT 1)) #>> '{}')
$$;

-- The meetings of the caller's calendar (the whole calendar, or by the
-- Scheduler's visible range): a query method, whose rows the responder
-- filters, sorts and pages as Kendo's DataSource asked (common/kendoquery.c,
-- which has checked the query's keys and values already). One SELECT in a
-- STABLE SQL function: PostgreSQL inlines it into the responder's statement,
-- so that the range reaches the indexes of 016_read_range.sql.
--
-- The range {Start, End} (keys in any case; either may be alone): the
-- meetings overlapping [Start, End) (the GiST index meetings_group_span; a
-- meeting ending exactly at Start is included), and the recurring series
-- that start before End and whose RRULE's UNTIL is not before Start
-- (meetings_group_series): a weekly meeting whose head is a year old recurs
-- into this week. Exceptions (RecurrenceID set) are ordinary meetings.
CREATE OR REPLACE FUNCTION meetinghub.read(call pollhub.hub_call, query jsonb DEFAULT NULL)
RETURNS SETOF meetinghub.meeting
LANGUAGE sql STABLE AS $$
	SELECT m.id, m.title, m.description, m.start_at, m.end_at, m.start_timezone, m.end_timezone,
	       m.is_all_day, m.room_id, m.recurrence_rule, m.recurrence_id, m.recurrence_exception,
	       m.attendees, m.created_at
	  FROM pollhub.meetings m
	 WHERE m.group_name = call.group_name
	   -- Without a range, the first test holds for every meeting: (,) is all time.
	   AND (tstzrange(m.start_at, m.end_at, '[]')
		&& tstzrange(meetinghub.query_instant(query, 'Start'), meetinghub.query_instant(query, 'End'), '[)')
		OR m.recurrence_rule <> '' AND m.recurrence_id IS NULL
		   AND m.start_at < coalesce(meetinghub.query_instant(query, 'End'), 'infinity')
		   AND coalesce(pollhub.rrule_until(m.recurrence_rule) >= meetinghub.query_instant(query, 'Start'), true))
	 ORDER BY m.start_at, m.id
$$;

-- create(meeting): the meeting made, as read sends it (with its new ID).
CREATE OR REPLACE FUNCTION meetinghub.create(call pollhub.hub_call, meeting jsonb) RETURNS json
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	v pollhub.meetings := meetinghub.meeting_of(meeting, 'create');
	result json;
	st text;
	cons text;
	msg text;
BEGIN
	-- The trigger's push goes to the others in the calendar, not back here.
	PERFORM set_config('pollhub.sender', call.connection_id, true);
	BEGIN
		INSERT INTO pollhub.meetings AS m (group_name, title, description, start_at, end_at,
			start_timezone, end_timezone, is_all_day, room_id, recurrence_rule,
			recurrence_id, recurrence_exception, attendees)
		VALUES (call.group_name, v.title, v.description, v.start_at, v.end_at,
			v.start_timezone, v.end_timezone, v.is_all_day, v.room_id, v.recurrence_rule,
			v.recurrence_id, v.recurrence_exception, v.attendees)
		RETURNING pollhub.meeting_json(m) INTO result;
	EXCEPTION WHEN integrity_constraint_violation OR datetime_field_overflow THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, cons = CONSTRAINT_NAME,
		    msg = MESSAGE_TEXT;
		RAISE EXCEPTION USING MESSAGE = meetinghub.write_failure(st, cons, msg);
	END;
	RETURN result;
END
$$;

-- update(meeting): every field replaced; the meeting as it is now.
CREATE OR REPLACE FUNCTION meetinghub.update(call pollhub.hub_call, meeting jsonb) RETURNS json
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	v pollhub.meetings := meetinghub.meeting_of(meeting, 'update');
	result json;
	st text;
	cons text;
	msg text;
BEGIN
	PERFORM set_config('pollhub.sender', call.connection_id, true);
	BEGIN
		UPDATE pollhub.meetings AS m SET title = v.title, description = v.description,
			start_at = v.start_at, end_at = v.end_at, start_timezone = v.start_timezone,
			end_timezone = v.end_timezone, is_all_day = v.is_all_day, room_id = v.room_id,
			recurrence_rule = v.recurrence_rule, recurrence_id = v.recurrence_id,
			recurrence_exception = v.recurrence_exception, attendees = v.attendees
		 WHERE m.id = v.id AND m.group_name = call.group_name
		RETURNING pollhub.meeting_json(m) INTO result;
	EXCEPTION WHEN integrity_constraint_violation OR datetime_field_overflow THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, cons = CONSTRAINT_NAME,
		    msg = MESSAGE_TEXT;
		RAISE EXCEPTION USING MESSAGE = meetinghub.write_failure(st, cons, msg);
	END;
	IF result IS NULL THEN
		RAISE EXCEPTION USING
		    MESSAGE = 'Meeting not found: no meeting with this ''ID'' in this calendar.';
	END IF;
	RETURN result;
END
$$;

-- destroy(meeting): only its ID is read. No result (the seed's Destroy is
-- void); the exceptions of a series go with their head.
CREATE OR REPLACE FUNCTION meetinghub.destroy(call pollhub.hub_call, meeting jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	v pollhub.meetings := meetinghub.meeting_of(meeting, 'destroy');
	found_one boolean;
	st text;
	cons text;
	msg text;
BEGIN
	PERFORM set_config('pollhub.sender', call.connection_id, true);
	BEGIN
		DELETE FROM pollhub.meetings AS m WHERE m.id = v.id AND m.group_name = call.group_name;
		found_one := FOUND;
	EXCEPTION WHEN integrity_constraint_violation OR datetime_field_overflow THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, cons = CONSTRAINT_NAME,
		    msg = MESSAGE_TEXT;
		RAISE EXCEPTION USING MESSAGE = meetinghub.write_failure(st, cons, msg);
	END;
	IF NOT found_one THEN
		RAISE EXCEPTION USING
		    MESSAGE = 'Meeting not found: no meeting with this ''ID'' in this calendar.';
	END IF;
END
$$;

-- Executable by everyone unless revoked; said here for the responder's role.
GRANT EXECUTE ON FUNCTION
	meetinghub.read(pollhub.hub_call, jsonb),
	meetinghub.create(pollhub.hub_call, jsonb),
	meetinghub.update(pollhub.hub_call, jsonb),
	meetinghub.destroy(pollhub.hub_call, jsonb) TO pollhub_app;
