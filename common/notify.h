/*
 * notify: the LISTEN dispatcher. One thread and one PostgreSQL connection per
 * process LISTEN on channel "pollhub"; each notification ('g:<group>' or
 * 'c:<connection id>') wakes the waiting polls of this process that care.
 * A notification is only a hint: a woken poll re-reads the tables. After a
 * lost database connection every waiter is woken, since hints may be missed.
 */
#ifndef POLLHUB_NOTIFY_H
#define POLLHUB_NOTIFY_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

struct notifier;

/* One waiting poll. Lives on the waiting thread's stack; fields are private
 * to notify.c. */
struct waiter {
	struct waiter	*prev, *next;
	const char	*connection_id;	/* borrowed for the registration's life */
	const char	*group;		/* borrowed; may be NULL */
	pthread_cond_t	 cond;
	int		 signaled;
	int		 stream;	/* a server-sent events stream, not a poll */
};

/* Connect, LISTEN and start the thread. NULL with a message on failure. */
struct notifier	*notifier_start(const char *conninfo, char *err, size_t errlen);
/* Stop the thread, wake everyone, free. */
void		 notifier_stop(struct notifier *);

/* Register before reading the tables, so a change committed after the read
 * cannot be missed. stream: 1 for a server-sent events stream. */
void	waiter_register(struct notifier *, struct waiter *, const char *connection_id,
	    const char *group, int stream);
/* Wait until signaled or the CLOCK_MONOTONIC deadline. Returns 1 when
 * signaled (and clears the signal), 0 on timeout. */
int	waiter_wait(struct notifier *, struct waiter *, const struct timespec *deadline);
void	waiter_unregister(struct notifier *, struct waiter *);
/* Append the connection ids of this process's open streams to out as a
 * PostgreSQL text[] literal ("{a,b}"); returns how many, or -1 (no memory). */
int	notifier_streams(struct notifier *, struct buf *out);
/* Wake every waiter (shutdown). */
void	notifier_wake_all(struct notifier *);

#endif
