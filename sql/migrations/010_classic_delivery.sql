-- 010_classic_delivery: classic connections' delivery holes closed (issue 10).
--
-- * A classic stream no longer moves its membership cursor to what it wrote:
--   the cursor stays what the client acknowledged (the messageId of the
--   /connect or /reconnect that opened the stream), and the position written
--   goes to memberships.sent (009_delivery.sql), which the pending cap and
--   the trim count. classic_drain takes both (p_ack, p_from) and returns one
--   row per record with its seq, so a record that cannot be turned into a
--   classic push is skipped alone.
-- * A Core connection's token is unknown on classic endpoints: classic_connect
--   and classic_receive_begin no longer report it ('transport'), and
--   classic_receive_begin answers a status like the others.
--
-- Their signatures changed (CREATE OR REPLACE cannot change a function's
-- arguments or result type): the old ones are dropped here, and
-- sql/functions/50_classic.sql defines the new ones.

DROP FUNCTION IF EXISTS pollhub.classic_drain(text, bigint, bigint, integer);
DROP FUNCTION IF EXISTS pollhub.classic_receive_begin(text);
