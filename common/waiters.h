/*
 * waiters: the registry of this process's waiting polls and streams, which
 * the LISTEN connection (listen.c) serves. Waiters are hashed by connection
 * id and by group; a notification ('g:<group>' or 'c:<connection id>') marks
 * the waiters it concerns pending and queues their key's turn.
 *
 * Fan-out is batched, and calendars take turns (turns.h): the connection ids
 * of 'c:' notifications share one turn; a group has one turn queued at a
 * time. The listener claims one turn at a time: up to WAITERS_BATCH pending
 * waiters of the key at the queue's head go, in one call, to its drain
 * callback (one query for all of them), which also bounds the batch's bytes;
 * the group goes back to the tail while it has pending waiters left (those
 * past the batch's bytes or their own budget, and those that have not taken
 * their last records yet or drain themselves right now: none of these drains
 * alone). So a busy calendar delays another's drain by at most one bounded
 * batch. A waiter the batch could not serve (closing, superseded, ...) is
 * told to drain itself. A notification is only a hint: the data is in the
 * tables.
 */
#ifndef POLLHUB_WAITERS_H
#define POLLHUB_WAITERS_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "pherr.h"

struct waiters;
struct tcpdiag_conn;

/* One waiting poll or stream (in the event loop's hold, or on a thread's
 * stack); apart from what the drain callback fills in, fields are private to
 * waiters.c. */
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
	int		 answered;	/* a poll that took its records: it answers with
					 * them, no batch may add to them (the budget) */
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
	int		 direct;	/* not drained: its own queue has records; the
					 * connection ids' turn takes it (drain_many) */
};

/* Waiters per batch (one drain call). A group's batch costs one
 * fanout_group: 1,000 members in one statement took less than two of 500
 * (its fixed costs are a large part), and less than drain_many took for
 * 500, so a busy calendar's turn delays another's no more than before. */
#define WAITERS_BATCH	1000

/* An empty registry; NULL with a message on failure. */
struct waiters	*waiters_new(char *err, size_t errlen);
/* Free it; no waiter may be registered any more. */
void		 waiters_free(struct waiters *);

/* Register before reading the tables, so a change committed after the read
 * cannot be missed. stream: 1 for a server-sent events stream. */
void	waiter_register(struct waiters *, struct waiter *, const char *connection_id,
	    const char *group, long long poll_no, int stream);

/* The same, for a waiter no thread waits on: wake_fn(wake_arg) is called,
 * with the registry's lock held, whenever the waiter's thread would be woken
 * (it must only queue the waiter and return). Whoever acts on it then calls
 * waiter_wait with a deadline already passed, which does not block unless a
 * batch is draining for it. */
void	waiter_register_hook(struct waiters *, struct waiter *, const char *connection_id,
	    const char *group, long long poll_no, int stream, void (*wake_fn)(void *),
	    void *wake_arg);
/* waiter_register_hook for a long poll whose client's connection is known
 * (peer, borrowed; NULL: not known): see struct waiter's peer. */
void	waiter_register_peer(struct waiters *, struct waiter *, const char *connection_id,
	    const char *group, long long poll_no, const struct tcpdiag_conn *peer,
	    void (*wake_fn)(void *), void *wake_arg);

/* Wait until the CLOCK_MONOTONIC deadline for news: PH_TIMEOUT (the deadline
 * passed), PH_DRAIN (something may be pending: drain yourself) or
 * PH_DELIVERED (drained records appended to out). */
enum ph_err waiter_wait(struct waiters *, struct waiter *, const struct timespec *deadline,
		    struct buf *out);
/* The same without ever waiting (the event loop's thread): PH_DRAINING when a
 * batch is draining for the waiter right now. A hint that came while records
 * waited stays for the next call. */
enum ph_err waiter_poll(struct waiters *, struct waiter *, struct buf *out);
/* Unregister unless a batch is draining for it (then -1, nothing changed);
 * records it delivered are appended to out. */
int	waiter_try_unregister(struct waiters *, struct waiter *, struct buf *out);
/* Bracket a drain the waiting thread does itself (poll_drain). A batch and
 * a self-drain of one waiter must not overlap: whichever locked the rows
 * second would get the newer records and they would be sent first. Begin
 * waits for a batch in flight and appends what it delivered to out (older
 * than what the drain will read); until end, notifications concerning the
 * waiter only make its next waiter_wait return PH_DRAIN. */
void	waiter_drain_begin(struct waiters *, struct waiter *, struct buf *out);
void	waiter_drain_end(struct waiters *, struct waiter *);
/* Unregister; waits for a batch in flight. Records it delivered late are
 * appended to out (the caller must still send them). */
void	waiter_unregister(struct waiters *, struct waiter *, struct buf *out);

/* Append the connection ids of this process's open streams to out as a
 * PostgreSQL text[] literal ("{a,b}"); returns how many, or -1 (no memory). */
int	waiters_streams(struct waiters *, struct buf *out);
/* Tell every waiter to drain itself (shutdown, lost notifications). */
void	waiters_wake_all(struct waiters *);

/* The listener's side (one thread). A notification for a group (is_group)
 * or a connection id: mark the waiters concerned pending and queue their
 * turn. */
void	waiters_mark(struct waiters *, int is_group, const char *key);
/* 1 when a turn is queued. */
int	waiters_have_turns(struct waiters *);
/* Claim the next turn's batch: returns how many waiters, in *batch (the
 * registry's array, the caller's until waiters_settle); *group: 1 when it is
 * a group's turn, 0 the connection ids'. Claimed waiters stay registered and
 * leave their records alone. */
size_t	waiters_claim(struct waiters *, struct waiter ***batch, int *group);
/* Hand out the batch claimed last, as the drain callback left each waiter
 * (given_up: it was not drained at all), and queue what is left for a turn
 * after. */
void	waiters_settle(struct waiters *, int given_up);

#endif
