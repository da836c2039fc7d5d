/*
 * pgwait: a libpq statement with a deadline the responder keeps itself.
 *
 * statement_timeout is the server's: it cannot fire in a backend that was
 * stopped (kill -STOP, a hung host), and TCP keepalives do nothing on a unix
 * socket. So every statement that must not wait without a bound is sent
 * asynchronously and its result waited for with poll(2) until the deadline;
 * past it the statement is cancelled (PQcancel, on a short-lived thread of
 * its own, so a cancel that cannot connect blocks nobody) and, if its result
 * does not follow within PGWAIT_CANCEL_GRACE_MS, the connection is given up:
 * the caller PQfinishes or PQresets it, it is mid-statement. The statement
 * itself is written under the same deadline (nonblocking, then flushed): a
 * large one to a backend that does not read would block in libpq's flush.
 */
#ifndef POLLHUB_PGWAIT_H
#define POLLHUB_PGWAIT_H

#include <libpq-fe.h>

/* How long a cancelled statement's result is waited for before the session
 * is given up. */
#define PGWAIT_CANCEL_GRACE_MS	1000

enum pgwait_status {
	PGWAIT_OK,		/* a result came (which may be an error: check it) */
	PGWAIT_CANCELLED,	/* the deadline passed; the cancel took: the result
				 * (an error, SQLSTATE 57014) is returned and the
				 * session is usable again */
	PGWAIT_TIMEOUT,		/* the deadline passed and the session did not
				 * answer the cancel: given up, NULL returned */
	PGWAIT_LOST		/* the connection failed (sending or reading) */
};

/* PQexecParams (text parameters, text results) bounded by timeout_ms (<= 0:
 * no bound of ours). Returns the statement's last result, or NULL for
 * PGWAIT_TIMEOUT/PGWAIT_LOST (and out of memory, as PGWAIT_LOST); *st says
 * which. A statement past its deadline is logged at warn with what, the
 * backend's pid and the time waited. The caller PQclears the result. */
PGresult	*pgwait_exec(PGconn *, const char *what, const char *sql, int n,
		    const char *const *params, int timeout_ms, enum pgwait_status *st);

/* pgwait_exec with PQsendQueryParams' lengths and formats (binary
 * parameters, result_format 1: binary results). */
PGresult	*pgwait_exec_params(PGconn *, const char *what, const char *sql, int n,
		    const char *const *params, const int *lengths, const int *formats,
		    int result_format, int timeout_ms, enum pgwait_status *st);

/* Ask the server to cancel what the session runs, without waiting for it. */
void		 pgwait_cancel(PGconn *);

const char	*pgwait_strstatus(enum pgwait_status);

#endif
