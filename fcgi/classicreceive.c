#include "classicreceive.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "classicstore.h"
#include "delivery.h"
#include "hold.h"
#include "log.h"
#include "monotime.h"
#include "utf8.h"

#define POLL_BATCH 1000		/* outbox rows per poll answer */
#define STREAM_BATCH 100	/* outbox rows per event */
#define PROBE_MS 1000		/* a blocked stream takes one row at most this often */

/* Where a drain's pushes go. */
struct push_sink {
	const struct classic_request	*cr;
	const struct classic_conn	*cc;
	struct buf			*out;	/* pushes, comma-separated */
};

/* One outbox record as a classic push onto the sink; nothing when the page
 * has no handlers for the hub (trap 2) or the record is no invocation. A
 * record that cannot be converted (not pollhub's JSON: written by hand with
 * psql, say) is skipped alone, so the rest of its batch is still delivered:
 * the cursor steps over it either way. -1 only when memory ran out. */
static int
push(void *arg, long long seq, const char *rec, size_t len)
{
	struct push_sink *s = arg;
	size_t mark = s->out->len;
	int r;

	if (s->cr->hub[0] == '\0')
		return 0;
	if (s->out->len > 0 && buf_putc(s->out, ',') == -1)
		return -1;
	r = classic_push_from_record(s->out, rec, len, s->cr->hub);
	if (r != 1)
		s->out->len = mark;	/* nothing appended: drop the comma */
	if (r == -1)
		log_warn("classic: outbox record %lld of group %s is not a hub message;"
		    " skipped", seq, LOG_TEXT(s->cc->group));
	return 0;
}

/* Why a receive loop ended. */
enum receive_end { RECV_MESSAGES, RECV_IDLE, RECV_SUPERSEDED, RECV_GONE, RECV_CLOSED, RECV_LEFT };

/* The drain statement of a classic receive request (delivery_drain's). */
struct classic_drain {
	struct classic_request		*cr;
	const struct classic_drain_at	*at;
	struct push_sink		*sink;
	long long			*cursor;
	struct buf			*reason;
	enum ph_err			 verdict;
};

static enum ph_err
classic_drain(PGconn *db, void *arg)
{
	struct classic_drain *d = arg;

	return classicstore_drain(db, d->cr->token, d->at, push, d->sink, d->cursor, d->reason,
	    &d->verdict);
}

/* Drain once: pushes after *cursor go to messages and *cursor moves past
 * the rows looked at (*moved: it did, more may follow). ack is what the
 * client acknowledged (the messageId of the request, or of the one that
 * opened the stream). PH_OK: the connection goes on; PH_CLOSED: it ended
 * (*end says why); PH_DB: the database could not be asked (messages and
 * *cursor are as they were). */
static enum ph_err
drain(struct classic_request *cr, const struct classic_conn *cc, struct waiter *w, long long ack,
    long long *cursor, int stream, int limit, struct buf *messages, int *moved,
    enum receive_end *end)
{
	struct buf reason = BUF_INIT, ignored = BUF_INIT;
	struct push_sink sink = { cr, cc, messages };
	struct classic_drain_at at = { cc->poll_no, ack, *cursor, stream, limit };
	struct classic_drain d = { cr, &at, &sink, cursor, &reason, PH_OK };
	size_t mark = messages->len;
	long long before = *cursor;
	enum ph_err st;

	*moved = 0;
	/* drain_many never serves a classic waiter: nothing is delivered here,
	 * but the bracket keeps a wake-up during the drain from being lost. */
	st = delivery_drain(cr->app, NULL, w, &ignored, classic_drain, &d);
	if (st != PH_OK) {
		messages->len = mark;	/* the same rows again next time */
		st = PH_DB;
	} else if (d.verdict != PH_OK) {
		*end = d.verdict == PH_SUPERSEDED ? RECV_SUPERSEDED :
		    d.verdict == PH_CLOSED ? RECV_CLOSED : RECV_GONE;
		if (d.verdict == PH_CLOSED && reason.len > 0)
			snprintf(cr->reason, sizeof(cr->reason), "%.*s",
			    utf8_prefix(reason.data, (int)sizeof(cr->reason) - 1), reason.data);
		st = PH_CLOSED;
	} else
		*moved = *cursor != before;
	buf_free(&reason);
	buf_free(&ignored);
	return st;
}

