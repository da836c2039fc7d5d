-- MeetingHub in SQL (sql/functions/80_meetinghub.sql) answers as the C hub of 0.14 did:
-- every case of meetinghub-cases.sql (0.14's meeting.c validation, corestore's writes and
-- failures) through pollhub.invoke as the responder calls it, the pushes of its writes,
-- the failures of the database worded as corestore worded them, read by range (recurring
-- series included), and each row read as the same JSON as pollhub.meeting_json. Run by
-- tests/integration/meetinghub.test.mjs with psql -v ON_ERROR_STOP=1 against a fresh
-- database: an ASSERT that fails stops the script. In a transaction that is rolled back.
BEGIN;

-- Connections as connection_open makes them: one without identity, one whose user may
-- only read the calendar, one in another calendar.
INSERT INTO pollhub.connections (id, token, group_name, transport, hub, user_name, permission)
VALUES ('mh-w', 'tok-mh-w', 'mh-cal', 'LongPolling', 'MeetingHub', NULL, NULL),
       ('mh-r', 'tok-mh-r', 'mh-cal', 'LongPolling', 'MeetingHub', 'reader', 'read'),
       ('mh-o', 'tok-mh-o', 'mh-other', 'LongPolling', 'MeetingHub', NULL, NULL),
       ('mh-q', 'tok-mh-q', 'mh-read', 'LongPolling', 'MeetingHub', NULL, NULL);
INSERT INTO pollhub.meetings (id, group_name, title, start_at, end_at)
VALUES ('3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'mh-cal', 'The one meeting',
	'2026-11-26T10:00Z', '2026-11-26T11:00Z'),
       ('6a1d0f3e-0000-4000-8000-000000000001', 'mh-other', 'In another calendar',
	'2026-11-26T10:00Z', '2026-11-26T11:00Z');

