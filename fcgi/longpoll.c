#include "longpoll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hold.h"

#include "delivery.h"
#include "log.h"
#include "monotime.h"
#include "tcpdiag.h"

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
	PGconn		*db;		/* the pool connection of poll_begin, kept for
					 * the first drain (delivery_acquire) */
};

static void
end_poll(struct app *app, struct lp *lp)
{
	PGconn *db = delivery_acquire(app, &lp->db);

	if (db != NULL && corestore_poll_end(db, lp->pi.connection_id, lp->pi.poll_no) != PH_OK)
		delivery_release(app, &lp->db);
}

/* The drain statement of a poll (delivery_drain's). What a batch delivered
 * counts against the budget; the next poll gets the rest. */
struct poll_drain {
	struct lp	*lp;
	size_t		 max_answer;
	enum ph_err	 verdict;
};

static enum ph_err
poll_drain(PGconn *db, void *arg)
{
	struct poll_drain *d = arg;
	struct buf *out = &d->lp->out;
	int more = 0;

	return corestore_poll_drain(db, d->lp->token, d->lp->pi.poll_no,
	    out->len < d->max_answer ? d->max_answer - out->len : 1, out, &d->verdict, &more);
}

/* Drain once (records a batch delivered first), on the step's connection.
 * PH_DELIVERED: answer 200 with what lp->out holds; PH_CLOSED: answer 204;
 * PH_OK: nothing yet, keep waiting; PH_DB: the database could not be asked,
 * try again. When the kernel says the client closed its connection to the
 * web server (w->peer), nothing is drained: an empty 200 goes to a web
 * server that has nobody to give it to, and the records stay in the
 * database for the connection's next poll. */
static enum ph_err
drain(struct app *app, struct lp *lp, struct waiter *w)
{
	struct poll_drain d = { lp, app->cfg.max_answer, PH_OK };
	enum ph_err st = delivery_drain(app, &lp->db, w, &lp->out, poll_drain, &d);

	if (st == PH_LEFT) {
		if (lp->out.len == 0)	/* else a batch took them before the client left */
			log_info("connection %s: the client closed its connection during a held"
			    " poll; what is pending waits for its next poll", lp->pi.connection_id);
		return PH_DELIVERED;
	}
	if (st != PH_OK)
		return lp->out.len > 0 ? PH_DELIVERED : PH_DB;
	switch (d.verdict) {
	case PH_NOT_FOUND:
	case PH_SUPERSEDED:
	case PH_CLOSED:
		return PH_CLOSED;
	default:	/* PH_OK; PH_LAST: delivered now, the next poll answers 204 */
		break;
	}
	return lp->out.len > 0 ? PH_DELIVERED : PH_OK;
}

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

/* The poll ends with end: PH_DELIVERED (200 with what lp->out holds, maybe
 * nothing), PH_CLOSED (204) or PH_LEFT (the client left: no answer). The
 * waiter goes (records a batch drained meanwhile are ours to send), an
 * answer without records ends the poll in the database (one with records
 * was ended by its drain: poll_drain, drain_many), a Close going out is
 * logged; no pool connection is held after it. Then *type, *body and *len are the answer (not for PH_LEFT).
 * Shared by a poll the loop held and one answered by its worker. */
static void
lp_settle(struct app *app, struct waiter *w, struct lp *lp, enum ph_err end, const char **type,
    const char **body, size_t *len)
{
	struct buf *out = &lp->out;

	/* No pool connection is held across a wait for a batch: the pool would
	 * wait on the fan-out. */
	delivery_release(app, &lp->db);
	if (lp->registered)
		waiter_unregister(app->waiters, w, out);
	lp->registered = 0;
	if (lp->begun && end != PH_CLOSED && out->len == 0)
		end_poll(app, lp);
	delivery_release(app, &lp->db);
	*type = "text/plain";
	*body = http_text_of(end);
	*len = strlen(*body);
	if (end == PH_DELIVERED && out->len > 0) {
		delivery_log_close(lp->pi.connection_id, out->data, out->len);
		*type = "application/octet-stream";
		*body = out->data;
		*len = out->len;
	}
}

/* The status a poll's end is logged with (-1: the client left). */
static int
lp_status(enum ph_err end)
{
	return end == PH_LEFT ? -1 : http_status_of(end);
}

