/*
 * pool: a bounded pool of libpq sessions, and the one way a statement is run
 * on one. Every session has the limits' timeouts, UTF-8, TCP keepalives,
 * connect_timeout and tcp_user_timeout (kept across PQreset), and
 * PostgreSQL's notices logged as pollhub's lines. Every statement is
 * parameterised and bounded by pgwait; a failed one is mapped here to
 * enum ph_err (the one place that knows SQLSTATEs of timeouts). The
 * statements themselves are in corestore.c and classicstore.c.
 */
#ifndef POLLHUB_POOL_H
#define POLLHUB_POOL_H

#include <stddef.h>

#include <libpq-fe.h>

#include "pgwait.h"
#include "pherr.h"

/* Every statement (pool_exec and the rest) is sent asynchronously and
 * waited for at most the sessions' statement_timeout plus this (pgwait): a
 * backend that stops answering (kill -STOP, a hung host) cannot fire its own
 * timeout. Past it the statement is cancelled; a session that does not
 * answer the cancel either is given up (pool_give_up) and the statement
 * fails with PH_BUSY. */
#define POOL_DEADLINE_MARGIN_MS	2000

/* Bounds on every wait (milliseconds), and how the pool is shared. */
struct pool_limits {
	int	lock_timeout_ms;	/* SET lock_timeout on every session */
	int	statement_timeout_ms;	/* SET statement_timeout */
	int	idle_tx_timeout_ms;	/* SET idle_in_transaction_session_timeout */
	int	acquire_timeout_ms;	/* pool_acquire gives up after it */
	int	per_key;		/* slots one key (a group's sends) may hold */
	int	reserve;		/* slots keyed acquisitions leave to the rest */
	int	connect_timeout_s;	/* libpq connect_timeout (0: libpq's default) */
	int	tcp_user_timeout_ms;	/* libpq tcp_user_timeout (0: the system's) */
};

struct pool;

/* Open a pool of size connections to conninfo ("" = libpq defaults), every
 * session with the limits' timeouts, UTF-8, TCP keepalives, connect_timeout
 * and tcp_user_timeout (kept across PQreset; the conninfo's own values of
 * these win), and PostgreSQL's notices logged as pollhub's lines. Returns
 * NULL and a message in err when the first connection fails. */
struct pool	*pool_open(const char *conninfo, int size, const struct pool_limits *,
		    char *err, size_t errlen);
void		 pool_close(struct pool *);
/* A new connection outside the pool with the same parameters and notice
 * receiver (the listener's own); the caller PQfinishes it. Check PQstatus. */
PGconn		*pool_connect(const struct pool *);
/* Borrow a connection, waiting at most acquire_timeout_ms for one. A broken
 * connection is reset here (queries on one still down fail with
 * PH_DB); NULL when none came free in time (logged) or out of memory. */
PGconn		*pool_acquire(struct pool *);
/* The same for work that may wait on key's locks (a group's sends): at most
 * per_key slots per key, and never the last `reserve` slots, so requests of
 * other groups, polls and drains always find a connection. */
PGconn		*pool_acquire_for(struct pool *, const char *key);
/* Count c, held unkeyed, as held for key from now on, if key's share and the
 * reserve allow it: 0; -1 (nothing changed) when they do not. */
int		 pool_claim(struct pool *, PGconn *c, const char *key);
/* Give it back: a transaction left open is rolled back (bounded, outside the
 * pool's lock); a connection lost or given up is closed and its slot
 * connects anew when next taken. */
void		 pool_release(struct pool *, PGconn *);
/* A session that did not answer: mark it lost (PQstatus CONNECTION_BAD from
 * then on, without waiting for it), so whoever holds it reconnects. */
void		 pool_give_up(PGconn *);
/* ROLLBACK an open transaction (bounded); nothing on a lost or idle session. */
void		 pool_rollback(PGconn *);

/* Run a parameterised statement (text parameters, text results): its result
 * if its status is ok, else NULL and *st, as every statement maps a failure
 * (PH_BUSY: gave up waiting, PH_DB: the rest; logged). The caller PQclears
 * the result. */
PGresult	*pool_exec(PGconn *, const char *sql, int n, const char *const *params,
		    ExecStatusType ok, enum ph_err *st);
/* pool_exec with PQexecParams' lengths and formats (binary parameters,
 * result_format 1: binary results). */
PGresult	*pool_exec_params(PGconn *, const char *sql, int n, const char *const *params,
		    const int *lengths, const int *formats, int result_format, ExecStatusType ok,
		    enum ph_err *st);
/* For a caller that maps some failures itself (a constraint): the
 * statement's result whatever its status, or NULL; *ws says how the wait
 * ended. Bounded and given up as pool_exec. The caller PQclears it. */
PGresult	*pool_run(PGconn *, const char *sql, int n, const char *const *params,
		    enum pgwait_status *ws);
/* The one mapping of a failed statement (r may be NULL): what gave up
 * waiting (a lock, the statement timeout, a deadlock, our own deadline) is
 * PH_BUSY, the rest PH_DB. Logged. Does not clear r. */
enum ph_err	 pool_failure(const PGresult *r, PGconn *, enum pgwait_status ws);

#endif
