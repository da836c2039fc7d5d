-- 013_batch_budget: a batched drain has a total byte budget beside the one of
-- each waiter (issue 18): drain_many takes p_total, and says 'later' for the
-- waiters past it. Its argument list changes, so the old one is dropped here;
-- sql/functions/30_fanout.sql defines the new one.

DROP FUNCTION IF EXISTS pollhub.drain_many(text[], bigint[], integer);
