#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "log.h"
#include "monotime.h"
#include "pgwait.h"
#include "sqlproto.h"
#include "store.h"

#define BUCKETS 4096	/* per index; chains stay short up to ~10^5 waiters */
/* Health check of the LISTEN connection: after this long without a byte from
 * the server, a round trip (an empty query) must come back within the
 * deadline, or the connection is taken for lost. */
#define PROBE_IDLE_MS 10000
#define PROBE_DEADLINE_MS 5000
/* Unacknowledged data on either connection fails it after this long (a link
 * that died with a query in flight; keepalives cover an idle one). */
#define TCP_USER_TIMEOUT_MS 20000
/* Setting up a new drains' connection (naming it) must answer within this;
 * after a failed connect, the next try waits this long. */
#define WORK_SETUP_MS 3000
#define WORK_RETRY_MS 1000
/* A turn whose waiters were all busy (their last records not taken yet, or
 * draining themselves) is tried again after this. */
#define TURN_RETRY_MS 5

/* A key with pending waiters, queued for its turn: a group name, or (in the
 * direct list) a connection id; an empty key in the turn queue stands for
 * the connection ids' shared turn. */
struct turn {
	struct turn	*next;
	struct turn	*hnext;		/* a group's: same bucket of queued_groups */
	/* A group's batch size: halved down to what the byte budget admitted
	 * when it left some 'later' (their backlog would be read for nothing),
	 * grown back when all fit. */
	size_t		 cap;
	char		 key[];
};

struct turn_queue {
	struct turn	*head, *tail;
};

struct notifier {
	const struct store *store;	/* connection parameters */
	PGconn		*db;		/* the dispatcher thread's LISTEN connection */
	PGconn		*work;		/* ... and the one its drains run on */
	pthread_t	 thread;
	int		 stop_pipe[2];	/* written once to stop the thread */
	notify_drain_fn	 drain;
	void		*drain_ctx;
	pthread_mutex_t	 lock;		/* guards the waiters and their flags */
	struct waiter	 head;		/* sentinel of the circular list of all */
	struct waiter	*by_id[BUCKETS];
	struct waiter	*by_group[BUCKETS];
	struct waiter	**batch;	/* the dispatcher's scratch array */
	long long	 work_failed_at;	/* when connecting the drains' one last failed */
	/* Pending work (lock held): groups in turn, and the connection ids of
	 * 'c:' notifications, which take one turn together (direct_queued: it
	 * is in turns). */
	struct turn_queue turns, direct;
	int		 direct_queued;
	/* The groups in turns, so that each has one turn at a time: a busy
	 * group queued twice would take two turns to another's one. */
	struct turn	*queued_groups[BUCKETS];
};

static size_t
bucket(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

/* Bound how long the kernel retries unacknowledged data (TCP only; a unix
 * socket refuses the option, which is fine). */
static void
bound_retransmission(PGconn *db)
{
	unsigned int ms = TCP_USER_TIMEOUT_MS;

	if (PQsocket(db) >= 0)
		(void)setsockopt(PQsocket(db), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}


static PGconn *
listen_connect(const struct store *store, char *err, size_t errlen)
{
	PGconn *db = store_connect(store);
	PGresult *r;

	if (db == NULL || PQstatus(db) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
		    db ? PQerrorMessage(db) : "out of memory");
		PQfinish(db);
		return NULL;
	}
	r = PQexec(db, "LISTEN " SQL_CHANNEL);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "LISTEN failed: %s", PQerrorMessage(db));
		PQclear(r);
		PQfinish(db);
		return NULL;
	}
	PQclear(r);
	/* Name the session, so that pg_stat_activity tells which backend LISTENs
	 * (operators; the tests that end it). Best effort. */
	PQclear(PQexec(db, "SELECT set_config('application_name',"
	    " left(current_setting('application_name'), 56) || ' listen', false)"));
	/* From now on only non-blocking calls: a dead link cannot hang the
	 * thread (the health check's query is sent with PQsendQuery). */
	if (PQsetnonblocking(db, 1) != 0) {
		snprintf(err, errlen, "PQsetnonblocking: %s", PQerrorMessage(db));
		PQfinish(db);
		return NULL;
	}
	bound_retransmission(db);
	return db;
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

