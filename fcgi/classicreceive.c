#include "classicreceive.h"

#include <stdio.h>
#include <time.h>

#include "classicstore.h"
#include "log.h"
#include "utf8.h"

#define POLL_BATCH 1000		/* outbox rows per poll answer */
#define STREAM_BATCH 100	/* outbox rows per event */
#define GONE_CHECK_INTERVAL 5	/* seconds between checks for a vanished client */
#define DB_RETRY 1		/* seconds between tries while the database is away */

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

	if (!s->cr->our_hub)
		return 0;
	if (s->out->len > 0 && buf_putc(s->out, ',') == -1)
		return -1;
	r = classic_push_from_record(s->out, rec, len);
	if (r != 1)
		s->out->len = mark;	/* nothing appended: drop the comma */
	if (r == -1)
		log_warn("classic: outbox record %lld of group %s is not a hub message;"
		    " skipped", seq, LOG_TEXT(s->cc->group));
	return 0;
}

static int
passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void
later(struct timespec *t, int secs)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += secs;
}

/* Why a receive loop ended. */
enum receive_end { RECV_MESSAGES, RECV_IDLE, RECV_SUPERSEDED, RECV_GONE, RECV_CLOSED, RECV_LEFT };

/* Drain once: pushes after *cursor go to messages and *cursor moves past
 * the rows looked at (*moved: it did, more may follow). ack is what the
 * client acknowledged (the messageId of the request, or of the one that
 * opened the stream). Returns 1 when the connection can go on, 0 when it
 * ended (*end says why), -1 when the database could not be asked (messages
 * and *cursor are as they were). */
static int
drain(struct classic_request *cr, const struct classic_conn *cc, struct waiter *w, long long ack,
    long long *cursor, int stream, int limit, struct buf *messages, int *moved,
    enum receive_end *end)
{
	struct buf reason = BUF_INIT, ignored = BUF_INIT;
	struct push_sink sink = { cr, cc, messages };
	struct classic_drain_at at = { cc->poll_no, ack, *cursor, stream, limit };
	enum classic_drain_status ds = CDRAIN_OK;
	enum store_status st = STORE_ERROR;
	size_t mark = messages->len;
	long long before = *cursor;
	PGconn *db;
	int rc = 1;

	*moved = 0;
	/* drain_many never serves a classic waiter: nothing is delivered here,
	 * but the bracket keeps a wake-up during the drain from being lost. */
	waiter_drain_begin(cr->app->notifier, w, &ignored);
	if ((db = store_acquire(cr->app->store)) != NULL) {
		st = classicstore_drain(db, cr->token, &at, push, &sink, cursor, &reason, &ds);
		store_release(cr->app->store, db);
	}
	waiter_drain_end(cr->app->notifier, w);
	if (st != STORE_OK) {
		messages->len = mark;	/* the same rows again next time */
		rc = -1;
	} else if (ds != CDRAIN_OK) {
		*end = ds == CDRAIN_SUPERSEDED ? RECV_SUPERSEDED :
		    ds == CDRAIN_CLOSED ? RECV_CLOSED : RECV_GONE;
		if (ds == CDRAIN_CLOSED && reason.len > 0)
			snprintf(cr->reason, sizeof(cr->reason), "%.*s",
			    utf8_prefix(reason.data, (int)sizeof(cr->reason) - 1), reason.data);
		rc = 0;
	} else
		*moved = *cursor != before;
	buf_free(&reason);
	buf_free(&ignored);
	return rc;
}

static void
receive_end(struct app *app, const struct classic_conn *cc, enum receive_end end)
{
	PGconn *db;

	/* Idle until the next receive request; the reaper removes a connection
	 * whose client never comes back. */
	if (end == RECV_GONE || end == RECV_CLOSED || (db = store_acquire(app->store)) == NULL)
		return;
	store_poll_end(db, cc->id, cc->poll_no);
	store_release(app->store, db);
}

/* Start a receive request. Returns 0, or -1 after answering the refusal. */
static int
receive_begin(struct classic_request *cr, struct classic_conn *cc)
{
	PGconn *db = store_acquire(cr->app->store);
	enum store_status st = STORE_ERROR;

	if (db != NULL) {
		st = classicstore_receive_begin(db, cr->token, cc);
		store_release(cr->app->store, db);
	}
	if (st == STORE_OK)
		return 0;
	/* A Core connection's token is unknown here, like any other. */
	if (st == STORE_NOT_FOUND)
		http_text(cr->h, 404, "No Connection with that ID");
	else
		http_text(cr->h, 503, "Service Unavailable");
	return -1;
}

/* What a client whose connection the server closed is told (its Close's reason, if any). */
static const char *
closed_text(const struct classic_request *cr)
{
	return cr->reason[0] != '\0' ? cr->reason : "The connection was closed by the server.";
}

/* A long poll (also /reconnect): answer at once when pushes after cursor
 * exist, else hold until one arrives, a newer receive request supersedes
 * this one, or the poll timeout. The answer's C is where the client goes on. */
