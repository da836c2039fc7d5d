#include "waiters.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fnv.h"
#include "log.h"
#include "turns.h"

#define BUCKETS 4096	/* per index; chains stay short up to ~10^5 waiters */

struct waiters {
	pthread_mutex_t	 lock;		/* guards the waiters and their flags */
	struct waiter	 head;		/* sentinel of the circular list of all */
	struct waiter	*by_id[BUCKETS];
	struct waiter	*by_group[BUCKETS];
	struct waiter	**batch;	/* the listener's scratch array */
	/* The batch claimed last: how many, the group's turn it serves (NULL:
	 * the connection ids'), and whether that group has pending waiters
	 * left. */
	size_t		 batch_count;
	struct turn	*batch_group;
	int		 batch_later;
	struct turns	*turns;		/* the keys with pending waiters (lock held) */
};

static size_t
bucket(const char *s)
{
	return fnv1a(s) % BUCKETS;
}

/* Tell a waiter there is news (lock held): its thread, and the event loop's
 * hook when one holds it (loop.c queues it; the hook must not call back). */
static void
wake(struct waiter *w)
{
	pthread_cond_signal(&w->cond);
	if (w->wake_fn != NULL)
		w->wake_fn(w->wake_arg);
}

static int
matches(const struct waiter *w, int is_group, const char *key)
{
	const char *mine = is_group ? w->group : w->connection_id;

	return mine != NULL && strcmp(mine, key) == 0;
}

void
waiters_mark(struct waiters *n, int is_group, const char *key)
{
	int fresh = 0;
	struct waiter *w;

	pthread_mutex_lock(&n->lock);
	w = is_group ? n->by_group[bucket(key)] : n->by_id[bucket(key)];
	for (; w != NULL; w = is_group ? w->g_next : w->id_next) {
		if (!matches(w, is_group, key) || w->pending || w->answered)
			continue;	/* not this one, already queued, or answering */
		/* One that has not taken the last batch yet, or is draining
		 * itself, is drained by a turn after that (claim_key waits for
		 * it): not by a drain of its own, which would take a pooled
		 * connection and escape the batch's budget. */
		w->pending = 1;
		fresh = 1;
	}
	/* A key whose waiters were all pending already is queued (under this
	 * or another key) and serves them. */
	if (fresh && turns_queue(n->turns, is_group, key, WAITERS_BATCH) == -1) {
		/* Out of memory: those concerned drain for themselves. */
		for (w = is_group ? n->by_group[bucket(key)] : n->by_id[bucket(key)]; w != NULL;
		    w = is_group ? w->g_next : w->id_next) {
			if (matches(w, is_group, key) && w->pending) {
				w->pending = 0;
				w->signaled = 1;
				wake(w);
			}
		}
	}
	pthread_mutex_unlock(&n->lock);
}

/* Claim the pending waiters of key into the batch, up to cap (lock held).
 * Returns what left some pending (the key's next turn takes them): LEFT_FULL
 * for lack of room, LEFT_BUSY for those that have not taken their last
 * records yet or drain themselves right now; 0 when none. */
#define LEFT_FULL 1
#define LEFT_BUSY 2
static int
claim_key(struct waiters *n, int is_group, const char *key, size_t cap, size_t *count)
{
	struct waiter *w = is_group ? n->by_group[bucket(key)] : n->by_id[bucket(key)];
	int left = 0;

	for (; w != NULL; w = is_group ? w->g_next : w->id_next) {
		if (!w->pending || w->claimed || !matches(w, is_group, key))
			continue;
		if (w->answered) {
			w->pending = 0;	/* the poll's next poll drains it */
			continue;
		}
		if (w->delivered || w->draining || *count >= cap) {
			left |= *count >= cap ? LEFT_FULL : LEFT_BUSY;
			continue;
		}
		w->pending = 0;
		w->claimed = 1;
		w->served = w->more = w->later = w->direct = 0;
		n->batch[(*count)++] = w;
	}
	return left;
}

/* Move batch[from..to), just claimed from group's chain, to the chain's
 * tail (lock held): the next turn of a group with more pending waiters
 * than a batch holds starts with the others, so none waits for more than
 * its share of turns while pushes keep coming. */
