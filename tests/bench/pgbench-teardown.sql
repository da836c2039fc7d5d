-- Removes what pgbench-setup.sql and the pgbench runs left (memberships and queued
-- completions cascade; the reaper trims the outbox and forgets the empty groups).
DELETE FROM pollhub.connections WHERE id LIKE 'bench-c%';
DELETE FROM pollhub.meetings WHERE group_name LIKE 'bench-g%';