-- A stored meeting as the cases write it.
CREATE FUNCTION pg_temp.written(m pollhub.meetings) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('Title', m.title, 'Description', m.description,
		'Start', to_char(m.start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'End', to_char(m.end_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'StartTimezone', m.start_timezone, 'EndTimezone', m.end_timezone,
		'IsAllDay', m.is_all_day, 'RoomID', m.room_id, 'RecurrenceRule', m.recurrence_rule,
		'RecurrenceID', m.recurrence_id, 'RecurrenceException', m.recurrence_exception,
		'Attendees', to_jsonb(m.attendees))
$$;

-- The responder's statement for a query method (common/hub.c): the rows' JSON objects,
-- in the method's own order (no Kendo sort).
CREATE FUNCTION pg_temp.read(p_connection text, p_query jsonb) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	i record;
BEGIN
	SELECT * INTO i FROM pollhub.invoke(p_connection, 'read',
	    (CASE WHEN p_query IS NULL THEN '[]' ELSE jsonb_build_array(p_query) END)::json);
	ASSERT i.kind = 'query' AND i.fn = 'meetinghub.read', 'read is a query method';
	RETURN QUERY EXECUTE format('SELECT (%s)::text FROM %s(pollhub.hub_call_of($1), $2::jsonb) r',
	    i.item, i.fn) USING p_connection, p_query;
END
$$;

CREATE TEMP TABLE mh_cases (n serial, method text, argument text, error text, written jsonb);
\ir meetinghub-cases.sql
GRANT SELECT ON mh_cases TO pollhub_app;

-- As the responder's role, from here on.
SET LOCAL ROLE pollhub_app;

-- 1. Every case: the same message, or the same row written (and sent back as
-- meeting_json sends it), or the meeting destroyed. Each case is undone after it.
DO $$
DECLARE
	c record;
	i record;
	got_error text;
	got_row jsonb;
	gone boolean;
	failures text[] := '{}';
	n integer := 0;
BEGIN
	FOR c IN SELECT * FROM mh_cases ORDER BY n LOOP
		got_error := NULL;
		got_row := NULL;
		gone := NULL;
		BEGIN
			SELECT * INTO i FROM pollhub.invoke('mh-w', c.method,
			    ('[' || c.argument || ']')::json);
			IF c.method = 'destroy' THEN
				ASSERT i.kind = 'value' AND i.result IS NULL, 'destroy sends no result';
				gone := NOT EXISTS (SELECT FROM pollhub.meetings m
				    WHERE m.id = '3f2504e0-4f89-11d3-9a0c-0305e82c3301');
			ELSE
				SELECT pg_temp.written(m) INTO got_row FROM pollhub.meetings m
				 WHERE m.id = (i.result::json ->> 'ID')::uuid AND m.group_name = 'mh-cal'
				   AND i.result = pollhub.meeting_json(m)::text;
				got_row := coalesce(got_row, jsonb_build_object('result', i.result));
			END IF;
			RAISE EXCEPTION USING ERRCODE = 'PHT01', MESSAGE = 'undo';
		EXCEPTION
			WHEN SQLSTATE 'PHT01' THEN NULL;
			WHEN raise_exception THEN got_error := SQLERRM;
		END;
		IF got_error IS DISTINCT FROM c.error OR got_row IS DISTINCT FROM c.written
		    OR (c.error IS NULL AND c.written IS NULL AND gone IS DISTINCT FROM true) THEN
			failures := failures || format('case %s: %s(%s): expected %s, got %s', c.n,
			    c.method, left(c.argument, 200), coalesce(c.error, c.written::text, 'destroyed'),
			    coalesce(got_error, got_row::text, CASE WHEN gone THEN 'destroyed' END, '?'));
		END IF;
		n := n + 1;
	END LOOP;
	ASSERT n >= 1000, format('only %s cases', n);
	ASSERT cardinality(failures) = 0, format('%s of %s cases differ from meeting.c:%s',
	    cardinality(failures), n, E'\n' || array_to_string(failures[1:20], E'\n'));
	RAISE NOTICE 'meetinghub.sql: % cases answered as meeting.c and corestore answered them', n;
END
$$;

-- 1b. The bounds: 65536 bytes a string (characters of two bytes count twice), 1000
-- attendees, checked before the entries are.
DO $$
DECLARE
	t jsonb := '{"Start":"2026-01-01T00:00Z","End":"2026-01-01T00:00Z"}';
	c record;
	got text;
BEGIN
	FOR c IN SELECT * FROM (VALUES
	    (jsonb_build_object('Title', repeat('t', 65536)), NULL),
	    (jsonb_build_object('Title', repeat('t', 65537)), 'Invalid meeting: ''Title'' is too long.'),
	    (jsonb_build_object('Description', repeat('é', 32768)), NULL),
	    (jsonb_build_object('Description', repeat('é', 32768) || 'x'), 'Invalid meeting: ''Description'' is too long.'),
	    (jsonb_build_object('RecurrenceRule', repeat('é', 32769)), 'Invalid meeting: ''RecurrenceRule'' is too long.'),
	    (jsonb_build_object('Attendees', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i)), NULL),
	    (jsonb_build_object('Attendees', (SELECT jsonb_agg(i) FROM generate_series(1, 1001) i)),
	     'Invalid meeting: ''Attendees'' has too many entries.'),
	    (jsonb_build_object('Attendees', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i) || '["x"]'),
	     'Invalid meeting: ''Attendees'' has too many entries.'),
	    (jsonb_build_object('Attendees', (SELECT jsonb_agg(i) FROM generate_series(1, 999) i) || '["x"]'),
	     'Invalid meeting: ''Attendees'' must be an array of integers.')) v(fields, error) LOOP
		got := NULL;
		BEGIN
			PERFORM pollhub.invoke('mh-w', 'create', jsonb_build_array(t || c.fields)::json);
			RAISE EXCEPTION USING ERRCODE = 'PHT01', MESSAGE = 'undo';
		EXCEPTION
			WHEN SQLSTATE 'PHT01' THEN NULL;
			WHEN raise_exception THEN got := SQLERRM;
		END;
		ASSERT got IS NOT DISTINCT FROM c.error, format('%s…: %s', left(c.fields::text, 40), got);
	END LOOP;
END
$$;