static void
to_chain_tail(struct waiters *n, const char *group, struct waiter **batch, size_t from, size_t to)
{
	struct waiter **head = &n->by_group[bucket(group)], *tail;
	size_t i;

	for (i = from; i < to; i++) {
		struct waiter *w = batch[i];

		if (w->g_prev != NULL)
			w->g_prev->g_next = w->g_next;
		else
			*head = w->g_next;
		if (w->g_next != NULL)
			w->g_next->g_prev = w->g_prev;
	}
	for (tail = *head; tail != NULL && tail->g_next != NULL; tail = tail->g_next)
		;
	for (i = from; i < to; i++) {
		struct waiter *w = batch[i];

		w->g_next = NULL;
		w->g_prev = tail;
		if (tail != NULL)
			tail->g_next = w;
		else
			*head = w;
		tail = w;
	}
}

/* Take the next turn's batch (lock held): *group is the group's turn it
 * serves (the caller queues it again or frees it; *rest: it has pending
 * waiters left), or NULL for the connection ids' turn. Returns how many
 * waiters were claimed. */
static size_t
next_batch(struct waiters *n, struct turn **group, int *rest)
{
	struct turn *t = turns_next(n->turns), *d;
	size_t count = 0;

	*group = NULL;
	*rest = 0;
	if (t == NULL)
		return 0;
	if (t->key[0] != '\0') {
		*group = t;
		*rest = claim_key(n, 1, t->key, t->cap, &count) != 0;
		if (*rest)
			to_chain_tail(n, t->key, n->batch, 0, count);
		return count;
	}
	/* The connection ids' turn, as many as one batch holds. A key whose
	 * waiter is busy goes to the tail: it must not hold up the others. */
	while (count < WAITERS_BATCH && (d = turns_direct_pop(n->turns)) != NULL) {
		int left = claim_key(n, 0, d->key, WAITERS_BATCH, &count);

		if (left & LEFT_FULL) {
			turns_direct_unpop(n->turns, d);
			break;
		}
		if (left & LEFT_BUSY)
			turns_direct_later(n->turns, d);
		else
			free(d);
	}
	turns_direct_done(n->turns, t);
	return count;
}

size_t
waiters_claim(struct waiters *n, struct waiter ***batch, int *group)
{
	pthread_mutex_lock(&n->lock);
	n->batch_count = next_batch(n, &n->batch_group, &n->batch_later);
	pthread_mutex_unlock(&n->lock);
	*batch = n->batch;
	*group = n->batch_group != NULL;
	return n->batch_count;
}

void
waiters_settle(struct waiters *n, int given_up)
{
	struct turn *group = n->batch_group;
	size_t count = n->batch_count, i;
	size_t admitted = 0, cut = 0;
	int later = n->batch_later;

	pthread_mutex_lock(&n->lock);
	for (i = 0; i < count; i++) {
		struct waiter *w = n->batch[i];
		/* Past the batch's bytes, or past its own budget: the next turn
		 * (not a drain of its own, which would escape the budget). */
		/* A long poll past its budget answers with what it got; its
		 * next poll drains the rest (a stream takes another event). */
		int poll_more = w->served && w->more && !w->stream;
		int again = !given_up && (w->later || (w->served && w->more && !poll_more));

		w->claimed = 0;
		if (w->later)
			cut++;
		else if (w->served)
			admitted++;
		if (w->served && w->records.len > 0)
			w->delivered = 1;
		if (again && group != NULL)
			later = 1;
		else if (again && turns_queue(n->turns, 0, w->connection_id, WAITERS_BATCH) == -1)
			again = 0;
		/* A group's turn left it to the connection ids' one: its queue is
		 * merged there with its pushes, in one batch with the others. */
		if (!again && !given_up && w->direct &&
		    turns_queue(n->turns, 0, w->connection_id, WAITERS_BATCH) == 0)
			again = 1;
		if (again)
			w->pending = 1;
		else if (!w->served || (w->more && !poll_more))
			w->signaled = 1;
		wake(w);
	}
	if (group != NULL && !given_up && cut > 0)
		group->cap = admitted + admitted / 2 > 8 ? admitted + admitted / 2 : 8;
	else if (group != NULL && !given_up && group->cap < WAITERS_BATCH)
		group->cap = group->cap * 2 < WAITERS_BATCH ? group->cap * 2 : WAITERS_BATCH;
	if (group != NULL && later)
		turns_requeue(n->turns, group);
	else
		free(group);
	n->batch_group = NULL;
	n->batch_count = 0;
	pthread_mutex_unlock(&n->lock);
}

