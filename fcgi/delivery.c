#include "delivery.h"

#include <string.h>

#include "hubproto.h"
#include "log.h"
#include "waiters.h"
#include "corestore.h"
#include "tcpdiag.h"

PGconn *
delivery_acquire(struct app *app, PGconn **db)
{
	if (*db == NULL)
		*db = pool_acquire(app->pool);
	return *db;
}

void
delivery_release(struct app *app, PGconn **db)
{
	if (*db != NULL)
		pool_release(app->pool, *db);
	*db = NULL;
}

enum ph_err
delivery_drain(struct app *app, PGconn **db, struct waiter *w, struct buf *delivered,
    delivery_drain_fn fn, void *arg)
{
	PGconn *own = NULL, **use = db != NULL ? db : &own;
	enum ph_err st = PH_DB;

	waiter_drain_begin(app->waiters, w, delivered);
	/* A long poll whose client closed its connection to the web server
	 * drains nothing: its records stay for the connection's next poll. */
	if (w->peer != NULL && tcpdiag_check(w->peer) == PH_LEFT) {
		waiter_drain_end(app->waiters, w);
		return PH_LEFT;
	}
	if (delivery_acquire(app, use) != NULL)
		st = fn(*use, arg);
	if (st != PH_OK || use == &own)
		delivery_release(app, use);
	waiter_drain_end(app->waiters, w);
	return st;
}

int
delivery_log_close(const char *id, const char *data, size_t len)
{
	static const char logged[] = "Connection closed with an error.";
	char error[512];

	if (!hubproto_find_close(data, len, error, sizeof(error)))
		return 0;
	if (strncmp(error, logged, sizeof(logged) - 1) != 0)
		log_info("connection %s: disconnected: kicked by admin: %s", id, LOG_TEXT(error));
	return 1;
}
