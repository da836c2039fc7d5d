/*
 * notify: the LISTEN dispatcher. One thread and one PostgreSQL connection per
 * process LISTEN on channel "pollhub"; each notification ('g:<group>' or
 * 'c:<connection id>') concerns the waiting polls and streams of this process
 * that belong to that group or connection.
 *
 * Fan-out is batched, and calendars take turns: a notification marks the
 * waiters it concerns pending and queues its group (the connection ids of
 * 'c:' notifications share one turn). The thread serves one turn at a time:
 * up to NOTIFY_BATCH_WAITERS pending waiters of the group at the queue's head
 * go, in one call, to the drain callback (one query for all of them), which
 * also bounds the batch's bytes; the group goes back to the tail while it has
 * pending waiters left (those past the batch's bytes or their own budget,
 * and those that have not taken their last records yet or drain themselves
 * right now: none of these drains alone). A group has one turn queued at a
 * time. So a busy calendar delays another's drain by at most one bounded
 * batch, and the LISTEN socket is read between batches. A waiter the batch
 * could not serve (closing, superseded, ...) is told to drain itself. A notification is only a hint: the data is in the tables. After a
 * lost LISTEN connection every waiter is told to drain itself.
 *
 * The LISTEN connection is health-checked: besides the store's TCP
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
#ifndef POLLHUB_NOTIFY_H
#define POLLHUB_NOTIFY_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "pherr.h"

struct store;
struct notifier;
struct tcpdiag_conn;

/* One waiting poll or stream (in the event loop's hold, or on a thread's
 * stack); apart from what the drain callback fills in, fields are private to
 * notify.c. */
struct waiter {
	struct waiter	*prev, *next;		/* all waiters */
	struct waiter	*id_prev, *id_next;	/* same hash bucket by connection id */
	struct waiter	*g_prev, *g_next;	/* same hash bucket by group */
	struct waiter	*batch_next;		/* in the batch being drained */
	const char	*connection_id;	/* borrowed for the registration's life */
	const char	*group;		/* borrowed; may be NULL */
	long long	 poll_no;	/* the poll (or stream) this waiter is */
	int		 stream;	/* a server-sent events stream, not a poll */
	pthread_cond_t	 cond;
	int		 signaled;	/* drain yourself */
	int		 claimed;	/* in a batch being drained */
	int		 delivered;	/* records holds what the batch drained */
	int		 draining;	/* draining itself: no batch may claim it */
	int		 pending;	/* notified; a turn of its group will drain it */
	void		(*wake_fn)(void *);	/* also told of news (the event loop), or NULL */
	void		*wake_arg;
	/* The client's TCP connection to the web server (borrowed for the
	 * registration's life), or NULL: a drain for it first asks whether the
	 * client is still there (tcpdiag). */
	const struct tcpdiag_conn *peer;
	/* Filled by the drain callback: */
	struct buf	 records;	/* 0x1E-terminated records (may be empty) */
	int		 served;	/* 1: records is all there was; 0: drain yourself */
	int		 more;		/* served, but the budget left records: drain after */
	int		 later;		/* past the batch's byte budget: not drained; the
					 * group's next batch takes it */
};

/* Waiters per batch (one drain call). */
#define NOTIFY_BATCH_WAITERS	500

/* Drains waiters[0..n) in one go on db (the dispatcher's own connection,
 * never the shared pool: a pool full of requests waiting on a lock must not
 * stop the fan-out); sets served (and records) on each it could serve, later
 * on each it left for the next batch. Runs on the dispatcher thread. Returns
 * -1 when db must be given up (it did not answer within the callback's
 * deadline, or failed): the notifier closes it and opens a new one. */
typedef int (*notify_drain_fn)(void *ctx, PGconn *db, struct waiter **waiters, size_t n);

/* Connect (with the store's connection parameters: timeouts, keepalives),
 * LISTEN and start the thread. NULL with a message on failure. */
struct notifier	*notifier_start(const struct store *, notify_drain_fn drain, void *ctx,
		    char *err, size_t errlen);
/* Stop the thread, wake everyone, free. */
void		 notifier_stop(struct notifier *);

/* Register before reading the tables, so a change committed after the read
 * cannot be missed. stream: 1 for a server-sent events stream. */
void	waiter_register(struct notifier *, struct waiter *, const char *connection_id,
	    const char *group, long long poll_no, int stream);

/* The same, for a waiter no thread waits on: wake_fn(wake_arg) is called,
 * with the notifier's lock held, whenever the waiter's thread would be woken
 * (it must only queue the waiter and return). Whoever acts on it then calls
 * waiter_wait with a deadline already passed, which does not block unless a
 * batch is draining for it. */
void	waiter_register_hook(struct notifier *, struct waiter *, const char *connection_id,
	    const char *group, long long poll_no, int stream, void (*wake_fn)(void *),
	    void *wake_arg);
/* waiter_register_hook for a long poll whose client's connection is known
 * (peer, borrowed; NULL: not known): see struct waiter's peer. */
void	waiter_register_peer(struct notifier *, struct waiter *, const char *connection_id,
	    const char *group, long long poll_no, const struct tcpdiag_conn *peer,
	    void (*wake_fn)(void *), void *wake_arg);

/* Wait until the CLOCK_MONOTONIC deadline for news: PH_TIMEOUT (the deadline
 * passed), PH_DRAIN (something may be pending: drain yourself) or
 * PH_DELIVERED (drained records appended to out). */
enum ph_err waiter_wait(struct notifier *, struct waiter *, const struct timespec *deadline,
		    struct buf *out);
/* The same without ever waiting (the event loop's thread): PH_DRAINING when a
 * batch is draining for the waiter right now. A hint that came while records
 * waited stays for the next call. */
enum ph_err waiter_poll(struct notifier *, struct waiter *, struct buf *out);
/* Unregister unless a batch is draining for it (then -1, nothing changed);
 * records it delivered are appended to out. */
int	waiter_try_unregister(struct notifier *, struct waiter *, struct buf *out);
/* Bracket a drain the waiting thread does itself (poll_drain). A batch and
 * a self-drain of one waiter must not overlap: whichever locked the rows
 * second would get the newer records and they would be sent first. Begin
 * waits for a batch in flight and appends what it delivered to out (older
 * than what the drain will read); until end, notifications concerning the
 * waiter only make its next waiter_wait return PH_DRAIN. */
void	waiter_drain_begin(struct notifier *, struct waiter *, struct buf *out);
void	waiter_drain_end(struct notifier *, struct waiter *);
/* Unregister; waits for a batch in flight. Records it delivered late are
 * appended to out (the caller must still send them). */
void	waiter_unregister(struct notifier *, struct waiter *, struct buf *out);

/* Append the connection ids of this process's open streams to out as a
 * PostgreSQL text[] literal ("{a,b}"); returns how many, or -1 (no memory). */
int	notifier_streams(struct notifier *, struct buf *out);
/* Tell every waiter to drain itself (shutdown, lost notifications). */
void	notifier_wake_all(struct notifier *);

#endif