int
waiters_have_turns(struct waiters *n)
{
	int any;

	pthread_mutex_lock(&n->lock);
	any = turns_any(n->turns);
	pthread_mutex_unlock(&n->lock);
	return any;
}

struct waiters *
waiters_new(char *err, size_t errlen)
{
	struct waiters *n = calloc(1, sizeof(*n));

	if (n == NULL || (n->batch = malloc(WAITERS_BATCH * sizeof(*n->batch))) == NULL ||
	    (n->turns = turns_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		if (n != NULL)
			free(n->batch);
		free(n);
		return NULL;
	}
	n->head.next = n->head.prev = &n->head;
	pthread_mutex_init(&n->lock, NULL);
	return n;
}

void
waiters_free(struct waiters *n)
{
	if (n == NULL)
		return;
	pthread_mutex_destroy(&n->lock);
	turns_free(n->turns);
	free(n->batch);
	free(n);
}

/* Push w on the front of a hash chain threaded through prev/next fields. */
#define CHAIN_PUSH(head, w, prevf, nextf) do {			\
	(w)->prevf = NULL;					\
	(w)->nextf = (head);					\
	if ((head) != NULL)					\
		(head)->prevf = (w);				\
	(head) = (w);						\
} while (0)
#define CHAIN_REMOVE(head, w, prevf, nextf) do {		\
	if ((w)->prevf != NULL)					\
		(w)->prevf->nextf = (w)->nextf;			\
	else							\
		(head) = (w)->nextf;				\
	if ((w)->nextf != NULL)					\
		(w)->nextf->prevf = (w)->prevf;			\
} while (0)

/* Set before the waiter is in the tables: a batch reads peer without the lock. */
static void
register_with(struct waiters *n, struct waiter *w, const char *connection_id,
    const char *group, long long poll_no, int stream, const struct tcpdiag_conn *peer,
    void (*wake_fn)(void *), void *wake_arg)
{
	pthread_condattr_t attr;

	memset(w, 0, sizeof(*w));
	w->peer = peer;
	w->wake_fn = wake_fn;
	w->wake_arg = wake_arg;
	w->connection_id = connection_id;
	w->group = group;
	w->poll_no = poll_no;
	w->stream = stream;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&n->lock);
	w->next = n->head.next;
	w->prev = &n->head;
	n->head.next->prev = w;
	n->head.next = w;
	CHAIN_PUSH(n->by_id[bucket(connection_id)], w, id_prev, id_next);
	if (group != NULL)
		CHAIN_PUSH(n->by_group[bucket(group)], w, g_prev, g_next);
	pthread_mutex_unlock(&n->lock);
}

void
waiter_register(struct waiters *n, struct waiter *w, const char *connection_id,
    const char *group, long long poll_no, int stream)
{
	waiter_register_hook(n, w, connection_id, group, poll_no, stream, NULL, NULL);
}

void
waiter_register_hook(struct waiters *n, struct waiter *w, const char *connection_id,
    const char *group, long long poll_no, int stream, void (*wake_fn)(void *), void *wake_arg)
{
	register_with(n, w, connection_id, group, poll_no, stream, NULL, wake_fn, wake_arg);
}

void
waiter_register_peer(struct waiters *n, struct waiter *w, const char *connection_id,
    const char *group, long long poll_no, const struct tcpdiag_conn *peer,
    void (*wake_fn)(void *), void *wake_arg)
{
	register_with(n, w, connection_id, group, poll_no, 0, peer, wake_fn, wake_arg);
}

/* Move delivered records to out (lock held). */
static void
take(struct waiter *w, struct buf *out)
{
	if (buf_append(out, w->records.data, w->records.len) == -1)
		log_error("connection %s: out of memory; %zu bytes of records lost",
		    w->connection_id, w->records.len);
	buf_shrink(&w->records);	/* a batch's worth is not kept for life */
	w->delivered = 0;
	/* A poll answers with what it took: no batch adds to it (two batches
	 * before the answer would pass POLLHUB_MAX_ANSWER); its next poll
	 * drains what came meanwhile. A stream writes each as an event. */
	if (!w->stream && out->len > 0)
		w->answered = 1;
}

enum ph_err
waiter_wait(struct waiters *n, struct waiter *w, const struct timespec *deadline,
    struct buf *out)
{
	enum ph_err rc;
	int timed_out = 0;

	struct timespec now;

