#include "longpoll.h"
#include "send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hold.h"

#include "log.h"
#include "monotime.h"
#include "tcpdiag.h"

#define DB_RETRY 1		/* seconds between tries while the database is away */
#define DB_DOWN (-2)		/* drain(): the database could not be asked; try again */

static void
end_poll(struct app *app, const struct poll_info *pi)
{
	PGconn *db = pool_acquire(app->store);

	if (db == NULL)
		return;
	corestore_poll_end(db, pi->connection_id, pi->poll_no);
	pool_release(app->store, db);
}

/* Drain once (records a batch delivered first). Returns the HTTP status to
 * answer with, 0 to keep waiting, or DB_DOWN. When the kernel says the client
 * closed its connection to the web server (w->peer), nothing is drained: an
 * empty 200 goes to a web server that has nobody to give it to, and the
 * records stay in the database for the connection's next poll. */
static int
drain(struct app *app, const char *token, const struct poll_info *pi, struct waiter *w,
    struct buf *out)
{
	PGconn *db;
	enum ph_err ds = PH_OK;
	enum ph_err st = PH_DB;
	int more = 0;

	waiter_drain_begin(app->waiters, w, out);
	if (w->peer != NULL && tcpdiag_check(w->peer) == PH_LEFT) {
		waiter_drain_end(app->waiters, w);
		if (out->len > 0)
			return 200;	/* a batch took them before the client left */
		log_info("connection %s: the client closed its connection during a held poll;"
		    " what is pending waits for its next poll", pi->connection_id);
		return 200;
	}
	/* What a batch delivered counts against the budget; the next poll gets
	 * the rest. */
	if ((db = pool_acquire(app->store)) != NULL) {
		st = corestore_poll_drain(db, token, pi->poll_no,
		    out->len < app->cfg.max_answer ? app->cfg.max_answer - out->len : 1, out, &ds,
		    &more);
		pool_release(app->store, db);
	}
	waiter_drain_end(app->waiters, w);
	if (st != PH_OK)
		return out->len > 0 ? 200 : DB_DOWN;
	switch (ds) {
	case PH_NOT_FOUND:
	case PH_SUPERSEDED:
	case PH_CLOSED:
		return 204;
	default:	/* PH_OK; PH_LAST: delivered now, the next poll answers 204 */
		break;
	}
	return out->len > 0 ? 200 : 0;
}

/* A poll the event loop holds. */
struct lp {
	char		 token[64];
	struct poll_info pi;
	long long	 deadline_ms;	/* the poll timeout */
	int		 begun;		/* poll_begin answered: pi is known */
	int		 retry;		/* the last drain could not reach the database */
	int		 registered;	/* its waiter is (not while parked for the next image) */
	int		 drain_first;	/* its first step drains (resumed, or taken back) */
	struct buf	 out;		/* records for the answer */
	struct tcpdiag_conn peer;	/* the client's connection to the web server;
					 * family 0: unknown, or POLLHUB_CLIENT_CHECK=0 */
};

/* Register the poll's waiter (before any drain: no wake-up falls in between). */
static void
lp_register(struct app *app, struct hold *hd, struct lp *lp)
{
	waiter_register_peer(app->waiters, hold_waiter(hd), lp->pi.connection_id, lp->pi.group,
	    lp->pi.poll_no, lp->peer.family != 0 ? &lp->peer : NULL, hold_wake, hd);
	lp->registered = 1;
}

static void
lp_free(void *state)
{
	struct lp *lp = state;

	buf_free(&lp->out);
	free(lp);
}

/* The poll ends with status (-1: the client left): the waiter goes (records
 * a batch drained meanwhile are ours to send), an answer without records
 * ends the poll in the database (one with records was ended by its drain:
 * poll_drain, drain_many), a Close going out is logged. Then *type, *body
 * and *len are the answer (not for -1). Shared by a poll the loop held and
 * one answered by its worker. */
