-- 008_classic: classic ASP.NET SignalR 2.x clients (jquery.signalR) beside
-- the Core ones, in the same tables.
--
-- A classic connection is a row of pollhub.connections with transport
-- 'ClassicLongPolling' or 'ClassicServerSentEvents' (set at negotiate, and at
-- /connect to the transport it connects with). It joins its group at
-- /connect like a Core connection at its handshake, and its pushes are the
-- same outbox rows. What differs is the cursor: a classic client names the
-- last message it processed (messageId, the "C" the server wrote), so a
-- receive reads the group's outbox rows after that position and does not
-- consume anything (the client may ask again from the same position: a lost
-- poll answer, a reconnect). The membership cursor is the position the
-- client has acknowledged (the messageId of its latest receive request):
-- the reaper's trim keeps every row after it, so a reconnect with the last
-- messageId gets everything it missed, exactly once.
--
-- Classic waiters are never drained by drain_many (fcgi/classic.c registers
-- them with a poll number no row has): the notifier tells them to drain
-- themselves, with classic_drain below.

ALTER TABLE pollhub.connections DROP CONSTRAINT connections_transport_check;
ALTER TABLE pollhub.connections ADD CONSTRAINT connections_transport_check
	CHECK (transport IN ('LongPolling', 'ServerSentEvents',
		'ClassicLongPolling', 'ClassicServerSentEvents'));
