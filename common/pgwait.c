#include "pgwait.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "log.h"
#include "monotime.h"


static void *
cancel_thread(void *arg)
{
	PGcancel *cancel = arg;
	char err[256];

	if (!PQcancel(cancel, err, sizeof(err)))
		log_warn("database: the cancel request failed: %s", err);
	PQfreeCancel(cancel);
	return NULL;
}

void
pgwait_cancel(PGconn *db)
{
	PGcancel *cancel = PQgetCancel(db);
	pthread_attr_t attr;
	pthread_t tid;
	int started;

	if (cancel == NULL)
		return;
	/* PQcancel opens a new connection to the server: on a host that does not
	 * answer that blocks for the kernel's connect timeout, so not here. */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	started = pthread_create(&tid, &attr, cancel_thread, cancel) == 0;
	pthread_attr_destroy(&attr);
	if (!started)
		(void)cancel_thread(cancel);
}

/* Wait for the socket (events) until the deadline (0: none), then read
 * what came: the server may be sending (notices) while we write, and waits
 * for us to read. 1: ready, 0: deadline, -1: the connection failed. */
static int
wait_socket(PGconn *db, short events, long long deadline)
{
	struct pollfd p = { .fd = PQsocket(db), .events = events };
	int timeout = -1, n;

	if (deadline > 0) {
		long long left = deadline - monotime_ms();

		if (left <= 0)
			return 0;
		timeout = left > 60000 ? 60000 : (int)left;
	}
	if (p.fd < 0)
		return -1;
	n = poll(&p, 1, timeout);
	if (n == -1 && errno != EINTR)
		return -1;
	if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(db))
		return -1;
	return 1;
}

/* Wait until the result is complete or until the deadline (0: none).
 * 1: complete, 0: deadline, -1: the connection failed. */
static int
wait_result(PGconn *db, long long deadline)
{
	int w;

	while (PQisBusy(db))
		if ((w = wait_socket(db, POLLIN, deadline)) != 1)
			return w;
	return 1;
}

/* Write what PQsendQueryParams left unsent (a nonblocking connection) until
 * the deadline (0: none): a statement larger than the socket's buffer to a
 * backend that does not read would otherwise block in libpq's flush. 1:
 * sent, 0: deadline, -1: the connection failed. */
static int
flush_until(PGconn *db, long long deadline)
{
	int f, w;

	while ((f = PQflush(db)) == 1)
		if ((w = wait_socket(db, POLLIN | POLLOUT, deadline)) != 1)
			return w;
	return f == 0 ? 1 : -1;
}

/* Every result of the statement; the last one is kept (with an error, the
 * error). */
static PGresult *
collect(PGconn *db)
{
	PGresult *last = NULL, *r;

	while ((r = PQgetResult(db)) != NULL) {
		ExecStatusType s = PQresultStatus(r);

		if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR &&
		    s != PGRES_FATAL_ERROR) {
			PQclear(r);
			continue;
		}
		PQclear(last);
		last = r;
	}
	return last;
}

PGresult *
pgwait_exec(PGconn *db, const char *what, const char *sql, int n, const char *const *params,
    int timeout_ms, enum pgwait_status *st)
{
	return pgwait_exec_params(db, what, sql, n, params, NULL, NULL, 0, timeout_ms, st);
}

PGresult *
pgwait_exec_params(PGconn *db, const char *what, const char *sql, int n,
    const char *const *params, const int *lengths, const int *formats, int result_format,
    int timeout_ms, enum pgwait_status *st)
{
	long long start = monotime_ms(), deadline = timeout_ms > 0 ? start + timeout_ms : 0;
	int w, blocking = !PQisnonblocking(db);

	*st = PGWAIT_LOST;
	/* Sent nonblocking and flushed with the deadline; then the connection
	 * is as it was (switching back flushes: nothing is left to). */
	if (blocking && PQsetnonblocking(db, 1) == -1)
		return NULL;
	if (!PQsendQueryParams(db, sql, n, NULL, params, lengths, formats, result_format)) {
		if (blocking)
			(void)PQsetnonblocking(db, 0);
		return NULL;
	} else
		w = flush_until(db, deadline);
	if (w == 0) {
		/* It cannot be cancelled: it never started. Left nonblocking: a
		 * switch back would flush, and block. */
		log_warn("database: %s: session (backend pid %d) did not take the statement in"
		    " %d ms; it is given up", what, PQbackendPID(db), timeout_ms);
		*st = PGWAIT_TIMEOUT;
		return NULL;
	}
	if (blocking && w == 1 && PQsetnonblocking(db, 0) == -1)
		w = -1;
	if (w == -1)
		return NULL;
	w = wait_result(db, deadline);
	if (w == -1)
		return NULL;
	if (w == 0) {
		log_warn("database: %s: session (backend pid %d) did not answer in %d ms;"
		    " cancelling it", what, PQbackendPID(db), timeout_ms);
		pgwait_cancel(db);
		w = wait_result(db, monotime_ms() + PGWAIT_CANCEL_GRACE_MS);
		if (w != 1) {
			log_warn("database: %s: session (backend pid %d) did not answer the"
			    " cancel in %d ms either; it is given up", what, PQbackendPID(db),
			    PGWAIT_CANCEL_GRACE_MS);
			*st = w == 0 ? PGWAIT_TIMEOUT : PGWAIT_LOST;
			return NULL;
		}
		*st = PGWAIT_CANCELLED;
		return collect(db);
	}
	*st = PGWAIT_OK;
	return collect(db);
}

const char *
pgwait_strstatus(enum pgwait_status st)
{
	switch (st) {
	case PGWAIT_OK:
		return "ok";
	case PGWAIT_CANCELLED:
		return "cancelled past its deadline";
	case PGWAIT_TIMEOUT:
		return "no answer past its deadline";
	case PGWAIT_LOST:
		return "connection lost";
	}
	return "unknown";
}
