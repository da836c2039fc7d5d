#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hold.h"

#include "delivery.h"
#include "heldstreams.h"
#include "log.h"
#include "monotime.h"

#define HANDSHAKE_TIMEOUT 15	/* seconds a stream waits for its handshake, as ASP.NET Core */
#define PUMP_ROUNDS 8	/* drains in one step at most: the job thread is shared */
#define PROBE_MS 1000	/* a blocked stream takes one record at most this often */

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

/* Refuse a stream with ASP.NET Core's status and text: st the statement's,
 * verdict the stream's. */
static enum ph_err
refuse(struct http_request *h, enum ph_err st, enum ph_err verdict)
{
	if (st != PH_OK)
		return http_error(h, st);
	if (verdict == PH_BUSY)	/* the connection has a stream open already */
		return http_text(h, 409, "");
	if (verdict != PH_OK)	/* PH_NOT_FOUND, PH_TRANSPORT */
		return http_error(h, verdict);
	return PH_OK;
}

/* A stream the event loop holds. */
struct ss {
	char		 token[64];
	struct poll_info pi;
	int		 registered;	/* its waiter is (unregistered when parked) */
	int		 handshaken;	/* records went out: pings may follow */
	int		 need_drain;
	int		 hinted;	/* told of news while blocked: probe (PROBE_MS) */
	int		 server_closed;	/* a Close from the server went out */
	long long	 last_write, retry_at, handshake_by, probe_at;	/* ms */
	struct buf	 records;	/* between a drain and its event (buf_shrink after) */
	/* Listed while held, so that its Pings skip the database (send.c). */
	struct heldstreams *streams;
	struct heldstream held;
};

static void
ss_free(void *state)
{
	struct ss *ss = state;

	if (ss->streams != NULL)
		heldstreams_remove(ss->streams, &ss->held);
	buf_free(&ss->records);
	free(ss);
}

/* Records as one event onto out. -1 when out of memory. */
static int
emit(struct ss *ss, const struct buf *records, struct buf *out)
{
	size_t mark = out->len;

	if (records->len == 0)
		return 0;
	/* A Close going out ends the stream: the server ended it, not the client.
	 * The connection is closing: its Pings go the database's way from now. */
	if (delivery_log_close(ss->pi.connection_id, records->data, records->len)) {
		ss->server_closed = 1;
		heldstreams_remove(ss->streams, &ss->held);
	}
	if (sse_frame(out, records->data, records->len) == -1) {
		out->len = mark;	/* no half event */
		return -1;
	}
	ss->last_write = monotime_ms();
	ss->handshaken = 1;
	return 0;
}

/* The drain statement of a stream (delivery_drain's). */
struct stream_drain {
	struct ss	*ss;
	size_t		 budget;
	enum ph_err	 verdict;
	int		 more;
};

static enum ph_err
stream_drain(PGconn *db, void *arg)
{
	struct stream_drain *d = arg;

	return corestore_poll_drain(db, d->ss->token, d->ss->pi.poll_no, d->budget, &d->ss->records,
	    &d->verdict, &d->more);
}

/* Drain what is pending ourselves (after what a batch delivered) onto out,
 * at most budget bytes of records (the first one always). PH_OK: the stream
 * goes on; PH_DRAIN: more is pending (the budget cut the event); PH_CLOSED:
 * the connection is gone or closed (already removed); PH_LEFT: the client
 * stopped reading, or the Close went out; PH_DB: the database could not be
 * asked. */
static enum ph_err
pump(struct app *app, struct ss *ss, struct waiter *w, size_t budget, struct buf *out)
{
	struct stream_drain d = { ss, budget, PH_OK, 0 };
	enum ph_err st;

	buf_reset(&ss->records);
	st = delivery_drain(app, NULL, w, &ss->records, stream_drain, &d);
	/* What a batch delivered (and a closing connection's last records: its
	 * Close) goes out first. */
	if (emit(ss, &ss->records, out) == -1)
		return PH_LEFT;
	if (st != PH_OK)
		return PH_DB;
	if (d.verdict == PH_NOT_FOUND || d.verdict == PH_CLOSED)
		return PH_CLOSED;
	if (d.verdict == PH_LAST)
		return PH_LEFT;	/* the Close went out: end the stream, remove the connection */
	if (d.verdict == PH_OK && d.more)
		return PH_DRAIN;	/* an event per budget: the next one at once */
	return d.verdict == PH_OK ? PH_OK : PH_LEFT;
}

