-- 012_answer_budget: every answer is bounded in bytes (issue 12): drain_one,
-- poll_drain and drain_many take a byte budget (and say whether they left
-- records behind). Their argument lists change, so the old ones are dropped
-- here; sql/functions/20_connections.sql and 30_fanout.sql define the new ones.

DROP FUNCTION IF EXISTS pollhub.poll_drain(text, bigint);
DROP FUNCTION IF EXISTS pollhub.drain_one(pollhub.connections);
DROP FUNCTION IF EXISTS pollhub.drain_many(text[], bigint[]);