-- 2. Writes through invoke: the result is meeting_json's text; the table's trigger pushes
-- it to the others (the caller is the sender); method names in any case.
DO $$
DECLARE
	i record;
	made json;
	mid uuid;
	o record;
BEGIN
	SELECT * INTO i FROM pollhub.invoke('mh-w', 'CREATE', '[{"ID":0,"Title":"Made","Start":"2026-12-01T10:00:00.123456Z","End":"2026-12-01T11:00:00.5+01:00","Attendees":[]}]');
	made := i.result::json;
	mid := made ->> 'ID';
	ASSERT i.kind = 'value' AND i.result = (SELECT pollhub.meeting_json(m)::text FROM pollhub.meetings m WHERE m.id = mid),
	    'create answers meeting_json of the row';
	ASSERT made ->> 'Start' = '2026-12-01T10:00:00.123456Z' AND made ->> 'End' = '2026-12-01T10:00:00.500Z'
	    AND (made -> 'Attendees')::text = '[]', 'instants and an empty Attendees as meeting_json writes them';
	SELECT * INTO o FROM pollhub.outbox WHERE group_name = 'mh-cal' ORDER BY seq DESC LIMIT 1;
	ASSERT o.sender = 'mh-w' AND o.payload::jsonb = jsonb_build_object('type', 1, 'target', 'create',
	    'arguments', jsonb_build_array(made::jsonb)), 'the create is pushed to the others, as sent back';

	SELECT * INTO i FROM pollhub.invoke('mh-w', 'Update', jsonb_build_array(
	    (made::jsonb) || '{"Title":"Renamed","RoomID":0}')::json);
	ASSERT (i.result::json ->> 'Title') = 'Renamed' AND (i.result::json ->> 'RoomID') = '0'
	    AND i.result = (SELECT pollhub.meeting_json(m)::text FROM pollhub.meetings m WHERE m.id = mid),
	    'update answers the meeting as it is now';
	SELECT * INTO o FROM pollhub.outbox WHERE group_name = 'mh-cal' ORDER BY seq DESC LIMIT 1;
	ASSERT o.sender = 'mh-w' AND (o.payload::json ->> 'target') = 'update', 'the update is pushed';

	SELECT * INTO i FROM pollhub.invoke('mh-w', 'destroy', jsonb_build_array(jsonb_build_object('ID', mid))::json);
	ASSERT i.kind = 'value' AND i.result IS NULL, 'destroy: no result';
	ASSERT NOT EXISTS (SELECT FROM pollhub.meetings m WHERE m.id = mid), 'destroyed';
	SELECT * INTO o FROM pollhub.outbox WHERE group_name = 'mh-cal' ORDER BY seq DESC LIMIT 1;
	ASSERT o.sender = 'mh-w' AND (o.payload::json ->> 'target') = 'destroy', 'the destroy is pushed';
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'destroy', jsonb_build_array(jsonb_build_object('ID', mid))::json);
		ASSERT false, 'a second destroy';
	EXCEPTION WHEN raise_exception THEN
		ASSERT SQLERRM = 'Meeting not found: no meeting with this ''ID'' in this calendar.', SQLERRM;
	END;
END
$$;

-- 3. Another calendar's meeting is not found, and no meeting of this calendar.
DO $$
BEGIN
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'update', '[{"ID":"6a1d0f3e-0000-4000-8000-000000000001","Start":"2026-11-26T10:00Z","End":"2026-11-26T10:00Z"}]');
		ASSERT false, 'update of another calendar''s meeting';
	EXCEPTION WHEN raise_exception THEN
		ASSERT SQLERRM = 'Meeting not found: no meeting with this ''ID'' in this calendar.', SQLERRM;
	END;
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'destroy', '[{"ID":"6A1D0F3E-0000-4000-8000-000000000001"}]');
		ASSERT false, 'destroy of another calendar''s meeting';
	EXCEPTION WHEN raise_exception THEN
		ASSERT SQLERRM = 'Meeting not found: no meeting with this ''ID'' in this calendar.', SQLERRM;
	END;
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'create', '[{"RecurrenceID":"6a1d0f3e-0000-4000-8000-000000000001","Start":"2026-11-26T10:00Z","End":"2026-11-26T10:00Z"}]');
		ASSERT false, 'an exception of another calendar''s series';
	EXCEPTION WHEN raise_exception THEN
		ASSERT SQLERRM = 'Invalid meeting: ''RecurrenceID'' does not name a meeting of this calendar.', SQLERRM;
	END;
	ASSERT (SELECT title FROM pollhub.meetings WHERE id = '6a1d0f3e-0000-4000-8000-000000000001') = 'In another calendar',
	    'untouched';