static void
lp_settle(struct app *app, struct waiter *w, struct lp *lp, int status, const char **type,
    const char **body, size_t *len)
{
	struct buf *out = &lp->out;

	if (lp->registered)
		waiter_unregister(app->waiters, w, out);
	lp->registered = 0;
	if (lp->begun && status != 204 && out->len == 0)
		end_poll(app, &lp->pi);
	*type = "text/plain";
	*body = "";
	*len = 0;
	if (status == 200 && out->len > 0) {
		send_log_close(lp->pi.connection_id, out->data, out->len);
		*type = "application/octet-stream";
		*body = out->data;
		*len = out->len;
	} else if (status != 200 && status != 204) {
		*body = "Service Unavailable";
		*len = strlen(*body);
	}
}

/* Answer a held poll (status -1: the client left) and end it. */
static enum hold_next
lp_finish(struct hold *hd, struct lp *lp, int status, struct buf *resp)
{
	const char *type, *body;
	size_t len;

	lp_settle(hold_app(hd), hold_waiter(hd), lp, status, &type, &body, &len);
	if (status == -1) {
		if (lp->out.len > 0)
			log_warn("connection %s: client left a held poll; %zu bytes of records"
			    " were not delivered", lp->pi.connection_id, lp->out.len);
		log_debug("connection %s: client left a held poll", lp->pi.connection_id);
	} else
		http_response_bytes(hold_conn(hd), status, type, body, len, HTTP_NO_CACHE, resp);
	log_debug("request GET (held poll) connection %s: status %d", lp->pi.connection_id,
	    status);
	return HOLD_END;
}

/* One try at starting the poll: one acquisition, one poll_begin. While the
 * database is away the poll is held and tried again (lp_begin), never by a
 * worker waiting in a loop: an error status would close the client's
 * connection, and a worker held through an outage is one the negotiates,
 * sends and DELETEs do not get. PH_DB or PH_BUSY: try again. */
static enum ph_err
begin_once(struct app *app, const char *token, struct poll_info *pi)
{
	enum ph_err st = PH_DB;
	PGconn *db = pool_acquire(app->store);

	if (db != NULL) {
		st = corestore_poll_begin(db, token, pi);
		pool_release(app->store, db);
	}
	return st;
}

/* The poll has begun (st: PH_OK or PH_NOT_FOUND): the status to answer
 * at once, with *text (404, 400; 200: a first poll, answered empty), or 0:
 * hold it. */
static int
begun(struct app *app, struct lp *lp, enum ph_err st, const char **text)
{
	lp->begun = st == PH_OK;
	if (st != PH_OK) {
		*text = "No Connection with that ID";
		return 404;
	}
	if (!lp->pi.longpolling) {
		*text = "Cannot change transports mid-connection";
		return 400;
	}
	if (lp->pi.first_poll) {
		log_info("connection %s: connected (LongPolling, group %s)", lp->pi.connection_id,
		    LOG_TEXT(lp->pi.group));
		/* The client discards the first poll's body: answer at once, empty. */
		end_poll(app, &lp->pi);
		*text = "";
		return 200;
	}
	return 0;
}

/* A held poll that could not begin (the database was away): try again on
 * its timer, every DB_RETRY seconds until its deadline (then an empty 200).
 * Returns 1 when it has begun and is registered (the step goes on and
 * drains), or 0 with *next. */
static int
lp_begin(struct hold *hd, struct lp *lp, unsigned why, struct buf *resp, enum hold_next *next)
{
	struct app *app = hold_app(hd);
	enum ph_err st = PH_DB;
	const char *text;
	long long t;
	int status;

	if (why & HOLD_TIMER)	/* at HOLD_START its worker has just tried */
		st = begin_once(app, lp->token, &lp->pi);
	if (st == PH_OK || st == PH_NOT_FOUND) {
		if ((status = begun(app, lp, st, &text)) == 0) {
			lp_register(app, hd, lp);
			lp->drain_first = 1;
			return 1;
		}
		http_response_bytes(hold_conn(hd), status, status == 200 ?
		    "application/octet-stream" : "text/plain", text, strlen(text), HTTP_NO_CACHE,
		    resp);
		*next = HOLD_END;
		return 0;
	}
	if (monotime_ms() >= lp->deadline_ms) {
		*next = lp_finish(hd, lp, 200, resp);	/* the client polls again */
		return 0;
	}
	t = monotime_ms() + DB_RETRY * 1000;
	hold_set_timer(hd, t < lp->deadline_ms ? t : lp->deadline_ms);
	*next = HOLD_KEEP;
	return 0;
}