static void
receive_end(struct app *app, const struct classic_conn *cc, enum receive_end end)
{
	PGconn *db;

	/* Idle until the next receive request; the reaper removes a connection
	 * whose client never comes back. */
	if (end == RECV_GONE || end == RECV_CLOSED || (db = pool_acquire(app->pool)) == NULL)
		return;
	corestore_poll_end(db, cc->id, cc->poll_no);
	pool_release(app->pool, db);
}

/* Start a receive request on db (the caller's, released here; NULL: one is
 * acquired). PH_OK, or (after answering the refusal) PH_NOT_FOUND, PH_DB or
 * PH_BUSY. */
static enum ph_err
receive_begin(struct classic_request *cr, PGconn *db, struct classic_conn *cc)
{
	enum ph_err st = PH_DB;

	if (db != NULL || (db = pool_acquire(cr->app->pool)) != NULL) {
		st = classicstore_receive_begin(db, cr->token, cc);
		pool_release(cr->app->pool, db);
	}
	/* A Core connection's token is unknown here, like any other. */
	if (st != PH_OK)
		http_error(cr->h, st);
	return st;
}

/* What a client whose connection the server closed is told (its Close's reason, if any). */
static const char *
closed_text(const struct classic_request *cr)
{
	return cr->reason[0] != '\0' ? cr->reason : "The connection was closed by the server.";
}

/* A classic receive request the event loop holds. */
struct cr_hold {
	struct classic_request	 cr;	/* a copy: h is NULL, form empty */
	struct classic_conn	 cc;
	long long		 cursor, ack;
	long long		 deadline_ms, retry_at, last_write, probe_at;
	int			 need_drain;
	int			 hinted;	/* told of news while blocked: probe (PROBE_MS) */
	struct buf		 messages, body, ignored;
};

static void
crh_free(void *state)
{
	struct cr_hold *c = state;

	buf_free(&c->messages);
	buf_free(&c->body);
	buf_free(&c->ignored);
	free(c);
}

static struct cr_hold *
crh_new(const struct classic_request *cr, long long cursor)
{
	struct cr_hold *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cr = *cr;
	c->cr.h = NULL;
	c->cr.form = (struct buf)BUF_INIT;
	c->cursor = c->ack = cursor;	/* the request's messageId: the client has processed it */
	return c;
}

/* The end of a receive request: the waiter goes, the connection idles. */
static void
crh_unregister(struct hold *hd, struct cr_hold *c, enum receive_end end)
{
	struct app *app = hold_app(hd);

	buf_shrink(&c->ignored);
	waiter_unregister(app->waiters, hold_waiter(hd), &c->ignored);
	receive_end(app, &c->cc, end);
}

/* A classic long poll's answer. */
static enum hold_next
poll_answer(struct hold *hd, struct cr_hold *c, enum receive_end end, struct buf *out)
{
	const struct http_held *conn = hold_conn(hd);

	crh_unregister(hd, c, end);
	if (end == RECV_LEFT)
		return HOLD_END;
	buf_reset(&c->body);
	if (end == RECV_GONE)
		http_response_bytes(conn, 404, "text/plain", "No Connection with that ID", 26,
		    HTTP_NO_CACHE, out);
	else if (classic_persistent(&c->body, c->cursor, 0,
	    end == RECV_CLOSED ? closed_text(&c->cr) : NULL, c->messages.data,
	    c->messages.len) == 0)
		classic_reply_bytes(&c->cr, conn, c->body.data, c->body.len, out);
	else
		http_response_bytes(conn, 500, "text/plain", "Internal Server Error", 21,
		    HTTP_NO_CACHE, out);
	return HOLD_END;
}

/* A long poll (also /reconnect): answer at once when pushes after cursor
 * exist, else hold until one arrives, a newer receive request supersedes
 * this one, or the poll timeout. The answer's C is where the client goes on. */