END
$$;

-- 4. Arguments, as ASP.NET Core words them (invoke), and callers who may only read.
DO $$
DECLARE
	st text;
BEGIN
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'create', '[]');
		ASSERT false, 'create()';
	EXCEPTION WHEN SQLSTATE 'PHA01' THEN
		ASSERT SQLERRM = 'Invocation provides 0 argument(s) but target expects 1.', SQLERRM;
	END;
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'destroy', '[{}, {}]');
		ASSERT false, 'destroy(a, b)';
	EXCEPTION WHEN SQLSTATE 'PHA01' THEN
		ASSERT SQLERRM = 'Invocation provides 2 argument(s) but target expects 1.', SQLERRM;
	END;
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'read', '[{}, {}]');
		ASSERT false, 'read(a, b)';
	EXCEPTION WHEN SQLSTATE 'PHA01' THEN
		ASSERT SQLERRM = 'Invocation provides 2 argument(s) but target expects 0 or 1.', SQLERRM;
	END;
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'nope', '[]');
		ASSERT false, 'nope()';
	EXCEPTION WHEN SQLSTATE 'PHM01' THEN
		ASSERT SQLERRM = 'Method does not exist.', SQLERRM;
	END;
	-- The helpers of the schema are no methods.
	BEGIN
		PERFORM pollhub.invoke('mh-w', 'meeting_of', '[{}, "create"]');
		ASSERT false, 'meeting_of()';
	EXCEPTION WHEN SQLSTATE 'PHM01' THEN
		NULL;
	END;
	-- A reader may read, not write: refused before the method runs (and before it
	-- validates anything), in hub.c's words.
	ASSERT (SELECT kind FROM pollhub.invoke('mh-r', 'read', '[]')) = 'query', 'a reader reads';
	FOREACH st IN ARRAY ARRAY['create', 'update', 'destroy'] LOOP
		BEGIN
			PERFORM pollhub.invoke('mh-r', st, '[{"Title":5}]');
			ASSERT false, st || ' by a reader';
		EXCEPTION WHEN insufficient_privilege THEN
			ASSERT SQLERRM = 'Not allowed: user ''reader'' may only read calendar ''mh-cal''.', SQLERRM;
		END;
	END LOOP;
	-- A grant lowered after the invocation began: the meetings trigger refuses the
	-- write, and its error reaches the responder as it is (42501), not as a client's.
	BEGIN
		PERFORM meetinghub.create(ROW('MeetingHub', 'mh-r', 'mh-cal', 'reader', 'write')::pollhub.hub_call,
		    '{"Start":"2026-11-26T10:00Z","End":"2026-11-26T10:00Z"}');
		ASSERT false, 'the trigger let a reader write';
	EXCEPTION WHEN insufficient_privilege THEN
		ASSERT SQLERRM LIKE 'Not allowed:%', SQLERRM;
	END;
END
$$;

-- 5. The database's refusals, worded as corestore's meeting_failure worded them: a
-- constraint named by the client's field, any other constraint by its message, a date
-- out of PostgreSQL's range. (Changes to the table by its owner, undone at the end.)
RESET ROLE;
ALTER TABLE pollhub.meetings ADD CONSTRAINT mh_test_title CHECK (title <> 'forbidden');
CREATE FUNCTION pg_temp.overflow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.title = 'overflow' THEN
		RAISE EXCEPTION 'timestamp out of range' USING ERRCODE = 'datetime_field_overflow';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER mh_test_overflow BEFORE INSERT OR UPDATE ON pollhub.meetings
	FOR EACH ROW EXECUTE FUNCTION pg_temp.overflow();