static void
queue_push(struct turn_queue *q, struct turn *t)
{
	t->next = NULL;
	if (q->tail != NULL)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
}

static struct turn *
queue_pop(struct turn_queue *q)
{
	struct turn *t = q->head;

	if (t != NULL && (q->head = t->next) == NULL)
		q->tail = NULL;
	return t;
}

static void
queue_free(struct turn_queue *q)
{
	struct turn *t;

	while ((t = queue_pop(q)) != NULL)
		free(t);
}

/* Queue a group's turn (lock held), unless it has one already. */
static void
queue_group(struct notifier *n, struct turn *t)
{
	struct turn **chain = &n->queued_groups[bucket(t->key)];

	t->hnext = *chain;
	*chain = t;
	queue_push(&n->turns, t);
}

static int
group_queued(struct notifier *n, const char *key)
{
	for (struct turn *t = n->queued_groups[bucket(key)]; t != NULL; t = t->hnext)
		if (strcmp(t->key, key) == 0)
			return 1;
	return 0;
}

/* A group's turn taken off the queue (lock held). */
static void
group_taken(struct notifier *n, struct turn *t)
{
	struct turn **p = &n->queued_groups[bucket(t->key)];

	while (*p != NULL && *p != t)
		p = &(*p)->hnext;
	if (*p != NULL)
		*p = t->hnext;
}

/* Queue key for a turn (lock held): a group's (one at a time), or a
 * connection id's in the shared turn of the direct list. Returns -1 out of
 * memory. */
static int
queue_key(struct notifier *n, int is_group, const char *key)
{
	size_t len = strlen(key);
	struct turn *t;

	if (is_group && group_queued(n, key))
		return 0;
	if ((t = malloc(sizeof(*t) + len + 1)) == NULL)
		return -1;
	memcpy(t->key, key, len + 1);
	t->cap = NOTIFY_BATCH_WAITERS;
	if (is_group) {
		queue_group(n, t);
		return 0;
	}
	queue_push(&n->direct, t);
	if (!n->direct_queued) {
		struct turn *mark = malloc(sizeof(*mark) + 1);

		if (mark == NULL)
			return -1;	/* the direct list waits for the next 'c:' */
		mark->key[0] = '\0';
		queue_push(&n->turns, mark);
		n->direct_queued = 1;
	}
	return 0;
}

static int
matches(const struct waiter *w, int is_group, const char *key)
{
	const char *mine = is_group ? w->group : w->connection_id;

	return mine != NULL && strcmp(mine, key) == 0;
}

/* Mark the waiters concerned by one notification pending and queue their
 * turn (lock held). */
