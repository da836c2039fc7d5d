-- The responder's create transaction (pgbench-create.sql) with MeetingHub's create
-- written out as its INSERT and the trigger's work, so that the NOTIFYs can be left
-- out: `-D notify=1 -D notify_c=1` sends both (the push's `g:` and the completion's
-- `c:`, as the responder's transaction does), `-D notify=1 -D notify_c=0` the push's
-- alone, `-D notify=0 -D notify_c=0` neither. The difference is what PostgreSQL's
-- commit-time NOTIFY costs (a lock serialising every notifying commit: taken once per
-- transaction, however many it sends). Triggers are turned off for the transaction
-- (session_replication_role = replica, superuser: the private cluster's owner), which
-- also skips the foreign-key checks: compare these runs with each other, not with
-- pgbench-create.sql.
BEGIN;
SELECT id, group_name, handshaken, closing, inbound, locked
  FROM pollhub.send_begin('bench-t' || :client_id, false, false);
SET LOCAL session_replication_role = replica;
SAVEPOINT invocation;
INSERT INTO pollhub.meetings AS m (group_name, title, description, start_at, end_at,
    start_timezone, end_timezone, is_all_day, room_id, recurrence_rule, recurrence_id,
    recurrence_exception, attendees)
  VALUES ('bench-g' || :client_id, 't pgbench', NULL, '2026-11-26T10:00:00Z',
    '2026-11-26T10:30:00Z', NULL, NULL, 'false', NULL, NULL, NULL, NULL, '{}')
  RETURNING pollhub.meeting_json(m) AS meeting \gset
-- pollhub.enqueue, as the meetings_push trigger runs it
WITH s AS (INSERT INTO pollhub.groups AS gr (name, last_seq) VALUES ('bench-g' || :client_id, 1)
    ON CONFLICT (name) DO UPDATE SET last_seq = gr.last_seq + 1 RETURNING gr.last_seq)
  INSERT INTO pollhub.outbox (group_name, seq, sender, payload)
  SELECT 'bench-g' || :client_id, s.last_seq, 'bench-c' || :client_id,
      json_build_object('type', 1, 'target', 'create',
        'arguments', json_build_array(CAST(:meeting AS json)))::text
    FROM s;
\if :notify
SELECT pg_notify('pollhub', 'g:' || 'bench-g' || :client_id);
\endif
-- the completion, stamped as connection_messages_stamp would
INSERT INTO pollhub.connection_messages (connection_id, group_seq, payload)
  VALUES ('bench-c' || :client_id,
    (SELECT last_seq FROM pollhub.groups WHERE name = 'bench-g' || :client_id),
    '{"type":3,"invocationId":"0","result":' || :meeting || '}');
\if :notify_c
SELECT pg_notify('pollhub', 'c:' || 'bench-c' || :client_id);
\endif
COMMIT;