/* Answer a held poll (see lp_settle) and end it. */
static enum hold_next
lp_finish(struct hold *hd, struct lp *lp, enum ph_err end, struct buf *resp)
{
	const char *type, *body;
	size_t len;

	lp_settle(hold_app(hd), hold_waiter(hd), lp, end, &type, &body, &len);
	if (end == PH_LEFT) {
		if (lp->out.len > 0)
			log_warn("connection %s: client left a held poll; %zu bytes of records"
			    " were not delivered", lp->pi.connection_id, lp->out.len);
		log_debug("connection %s: client left a held poll", lp->pi.connection_id);
	} else
		http_response_bytes(hold_conn(hd), http_status_of(end), type, body, len,
		    HTTP_NO_CACHE, resp);
	log_debug("request GET (held poll) connection %s: status %d", lp->pi.connection_id,
	    lp_status(end));
	return HOLD_END;
}

/* One try at starting the poll, on the step's connection: poll_begin, and
 * a first poll's end. PH_OK: begun, hold it; PH_DELIVERED: a first poll,
 * answered at once and empty (200); PH_NOT_FOUND or PH_TRANSPORT: refused
 * (http_error's answer); PH_DB or PH_BUSY: try again. While the database is
 * away the poll is held and tried again (lp_begin), never by a worker
 * waiting in a loop: an error status would close the client's connection,
 * and a worker held through an outage is one the negotiates, sends and
 * DELETEs do not get. */
static enum ph_err
lp_start(struct app *app, struct lp *lp)
{
	PGconn *db = delivery_acquire(app, &lp->db);
	enum ph_err st;

	if (db == NULL)
		return PH_DB;
	if ((st = corestore_poll_begin(db, lp->token, &lp->pi)) != PH_OK)
		delivery_release(app, &lp->db);
	lp->begun = st == PH_OK;
	if (st != PH_OK)
		return st;
	if (!lp->pi.longpolling)
		return PH_TRANSPORT;
	if (lp->pi.first_poll) {
		log_info("connection %s: connected (LongPolling, group %s)", lp->pi.connection_id,
		    LOG_TEXT(lp->pi.group));
		/* The client discards the first poll's body: answer at once, empty. */
		end_poll(app, lp);
		return PH_DELIVERED;
	}
	return PH_OK;
}

/* The content type of lp_start's answer. */
static const char *
start_type(enum ph_err st)
{
	return st == PH_DELIVERED ? "application/octet-stream" : "text/plain";
}

/* A held poll that could not begin (the database was away): try again on
 * its timer, every DELIVERY_RETRY_MS until its deadline (then an empty
 * 200). Returns 1 when it has begun and is registered (the step goes on and
 * drains, on the same connection), or 0 with *next. */
static int
lp_begin(struct hold *hd, struct lp *lp, unsigned why, struct buf *resp, enum hold_next *next)
{
	struct app *app = hold_app(hd);
	enum ph_err st = PH_DB;
	long long t;

	if (why & HOLD_TIMER)	/* at HOLD_START its worker has just tried */
		st = lp_start(app, lp);
	if (st == PH_OK) {
		lp_register(app, hd, lp);
		lp->drain_first = 1;
		return 1;
	}
	if (st != PH_DB && st != PH_BUSY) {
		delivery_release(app, &lp->db);
		http_response_bytes(hold_conn(hd), http_status_of(st), start_type(st),
		    http_text_of(st), strlen(http_text_of(st)), HTTP_NO_CACHE, resp);
		*next = HOLD_END;
		return 0;
	}
	if (monotime_ms() >= lp->deadline_ms) {
		*next = lp_finish(hd, lp, PH_DELIVERED, resp);	/* the client polls again */
		return 0;
	}
	t = monotime_ms() + DELIVERY_RETRY_MS;
	hold_set_timer(hd, t < lp->deadline_ms ? t : lp->deadline_ms);
	*next = HOLD_KEEP;
	return 0;
}

/* A poll that begins in this step drains on the connection of its
 * poll_begin (lp->db); it is released before any wait for a batch. */