void
classic_long_poll(struct classic_request *cr, long long cursor)
{
	struct app *app = cr->app;
	struct classic_conn cc;
	struct waiter w;
	struct buf messages = BUF_INIT, body = BUF_INIT, ignored = BUF_INIT;
	struct timespec deadline, slice;
	enum receive_end end = RECV_IDLE;
	long long ack = cursor;	/* the poll's messageId: the client has processed it */
	int rc, moved;

	if (receive_begin(cr, &cc) == -1)
		return;
	later(&deadline, app->cfg.poll_timeout);
	/* A poll number no row has (drain_many would drain it the Core way):
	 * the notifier tells this waiter to drain itself. Registered before the
	 * first drain so no wake-up can fall in between. */
	waiter_register(app->notifier, &w, cc.id, cc.group, -cc.poll_no, 0);
	for (;;) {
		rc = drain(cr, &cc, &w, ack, &cursor, 0, POLL_BATCH, &messages, &moved, &end);
		if (rc == 0)
			break;
		if (rc == 1 && messages.len > 0) {
			end = RECV_MESSAGES;
			break;
		}
		if (atomic_load(&app->stopping) || atomic_load(&app->handing_off) ||
		    passed(&deadline))
			break;
		/* Rows looked at but none for this page (its own, not invocations):
		 * a full batch may have more behind it. */
		if (rc == 1 && moved)
			continue;
		later(&slice, rc == -1 ? DB_RETRY : GONE_CHECK_INTERVAL);
		if (slice.tv_sec > deadline.tv_sec)
			slice = deadline;
		buf_reset(&ignored);
		if (waiter_wait(app->notifier, &w, &slice, &ignored) == WAIT_TIMEOUT &&
		    rc == 1 && http_client_gone(cr->h)) {
			end = RECV_LEFT;
			break;
		}
	}
	buf_reset(&ignored);
	waiter_unregister(app->notifier, &w, &ignored);
	receive_end(app, &cc, end);
	if (end == RECV_GONE)
		http_text(cr->h, 404, "No Connection with that ID");
	else if (end != RECV_LEFT && classic_persistent(&body, cursor, 0,
	    end == RECV_CLOSED ? closed_text(cr) : NULL, messages.data, messages.len) == 0)
		classic_reply(cr, body.data, body.len);
	else if (end != RECV_LEFT)
		http_text(cr->h, 500, "Internal Server Error");
	buf_free(&messages);
	buf_free(&body);
	buf_free(&ignored);
}

/* One SSE event holding a persistent response. -1 when the client is gone. */
static int
event(struct http_request *h, long long cursor, int initializing, const char *error,
    const struct buf *messages)
{
	struct buf ev = BUF_INIT;
	int rc = -1;

	if (buf_puts(&ev, "data: ") == 0 &&
	    classic_persistent(&ev, cursor, initializing, error, messages->data,
		messages->len) == 0 &&
	    buf_puts(&ev, "\n\n") == 0)
		rc = http_write(h, ev.data, ev.len);
	buf_free(&ev);
	return rc;
}

/* A server-sent events stream (/connect or /reconnect): "initialized",
 * the S:1 frame on connect, then one event per batch and a keep-alive
 * `data: {}` after keepalive_interval quiet seconds. When it ends for any
 * reason the connection stays (the client reconnects with its cursor). */
void
classic_stream(struct classic_request *cr, long long cursor, int initializing)
{
	static const char initialized[] = "data: initialized\n\n", keepalive[] = "data: {}\n\n";
	struct app *app = cr->app;
	struct classic_conn cc;
	struct waiter w;
	struct buf messages = BUF_INIT, ignored = BUF_INIT;
	struct timespec last_write, wake, retry;
	enum receive_end end = RECV_LEFT;
	/* The messageId of the /connect or /reconnect that opened the stream is
	 * all the client has acknowledged: what the stream writes may never be
	 * processed (a proxy's buffer, a dropped connection), and the client
	 * reconnects from the last C it processed. */
	long long ack = cursor;
	int need_drain = 1, rc, moved;

	if (atomic_load(&app->stopping) || atomic_load(&app->handing_off)) {
		http_text(cr->h, 503, "Service Unavailable");
		return;
	}
	if (receive_begin(cr, &cc) == -1)
		return;
	waiter_register(app->notifier, &w, cc.id, cc.group, -cc.poll_no, 1);
	if (http_stream_start(cr->h) == -1 ||
	    http_write(cr->h, initialized, sizeof(initialized) - 1) == -1 ||
	    (initializing && event(cr->h, cursor, 1, NULL, &messages) == -1))
		goto done;
	clock_gettime(CLOCK_MONOTONIC, &last_write);
	retry = last_write;
	for (;;) {
		/* A restart in place ends streams: the clients reconnect by cursor. */
		if (atomic_load(&app->stopping) || atomic_load(&app->handing_off))
			break;
		if (need_drain && passed(&retry)) {
			buf_reset(&messages);
			rc = drain(cr, &cc, &w, ack, &cursor, 1, STREAM_BATCH, &messages, &moved,
			    &end);
			if (rc == 0) {
				if (end == RECV_CLOSED)
					event(cr->h, cursor, 0, closed_text(cr), &messages);
				break;
			}
			if (rc == -1) {
				later(&retry, DB_RETRY);
			} else if (messages.len > 0) {
				if (event(cr->h, cursor, 0, NULL, &messages) == -1) {
					end = RECV_LEFT;
					break;
				}
				clock_gettime(CLOCK_MONOTONIC, &last_write);
				/* A full batch may have more behind it. */
			} else if (!moved)
				need_drain = 0;	/* else rows for others only: more may follow */
			end = RECV_LEFT;
			continue;
		}
		if (http_client_gone(cr->h))
			break;
		wake = last_write;
		wake.tv_sec += app->cfg.keepalive_interval;
		if (passed(&wake)) {
			if (http_write(cr->h, keepalive, sizeof(keepalive) - 1) == -1)
				break;
			clock_gettime(CLOCK_MONOTONIC, &last_write);
			continue;
		}
		if (need_drain && (retry.tv_sec < wake.tv_sec))
			wake = retry;
		buf_reset(&ignored);
		if (waiter_wait(app->notifier, &w, &wake, &ignored) != WAIT_TIMEOUT)
			need_drain = 1;
	}
done:
	buf_reset(&ignored);
	waiter_unregister(app->notifier, &w, &ignored);
	receive_end(app, &cc, end);
	buf_free(&messages);
	buf_free(&ignored);
}
