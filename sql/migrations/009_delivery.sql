-- 009_delivery: delivery that survives a shared database (issue 10).
--
-- * connection_messages.group_seq: the connection's group's last_seq visible
--   when the row was queued. A drain merges the connection's own queue with
--   its group's pushes by it: a push with seq <= group_seq was committed
--   before the row was written (a read() result that reflects a change comes
--   after the push of that change), one with a larger seq after it.
-- * memberships.sent: for a classic stream, the position written so far,
--   while cursor stays what the client acknowledged (NULL otherwise).
-- * responders: the reap thresholds every responder uses (the longest of
--   those alive), so two responders with different timeouts never reap each
--   other's live clients.
-- * Functions whose signature changed are dropped here; sql/functions/
--   defines them again (CREATE OR REPLACE cannot change a signature).

ALTER TABLE pollhub.connection_messages ADD COLUMN group_seq bigint;
UPDATE pollhub.connection_messages SET group_seq = 0;
ALTER TABLE pollhub.connection_messages ALTER COLUMN group_seq SET NOT NULL;

ALTER TABLE pollhub.memberships ADD COLUMN sent bigint;

-- The responders alive now and their timeouts. The reap thresholds in force
-- are the longest of any responder seen lately (pollhub.reap_thresholds()),
-- so two responders with different POLLHUB_POLL_TIMEOUT never reap each
-- other's live polls, and a responder restarted with a shorter one takes
-- effect once the old row is gone. Each responder registers at start-up,
-- is seen again by every maintenance run, and leaves when it stops.
CREATE TABLE pollhub.responders (
	id			text PRIMARY KEY,	-- host:pid:random
	poll_timeout		interval NOT NULL,
	disconnect_timeout	interval NOT NULL,
	started_at		timestamptz NOT NULL DEFAULT now(),
	seen_at			timestamptz NOT NULL DEFAULT now()
);

-- Replaced by other signatures or gone (the reaper is pollhub.maintain now).
DROP FUNCTION IF EXISTS pollhub.disconnect(text);
DROP FUNCTION IF EXISTS pollhub.send_begin(text, boolean);
DROP FUNCTION IF EXISTS pollhub.reap(interval, interval, integer);
DROP FUNCTION IF EXISTS pollhub.close_overfull(integer);
DROP FUNCTION IF EXISTS pollhub.reap_now(interval, interval);
