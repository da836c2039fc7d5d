-- 016_read_range: read() by the Scheduler's visible range (issue 21). A
-- one-week read of a calendar of any size must not scan the calendar: a GiST
-- index over (calendar, the meeting's span) finds the meetings overlapping a
-- range, and a partial index the few recurring series, whose head may lie
-- long before the range they recur into. btree_gist gives GiST the calendar's
-- text column; it is a trusted extension (PostgreSQL 13+), so the database's
-- owner may create it. Kept in the pollhub schema with everything else.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA pollhub;

CREATE INDEX meetings_group_span ON pollhub.meetings
	USING gist (group_name, tstzrange(start_at, end_at, '[]'));
CREATE INDEX meetings_group_series ON pollhub.meetings (group_name, start_at)
	WHERE recurrence_rule <> '' AND recurrence_id IS NULL;
