-- 020_fanout (issue 22): the fan-out's writes of connections become HOT.
--
-- Every long poll writes its connection row (poll_begin, the fan-out ending
-- it, poll_drain), and a stream's row is vouched for by touch(): all of them
-- set last_seen. With last_seen indexed, none of those updates could be HOT
-- (heap-only: no index entry written), so each wrote every index of the table.
-- The one reader of the index was the reaper (reap_stale_ids), every few
-- seconds; it now scans the table, which at 10,000 connections is about a
-- millisecond.
DROP INDEX IF EXISTS pollhub.connections_last_seen;

-- Room on each page for the new versions of its rows, so those updates stay
-- HOT (a long poll's row and every member's cursor are written per push).
-- Applies to pages written from now on.
ALTER TABLE pollhub.connections SET (fillfactor = 80);
ALTER TABLE pollhub.memberships SET (fillfactor = 80);
