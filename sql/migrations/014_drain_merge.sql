-- 014_drain_merge: one drain merge (issue 19). drain_many takes p_one, with
-- which drain_one drains a single connection through it, so its argument
-- list changes: the old one is dropped here; sql/functions/30_fanout.sql
-- defines the new one (and drain_one, whose signature is unchanged).

DROP FUNCTION IF EXISTS pollhub.drain_many(text[], bigint[], integer, integer);
