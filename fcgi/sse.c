#include "sse.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "send.h"

#define DB_RETRY 1	/* seconds before draining again after a database error */
#define HANDSHAKE_TIMEOUT 15	/* seconds a stream waits for its handshake, as ASP.NET Core */

static const char ping_event[] = "data: {\"type\":6}\x1e\r\n\r\n";

int
sse_frame(struct buf *out, const char *payload, size_t len)
{
	size_t start = 0;

	while (start <= len) {
		const char *lf = memchr(payload + start, '\n', len - start);
		size_t end = lf != NULL ? (size_t)(lf - payload) : len;
		size_t line = end - start;

		if (lf != NULL && line > 0 && payload[end - 1] == '\r')
			line--;
		if (buf_puts(out, "data: ") == -1 ||
		    buf_append(out, payload + start, line) == -1 ||
		    buf_puts(out, "\r\n") == -1)
			return -1;
		if (lf == NULL)
			break;
		start = end + 1;
	}
	return buf_puts(out, "\r\n");
}

/* ENDED: the connection is gone or closed (already removed); LEFT: the
 * client stopped reading. */
enum outcome { GOING_ON, ENDED, LEFT, DB_DOWN };

/* Write records as one event. -1 when the client is gone. */
static int
emit(struct http_request *h, const struct buf *records, struct buf *event)
{
	if (records->len == 0)
		return 0;
	/* A Close going out ends the stream: the server ended it, not the client. */
	if (send_log_close(h->conn_id, records->data, records->len))
		h->server_closed = 1;
	buf_reset(event);
	if (sse_frame(event, records->data, records->len) == -1)
		return -1;
	return http_write(h, event->data, event->len);
}

/* Drain what is pending ourselves (after what a batch delivered) and write it. */
static enum outcome
pump(struct app *app, struct http_request *h, const char *token, const struct poll_info *pi,
    struct waiter *w, struct buf *records, struct buf *event, int *wrote)
{
	PGconn *db;
	enum drain_status ds = DRAIN_OK;
	enum store_status st = STORE_ERROR;

	*wrote = 0;
	buf_reset(records);
	waiter_drain_begin(app->notifier, w, records);
	if ((db = store_acquire(app->store)) != NULL) {
		st = store_poll_drain(db, token, pi->poll_no, records, &ds);
		store_release(app->store, db);
	}
	waiter_drain_end(app->notifier, w);
	if (st != STORE_OK) {
		/* What a batch delivered is drained already: send it. */
		if (records->len > 0 && emit(h, records, event) == -1)
			return LEFT;
		*wrote = records->len > 0;
		return DB_DOWN;
	}
	/* A closing connection's last records (a Close message) go out first. */
	if (records->len > 0) {
		if (emit(h, records, event) == -1)
			return LEFT;
		*wrote = 1;
	}
	if (ds == DRAIN_GONE || ds == DRAIN_CLOSED)
		return ENDED;
	if (ds == DRAIN_LAST)
		return LEFT;	/* the Close went out: end the stream, remove the connection */
	return ds == DRAIN_OK ? GOING_ON : LEFT;
}

static void
add_seconds(struct timespec *t, const struct timespec *from, int secs)
{
	*t = *from;
	t->tv_sec += secs;
}

