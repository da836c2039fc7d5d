/*
 * listen: the LISTEN connection. One thread and one PostgreSQL connection
 * per process LISTEN on channel "pollhub"; each notification ('g:<group>' or
 * 'c:<connection id>') goes to the waiter registry (waiters.h), which marks
 * the waiting polls and streams of this process it concerns pending and
 * queues their turn. Between two reads of the socket the thread serves one
 * turn: it claims the turn's batch and hands it, in one call, to the drain
 * callback, on a connection of its own. After a lost LISTEN connection
 * every waiter is told to drain itself.
 *
 * The LISTEN connection is health-checked: besides the pool's TCP
 * keepalives (and a bound on unacknowledged data), after 10 s without a byte
 * from the server an empty query goes out, non-blocking, and must come back
 * within 5 s (the socket is read before that is judged); otherwise the
 * connection counts as lost (so does one that fails), is reconnected, and
 * every waiter drains once. Its session is named '<application_name> listen'
 * in pg_stat_activity. The drains run on a connection of their own,
 * '<application_name> drain', with a health of its own: a drain that fails
 * or passes its deadline (the callback's, kept with pgwait) gives up only
 * that session, which is opened again before the next batch is claimed; a
 * failing drain never takes the LISTEN connection down.
 */
#ifndef POLLHUB_LISTEN_H
#define POLLHUB_LISTEN_H

#include <stddef.h>

#include <libpq-fe.h>

struct listener;
struct pool;
struct waiter;
struct waiters;

/* Drains waiters[0..n) in one go on db (the listener's own connection,
 * never the shared pool: a pool full of requests waiting on a lock must not
 * stop the fan-out); sets served (and records) on each it could serve, later
 * on each it left for the next batch. Runs on the listener's thread. Returns
 * -1 when db must be given up (it did not answer within the callback's
 * deadline, or failed): the listener closes it and opens a new one. group:
 * the group whose turn it is (every waiter is its member), or NULL for the
 * turn of the connection ids named by 'c:' notifications. */
typedef int (*listen_drain_fn)(void *ctx, PGconn *db, const char *group,
    struct waiter **waiters, size_t n);

/* Connect (with the pool's connection parameters: timeouts, keepalives),
 * LISTEN and start the thread, which serves the registry (borrowed; it
 * outlives the listener). NULL with a message on failure. */
struct listener	*listen_start(const struct pool *, struct waiters *, listen_drain_fn drain,
		    void *ctx, char *err, size_t errlen);
/* Stop the thread, wake every waiter, free. */
void		 listen_stop(struct listener *);

#endif
