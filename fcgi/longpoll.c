#include "longpoll.h"
#include "send.h"

#include <time.h>

#include "log.h"

#define GONE_CHECK_INTERVAL 5	/* seconds between checks for a vanished client */
#define DB_RETRY 1		/* seconds between tries while the database is away */
#define DB_DOWN (-2)		/* drain(): the database could not be asked; try again */

static void
end_poll(struct app *app, const struct poll_info *pi)
{
	PGconn *db = store_acquire(app->store);

	if (db == NULL)
		return;
	store_poll_end(db, pi->connection_id, pi->poll_no);
	store_release(app->store, db);
}

/* Drain once (records a batch delivered first). Returns the HTTP status to
 * answer with, 0 to keep waiting, or DB_DOWN. */
static int
drain(struct app *app, const char *token, const struct poll_info *pi, struct waiter *w,
    struct buf *out)
{
	PGconn *db;
	enum drain_status ds = DRAIN_OK;
	enum store_status st = STORE_ERROR;

	waiter_drain_begin(app->notifier, w, out);
	if ((db = store_acquire(app->store)) != NULL) {
		st = store_poll_drain(db, token, pi->poll_no, out, &ds);
		store_release(app->store, db);
	}
	waiter_drain_end(app->notifier, w);
	if (st != STORE_OK)
		return out->len > 0 ? 200 : DB_DOWN;
	switch (ds) {
	case DRAIN_GONE:
	case DRAIN_SUPERSEDED:
	case DRAIN_CLOSED:
		return 204;
	case DRAIN_OK:
	case DRAIN_LAST:	/* delivered now; the next poll answers 204 */
		break;
	}
	return out->len > 0 ? 200 : 0;
}

static int
passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Wait for records. Returns 0 to keep waiting, DB_DOWN to try the database
 * again, or the status to answer with (-1: the client left). Records go to
 * out. retry: the last drain could not reach the database. */
static int
wait_for_records(struct app *app, struct http_request *h, const char *token,
    const struct poll_info *pi, struct waiter *w, const struct timespec *deadline,
    int retry, struct buf *out)
{
	struct timespec slice;

	if (atomic_load(&app->stopping) || atomic_load(&app->handing_off))
		return 200;	/* shutdown or restart: answer now, the client polls again */
	if (passed(deadline))
		return 200;	/* poll timeout (also while the database is away) */
	/* Wake up now and then to notice a client that went away (when the web
	 * server tells us), so an abandoned poll frees its thread early; sooner
	 * while the database is away. */
	clock_gettime(CLOCK_MONOTONIC, &slice);
	slice.tv_sec += retry ? DB_RETRY : GONE_CHECK_INTERVAL;
	if (slice.tv_sec > deadline->tv_sec ||
	    (slice.tv_sec == deadline->tv_sec && slice.tv_nsec > deadline->tv_nsec))
		slice = *deadline;
	switch (waiter_wait(app->notifier, w, &slice, out)) {
	case WAIT_DELIVERED:	/* the notifier drained for us */
		return out->len > 0 ? 200 : 0;
	case WAIT_DRAIN:
		return drain(app, token, pi, w, out);
	case WAIT_TIMEOUT:
		break;
	}
	if (http_client_gone(h))
		return -1;
	return retry ? drain(app, token, pi, w, out) : 0;
}

/* Start the poll. While the database is away the poll is held (retrying)
 * rather than failed: an error status would close the client's connection.
 * Returns STORE_OK / STORE_NOT_FOUND, or STORE_ERROR when it gave up (the
 * deadline, a restart, or the client left). */
static enum store_status
begin(struct app *app, struct http_request *h, const char *token, const struct timespec *deadline,
    struct poll_info *pi)
{
	for (;;) {
		enum store_status st = STORE_ERROR;
		PGconn *db = store_acquire(app->store);
		struct timespec pause = { DB_RETRY, 0 };

		if (db != NULL) {
			st = store_poll_begin(db, token, pi);
			store_release(app->store, db);
		}
		if (st != STORE_ERROR && st != STORE_BUSY)
			return st;
		if (atomic_load(&app->stopping) || atomic_load(&app->handing_off) ||
		    passed(deadline) || http_client_gone(h))
			return STORE_ERROR;
		nanosleep(&pause, NULL);
	}
}

void
longpoll_handle(struct app *app, struct http_request *h, const char *token)
{
	struct poll_info pi;
	struct waiter w;
	struct timespec deadline;
	struct buf out = BUF_INIT;
	enum store_status st;
	int status = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += app->cfg.poll_timeout;
	st = begin(app, h, token, &deadline, &pi);
	if (st == STORE_NOT_FOUND) {
		http_text(h, 404, "No Connection with that ID");
		return;
	}
	if (st != STORE_OK) {
		/* The database stayed away: an empty answer, and the client polls
		 * again (an error would end its connection). */
		http_respond(h, 200, "text/plain", "", 0, HTTP_NO_CACHE);
		return;
	}
	snprintf(h->conn_id, sizeof(h->conn_id), "%s", pi.connection_id);
	if (!pi.longpolling) {
		http_text(h, 400, "Cannot change transports mid-connection");
		return;
	}
	if (pi.first_poll) {
		log_info("connection %s: connected (LongPolling, group %s)", pi.connection_id,
		    LOG_TEXT(pi.group));
		/* The client discards the first poll's body: answer at once, empty. */
		end_poll(app, &pi);
		http_respond(h, 200, "application/octet-stream", "", 0, HTTP_NO_CACHE);
		return;
	}

	/* Register before the first drain so no wake-up can fall in between. */
	waiter_register(app->notifier, &w, pi.connection_id, pi.group, pi.poll_no, 0);
	status = drain(app, token, &pi, &w, &out);
	while (status == 0 || status == DB_DOWN)
		status = wait_for_records(app, h, token, &pi, &w, &deadline, status == DB_DOWN, &out);
	/* Records a batch drained for us meanwhile are ours to send. */
	waiter_unregister(app->notifier, &w, &out);

	/* The drain that returned records ended the poll already (poll_drain,
	 * drain_many): only an answer without records needs poll_end. */
	if (status != 204 && out.len == 0)
		end_poll(app, &pi);
	if (status == -1) {
		if (out.len > 0)
			log_warn("connection %s: client left a held poll; %zu bytes of records"
			    " were not delivered", pi.connection_id, out.len);
		log_debug("connection %s: client left a held poll", pi.connection_id);
	} else if (status == 200 && out.len > 0) {
		send_log_close(pi.connection_id, out.data, out.len);
		if (http_respond(h, 200, "application/octet-stream", out.data, out.len,
		    HTTP_NO_CACHE) == -1)
			log_warn("connection %s: poll answer lost (client gone)", pi.connection_id);
	} else if (status == 200) {
		http_respond(h, 200, "text/plain", "", 0, HTTP_NO_CACHE);
	} else if (status == 204) {
		http_respond(h, 204, "text/plain", "", 0, HTTP_NO_CACHE);
	} else {
		http_text(h, status, "Service Unavailable");
	}
	buf_free(&out);
}