static enum hold_next
lp_step(struct hold *hd, unsigned why, struct buf *resp)
{
	struct lp *lp = hold_state(hd);
	struct app *app = hold_app(hd);
	struct timespec now = { 0, 0 };
	int status = 0, drained = 0;
	long long t;

	if (why & HOLD_GONE)
		return lp_finish(hd, lp, -1, resp);
	/* Shutdown: answer now, the client polls again (elsewhere if need be). */
	if (why & HOLD_STOP)
		return lp_finish(hd, lp, 200, resp);
	if ((why & HOLD_HANDOFF) && !lp->begun)
		return lp_finish(hd, lp, 200, resp);	/* it polls again, to the next image */
	if (!lp->begun) {
		enum hold_next next;

		if (!lp_begin(hd, lp, why, resp, &next))
			return next;
		why &= ~(unsigned)HOLD_TIMER;
	}
	if (why & HOLD_HANDOFF) {
		/* Restart in place: the next image holds the poll on, unless a
		 * batch delivered records just now (they are answered here). */
		if (lp->registered)
			waiter_unregister(app->waiters, hold_waiter(hd), &lp->out);
		lp->registered = 0;
		if (lp->out.len > 0)
			return lp_finish(hd, lp, 200, resp);
		lp->drain_first = 1;	/* if the exec fails and it comes back */
		return HOLD_PARK;
	}
	if ((why & HOLD_START) && !lp->registered)
		lp_register(app, hd, lp);
	if (lp->drain_first) {
		lp->drain_first = 0;
		status = drain(app, lp->token, &lp->pi, hold_waiter(hd), &lp->out);
		drained = 1;
	}
	if (status == 0 && (why & (HOLD_WAKE | HOLD_START))) {
		/* A deadline already passed: does not block, unless a batch is
		 * draining for this waiter (what it drains is ours). */
		switch (waiter_wait(app->waiters, hold_waiter(hd), &now, &lp->out)) {
		case PH_DELIVERED:
			status = lp->out.len > 0 ? 200 : 0;
			break;
		case PH_DRAIN:
			status = drain(app, lp->token, &lp->pi, hold_waiter(hd), &lp->out);
			drained = 1;
			break;
		default:	/* PH_TIMEOUT */
			break;
		}
	}
	/* While the database is away, try again every DB_RETRY seconds. */
	if (status == 0 && !drained && lp->retry && (why & HOLD_TIMER)) {
		status = drain(app, lp->token, &lp->pi, hold_waiter(hd), &lp->out);
		drained = 1;
	}
	if (status == DB_DOWN) {
		lp->retry = 1;
		status = 0;
	} else if (drained)
		lp->retry = 0;
	/* Records on_wake took while a batch held the waiter. */
	if (status == 0 && lp->out.len > 0)
		status = 200;
	if (status == 0 && monotime_ms() >= lp->deadline_ms)
		status = 200;	/* poll timeout (also while the database is away) */
	if (status != 0)
		return lp_finish(hd, lp, status, resp);
	t = monotime_ms() + DB_RETRY * 1000;
	hold_set_timer(hd, lp->retry && t < lp->deadline_ms ? t : lp->deadline_ms);
	return HOLD_KEEP;
}

/* A wake-up on the loop thread: a poll answers with what was delivered. */
static int
lp_on_wake(struct hold *hd, struct buf *resp, enum hold_next *next)
{
	struct lp *lp = hold_state(hd);
	struct app *app = hold_app(hd);

	*next = HOLD_KEEP;
	if (!lp->registered || lp->drain_first)
		return 0;
	switch (waiter_poll(app->waiters, hold_waiter(hd), &lp->out)) {
	case PH_DELIVERED:
		break;
	case PH_DRAIN:
		lp->drain_first = 1;	/* the step drains */
		return 2;
	default:	/* PH_DRAINING: a batch is draining for it, it wakes us after */
		return 1;
	}
	if (waiter_try_unregister(app->waiters, hold_waiter(hd), &lp->out) == -1)
		return 2;	/* a batch claimed it just now: the step answers */
	lp->registered = 0;
	*next = lp_finish(hd, lp, 200, resp);
	return 1;
}