	/* A deadline already passed (a check, not a wait): no timed wait at all. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline->tv_sec ||
	    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
		timed_out = 1;
	pthread_mutex_lock(&n->lock);
	for (;;) {
		if (w->delivered) {
			take(w, out);
			rc = PH_DELIVERED;
			break;
		}
		if (w->signaled) {
			w->signaled = 0;
			rc = PH_DRAIN;
			break;
		}
		if (timed_out && !w->claimed) {
			rc = PH_TIMEOUT;
			break;
		}
		/* A batch in flight is awaited past the deadline: it is quick, and
		 * what it drains is this waiter's to send. */
		if (timed_out)
			pthread_cond_wait(&w->cond, &n->lock);
		else if (pthread_cond_timedwait(&w->cond, &n->lock, deadline) == ETIMEDOUT)
			timed_out = 1;
	}
	pthread_mutex_unlock(&n->lock);
	return rc;
}

enum ph_err
waiter_poll(struct waiters *n, struct waiter *w, struct buf *out)
{
	enum ph_err rc = PH_TIMEOUT;

	pthread_mutex_lock(&n->lock);
	if (w->claimed) {
		rc = PH_DRAINING;
	} else if (w->delivered) {
		take(w, out);
		rc = PH_DELIVERED;
	} else if (w->signaled) {
		w->signaled = 0;
		rc = PH_DRAIN;
	}
	pthread_mutex_unlock(&n->lock);
	return rc;
}

void
waiter_drain_begin(struct waiters *n, struct waiter *w, struct buf *out)
{
	pthread_mutex_lock(&n->lock);
	while (w->claimed)
		pthread_cond_wait(&w->cond, &n->lock);
	if (w->delivered)
		take(w, out);
	/* The drain reads everything committed so far: earlier hints are spent. */
	w->signaled = 0;
	w->draining = 1;
	pthread_mutex_unlock(&n->lock);
}

void
waiter_drain_end(struct waiters *n, struct waiter *w)
{
	pthread_mutex_lock(&n->lock);
	w->draining = 0;
	pthread_mutex_unlock(&n->lock);
}

/* Unlink w (lock held, not claimed). */
static void
unlink_waiter(struct waiters *n, struct waiter *w, struct buf *out)
{
	if (w->delivered)
		take(w, out);
	w->prev->next = w->next;
	w->next->prev = w->prev;
	CHAIN_REMOVE(n->by_id[bucket(w->connection_id)], w, id_prev, id_next);
	if (w->group != NULL)
		CHAIN_REMOVE(n->by_group[bucket(w->group)], w, g_prev, g_next);
}

int
waiter_try_unregister(struct waiters *n, struct waiter *w, struct buf *out)
{
	pthread_mutex_lock(&n->lock);
	if (w->claimed) {
		pthread_mutex_unlock(&n->lock);
		return -1;
	}
	unlink_waiter(n, w, out);
	pthread_mutex_unlock(&n->lock);
	pthread_cond_destroy(&w->cond);
	buf_free(&w->records);
	return 0;
}

void
waiter_unregister(struct waiters *n, struct waiter *w, struct buf *out)
{
	pthread_mutex_lock(&n->lock);
	while (w->claimed)
		pthread_cond_wait(&w->cond, &n->lock);
	unlink_waiter(n, w, out);
	pthread_mutex_unlock(&n->lock);
	pthread_cond_destroy(&w->cond);
	buf_free(&w->records);
}

int
waiters_streams(struct waiters *n, struct buf *out)
{
	int count = 0, rc = 0;

	/* Connection ids are base64url: nothing in them needs quoting. */
	pthread_mutex_lock(&n->lock);
	rc = buf_puts(out, "{");
	for (struct waiter *w = n->head.next; rc == 0 && w != &n->head; w = w->next) {
		if (!w->stream)
			continue;
		if ((count > 0 && buf_puts(out, ",") == -1) || buf_puts(out, w->connection_id) == -1)
			rc = -1;
		count++;
	}
	pthread_mutex_unlock(&n->lock);
	if (rc == -1 || buf_puts(out, "}") == -1)
		return -1;
	return count;
}

void
waiters_wake_all(struct waiters *n)
{
	pthread_mutex_lock(&n->lock);
	for (struct waiter *w = n->head.next; w != &n->head; w = w->next) {
		w->signaled = 1;
		wake(w);
	}
	pthread_mutex_unlock(&n->lock);
}