/* The stream ends as oc says (pump's; park: is handed to the next image). */
static enum hold_next
ss_end(struct hold *hd, struct ss *ss, enum ph_err oc, const char *why, int park,
    struct buf *out)
{
	struct app *app = hold_app(hd);
	PGconn *db;

	/* Before its row goes: a removed connection's Ping is never answered
	 * here. */
	heldstreams_remove(app->streams, &ss->held);
	buf_reset(&ss->records);
	if (ss->registered)
		waiter_unregister(app->waiters, hold_waiter(hd), &ss->records);
	ss->registered = 0;
	/* Records a batch drained for us meanwhile: send them if we still can. */
	if (ss->records.len > 0 && (oc == PH_CLOSED || emit(ss, &ss->records, out) == -1))
		log_warn("connection %s: %zu bytes of records not delivered", ss->pi.connection_id,
		    ss->records.len);
	/* What is pending from now on stays in the tables: the next image's
	 * first drain sends it. */
	if (park) {
		log_debug("connection %s: stream parked for the next image", ss->pi.connection_id);
		return HOLD_PARK;
	}
	/* One line per disconnect: a DELETE, a client's Close, a kick, the cap
	 * and the reaper log theirs where they happen. */
	if (oc == PH_CLOSED || ss->server_closed)
		log_debug("connection %s: stream %s", ss->pi.connection_id, why);
	else
		log_info("connection %s: disconnected: %s", ss->pi.connection_id, why);
	/* A stream is the connection's whole life: when it ends the connection
	 * leaves its groups now, like ASP.NET Core (no disconnect grace). */
	if (oc != PH_CLOSED && (db = pool_acquire(app->pool)) != NULL) {
		enum ph_err st = corestore_connection_delete(db, ss->token, PROTO_CORE);

		if (st == PH_DB || st == PH_BUSY)
			log_warn("connection %s: not removed; the reaper will", ss->pi.connection_id);
		pool_release(app->pool, db);
	}
	return HOLD_END;
}

/* No Ping goes out before the first records: the client expects the
 * handshake answer first, whatever the load ("Expected a handshake response
 * from the server"). */
