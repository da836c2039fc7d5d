/*
 * delivery: what every receive request (a Core long poll or stream, a
 * classic poll or stream) does around its own drain, written once: the
 * waiter's drain bracket (waiter_drain_begin/end: a batch and a self-drain
 * of one waiter never overlap), a pool connection for the drain statement,
 * the client's TCP connection asked first, and the pace of tries while the
 * database is away. Also the log line of a Close going out.
 */
#ifndef POLLHUB_DELIVERY_H
#define POLLHUB_DELIVERY_H

#include <stddef.h>

#include <libpq-fe.h>

#include "app.h"
#include "buf.h"
#include "pherr.h"

struct waiter;

/* Milliseconds between drains while the database is away (a held request
 * tries again, never a worker waiting in a loop). */
#define DELIVERY_RETRY_MS	1000

/* The drain statement, run on db inside the bracket; its status is the
 * bracket's. */
typedef enum ph_err (*delivery_drain_fn)(PGconn *db, void *arg);

/* A pool connection shared by statements that run back to back (a long
 * poll's poll_begin and its first drain): delivery_acquire takes one into
 * *db unless it holds one already (NULL: none came in time);
 * delivery_release gives it back (nothing when *db is NULL). Release it
 * before anything that may wait for a batch (waiter_wait,
 * waiter_unregister): the pool must not wait on the fan-out. A statement
 * that failed releases it, so that the next one takes a fresh connection
 * (the pool replaces one it gave up). */
PGconn	*delivery_acquire(struct app *, PGconn **db);
void	 delivery_release(struct app *, PGconn **db);

/* Drain for w with fn(db, arg) inside its bracket. What a batch delivered
 * to w before the drain is appended to delivered first (older than what fn
 * reads). db NULL: a pool connection is acquired and released here; else
 * the drain runs on the caller's connection *db (delivery_acquire; kept,
 * but released when fn fails). PH_LEFT when the kernel says w's client left (w->peer):
 * nothing is drained, no connection taken; PH_DB when no pool connection
 * came; else what fn returned. */
enum ph_err delivery_drain(struct app *, PGconn **db, struct waiter *w, struct buf *delivered,
	    delivery_drain_fn fn, void *arg);

/* Log a Close message among the records data[0..len) that connection id is
 * being sent: one drained from the database is an administrator's
 * disconnect_connection (a protocol error's or the pending cap's Close was
 * logged when it was queued). Returns whether there was one. */
int	delivery_log_close(const char *id, const char *data, size_t len);

#endif
