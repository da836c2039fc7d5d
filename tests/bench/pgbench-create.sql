-- One hub `create` exactly as the responder runs it for a POST of one invocation
-- (fcgi/send.c + common/store.c): take the connection's send lock (send_begin), set the sender, the insert in
-- a savepoint (the trigger queues the push in the group's outbox and NOTIFYs), queue the
-- completion for the caller and NOTIFY it, store the connection's leftover input, commit.
-- Run with -M extended: the responder sends parameters (PQexecParams), and :meeting
-- below holds JSON that only a parameter can carry unquoted.
BEGIN;
SELECT id, group_name, handshaken, closing, inbound, locked
  FROM pollhub.send_begin('bench-t' || :client_id, false, false);
SELECT set_config('pollhub.sender', 'bench-c' || :client_id, true);
SAVEPOINT invocation;
INSERT INTO pollhub.meetings AS m (group_name, title, description, start_at, end_at,
    start_timezone, end_timezone, is_all_day, room_id, recurrence_rule, recurrence_id,
    recurrence_exception, attendees)
  VALUES ('bench-g' || :client_id, 't pgbench', NULL, '2026-11-26T10:00:00Z',
    '2026-11-26T10:30:00Z', NULL, NULL, 'false', NULL, NULL, NULL, NULL, '{}')
  RETURNING pollhub.meeting_json(m) AS meeting \gset
RELEASE SAVEPOINT invocation;
WITH q AS (INSERT INTO pollhub.connection_messages (connection_id, payload)
    VALUES ('bench-c' || :client_id,
      '{"type":3,"invocationId":"0","result":' || :meeting || '}'))
  SELECT pg_notify('pollhub', 'c:' || 'bench-c' || :client_id);
UPDATE pollhub.connections SET inbound = '', handshaken = true, last_seen = now()
  WHERE id = 'bench-c' || :client_id;
COMMIT;