static enum hold_next
ss_step(struct hold *hd, unsigned why, struct buf *out)
{
	char full_why[96];
	struct ss *ss = hold_state(hd);
	struct app *app = hold_app(hd);
	struct waiter *w = hold_waiter(hd);
	struct timespec passed = { 0, 0 };
	long long now, ka = 1000LL * app->cfg.keepalive_interval, next;
	enum ph_err oc;
	int blocked = 0;	/* waits for the client to take what it has */

	if (why & HOLD_HANDOFF)
		return ss_end(hd, ss, PH_OK, "", 1, out);
	if (why & HOLD_STOP)
		return ss_end(hd, ss, PH_OK, "server shutting down", 0, out);
	if (why & HOLD_GONE)
		return ss_end(hd, ss, PH_LEFT, "client (stream closed)", 0, out);
	if (why & HOLD_FULL) {
		snprintf(full_why, sizeof(full_why), "client not reading (more than %zu bytes"
		    " queued for it)", app->cfg.max_buffered);
		return ss_end(hd, ss, PH_LEFT, full_why, 0, out);
	}
	if (why & HOLD_WAKE)
		ss->hinted = 1;
	if (why & HOLD_START) {
		if (!ss->registered) {
			/* Taken back after a failed exec. */
			waiter_register_hook(app->waiters, w, ss->pi.connection_id, ss->pi.group,
			    ss->pi.poll_no, 1, hold_wake, hd);
			ss->registered = 1;
			if (!ss->server_closed)
				heldstreams_add(app->streams, &ss->held, ss->token,
				    ss->pi.connection_id);
			log_info("connection %s: stream taken back after a failed restart",
			    ss->pi.connection_id);
		}
		ss->need_drain = 1;
	}
	/* Everything there is news of: delivered records, and a hint that came
	 * while they waited (which asks for a drain after them). */
	for (int more = (why & HOLD_WAKE) != 0; more; ) {
		buf_reset(&ss->records);
		switch (waiter_wait(app->waiters, w, &passed, &ss->records)) {
		case PH_DELIVERED:	/* the notifier drained for us */
			if (emit(ss, &ss->records, out) == -1)
				return ss_end(hd, ss, PH_LEFT, "out of memory", 0, out);
			break;
		case PH_DRAIN:
			ss->need_drain = 1;
			more = 0;	/* the drain reads whatever else there is */
			break;
		default:	/* PH_TIMEOUT */
			more = 0;
			break;
		}
	}
	/* A backlog is drained an answer at a time while the client keeps up:
	 * past the low-water mark the loop runs us again (HOLD_WRITABLE) once
	 * the client has taken enough, so the drain never fills the buffer. */
	now = monotime_ms();
	for (int rounds = 0; ss->need_drain && now >= ss->retry_at && rounds < PUMP_ROUNDS;
	    rounds++) {
		size_t budget = app->cfg.max_answer;

		if (!hold_may_drain(hd, out)) {
			blocked = 1;
			/* News while the client has its fill: one record only (the
			 * first comes whatever the budget), once a second at most (a
			 * busy calendar's stalled readers must not take the pool). A
			 * client that stopped reading still fills up to the cap, and
			 * sees its connection close. */
			if (!ss->hinted || now < ss->probe_at)
				break;
			ss->hinted = 0;
			budget = 1;
			ss->probe_at = now + PROBE_MS;
		}
		if (budget > 1)
			ss->hinted = 0;		/* this drain reads the news */
		oc = pump(app, ss, w, budget, out);
		if (oc == PH_CLOSED)
			return ss_end(hd, ss, oc, "ended by the server or a DELETE", 0, out);
		if (oc == PH_LEFT)
			return ss_end(hd, ss, oc, "client (stream closed)", 0, out);
		now = monotime_ms();
		if (oc == PH_DB)
			ss->retry_at = now + DELIVERY_RETRY_MS;	/* pings go on meanwhile */
		else if (oc != PH_DRAIN)
			ss->need_drain = 0;
	}
	buf_shrink(&ss->records);
	if (ss->handshaken && now >= ss->last_write + ka) {
		if (buf_append(out, ping_event, sizeof(ping_event) - 1) == -1)
			return ss_end(hd, ss, PH_LEFT, "out of memory", 0, out);
		ss->last_write = now;
	}
	/* Without pings before it, only this ends the stream of a client that
	 * never handshakes (or left before it did). */
	if (!ss->handshaken && now >= ss->handshake_by)
		return ss_end(hd, ss, PH_LEFT, "timeout (no handshake in time)", 0, out);
	next = ss->handshaken ? ss->last_write + ka : ss->handshake_by;
	/* More to drain (the budget cut the last one, or the database was away):
	 * at once, or when the retry is due; when blocked, on HOLD_WRITABLE. */
	if (ss->need_drain && !blocked && ss->retry_at < next)
		next = ss->retry_at > now ? ss->retry_at : now;
	if (ss->need_drain && blocked && ss->hinted && ss->probe_at < next)
		next = ss->probe_at > now ? ss->probe_at : now;
	hold_set_timer(hd, next);
	return HOLD_KEEP;
}

/* A wake-up on the loop thread: frame what the notifier delivered. */
static int
ss_on_wake(struct hold *hd, struct buf *out, enum hold_next *next)
{
	struct ss *ss = hold_state(hd);
	struct app *app = hold_app(hd);

	*next = HOLD_KEEP;
	if (!ss->registered || ss->need_drain)
		return 0;
	for (;;) {
		buf_reset(&ss->records);
		switch (waiter_poll(app->waiters, hold_waiter(hd), &ss->records)) {
		case PH_DELIVERED:
			if (emit(ss, &ss->records, out) == -1)
				return 2;	/* out of memory: the step sorts it out */
			continue;
		case PH_DRAIN:
			ss->need_drain = 1;	/* the step drains */
			return 2;
		default:	/* PH_DRAINING: a batch is draining for it, it wakes us after */
			break;
		}
		break;
	}
	buf_shrink(&ss->records);
	if (ss->handshaken)
		hold_set_timer(hd, ss->last_write + 1000LL * app->cfg.keepalive_interval);
	return 1;
}