SET LOCAL ROLE pollhub_app;
DO $$
DECLARE
	t text;
	msg text;
BEGIN
	FOR t, msg IN VALUES
	    ('forbidden', 'Invalid meeting: new row for relation "meetings" violates check constraint "mh_test_title"'),
	    ('overflow', 'Invalid meeting: a date is out of range.') LOOP
		BEGIN
			PERFORM pollhub.invoke('mh-w', 'create', jsonb_build_array(jsonb_build_object(
			    'Title', t, 'Start', '2026-11-26T10:00Z', 'End', '2026-11-26T10:00Z'))::json);
			ASSERT false, 'create ' || t;
		EXCEPTION WHEN raise_exception THEN
			ASSERT SQLERRM = msg, SQLERRM;
		END;
		BEGIN
			PERFORM pollhub.invoke('mh-w', 'update', jsonb_build_array(jsonb_build_object(
			    'ID', '3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'Title', t,
			    'Start', '2026-11-26T10:00Z', 'End', '2026-11-26T10:00Z'))::json);
			ASSERT false, 'update ' || t;
		EXCEPTION WHEN raise_exception THEN
			ASSERT SQLERRM = msg, SQLERRM;
		END;
	END LOOP;
	-- The end before the start never reaches the table (validated first); were it to,
	-- it would read the same.
	ASSERT meetinghub.write_failure('23514', 'meetings_end_after_start', 'x')
	    = 'Invalid meeting: ''End'' must not be before ''Start''.', 'meetings_end_after_start';
END
$$;
RESET ROLE;
DROP TRIGGER mh_test_overflow ON pollhub.meetings;
ALTER TABLE pollhub.meetings DROP CONSTRAINT mh_test_title;
SET LOCAL ROLE pollhub_app;

-- 6. read: the whole calendar, or the meetings overlapping the range [Start, End) and
-- the recurring series that recur into it, ordered by Start then ID.
RESET ROLE;
INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, recurrence_rule, id) VALUES
	('mh-read', 'inside', '2026-03-02T09:00Z', '2026-03-02T10:00Z', NULL, gen_random_uuid()),
	('mh-read', 'ends at Start', '2026-02-28T00:00Z', '2026-03-02T00:00Z', NULL, gen_random_uuid()),
	('mh-read', 'starts at End', '2026-03-09T00:00Z', '2026-03-09T01:00Z', NULL, gen_random_uuid()),
	('mh-read', 'spans the week', '2026-02-01T00:00Z', '2026-04-01T00:00Z', NULL, gen_random_uuid()),
	('mh-read', 'weekly since January', '2026-01-05T08:00Z', '2026-01-05T08:30Z', 'FREQ=WEEKLY;BYDAY=MO',
	 'a0000000-0000-4000-8000-000000000001'),
	('mh-read', 'ended in February', '2026-01-06T08:00Z', '2026-01-06T08:30Z', 'FREQ=DAILY;UNTIL=20260201T000000Z', gen_random_uuid()),
	('mh-read', 'until the day of Start', '2026-01-07T08:00Z', '2026-01-07T08:30Z', 'FREQ=DAILY;UNTIL=20260302', gen_random_uuid()),
	('mh-read', 'series after End', '2026-03-10T08:00Z', '2026-03-10T08:30Z', 'FREQ=DAILY', gen_random_uuid()),
	('mh-read', 'microseconds', '2026-03-03T09:00:00.000001Z', '2026-03-03T09:00:00.123Z', '', gen_random_uuid()),
	('mh-other', 'another calendar', '2026-03-03T09:00Z', '2026-03-03T10:00Z', NULL, gen_random_uuid());
INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, recurrence_id) VALUES
	('mh-read', 'exception in January', '2026-01-12T09:00Z', '2026-01-12T09:30Z', 'a0000000-0000-4000-8000-000000000001'),
	('mh-read', 'exception this week', '2026-03-02T09:00Z', '2026-03-02T09:30Z', 'a0000000-0000-4000-8000-000000000001');
