-- Removes the connections pgbench-setup.sql made (memberships and queued completions
-- cascade; the reaper trims the outbox and forgets the empty groups). The meetings stay:
-- deleting them would push a destroy for each, and the database is thrown away anyway.
DELETE FROM pollhub.connections WHERE id LIKE 'bench-c%';