static void
mark_pending(struct notifier *n, const char *payload)
{
	const char *key = payload + 2;
	int is_group, fresh = 0;
	struct waiter *w;

	if (strncmp(payload, SQL_NOTIFY_GROUP, 2) == 0)
		is_group = 1;
	else if (strncmp(payload, SQL_NOTIFY_CONN, 2) == 0)
		is_group = 0;
	else
		return;
	w = is_group ? n->by_group[bucket(key)] : n->by_id[bucket(key)];
	for (; w != NULL; w = is_group ? w->g_next : w->id_next) {
		if (!matches(w, is_group, key) || w->pending)
			continue;	/* not this one, or already queued */
		/* One that has not taken the last batch yet, or is draining
		 * itself, is drained by a turn after that (claim_key waits for
		 * it): not by a drain of its own, which would take a pooled
		 * connection and escape the batch's budget. */
		w->pending = 1;
		fresh = 1;
	}
	/* A key whose waiters were all pending already is queued (under this
	 * or another key) and serves them. */
	if (fresh && queue_key(n, is_group, key) == -1) {
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
}

/* Claim the pending waiters of key into the batch, up to cap (lock held).
 * Returns what left some pending (the key's next turn takes them): LEFT_FULL
 * for lack of room, LEFT_BUSY for those that have not taken their last
 * records yet or drain themselves right now; 0 when none. */
#define LEFT_FULL 1
#define LEFT_BUSY 2
static int
claim_key(struct notifier *n, int is_group, const char *key, size_t cap, size_t *count)
{
	struct waiter *w = is_group ? n->by_group[bucket(key)] : n->by_id[bucket(key)];
	int left = 0;

	for (; w != NULL; w = is_group ? w->g_next : w->id_next) {
		if (!w->pending || w->claimed || !matches(w, is_group, key))
			continue;
		if (w->delivered || w->draining || *count >= cap) {
			left |= *count >= cap ? LEFT_FULL : LEFT_BUSY;
			continue;
		}
		w->pending = 0;
		w->claimed = 1;
		w->served = w->more = w->later = 0;
		n->batch[(*count)++] = w;
	}
	return left;
}

/* Move batch[from..to), just claimed from group's chain, to the chain's
 * tail (lock held): the next turn of a group with more pending waiters
 * than a batch holds starts with the others, so none waits for more than
 * its share of turns while pushes keep coming. */
static void
to_chain_tail(struct notifier *n, const char *group, struct waiter **batch, size_t from, size_t to)
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
next_batch(struct notifier *n, struct turn **group, int *rest)
{
	struct turn *t = queue_pop(&n->turns), *d;
	struct turn_queue busy = { NULL, NULL };
	size_t count = 0;

	*group = NULL;
	*rest = 0;
	if (t == NULL)
		return 0;
	if (t->key[0] != '\0') {
		group_taken(n, t);
		*group = t;
		*rest = claim_key(n, 1, t->key, t->cap, &count) != 0;
		if (*rest)
			to_chain_tail(n, t->key, n->batch, 0, count);
		return count;
	}
	/* The connection ids' turn, as many as one batch holds. A key whose
	 * waiter is busy goes to the tail: it must not hold up the others. */
	while (count < NOTIFY_BATCH_WAITERS && (d = queue_pop(&n->direct)) != NULL) {
		int left = claim_key(n, 0, d->key, NOTIFY_BATCH_WAITERS, &count);

		if (left & LEFT_FULL) {
			d->next = n->direct.head;
			n->direct.head = d;
			if (n->direct.tail == NULL)
				n->direct.tail = d;
			break;
		}
		if (left & LEFT_BUSY)
			queue_push(&busy, d);
		else
			free(d);
	}
	if (busy.head != NULL) {
		if (n->direct.tail != NULL)
			n->direct.tail->next = busy.head;
		else
			n->direct.head = busy.head;
		n->direct.tail = busy.tail;
	}
	if (n->direct.head != NULL)
		queue_push(&n->turns, t);
	else {
		n->direct_queued = 0;
		free(t);
	}
	return count;
}

/* The drains' connection, (re)connected when needed; NULL when the database
 * cannot be reached now (tried again WORK_RETRY_MS later). */
static PGconn *
work_connection(struct notifier *n)
{
	enum pgwait_status st;
	PGresult *r;

	if (n->work != NULL && PQstatus(n->work) == CONNECTION_OK)
		return n->work;
	if (n->work == NULL && n->work_failed_at != 0 && monotime_ms() - n->work_failed_at < WORK_RETRY_MS)
		return NULL;
	PQfinish(n->work);
	if ((n->work = store_connect(n->store)) == NULL || PQstatus(n->work) != CONNECTION_OK) {
		log_warn("notify: no connection for batched drains: %s",
		    n->work != NULL ? PQerrorMessage(n->work) : "out of memory");
		goto fail;
	}
	/* Named, so that pg_stat_activity tells which backend drains
	 * (operators; the tests that stop it). */
	r = pgwait_exec(n->work, "naming the drains' session", "SELECT set_config('application_name',"
	    " left(current_setting('application_name'), 56) || ' drain', false)", 0, NULL,
	    WORK_SETUP_MS, &st);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_warn("notify: the new drains' session (backend pid %d) failed: %s",
		    PQbackendPID(n->work), r != NULL ? PQresultErrorMessage(r) : pgwait_strstatus(st));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	/* Its statements are bounded by the callback's deadline (pgwait); the
	 * link by keepalives and this. */
	bound_retransmission(n->work);
	n->work_failed_at = 0;
	return n->work;
fail:
	PQfinish(n->work);
	n->work = NULL;
	n->work_failed_at = monotime_ms();
	return NULL;
}

/* Serve one turn: connect the drains' session first (nothing is claimed
 * without one), claim the turn's batch, drain it, hand each its records.
 * Returns how many waiters it claimed. */
static size_t
fan_out(struct notifier *n)
{
	PGconn *work = work_connection(n);
	struct turn *group;
	size_t count, i;
	long long t0;
	int given_up = 0, later = 0;
	size_t admitted = 0, cut = 0;

	pthread_mutex_lock(&n->lock);
	count = next_batch(n, &group, &later);
	pthread_mutex_unlock(&n->lock);

	/* Claimed waiters stay registered and leave their records alone. Not
	 * drained (no connection): each drains for itself. */
	t0 = monotime_ms();
	if (count > 0 && work != NULL && n->drain(n->drain_ctx, work, n->batch, count) == -1)
		given_up = 1;
	if (count > 0)
		log_debug("fan-out: %zu waiter(s) of %s drained in %lld ms", count,
		    group != NULL ? "a group" : "connections", monotime_ms() - t0);
	if (given_up) {
		log_warn("notify: the drains' session (backend pid %d) is given up; %zu waiter(s)"
		    " drain themselves; a new session follows", PQbackendPID(work), count);
		PQfinish(n->work);
		n->work = NULL;
	}

	pthread_mutex_lock(&n->lock);
	for (i = 0; i < count; i++) {
		struct waiter *w = n->batch[i];
		/* Past the batch's bytes, or past its own budget: the next turn
		 * (not a drain of its own, which would escape the budget). */
		int again = !given_up && (w->later || (w->served && w->more));

		w->claimed = 0;
		if (w->later)
			cut++;
		else if (w->served)
			admitted++;
		if (w->served && w->records.len > 0)
			w->delivered = 1;
		if (again && group != NULL)
			later = 1;
		else if (again && queue_key(n, 0, w->connection_id) == -1)
			again = 0;
		if (again)
			w->pending = 1;
		else if (!w->served || w->more)
			w->signaled = 1;
		wake(w);
	}
	if (group != NULL && !given_up && cut > 0)
		group->cap = admitted + admitted / 2 > 8 ? admitted + admitted / 2 : 8;
	else if (group != NULL && !given_up && group->cap < NOTIFY_BATCH_WAITERS)
		group->cap = group->cap * 2 < NOTIFY_BATCH_WAITERS ? group->cap * 2 : NOTIFY_BATCH_WAITERS;
	if (group != NULL && later)
		queue_group(n, group);
	else
		free(group);
	pthread_mutex_unlock(&n->lock);
	return count;
}

/* Read the notifications at hand: each marks its waiters pending. */
static void
take_notes(struct notifier *n)
{
	PGnotify *note;

	pthread_mutex_lock(&n->lock);
	while ((note = PQnotifies(n->db)) != NULL) {
		mark_pending(n, note->extra);
		PQfreemem(note);
	}
	pthread_mutex_unlock(&n->lock);
}

static int
have_turns(struct notifier *n)
{
	int any;

	pthread_mutex_lock(&n->lock);
	any = n->turns.head != NULL;
	pthread_mutex_unlock(&n->lock);
	return any;
}

/* Returns 1 when asked to stop during the pause. */
static int
pause_or_stop(struct notifier *n, int ms)
{
	struct pollfd p = { .fd = n->stop_pipe[0], .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

/* The LISTEN connection is gone or silent: drop it. The drains' one keeps
 * its own health (a failed drain gives up only that one). */
static void
lost(struct notifier *n, const char *why)
{
	log_warn("notify: lost the LISTEN session (backend pid %d): %s; reconnecting",
	    PQbackendPID(n->db), why);
	PQfinish(n->db);
	n->db = NULL;
}

/* Read what the server sent; the health check's results are consumed here.
 * Returns -1 when the connection failed. */
static int
consume(struct notifier *n, int *probing)
{
	if (!PQconsumeInput(n->db) || PQstatus(n->db) != CONNECTION_OK)
		return -1;
	while (*probing && !PQisBusy(n->db)) {
		PGresult *r = PQgetResult(n->db);

		if (r == NULL) {
			*probing = 0;	/* the round trip is complete */
			break;
		}
		if (PQresultStatus(r) != PGRES_EMPTY_QUERY && PQresultStatus(r) != PGRES_COMMAND_OK &&
		    PQresultStatus(r) != PGRES_TUPLES_OK)
			log_warn("notify: health check: %s", PQresultErrorMessage(r));
		PQclear(r);
	}
	return 0;
}

static void *
run(void *arg)
{
	struct notifier *n = arg;
	char err[512];
	/* Health check: when the server last sent anything, and whether (since
	 * when) a round trip is out; flushing: output libpq has yet to send. */
	long long heard = monotime_ms(), probe_at = 0;
	int probing = 0, flushing = 0, idle_turn = 0;

	for (;;) {
		struct pollfd p[2];
		long long now, wait;
		int rc;

		if (n->db == NULL) {
			if ((n->db = listen_connect(n->store, err, sizeof(err))) == NULL) {
				log_warn("notify: %s; retrying", err);
				if (pause_or_stop(n, 1000))
					break;
				continue;
			}
			log_info("notify: listening again");
			heard = monotime_ms();
			probing = flushing = 0;
			/* Hints sent while we were away are lost: everyone re-reads. */
			notifier_wake_all(n);
		}
		now = monotime_ms();
		if (probing && now - probe_at >= PROBE_DEADLINE_MS) {
			/* Read before judging: the answer may be in the socket,
			 * unread while a batch drained. */
			if (consume(n, &probing) == -1) {
				lost(n, PQerrorMessage(n->db));
				continue;
			}
			take_notes(n);
			if (probing) {
				snprintf(err, sizeof(err), "no answer to the health check in %d ms",
				    PROBE_DEADLINE_MS);
				lost(n, err);
				continue;
			}
			heard = now;
		}
		if (!probing && now - heard >= PROBE_IDLE_MS) {
			/* An empty query: one round trip, nothing for the server to do. */
			if (!PQsendQuery(n->db, "")) {
				lost(n, PQerrorMessage(n->db));
				continue;
			}
			probing = 1;
			probe_at = now;
			flushing = 1;
		}
		if (flushing && (rc = PQflush(n->db)) != 1) {
			if (rc == -1) {
				lost(n, PQerrorMessage(n->db));
				continue;
			}
			flushing = 0;
		}
		wait = probing ? probe_at + PROBE_DEADLINE_MS - now : heard + PROBE_IDLE_MS - now;
		if (wait < 0)
			wait = 0;
		/* Turns waiting: only look at the socket; a moment when the last
		 * turn found its waiters all busy with their last records. */
		if (have_turns(n) && wait > (idle_turn ? TURN_RETRY_MS : 0))
			wait = idle_turn ? TURN_RETRY_MS : 0;
		p[0] = (struct pollfd){ .fd = PQsocket(n->db),
		    .events = (short)(POLLIN | (flushing ? POLLOUT : 0)) };
		p[1] = (struct pollfd){ .fd = n->stop_pipe[0], .events = POLLIN };
		if ((rc = poll(p, 2, (int)wait)) < 0) {
			if (errno == EINTR)
				continue;
			log_error("notify: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (rc > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP))) {
			if (consume(n, &probing) == -1) {
				lost(n, PQerrorMessage(n->db));
				continue;
			}
			heard = monotime_ms();
			take_notes(n);
		}
		/* One turn, then the socket again: the LISTEN connection is read
		 * between batches, whatever one calendar has pending. */
		if (have_turns(n))
			idle_turn = fan_out(n) == 0;
	}
	return NULL;
}

struct notifier *
notifier_start(const struct store *store, notify_drain_fn drain, void *ctx, char *err,
    size_t errlen)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->store = store;
	n->head.next = n->head.prev = &n->head;
	n->drain = drain;
	n->drain_ctx = ctx;
	pthread_mutex_init(&n->lock, NULL);
	if ((n->batch = malloc(NOTIFY_BATCH_WAITERS * sizeof(*n->batch))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((n->db = listen_connect(store, err, errlen)) == NULL)
		goto fail;
	if (pipe2(n->stop_pipe, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&n->thread, NULL, run, n) != 0) {
		snprintf(err, errlen, "cannot start the notify thread");
		close(n->stop_pipe[0]);
		close(n->stop_pipe[1]);
		goto fail;
	}
	return n;
fail:
	PQfinish(n->db);
	pthread_mutex_destroy(&n->lock);
	free(n->batch);
	free(n);
	return NULL;
}

void
notifier_stop(struct notifier *n)
{
	if (n == NULL)
		return;
	if (write(n->stop_pipe[1], "x", 1) != 1)
		log_error("notify: cannot stop the thread");
	pthread_join(n->thread, NULL);
	notifier_wake_all(n);
	close(n->stop_pipe[0]);
	close(n->stop_pipe[1]);
	PQfinish(n->db);
	PQfinish(n->work);
	pthread_mutex_destroy(&n->lock);
	queue_free(&n->turns);
	queue_free(&n->direct);
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
register_with(struct notifier *n, struct waiter *w, const char *connection_id,
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
waiter_register(struct notifier *n, struct waiter *w, const char *connection_id,
    const char *group, long long poll_no, int stream)
{
	waiter_register_hook(n, w, connection_id, group, poll_no, stream, NULL, NULL);
}

void
waiter_register_hook(struct notifier *n, struct waiter *w, const char *connection_id,
    const char *group, long long poll_no, int stream, void (*wake_fn)(void *), void *wake_arg)
{
	register_with(n, w, connection_id, group, poll_no, stream, NULL, wake_fn, wake_arg);
}

void
waiter_register_peer(struct notifier *n, struct waiter *w, const char *connection_id,
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
}

enum ph_err
waiter_wait(struct notifier *n, struct waiter *w, const struct timespec *deadline,
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
waiter_poll(struct notifier *n, struct waiter *w, struct buf *out)
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
waiter_drain_begin(struct notifier *n, struct waiter *w, struct buf *out)
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
waiter_drain_end(struct notifier *n, struct waiter *w)
{
	pthread_mutex_lock(&n->lock);
	w->draining = 0;
	pthread_mutex_unlock(&n->lock);
}

/* Unlink w (lock held, not claimed). */
static void
unlink_waiter(struct notifier *n, struct waiter *w, struct buf *out)
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
waiter_try_unregister(struct notifier *n, struct waiter *w, struct buf *out)
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
waiter_unregister(struct notifier *n, struct waiter *w, struct buf *out)
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
notifier_streams(struct notifier *n, struct buf *out)
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
notifier_wake_all(struct notifier *n)
{
	pthread_mutex_lock(&n->lock);
	for (struct waiter *w = n->head.next; w != &n->head; w = w->next) {
		w->signaled = 1;
		wake(w);
	}
	pthread_mutex_unlock(&n->lock);
}
