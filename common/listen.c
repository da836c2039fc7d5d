#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>

#include "log.h"
#include "monotime.h"
#include "pgwait.h"
#include "pool.h"
#include "sqlproto.h"
#include "waiters.h"

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

struct listener {
	const struct pool *pool;	/* connection parameters */
	struct waiters	*waiters;	/* the registry it serves */
	PGconn		*db;		/* the thread's LISTEN connection */
	PGconn		*work;		/* ... and the one its drains run on */
	pthread_t	 thread;
	int		 stop_pipe[2];	/* written once to stop the thread */
	listen_drain_fn	 drain;
	void		*drain_ctx;
	long long	 work_failed_at;	/* when connecting the drains' one last failed */
};

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
listen_connect(const struct pool *pool, char *err, size_t errlen)
{
	PGconn *db = pool_connect(pool);
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

/* The drains' connection, (re)connected when needed; NULL when the database
 * cannot be reached now (tried again WORK_RETRY_MS later). */
static PGconn *
work_connection(struct listener *n)
{
	enum pgwait_status st;
	PGresult *r;

	if (n->work != NULL && PQstatus(n->work) == CONNECTION_OK)
		return n->work;
	if (n->work == NULL && n->work_failed_at != 0 && monotime_ms() - n->work_failed_at < WORK_RETRY_MS)
		return NULL;
	PQfinish(n->work);
	if ((n->work = pool_connect(n->pool)) == NULL || PQstatus(n->work) != CONNECTION_OK) {
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
fan_out(struct listener *n)
{
	PGconn *work = work_connection(n);
	struct waiter **batch;
	size_t count;
	long long t0;
	int given_up = 0, group;

	count = waiters_claim(n->waiters, &batch, &group);

	/* Claimed waiters stay registered and leave their records alone. Not
	 * drained (no connection): each drains for itself. */
	t0 = monotime_ms();
	if (count > 0 && work != NULL && n->drain(n->drain_ctx, work,
	    group ? batch[0]->group : NULL, batch, count) == -1)
		given_up = 1;
	if (count > 0)
		log_debug("fan-out: %zu waiter(s) of %s drained in %lld ms", count,
		    group ? "a group" : "connections", monotime_ms() - t0);
	if (given_up) {
		log_warn("notify: the drains' session (backend pid %d) is given up; %zu waiter(s)"
		    " drain themselves; a new session follows", PQbackendPID(work), count);
		PQfinish(n->work);
		n->work = NULL;
	}
	waiters_settle(n->waiters, given_up);
	return count;
}

/* Read the notifications at hand: each marks its waiters pending. */
static void
take_notes(struct listener *n)
{
	PGnotify *note;

	while ((note = PQnotifies(n->db)) != NULL) {
		if (strncmp(note->extra, SQL_NOTIFY_GROUP, 2) == 0)
			waiters_mark(n->waiters, 1, note->extra + 2);
		else if (strncmp(note->extra, SQL_NOTIFY_CONN, 2) == 0)
			waiters_mark(n->waiters, 0, note->extra + 2);
		PQfreemem(note);
	}
}

/* Returns 1 when asked to stop during the pause. */
static int
pause_or_stop(struct listener *n, int ms)
{
	struct pollfd p = { .fd = n->stop_pipe[0], .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

/* The LISTEN connection is gone or silent: drop it. The drains' one keeps
 * its own health (a failed drain gives up only that one). */
static void
lost(struct listener *n, const char *why)
{
	log_warn("notify: lost the LISTEN session (backend pid %d): %s; reconnecting",
	    PQbackendPID(n->db), why);
	PQfinish(n->db);
	n->db = NULL;
}

/* Read what the server sent; the health check's results are consumed here.
 * Returns -1 when the connection failed. */
static int
consume(struct listener *n, int *probing)
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
	struct listener *n = arg;
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
			if ((n->db = listen_connect(n->pool, err, sizeof(err))) == NULL) {
				log_warn("notify: %s; retrying", err);
				if (pause_or_stop(n, 1000))
					break;
				continue;
			}
			log_info("notify: listening again");
			heard = monotime_ms();
			probing = flushing = 0;
			/* Hints sent while we were away are lost: everyone re-reads. */
			waiters_wake_all(n->waiters);
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
		if (waiters_have_turns(n->waiters) && wait > (idle_turn ? TURN_RETRY_MS : 0))
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
		if (waiters_have_turns(n->waiters))
			idle_turn = fan_out(n) == 0;
	}
	return NULL;
}

struct listener *
listen_start(const struct pool *pool, struct waiters *waiters, listen_drain_fn drain,
    void *ctx, char *err, size_t errlen)
{
	struct listener *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->pool = pool;
	n->waiters = waiters;
	n->drain = drain;
	n->drain_ctx = ctx;
	if ((n->db = listen_connect(pool, err, errlen)) == NULL)
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
	free(n);
	return NULL;
}

void
listen_stop(struct listener *n)
{
	if (n == NULL)
		return;
	if (write(n->stop_pipe[1], "x", 1) != 1)
		log_error("notify: cannot stop the thread");
	pthread_join(n->thread, NULL);
	waiters_wake_all(n->waiters);
	close(n->stop_pipe[0]);
	close(n->stop_pipe[1]);
	PQfinish(n->db);
	PQfinish(n->work);
	free(n);
}