static int
reached(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/* Refuse a stream with ASP.NET Core's status and text. */
static int
refuse(struct http_request *h, enum store_status st, enum stream_status ss)
{
	if (st != STORE_OK)
		return http_text(h, 503, "Service Unavailable");
	switch (ss) {
	case STREAM_GONE:
		return http_text(h, 404, "No Connection with that ID");
	case STREAM_TRANSPORT:
		return http_text(h, 400, "Cannot change transports mid-connection");
	case STREAM_BUSY:
		return http_text(h, 409, "");
	case STREAM_OK:
		break;
	}
	return 0;
}

/* Hold the stream until it ends, then remove the connection, or park it for
 * the next image when the responder restarts in place. handshaken: records
 * went out already (a resumed stream). No Ping goes out before the first
 * records: the client expects the handshake answer first, whatever the load
 * ("Expected a handshake response from the server"). */
static void
serve(struct app *app, struct http_request *h, const char *token, const struct poll_info *pi,
    int handshaken)
{
	struct waiter w;
	struct buf records = BUF_INIT, event = BUF_INIT;
	struct timespec now, last_write, retry_at, wake, handshake_by;
	enum outcome oc = GOING_ON;
	const char *why = "client (stream closed)";
	int need_drain = 1, wrote, park = 0;
	PGconn *db;

	/* Register before the first drain so no wake-up can fall in between. */
	waiter_register(app->notifier, &w, pi->connection_id, pi->group, pi->poll_no, 1);
	clock_gettime(CLOCK_MONOTONIC, &last_write);
	retry_at = last_write;
	/* Without pings before it, only this ends the stream of a client that
	 * never handshakes (or left before it did). */
	add_seconds(&handshake_by, &last_write, HANDSHAKE_TIMEOUT);
	for (;;) {
		if (atomic_load(&app->handing_off)) {
			park = 1;
			break;
		}
		if (atomic_load(&app->stopping)) {
			why = "server shutting down";
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (need_drain && reached(&now, &retry_at)) {
			oc = pump(app, h, token, pi, &w, &records, &event, &wrote);
			if (oc == ENDED || oc == LEFT) {
				why = oc == ENDED ? "ended by the server or a DELETE" :
				    "client (stream closed)";
				break;
			}
			if (wrote) {
				clock_gettime(CLOCK_MONOTONIC, &last_write);
				handshaken = 1;
			}
			if (oc == DB_DOWN) {
				/* Keep the stream; pings go on while the database is away. */
				add_seconds(&retry_at, &now, DB_RETRY);
			} else
				need_drain = 0;
		}
		if (http_client_gone(h))
			break;
		add_seconds(&wake, &last_write, app->cfg.keepalive_interval);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (reached(&now, &wake) && handshaken) {
			if (http_write(h, ping_event, sizeof(ping_event) - 1) == -1)
				break;
			last_write = now;
			continue;
		}
		if (!handshaken && reached(&now, &handshake_by)) {
			why = "timeout (no handshake in time)";
			break;
		}
		if (reached(&now, &wake))
			add_seconds(&wake, &now, app->cfg.keepalive_interval);
		if (need_drain && !reached(&retry_at, &wake))
			wake = retry_at;
		buf_reset(&records);
		switch (waiter_wait(app->notifier, &w, &wake, &records)) {
		case WAIT_DELIVERED:	/* the notifier drained for us */
			if (emit(h, &records, &event) == -1)
				goto done;
			clock_gettime(CLOCK_MONOTONIC, &last_write);
			handshaken |= records.len > 0;
			break;
		case WAIT_DRAIN:
			need_drain = 1;
			break;
		case WAIT_TIMEOUT:
			break;
		}
	}
done:
	buf_reset(&records);
	waiter_unregister(app->notifier, &w, &records);
	/* Records a batch drained for us meanwhile: send them if we still can. */
	if (records.len > 0 && (oc == ENDED || emit(h, &records, &event) == -1)) {
		log_warn("connection %s: %zu bytes of records not delivered", pi->connection_id,
		    records.len);
		park = 0;	/* the client is gone */
	}
	buf_free(&records);
	buf_free(&event);
	/* What is pending from now on stays in the tables: the next image's
	 * first drain sends it. */
	if (park && handoff_park(app->handoff, h, token, pi) == 0) {
		log_debug("connection %s: stream parked for the next image", pi->connection_id);
		return;
	}
	if (park)
		why = "restart (the stream could not be handed over)";
	/* One line per disconnect: a DELETE, a client's Close, a kick, the cap
	 * and the reaper log theirs where they happen. */
	if (oc == ENDED || h->server_closed)
		log_debug("connection %s: stream %s", pi->connection_id, why);
	else
		log_info("connection %s: disconnected: %s", pi->connection_id, why);
	/* A stream is the connection's whole life: when it ends the connection
	 * leaves its groups now, like ASP.NET Core (no disconnect grace). */
	if (oc != ENDED && (db = store_acquire(app->store)) != NULL) {
		enum store_status st = store_connection_delete(db, token, PROTO_CORE);

		if (st == STORE_ERROR || st == STORE_BUSY)
			log_warn("connection %s: not removed; the reaper will", pi->connection_id);
		store_release(app->store, db);
	}
}

void
sse_handle(struct app *app, struct http_request *h, const char *token)
{
	struct poll_info pi;
	enum stream_status ss = STREAM_GONE;
	enum store_status st = STORE_ERROR;
	PGconn *db;

	if (atomic_load(&app->stopping) || atomic_load(&app->handing_off)) {
		/* Do not bind the connection to a stream about to end. */
		http_text(h, 503, "Service Unavailable");
		return;
	}
	if ((db = store_acquire(app->store)) != NULL) {
		st = store_stream_begin(db, token, &pi, &ss);
		store_release(app->store, db);
	}
	if (st == STORE_OK)
		snprintf(h->conn_id, sizeof(h->conn_id), "%s", pi.connection_id);
	if (st != STORE_OK || ss != STREAM_OK) {
		refuse(h, st, ss);
		return;
	}
	log_info("connection %s: connected (ServerSentEvents, group %s)", pi.connection_id,
	    LOG_TEXT(pi.group));
	/* The comment makes browsers fire "open" at once (ASP.NET does the same). */
	if (http_stream_start(h) == -1 || http_write(h, ":\r\n", 3) == -1) {
		if ((db = store_acquire(app->store)) != NULL) {
			store_connection_delete(db, token, PROTO_CORE);
			store_release(app->store, db);
		}
		return;
	}
	serve(app, h, token, &pi, 0);
}

void
sse_resume(struct app *app, struct http_request *h, const char *token,
    const struct poll_info *pi)
{
	snprintf(h->conn_id, sizeof(h->conn_id), "%s", pi->connection_id);
	log_debug("connection %s: stream resumed", pi->connection_id);
	serve(app, h, token, pi, 1);
}