static enum hold_next
clp_step(struct hold *hd, unsigned why, struct buf *out)
{
	struct cr_hold *c = hold_state(hd);
	enum receive_end end = RECV_IDLE;
	enum ph_err st;
	int moved, rounds = 0;
	long long now;

	if (why & HOLD_GONE)
		return poll_answer(hd, c, RECV_LEFT, out);
	if (why & (HOLD_STOP | HOLD_HANDOFF))
		return poll_answer(hd, c, RECV_IDLE, out);
	for (;;) {
		st = drain(&c->cr, &c->cc, hold_waiter(hd), c->ack, &c->cursor, 0, POLL_BATCH,
		    &c->messages, &moved, &end);
		if (st == PH_CLOSED)
			return poll_answer(hd, c, end, out);
		if (st == PH_OK && c->messages.len > 0)
			return poll_answer(hd, c, RECV_MESSAGES, out);
		/* Rows looked at but none for this page (its own, not invocations):
		 * a full batch may have more behind it. */
		if (st == PH_OK && moved && ++rounds < 100)
			continue;
		break;
	}
	buf_shrink(&c->messages);
	now = monotime_ms();
	if (now >= c->deadline_ms)
		return poll_answer(hd, c, RECV_IDLE, out);
	hold_set_timer(hd, st == PH_DB && now + DELIVERY_RETRY_MS < c->deadline_ms ?
	    now + DELIVERY_RETRY_MS : st == PH_OK && moved ? now : c->deadline_ms);
	return HOLD_KEEP;
}

static const struct hold_kind clp_kind = {
	.name = "classic poll",
	.stream = 0,
	.step = clp_step,
	.free = crh_free,
};

/* Register the waiter and hand the request to the loop. A poll number no
 * row has (drain_many would drain it the Core way): the notifier tells this
 * waiter to drain itself. PH_NOMEM or PH_LEFT (the client is gone): not
 * held (c is still the caller's). */
static enum ph_err
hold_receive(struct classic_request *cr, struct cr_hold *c, const struct hold_kind *kind,
    int stream)
{
	struct app *app = cr->app;
	struct http_held conn;
	struct hold *hd;

	if ((hd = hold_new(app->loop, kind, c)) == NULL)
		return PH_NOMEM;
	/* Registered before the detach and the first drain (the loop's first
	 * step) so no wake-up can fall in between. */
	waiter_register_hook(app->waiters, hold_waiter(hd), c->cc.id, c->cc.group,
	    -c->cc.poll_no, stream, hold_wake, hd);
	if (http_detach(cr->h, &conn) != PH_OK) {
		buf_reset(&c->ignored);
		waiter_unregister(app->waiters, hold_waiter(hd), &c->ignored);
		hold_free_unused(hd);
		return PH_LEFT;
	}
	loop_add(app->loop, hd, &conn);
	return PH_OK;
}

void
classic_long_poll(struct classic_request *cr, long long cursor)
{
	struct cr_hold *c = crh_new(cr, cursor);

	if (c == NULL) {
		http_text(cr->h, 503, "Service Unavailable");
		return;
	}
	if (receive_begin(cr, NULL, &c->cc) != PH_OK) {
		crh_free(c);
		return;
	}
	c->deadline_ms = monotime_ms() + 1000LL * cr->app->cfg.poll_timeout;
	if (hold_receive(cr, c, &clp_kind, 0) != PH_OK) {
		receive_end(cr->app, &c->cc, RECV_LEFT);
		crh_free(c);
	}
}

/* One SSE event holding a persistent response, onto out. */
static int
event(struct buf *out, long long cursor, int initializing, const char *error,
    const struct buf *messages)
{
	size_t mark = out->len;

	if (buf_puts(out, "data: ") == 0 &&
	    classic_persistent(out, cursor, initializing, error, messages->data,
		messages->len) == 0 &&
	    buf_puts(out, "\n\n") == 0)
		return 0;
	out->len = mark;
	return -1;
}

/* A server-sent events stream (/connect or /reconnect): "initialized",
 * the S:1 frame on connect, then one event per batch and a keep-alive
 * `data: {}` after keepalive_interval quiet seconds. When it ends for any
 * reason the connection stays (the client reconnects with its cursor; a
 * restart in place ends streams too). */
