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
	size_t		 batch_cap;
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

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Gather the waiters concerned by one notification into the batch (lock held). */
static void
collect(struct notifier *n, const char *payload, struct waiter **batch)
{
	const char *key = payload + 2;
	int is_group;
	struct waiter *w;

	if (strncmp(payload, SQL_NOTIFY_GROUP, 2) == 0)
		is_group = 1;
	else if (strncmp(payload, SQL_NOTIFY_CONN, 2) == 0)
		is_group = 0;
	else
		return;
	w = is_group ? n->by_group[bucket(key)] : n->by_id[bucket(key)];
	for (; w != NULL; w = is_group ? w->g_next : w->id_next) {
		const char *mine = is_group ? w->group : w->connection_id;

		if (mine == NULL || strcmp(mine, key) != 0 || w->claimed)
			continue;	/* not this one, or already in the batch */
		if (w->delivered || w->draining) {
			/* It has not taken the last batch yet, or is draining
			 * itself: let it drain (again) after. */
			w->signaled = 1;
			wake(w);
			continue;
		}
		w->claimed = 1;
		w->served = 0;
		w->more = 0;
		w->batch_next = *batch;
		*batch = w;
	}
}

/* The drains' connection, (re)connected when needed; NULL when the database
 * cannot be reached now. */
static PGconn *
work_connection(struct notifier *n)
{
	if (n->work != NULL && PQstatus(n->work) == CONNECTION_OK)
		return n->work;
	if (n->work != NULL)
		PQreset(n->work);
	else
		n->work = store_connect(n->store);
	if (n->work == NULL || PQstatus(n->work) != CONNECTION_OK) {
		log_warn("notify: no connection for batched drains: %s",
		    n->work != NULL ? PQerrorMessage(n->work) : "out of memory");
		return NULL;
	}
	/* Its queries are bounded by statement_timeout (store_connect's
	 * options); the link by keepalives and this. */
	bound_retransmission(n->work);
	return n->work;
}

/* Read every pending notification, drain all concerned waiters in one call,
 * and hand each its records. */
static void
fan_out(struct notifier *n)
{
	struct waiter *list = NULL, *w;
	PGnotify *note;
	size_t count = 0, i;
	long long t0;

	pthread_mutex_lock(&n->lock);
	while ((note = PQnotifies(n->db)) != NULL) {
		collect(n, note->extra, &list);
		PQfreemem(note);
	}
	for (w = list; w != NULL; w = w->batch_next)
		count++;
	if (count > n->batch_cap) {
		struct waiter **grown = realloc(n->batch, count * sizeof(*grown));

		if (grown != NULL) {
			n->batch = grown;
			n->batch_cap = count;
		}
	}
	if (count > n->batch_cap) {
		/* Out of memory: everyone concerned drains for itself. */
		for (w = list; w != NULL; w = w->batch_next) {
			w->claimed = 0;
			w->signaled = 1;
			wake(w);
		}
		pthread_mutex_unlock(&n->lock);
		return;
	}
	for (i = 0, w = list; w != NULL; w = w->batch_next)
		n->batch[i++] = w;
	pthread_mutex_unlock(&n->lock);

	/* Claimed waiters stay registered and leave their records alone. Not
	 * drained (no connection): each drains for itself. */
	t0 = now_ms();
	if (count > 0 && work_connection(n) != NULL)
		n->drain(n->drain_ctx, n->work, n->batch, count);
	if (count > 0)
		log_debug("fan-out: %zu waiter(s) drained in %lld ms", count, now_ms() - t0);

	pthread_mutex_lock(&n->lock);
	for (i = 0; i < count; i++) {
		w = n->batch[i];
		w->claimed = 0;
		if (!w->served || w->more)
			w->signaled = 1;
		if (w->served && w->records.len > 0)
			w->delivered = 1;
		wake(w);
	}
	pthread_mutex_unlock(&n->lock);
}

/* Returns 1 when asked to stop during the pause. */
static int
pause_or_stop(struct notifier *n, int ms)
{
	struct pollfd p = { .fd = n->stop_pipe[0], .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

/* The LISTEN connection is gone or silent: drop it (and the drains' one,
 * which likely shares its fate; it reconnects on next use). */
static void
lost(struct notifier *n, const char *why)
{
	log_warn("notify: lost the database connection: %s", why);
	PQfinish(n->db);
	n->db = NULL;
	PQfinish(n->work);
	n->work = NULL;
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
	long long heard = now_ms(), probe_at = 0;
	int probing = 0, flushing = 0;

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
			heard = now_ms();
			probing = flushing = 0;
			/* Hints sent while we were away are lost: everyone re-reads. */
			notifier_wake_all(n);
		}
		now = now_ms();
		if (probing && now - probe_at >= PROBE_DEADLINE_MS) {
			snprintf(err, sizeof(err), "no answer to the health check in %d ms",
			    PROBE_DEADLINE_MS);
			lost(n, err);
			continue;
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
		if (rc == 0 || !(p[0].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;	/* a deadline, or room to flush */
		if (consume(n, &probing) == -1) {
			lost(n, PQerrorMessage(n->db));
			continue;
		}
		heard = now_ms();
		fan_out(n);
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

enum wait_result
waiter_wait(struct notifier *n, struct waiter *w, const struct timespec *deadline,
    struct buf *out)
{
	enum wait_result rc;
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
			rc = WAIT_DELIVERED;
			break;
		}
		if (w->signaled) {
			w->signaled = 0;
			rc = WAIT_DRAIN;
			break;
		}
		if (timed_out && !w->claimed) {
			rc = WAIT_TIMEOUT;
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

enum wait_result
waiter_poll(struct notifier *n, struct waiter *w, struct buf *out)
{
	enum wait_result rc = WAIT_TIMEOUT;

	pthread_mutex_lock(&n->lock);
	if (w->claimed) {
		rc = WAIT_BUSY;
	} else if (w->delivered) {
		take(w, out);
		rc = WAIT_DELIVERED;
	} else if (w->signaled) {
		w->signaled = 0;
		rc = WAIT_DRAIN;
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
