-- One hub `create` exactly as the responder runs it for a POST of one invocation
-- (fcgi/send.c, common/hub.c, common/hubstore.c, common/corestore.c): take the
-- connection's send lock (send_begin, which also sets the sender), a savepoint, the
-- method through pollhub.invoke (MeetingHub's create: its INSERT's trigger queues the
-- push in the group's outbox and NOTIFYs), queue the completion for the caller and
-- NOTIFY it, commit (the savepoint is not released: COMMIT commits it). The connection's
-- row is not written: nothing of it changed (its inbound empty before and after). The
-- invocation is loadgen's. Run with -M extended: the responder sends parameters
-- (PQexecParams), and :meeting below holds JSON that only a parameter can carry unquoted.
BEGIN;
SELECT id, group_name, handshaken, closing, inbound, locked
  FROM pollhub.send_begin('bench-t' || :client_id, false, false);
SAVEPOINT invocation;
-- ": " with a space: pgbench would read ":false" as a variable.
SELECT kind, result AS meeting, fn, item, call_hub, call_group, call_user, call_permission
  FROM pollhub.invoke('bench-c' || :client_id, 'create',
    '[{"ID": null,"Title":"t 1234567890123456789","Start":"2026-11-26T10:00:00Z","End":"2026-11-26T10:30:00Z","IsAllDay": false}]'::json) \gset
WITH q AS (INSERT INTO pollhub.connection_messages (connection_id, payload, group_seq)
    VALUES ('bench-c' || :client_id,
      '{"type":3,"invocationId":"0","result":' || :meeting || '}', NULL::bigint))
  SELECT pg_notify('pollhub', 'c:' || 'bench-c' || :client_id);
COMMIT;