static enum hold_next
lp_step(struct hold *hd, unsigned why, struct buf *resp)
{
	struct lp *lp = hold_state(hd);
	struct app *app = hold_app(hd);
	struct timespec now = { 0, 0 };
	enum ph_err st = PH_OK;	/* PH_OK: nothing to answer yet */
	int drained = 0;
	long long t;

	if (why & HOLD_GONE)
		return lp_finish(hd, lp, PH_LEFT, resp);
	/* Shutdown: answer now, the client polls again (elsewhere if need be). */
	if (why & HOLD_STOP)
		return lp_finish(hd, lp, PH_DELIVERED, resp);
	if ((why & HOLD_HANDOFF) && !lp->begun)	/* it polls again, to the next image */
		return lp_finish(hd, lp, PH_DELIVERED, resp);
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
			return lp_finish(hd, lp, PH_DELIVERED, resp);
		lp->drain_first = 1;	/* if the exec fails and it comes back */
		return HOLD_PARK;
	}
	if ((why & HOLD_START) && !lp->registered)
		lp_register(app, hd, lp);
	if (lp->drain_first) {
		lp->drain_first = 0;
		st = drain(app, lp, hold_waiter(hd));
		drained = 1;
	}
	delivery_release(app, &lp->db);	/* not held across waiter_wait */
	if (st == PH_OK && (why & (HOLD_WAKE | HOLD_START))) {
		/* A deadline already passed: does not block, unless a batch is
		 * draining for this waiter (what it drains is ours). */
		switch (waiter_wait(app->waiters, hold_waiter(hd), &now, &lp->out)) {
		case PH_DELIVERED:
			st = lp->out.len > 0 ? PH_DELIVERED : PH_OK;
			break;
		case PH_DRAIN:
			st = drain(app, lp, hold_waiter(hd));
			delivery_release(app, &lp->db);
			drained = 1;
			break;
		default:	/* PH_TIMEOUT */
			break;
		}
	}
	/* While the database is away, try again every DELIVERY_RETRY_MS. */
	if (st == PH_OK && !drained && lp->retry && (why & HOLD_TIMER)) {
		st = drain(app, lp, hold_waiter(hd));
		delivery_release(app, &lp->db);
		drained = 1;
	}
	if (st == PH_DB) {
		lp->retry = 1;
		st = PH_OK;
	} else if (drained)
		lp->retry = 0;
	/* Records on_wake took while a batch held the waiter; or the poll
	 * timeout (also while the database is away). */
	if (st == PH_OK && (lp->out.len > 0 || monotime_ms() >= lp->deadline_ms))
		st = PH_DELIVERED;
	if (st != PH_OK)
		return lp_finish(hd, lp, st, resp);
	t = monotime_ms() + DELIVERY_RETRY_MS;
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
	*next = lp_finish(hd, lp, PH_DELIVERED, resp);
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
	const char *type, *body;
	size_t len;

	if (lp == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	snprintf(lp->token, sizeof(lp->token), "%s", token);
	lp->deadline_ms = monotime_ms() + 1000LL * app->cfg.poll_timeout;
	/* poll_begin and the first drain (or a first poll's end) run on one
	 * pool connection, released before anything is written. */
	st = lp_start(app, lp);
	if (lp->begun)
		snprintf(h->conn_id, sizeof(h->conn_id), "%s", lp->pi.connection_id);
	if (st != PH_OK && st != PH_DB && st != PH_BUSY) {
		delivery_release(app, &lp->db);
		if (st == PH_DELIVERED)
			http_respond(h, 200, start_type(st), "", 0, HTTP_NO_CACHE);
		else
			http_error(h, st);
		goto done;
	}
	if ((hd = hold_new(app->loop, &longpoll_kind, lp)) == NULL) {
		delivery_release(app, &lp->db);
		http_text(h, 503, "Service Unavailable");
		goto done;
	}
	if (app->cfg.client_check)	/* else, or unusable: family 0, not checked */
		(void)tcpdiag_parse(&lp->peer, h->server_addr, h->server_port, h->remote_addr,
		    h->remote_port);
	if (!lp->begun) {
		/* The database is away: the loop holds the poll and tries again. */
		delivery_release(app, &lp->db);
		if (http_detach(h, &conn) == PH_OK) {
			log_debug("poll: the database is away; held until it can begin");
			loop_add(app->loop, hd, &conn);
			return;
		}
		hold_free_unused(hd);
		goto done;
	}
	lp_register(app, hd, lp);
	st = drain(app, lp, hold_waiter(hd));
	if (st == PH_OK || st == PH_DB) {
		delivery_release(app, &lp->db);
		if (http_detach(h, &conn) == PH_OK) {
			/* Nothing yet: the event loop holds it from here, no thread. */
			lp->retry = st == PH_DB;
			loop_add(app->loop, hd, &conn);
			return;
		}
		st = PH_LEFT;	/* could not be detached: the client is gone */
	}
	lp_settle(app, hold_waiter(hd), lp, st, &type, &body, &len);
	if (st != PH_LEFT && http_respond(h, http_status_of(st), type, body, len,
	    HTTP_NO_CACHE) != PH_OK && lp->out.len > 0)
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