SET LOCAL ROLE pollhub_app;
DO $$
DECLARE
	week text[] := ARRAY['weekly since January', 'until the day of Start', 'spans the week', 'ends at Start',
		'inside', 'exception this week', 'microseconds'];
	q jsonb;
	titles text[];
BEGIN
	-- Ordered by Start, then ID: "inside" and "exception this week" start together.
	IF (SELECT id FROM pollhub.meetings WHERE title = 'exception this week')
	    < (SELECT id FROM pollhub.meetings WHERE title = 'inside') THEN
		week := ARRAY['weekly since January', 'until the day of Start', 'spans the week', 'ends at Start',
			'exception this week', 'inside', 'microseconds'];
	END IF;
	FOREACH q IN ARRAY ARRAY['{"Start":"2026-03-02T00:00:00.000Z","End":"2026-03-09T00:00:00.000Z"}',
	    '{"start":"2026-03-02T01:00:00+01:00","END":"2026-03-09T00:00:00.000000000z"}',
	    '{"sTaRt":"2026-03-02T00:00Z","eNd":"2026-03-09T00:00Z","filter":null,"take":5}']::jsonb[] LOOP
		SELECT array_agg(r::json ->> 'Title') INTO titles FROM pg_temp.read('mh-q', q) r;
		ASSERT titles = week, format('read(%s): %s', q, titles);
	END LOOP;
	-- Start alone: from then on; End alone: until then.
	SELECT array_agg(r::json ->> 'Title') INTO titles
	  FROM pg_temp.read('mh-q', '{"Start":"2026-03-09T00:00Z"}') r;
	ASSERT titles = ARRAY['weekly since January', 'spans the week', 'starts at End', 'series after End'],
	    format('Start alone: %s', titles);
	SELECT array_agg(r::json ->> 'Title') INTO titles
	  FROM pg_temp.read('mh-q', '{"End":"2026-01-06T08:00Z", "Start": null}') r;
	ASSERT titles = ARRAY['weekly since January'], format('End alone: %s', titles);
	-- No range: the whole calendar (and nothing of another).
	FOREACH q IN ARRAY ARRAY[NULL, '{}', 'null', '{"Start":null,"End":null}', '{"filter":null}']::jsonb[] LOOP
		SELECT array_agg(r::json ->> 'Title') INTO titles FROM pg_temp.read('mh-q', q) r;
		ASSERT titles = (SELECT array_agg(m.title ORDER BY m.start_at, m.id) FROM pollhub.meetings m
		    WHERE m.group_name = 'mh-read'), format('read(%s): %s', q, titles);
	END LOOP;
	-- Each row is sent as meeting_json would send it, byte for byte.
	ASSERT (SELECT count(*) FROM pg_temp.read('mh-q', NULL) r
		  JOIN pollhub.meetings m ON m.id = (r::json ->> 'ID')::uuid
		 WHERE r = pollhub.meeting_json(m)::text) = 11, 'read''s JSON is meeting_json''s';
	ASSERT (SELECT count(*) FROM pg_temp.read('mh-w', NULL) r
		  JOIN pollhub.meetings m ON m.id = (r::json ->> 'ID')::uuid
		 WHERE r = pollhub.meeting_json(m)::text) = 1, 'read''s JSON is meeting_json''s (mh-cal)';
END
$$;

-- 7. read stays inlinable: the responder's statement scans pollhub.meetings, through
-- the range indexes, and never calls the function.
DO $$
DECLARE
	plan text := '';
	l text;
BEGIN
	FOR l IN EXPLAIN SELECT r."ID" FROM meetinghub.read(pollhub.hub_call_of('mh-q'),
	    '{"Start":"2026-03-02T00:00Z","End":"2026-03-09T00:00Z"}'::jsonb) r WHERE true ORDER BY r."Start", r."ID" LOOP
		plan := plan || l || E'\n';
	END LOOP;
	ASSERT plan NOT LIKE '%Function Scan on read%' AND plan LIKE '%on meetings m%', 'read is inlined:' || E'\n' || plan;
END
$$;

ROLLBACK;
\echo meetinghub.sql: all assertions held