static void
lp_park_info(struct hold *hd, struct handoff_item *item)
{
	struct lp *lp = hold_state(hd);
	long long left = lp->deadline_ms - monotime_ms();

	item->kind = HANDOFF_POLL;
	snprintf(item->token, sizeof(item->token), "%s", lp->token);
	item->pi = lp->pi;
	item->left_ms = left > 0 ? left : 0;
	item->peer = lp->peer;
}

static int	longpoll_resume(struct app *, const struct http_held *,
		    const struct handoff_item *);

const struct hold_kind longpoll_kind = {
	.name = "poll",
	.stream = 0,
	.step = lp_step,
	.on_wake = lp_on_wake,
	.park_info = lp_park_info,
	.free = lp_free,
	.parks_as = HANDOFF_POLL,
	.resume = longpoll_resume,
};

void
longpoll_handle(struct app *app, struct http_request *h, const char *token)
{
	struct lp *lp = calloc(1, sizeof(*lp));
	struct hold *hd = NULL;
	struct http_held conn;
	enum ph_err st;
	const char *type, *body, *text;
	size_t len;
	int status;

	if (lp == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	snprintf(lp->token, sizeof(lp->token), "%s", token);
	lp->deadline_ms = monotime_ms() + 1000LL * app->cfg.poll_timeout;
	st = begin_once(app, token, &lp->pi);
	if (st == PH_OK || st == PH_NOT_FOUND) {
		if (st == PH_OK)
			snprintf(h->conn_id, sizeof(h->conn_id), "%s", lp->pi.connection_id);
		if ((status = begun(app, lp, st, &text)) == 200) {
			http_respond(h, 200, "application/octet-stream", "", 0, HTTP_NO_CACHE);
			goto done;
		}
		if (status != 0) {
			http_text(h, status, text);
			goto done;
		}
	}
	if ((hd = hold_new(app->loop, &longpoll_kind, lp)) == NULL) {
		http_text(h, 503, "Service Unavailable");
		goto done;
	}
	if (app->cfg.client_check)	/* else, or unusable: family 0, not checked */
		(void)tcpdiag_parse(&lp->peer, h->server_addr, h->server_port, h->remote_addr,
		    h->remote_port);
	if (!lp->begun) {
		/* The database is away: the loop holds the poll and tries again. */
		if (http_detach(h, &conn) == 0) {
			log_debug("poll: the database is away; held until it can begin");
			loop_add(app->loop, hd, &conn);
			return;
		}
		hold_free_unused(hd);
		goto done;
	}
	lp_register(app, hd, lp);
	status = drain(app, token, &lp->pi, hold_waiter(hd), &lp->out);
	if ((status == 0 || status == DB_DOWN) && http_detach(h, &conn) == 0) {
		/* Nothing yet: the event loop holds it from here, no thread. */
		lp->retry = status == DB_DOWN;
		loop_add(app->loop, hd, &conn);
		return;
	}
	if (status == 0 || status == DB_DOWN)
		status = -1;	/* could not be detached: the client is gone */
	lp_settle(app, hold_waiter(hd), lp, status, &type, &body, &len);
	if (status != -1 && http_respond(h, status, type, body, len, HTTP_NO_CACHE) == -1 &&
	    lp->out.len > 0)
		log_warn("connection %s: poll answer lost (client gone)", lp->pi.connection_id);
	hold_free_unused(hd);
done:
	lp_free(lp);
}

/* A poll the previous image held (restart in place), with what is left of
 * its timeout: the loop holds it on. */
static int
longpoll_resume(struct app *app, const struct http_held *conn, const struct handoff_item *item)
{
	const struct poll_info *pi = &item->pi;
	struct lp *lp = calloc(1, sizeof(*lp));
	struct hold *hd;

	if (lp == NULL)
		return -1;
	snprintf(lp->token, sizeof(lp->token), "%s", item->token);
	lp->pi = *pi;
	lp->begun = 1;
	if (app->cfg.client_check)
		lp->peer = item->peer;
	lp->deadline_ms = monotime_ms() + item->left_ms;
	lp->drain_first = 1;	/* what came while it was parked */
	if ((hd = hold_new(app->loop, &longpoll_kind, lp)) == NULL) {
		lp_free(lp);
		return -1;
	}
	lp_register(app, hd, lp);
	log_debug("connection %s: held poll resumed", pi->connection_id);
	loop_add(app->loop, hd, conn);
	return 0;
}
