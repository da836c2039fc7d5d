-- pgbench fixtures for `make bench`: one open, handshaken LongPolling connection per
-- pgbench client (bench-c<N>, token bench-t<N>), alone in its group bench-g<N>, as
-- loadgen's throughput callers are. poll_active keeps the responder's reaper away from
-- them while the benchmark runs (each transaction also refreshes last_seen).
-- psql -v clients=N -f pgbench-setup.sql
INSERT INTO pollhub.connections (id, token, group_name, transport, handshaken, poll_active)
SELECT 'bench-c' || i, 'bench-t' || i, 'bench-g' || i, 'LongPolling', true, true
  FROM generate_series(0, :clients - 1) AS i
    ON CONFLICT DO NOTHING;
SELECT pollhub.join_group('bench-c' || i, 'bench-g' || i)
  FROM generate_series(0, :clients - 1) AS i;