static enum hold_next
cs_step(struct hold *hd, unsigned why, struct buf *out)
{
	static const char keepalive[] = "data: {}\n\n";
	struct cr_hold *c = hold_state(hd);
	struct app *app = hold_app(hd);
	enum receive_end end = RECV_LEFT;
	long long now, next, ka = 1000LL * app->cfg.keepalive_interval;
	enum ph_err st;
	int moved, rounds = 0, blocked = 0;

	if (why & (HOLD_GONE | HOLD_STOP | HOLD_HANDOFF | HOLD_FULL)) {
		if (why & HOLD_FULL)
			log_info("classic connection %s: stream closed: client not reading (more"
			    " than %zu bytes queued for it)", c->cc.id, app->cfg.max_buffered);
		crh_unregister(hd, c, RECV_LEFT);
		return HOLD_END;
	}
	if (why & (HOLD_START | HOLD_WAKE))
		c->need_drain = 1;
	if (why & HOLD_WAKE)
		c->hinted = 1;
	now = monotime_ms();
	while (c->need_drain && now >= c->retry_at && rounds++ < 20) {
		int limit = STREAM_BATCH;

		/* Past the low-water mark: on HOLD_WRITABLE, once the client has
		 * taken enough (a backlog never fills the buffer by itself). News
		 * meanwhile takes one row, once a second at most: a client that
		 * stopped reading still fills up to the cap, and sees its end. */
		if (!hold_may_drain(hd, out)) {
			blocked = 1;
			if (!c->hinted || now < c->probe_at)
				break;
			limit = 1;
			c->probe_at = now + PROBE_MS;
		}
		c->hinted = 0;		/* this drain reads the news */
		buf_reset(&c->messages);
		/* The messageId of the /connect or /reconnect that opened the
		 * stream is all the client has acknowledged: what the stream
		 * writes may never be processed (a proxy's buffer, a dropped
		 * connection), and the client reconnects from the last C it
		 * processed. */
		st = drain(&c->cr, &c->cc, hold_waiter(hd), c->ack, &c->cursor, 1, limit,
		    &c->messages, &moved, &end);
		now = monotime_ms();
		if (st == PH_CLOSED) {
			if (end == RECV_CLOSED)
				event(out, c->cursor, 0, closed_text(&c->cr), &c->messages);
			crh_unregister(hd, c, end);
			return HOLD_END;
		}
		if (st == PH_DB) {
			c->retry_at = now + DELIVERY_RETRY_MS;
		} else if (c->messages.len > 0) {
			if (event(out, c->cursor, 0, NULL, &c->messages) == -1) {
				crh_unregister(hd, c, RECV_LEFT);
				return HOLD_END;
			}
			c->last_write = now;
			/* A full batch may have more behind it. */
		} else if (!moved)
			c->need_drain = 0;	/* else rows for others only: more may follow */
	}
	if (now >= c->last_write + ka) {
		if (buf_append(out, keepalive, sizeof(keepalive) - 1) == 0)
			c->last_write = now;
	}
	buf_shrink(&c->messages);
	next = c->last_write + ka;
	if (c->need_drain && !blocked && c->retry_at < next)
		next = c->retry_at > now ? c->retry_at : now;
	if (c->need_drain && blocked && c->hinted && c->probe_at < next)
		next = c->probe_at > now ? c->probe_at : now;
	hold_set_timer(hd, next);
	return HOLD_KEEP;
}

static const struct hold_kind cs_kind = {
	.name = "classic stream",
	.stream = 1,
	.step = cs_step,
	.free = crh_free,
};

void
classic_stream(struct classic_request *cr, PGconn *db, long long cursor, int initializing)
{
	static const char initialized[] = "data: initialized\n\n";
	struct app *app = cr->app;
	struct cr_hold *c = NULL;
	struct buf first = BUF_INIT;

	if (atomic_load(&app->stopping) || atomic_load(&app->handing_off) ||
	    (c = crh_new(cr, cursor)) == NULL) {
		if (db != NULL)
			pool_release(app->pool, db);
		http_text(cr->h, 503, "Service Unavailable");
		return;
	}
	if (receive_begin(cr, db, &c->cc) != PH_OK) {
		crh_free(c);
		return;
	}
	if (buf_puts(&first, initialized) == -1 ||
	    (initializing && event(&first, cursor, 1, NULL, &c->messages) == -1) ||
	    http_stream_start(cr->h) != PH_OK || http_write(cr->h, first.data, first.len) != PH_OK ||
	    (c->last_write = monotime_ms(), hold_receive(cr, c, &cs_kind, 1)) != PH_OK) {
		receive_end(app, &c->cc, RECV_LEFT);
		crh_free(c);
	}
	buf_free(&first);
}
