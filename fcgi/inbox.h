/*
 * inbox: what other threads hand the event loop's thread, behind one lock,
 * with an eventfd that wakes the loop: new held requests (from workers and
 * the restart), wake-ups (from the notifier), finished steps (from the job
 * threads), and commands (stop, restart in place, take back after a failed
 * exec). It also counts, while a restart waits, the held requests neither
 * ended nor parked yet. It knows nothing of what the nodes are.
 */
#ifndef POLLHUB_INBOX_H
#define POLLHUB_INBOX_H

#include <stddef.h>

/* Embedded in what is handed over. Guarded by the inbox's lock. */
struct inbox_node {
	int			 queued;	/* in the wake queue */
	struct inbox_node	*wake_next;	/* in the wake queue */
	struct inbox_node	*q_next;	/* in the new or done queue (never both) */
};

struct inbox;

/* What the loop takes at once (inbox_take). */
struct inbox_taken {
	struct inbox_node	*added;		/* newest first */
	struct inbox_node	*done;		/* in the order the steps finished */
	int			 stop, handoff, unpark, force;
};

/* NULL when out of memory or without an eventfd (errno says). */
struct inbox	*inbox_new(void);
/* The eventfd the loop waits on (readable: something was handed over). */
int		 inbox_fd(const struct inbox *);

void	inbox_add(struct inbox *, struct inbox_node *);
/* A wake-up: queued once until the loop takes it (called with the
 * notifier's lock held: never the other way round). */
void	inbox_wake(struct inbox *, struct inbox_node *);
/* Take a node off the wake queue (nothing queues it again: its waiter is
 * unregistered). */
void	inbox_unqueue(struct inbox *, struct inbox_node *);
void	inbox_done(struct inbox *, struct inbox_node *);
void	inbox_stop(struct inbox *);
void	inbox_unpark(struct inbox *);

/* On the loop thread: take what was handed over. woken runs for each
 * wake-up under the lock (once off the queue, a node may be queued again);
 * the commands are cleared, but for handoff (inbox_counted clears it). */
void	inbox_take(struct inbox *, struct inbox_taken *,
	    void (*woken)(struct inbox_node *, void *arg), void *arg);

/* Restart in place. inbox_handoff (the restarting thread) raises the
 * command and waits: for the loop to count what it holds (inbox_counted, n
 * more to wait for; inbox_counted(0) when one more arrives meanwhile: use
 * inbox_count_one), then for each to end or park (inbox_settled). Past
 * timeout_ms it raises force, and waits on without a bound, saying so. */
void	inbox_handoff(struct inbox *, int timeout_ms);
void	inbox_counted(struct inbox *, size_t n);
void	inbox_count_one(struct inbox *);
void	inbox_settled(struct inbox *);
/* The exec failed: nothing is waited for any more. */
void	inbox_uncount(struct inbox *);

#endif
