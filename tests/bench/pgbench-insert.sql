-- The smallest create: the meeting INSERT with its outbox trigger, the sender set for
-- the transaction. What any server storing meetings in this schema must pay at least.
BEGIN;
SET LOCAL pollhub.sender = 'pgbench';
INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, is_all_day)
  VALUES ('bench-g' || :client_id, 't pgbench', '2026-11-26T10:00:00Z',
    '2026-11-26T10:30:00Z', false);
COMMIT;
