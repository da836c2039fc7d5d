-- 011_maintain_ids: maintain() also returns the ids it reaped and closed
-- (the first 20 of each), for the responder's log (issue 13). A procedure's
-- INOUT arguments are its signature: the old one is dropped here, and
-- sql/functions/40_reap.sql defines the new one.

DROP PROCEDURE IF EXISTS pollhub.maintain(text, interval, interval, integer, integer, integer,
	integer, double precision);