static void
ss_park_info(struct hold *hd, struct handoff_item *item)
{
	struct ss *ss = hold_state(hd);

	item->kind = HANDOFF_STREAM;
	snprintf(item->token, sizeof(item->token), "%s", ss->token);
	item->pi = ss->pi;
}

static int	sse_resume(struct app *, const struct http_held *, const struct handoff_item *);

const struct hold_kind sse_kind = {
	.name = "stream",
	.stream = 1,
	.step = ss_step,
	.on_wake = ss_on_wake,
	.park_info = ss_park_info,
	.free = ss_free,
	.parks_as = HANDOFF_STREAM,
	.resume = sse_resume,
};

/* Give the stream to the loop; its first step drains. handshaken: records
 * went out already (a resumed stream). */
static int
hold_stream(struct app *app, struct ss *ss, const struct http_held *conn)
{
	struct hold *hd = hold_new(app->loop, &sse_kind, ss);

	if (hd == NULL)
		return -1;
	ss->last_write = monotime_ms();
	ss->handshake_by = ss->last_write + 1000LL * HANDSHAKE_TIMEOUT;
	waiter_register_hook(app->waiters, hold_waiter(hd), ss->pi.connection_id, ss->pi.group,
	    ss->pi.poll_no, 1, hold_wake, hd);
	ss->registered = 1;
	ss->streams = app->streams;
	heldstreams_add(app->streams, &ss->held, ss->token, ss->pi.connection_id);
	loop_add(app->loop, hd, conn);
	return 0;
}


void
sse_handle(struct app *app, struct http_request *h, const char *token)
{
	struct ss *ss;
	struct http_held conn;
	enum ph_err ss_st = PH_NOT_FOUND;
	enum ph_err st = PH_DB;
	PGconn *db;

	if (atomic_load(&app->stopping) || atomic_load(&app->handing_off)) {
		/* Do not bind the connection to a stream about to end. */
		http_text(h, 503, "Service Unavailable");
		return;
	}
	if ((ss = calloc(1, sizeof(*ss))) == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	snprintf(ss->token, sizeof(ss->token), "%s", token);
	if ((db = pool_acquire(app->pool)) != NULL) {
		st = corestore_stream_begin(db, token, &ss->pi, &ss_st);
		pool_release(app->pool, db);
	}
	if (st == PH_OK)
		snprintf(h->conn_id, sizeof(h->conn_id), "%s", ss->pi.connection_id);
	if (st != PH_OK || ss_st != PH_OK) {
		refuse(h, st, ss_st);
		ss_free(ss);
		return;
	}
	log_info("connection %s: connected (ServerSentEvents, group %s)", ss->pi.connection_id,
	    LOG_TEXT(ss->pi.group));
	/* The comment makes browsers fire "open" at once (ASP.NET does the same). */
	if (http_stream_start(h) != PH_OK || http_write(h, ":\r\n", 3) != PH_OK ||
	    http_detach(h, &conn) != PH_OK || hold_stream(app, ss, &conn) == -1) {
		if (h->detached) {
			close(conn.fd);
			http_held_free(&conn);
		}
		if ((db = pool_acquire(app->pool)) != NULL) {
			corestore_connection_delete(db, token, PROTO_CORE);
			pool_release(app->pool, db);
		}
		ss_free(ss);
	}
}

/* A stream the previous image handed over (restart in place): its headers
 * are sent; what became pending meanwhile goes out first. */
static int
sse_resume(struct app *app, const struct http_held *conn, const struct handoff_item *item)
{
	const struct poll_info *pi = &item->pi;
	struct ss *ss = calloc(1, sizeof(*ss));

	if (ss == NULL)
		return -1;
	snprintf(ss->token, sizeof(ss->token), "%s", item->token);
	ss->pi = *pi;
	ss->handshaken = 1;
	log_debug("connection %s: stream resumed", pi->connection_id);
	if (hold_stream(app, ss, conn) == -1) {
		ss_free(ss);
		return -1;
	}
	return 0;
}
