#include "pool.h"

#include <poll.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "sqlproto.h"

/* A libpq message in a log line: it may quote values (a client's among them)
 * and spans lines (DETAIL, HINT): escaped, without its final newline. */
static size_t
pq_len(const char *m)
{
	size_t n = m != NULL ? strlen(m) : 0;

	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	return n;
}
#define PQ_TEXT(m)	LOG_TEXTN((m), pq_len(m))

/* How long any statement of ours is waited for (pgwait): the sessions'
 * statement_timeout plus POOL_DEADLINE_MARGIN_MS, set by pool_open. The
 * statement functions are given only a PGconn, and every session of the
 * process has the same limits: so one value for the process. */
static atomic_int statement_deadline_ms = 0;

struct slot {
	PGconn		*conn;		/* NULL = not yet connected */
	int		 busy;
	char		 key[SQL_GROUP_SIZE];	/* what a keyed holder holds it for ("" = unkeyed) */
};

struct pool {
	/* Connection parameters for PQconnectdbParams: the caller's conninfo
	 * plus ours (encoding, timeouts in options, keepalives). Kept as
	 * keywords so PQreset reconnects with all of them. */
	char		**keys, **vals;
	int		 nparams;
	struct pool_limits lim;
	int		 size;
	struct slot	*slots;
	int		 keyed;		/* slots held by keyed acquisitions */
	pthread_mutex_t	 lock;
	pthread_cond_t	 freed;
};

static void
params_free(struct pool *s)
{
	for (int i = 0; i < s->nparams; i++) {
		free(s->keys[i]);
		free(s->vals[i]);
	}
	free(s->keys);
	free(s->vals);
	s->keys = s->vals = NULL;
	s->nparams = 0;
}

/* Set keyword k to v (replacing one the caller's conninfo gave, when force). */
static int
param_set(struct pool *s, const char *k, const char *v, int force)
{
	int i;

	for (i = 0; i < s->nparams; i++)
		if (strcmp(s->keys[i], k) == 0)
			break;
	if (i < s->nparams) {
		char *nv;

		if (!force)
			return 0;
		if ((nv = strdup(v)) == NULL)
			return -1;
		free(s->vals[i]);
		s->vals[i] = nv;
		return 0;
	}
	if ((s->keys[i] = strdup(k)) == NULL || (s->vals[i] = strdup(v)) == NULL) {
		free(s->keys[i]);
		return -1;
	}
	s->nparams++;
	return 0;
}

static const char *
param_get(const struct pool *s, const char *k)
{
	for (int i = 0; i < s->nparams; i++)
		if (strcmp(s->keys[i], k) == 0)
			return s->vals[i];
	return NULL;
}

/* The caller's conninfo, then what every session of ours needs. */
static int
params_build(struct pool *s, const char *conninfo, char *err, size_t errlen)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL, options[1024], connect_timeout[16], user_timeout[16];
	const char *base;
	int n = 0;

	if ((opts = PQconninfoParse(conninfo, &perr)) == NULL) {
		snprintf(err, errlen, "invalid POLLHUB_DATABASE: %s",
		    perr != NULL ? perr : "out of memory");
		PQfreemem(perr);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		n++;
	/* + client_encoding, options, application_name, 4 keepalive keywords,
	 * connect_timeout, tcp_user_timeout, NULL */
	if ((s->keys = calloc((size_t)n + 11, sizeof(*s->keys))) == NULL ||
	    (s->vals = calloc((size_t)n + 11, sizeof(*s->vals))) == NULL)
		goto oom;
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && param_set(s, o->keyword, o->val, 1) == -1)
			goto oom;
	PQconninfoFree(opts);
	opts = NULL;
	/* options replaces PGOPTIONS when given: keep what either said. */
	base = param_get(s, "options");
	if (base == NULL)
		base = getenv("PGOPTIONS");
	snprintf(options, sizeof(options), "%s%s-c lock_timeout=%d -c statement_timeout=%d"
	    " -c idle_in_transaction_session_timeout=%d", base != NULL ? base : "",
	    base != NULL && *base != '\0' ? " " : "", s->lim.lock_timeout_ms,
	    s->lim.statement_timeout_ms, s->lim.idle_tx_timeout_ms);
	/* A dead TCP link is noticed in about a minute, not hours. */
	if (param_set(s, "client_encoding", "UTF8", 1) == -1 ||
	    param_set(s, "options", options, 1) == -1 ||
	    param_set(s, "application_name", "pollhub", 0) == -1 ||
	    param_set(s, "keepalives", "1", 0) == -1 ||
	    param_set(s, "keepalives_idle", "30", 0) == -1 ||
	    param_set(s, "keepalives_interval", "10", 0) == -1 ||
	    param_set(s, "keepalives_count", "3", 0) == -1)
		goto oom;
	/* No connect (PQconnectdbParams, PQreset) waits for the kernel's two
	 * minutes, and no unacknowledged send on a dead link for its fifteen
	 * (keepalives do not fire then). The conninfo's own values win. */
	snprintf(connect_timeout, sizeof(connect_timeout), "%d", s->lim.connect_timeout_s);
	snprintf(user_timeout, sizeof(user_timeout), "%d", s->lim.tcp_user_timeout_ms);
	if ((s->lim.connect_timeout_s > 0 &&
	    param_set(s, "connect_timeout", connect_timeout, 0) == -1) ||
	    (s->lim.tcp_user_timeout_ms > 0 &&
	    param_set(s, "tcp_user_timeout", user_timeout, 0) == -1))
		goto oom;
	return 0;
oom:
	PQconninfoFree(opts);
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* PostgreSQL's notices and the errors it sends outside a statement (FATAL
 * when a session is terminated) as a log line of ours, escaped, instead of
 * libpq's raw line on stderr. arg: the connection. */
static void
notice(void *arg, const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	enum log_level level = LOG_INFO;

	if (sev == NULL)
		sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
	if (sev != NULL && (strcmp(sev, "WARNING") == 0 || strcmp(sev, "ERROR") == 0 ||
	    strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		level = LOG_WARN;
	else if (sev != NULL && (strcmp(sev, "DEBUG") == 0 || strcmp(sev, "LOG") == 0))
		level = LOG_DEBUG;
	if (msg == NULL)
		msg = PQresultErrorMessage(r);
	log_msg(level, "database: session (backend pid %d) says %s %s: %s",
	    PQbackendPID(arg), LOG_TEXT(sev != NULL ? sev : "NOTICE"),
	    LOG_TEXT(code != NULL ? code : "-"), PQ_TEXT(msg));
}

PGconn *
pool_connect(const struct pool *s)
{
	PGconn *c = PQconnectdbParams((const char *const *)s->keys,
	    (const char *const *)s->vals, 0);

	/* Kept across PQreset. */
	if (c != NULL)
		PQsetNoticeReceiver(c, notice, c);
	return c;
}

struct pool *
pool_open(const char *conninfo, int size, const struct pool_limits *lim, char *err,
    size_t errlen)
{
	struct pool *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->lim = *lim;
	atomic_store(&statement_deadline_ms, lim->statement_timeout_ms + POOL_DEADLINE_MARGIN_MS);
	if (s->lim.per_key < 1)
		s->lim.per_key = 1;
	if (s->lim.reserve < 0 || s->lim.reserve >= size)
		s->lim.reserve = size > 1 ? 1 : 0;
	s->size = size;
	pthread_mutex_init(&s->lock, NULL);
	{
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&s->freed, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (params_build(s, conninfo, err, errlen) == -1 ||
	    (s->slots = calloc((size_t)size, sizeof(*s->slots))) == NULL) {
		if (s->keys != NULL && s->slots == NULL)
			snprintf(err, errlen, "out of memory");
		pool_close(s);
		return NULL;
	}
	/* Connect one now so a wrong conninfo fails at start-up, not at the first request. */
	s->slots[0].conn = pool_connect(s);
	if (s->slots[0].conn == NULL || PQstatus(s->slots[0].conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
		    s->slots[0].conn ? PQerrorMessage(s->slots[0].conn) : "out of memory");
		pool_close(s);
		return NULL;
	}
	return s;
}

void
pool_close(struct pool *s)
{
	if (s == NULL)
		return;
	for (int i = 0; s->slots != NULL && i < s->size; i++)
		if (s->slots[i].conn != NULL)
			PQfinish(s->slots[i].conn);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->freed);
	free(s->slots);
	params_free(s);
	free(s);
}

/* An idle pooled connection has nothing to read unless the server ended it
 * (a restart sends FATAL, then closes): find out before a request fails. */
static int
server_closed(PGconn *c)
{
	struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };

	/* The FATAL message and the end of the stream may take two reads. */
	for (int i = 0; i < 4; i++) {
		if (p.fd < 0 || poll(&p, 1, 0) <= 0)
			return 0;
		if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
			return 1;
	}
	return 0;
}

/* A free slot this acquisition may take, or -1 (lock held). */
static int
free_slot(const struct pool *s, const char *key)
{
	int i, free_i = -1, same = 0;

	for (i = 0; i < s->size; i++) {
		if (!s->slots[i].busy) {
			if (free_i < 0)
				free_i = i;
		} else if (key != NULL && strcmp(s->slots[i].key, key) == 0)
			same++;
	}
	if (free_i >= 0 && key != NULL &&
	    (same >= s->lim.per_key || s->keyed >= s->size - s->lim.reserve))
		return -1;
	return free_i;
}

PGconn *
pool_acquire_for(struct pool *s, const char *key)
{
	struct timespec deadline;
	int i, busy = 0;
	PGconn *c;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += s->lim.acquire_timeout_ms / 1000;
	deadline.tv_nsec += (long)(s->lim.acquire_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while ((i = free_slot(s, key)) < 0) {
		if (pthread_cond_timedwait(&s->freed, &s->lock, &deadline) == ETIMEDOUT &&
		    (i = free_slot(s, key)) < 0) {
			for (int j = 0; j < s->size; j++)
				busy += s->slots[j].busy;
			pthread_mutex_unlock(&s->lock);
			log_warn("no database connection within %d ms (%d of %d in use%s)",
			    s->lim.acquire_timeout_ms, busy, s->size,
			    key != NULL ? "; this group's share is taken" : "");
			return NULL;
		}
	}
	s->slots[i].busy = 1;
	snprintf(s->slots[i].key, sizeof(s->slots[i].key), "%s", key != NULL ? key : "");
	if (key != NULL)
		s->keyed++;
	c = s->slots[i].conn;
	pthread_mutex_unlock(&s->lock);

	/* Connect or reconnect outside the lock: it can take a while. PQreset
	 * reconnects with the same parameters (timeouts, encoding included). */
	if (c == NULL) {
		if ((c = pool_connect(s)) == NULL) {
			pthread_mutex_lock(&s->lock);
			s->slots[i].busy = 0;
			if (key != NULL)
				s->keyed--;
			pthread_cond_broadcast(&s->freed);
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
	} else if (PQstatus(c) != CONNECTION_OK || server_closed(c)) {
		PQreset(c);
	}
	if (PQstatus(c) != CONNECTION_OK)
		log_warn("database connection unavailable: %s", PQ_TEXT(PQerrorMessage(c)));
	pthread_mutex_lock(&s->lock);
	s->slots[i].conn = c;
	pthread_mutex_unlock(&s->lock);
	return c;
}

PGconn *
pool_acquire(struct pool *s)
{
	return pool_acquire_for(s, NULL);
}

int
pool_claim(struct pool *s, PGconn *c, const char *key)
{
	int i, same = 0, mine = -1, rc = -1;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->size; i++) {
		if (s->slots[i].conn == c && s->slots[i].busy)
			mine = i;
		else if (s->slots[i].busy && strcmp(s->slots[i].key, key) == 0)
			same++;
	}
	if (mine >= 0 && same < s->lim.per_key && s->keyed < s->size - s->lim.reserve) {
		snprintf(s->slots[mine].key, sizeof(s->slots[mine].key), "%s", key);
		s->keyed++;
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void
pool_release(struct pool *s, PGconn *c)
{
	int drop, found = 0;

	/* A connection left inside a transaction would poison the next user.
	 * The ROLLBACK is a round trip (bounded, but seconds when the session
	 * does not answer): not under the pool's lock. The slot is still ours. */
	if (PQtransactionStatus(c) == PQTRANS_INTRANS || PQtransactionStatus(c) == PQTRANS_INERROR)
		pool_rollback(c);
	/* Given up (pool_give_up), lost, or still mid-statement: the slot
	 * connects anew when next taken. */
	drop = PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE;
	if (drop)
		pool_give_up(c);
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->size; i++)
		if (s->slots[i].conn == c && s->slots[i].busy) {
			found = 1;
			if (drop)
				s->slots[i].conn = NULL;
			s->slots[i].busy = 0;
			if (s->slots[i].key[0] != '\0')
				s->keyed--;
			s->slots[i].key[0] = '\0';
			break;
		}
	/* Broadcast: a keyed waiter may not be able to use the slot another can. */
	pthread_cond_broadcast(&s->freed);
	pthread_mutex_unlock(&s->lock);
	if (drop && found)
		PQfinish(c);
}

void
pool_give_up(PGconn *c)
{
	/* libpq then reads the end of the stream and marks the connection
	 * CONNECTION_BAD, so every holder (the pool, the listener) sees it as
	 * lost; the backend, when it runs again, finds its client gone. */
	if (PQstatus(c) == CONNECTION_OK && PQsocket(c) >= 0) {
		shutdown(PQsocket(c), SHUT_RDWR);
		/* Anything still buffered is read first, then the end. */
		for (int i = 0; i < 8 && PQstatus(c) == CONNECTION_OK; i++)
			(void)PQconsumeInput(c);
	}
}

/* 1 when a failed statement gave up on what another session held:
 * lock_timeout (55P03), statement_timeout (57014), or chosen as the victim of
 * a deadlock (40P01: two sends of one calendar, each holding what the other
 * wants). The caller may try again; nothing of the statement stayed. */
static int
timed_out(const PGresult *r)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 ||
	    strcmp(state, "40P01") == 0);
}

static void
log_failure(const PGresult *r, PGconn *db)
{
	if (timed_out(r))
		log_warn("query gave up waiting: %s", PQ_TEXT(PQresultErrorMessage(r)));
	else if (r != NULL || PQstatus(db) == CONNECTION_OK)
		log_error("query failed: %s",
		    PQ_TEXT(r ? PQresultErrorMessage(r) : PQerrorMessage(db)));
	else	/* given up past its deadline (logged by pgwait), or lost */
		log_warn("query failed: the session is lost: %s", PQ_TEXT(PQerrorMessage(db)));
}

/* The one place a failed statement becomes a status. */
enum ph_err
pool_failure(const PGresult *r, PGconn *db, enum pgwait_status ws)
{
	if (ws != PGWAIT_TIMEOUT)	/* pgwait logged that one, with the backend pid */
		log_failure(r, db);
	return timed_out(r) || ws == PGWAIT_TIMEOUT ? PH_BUSY : PH_DB;
}

/* What a pgwait line calls the statement: the pollhub function it calls,
 * else its first words. */
static const char *
statement_name(char *out, size_t outlen, const char *sql)
{
	const char *f = strstr(sql, "pollhub.");
	size_t n = 0;

	if (f != NULL) {
		while (f[n] != '\0' && f[n] != '(' && f[n] != ' ')
			n++;
		snprintf(out, outlen, "%.*s", (int)n, f);
	} else
		snprintf(out, outlen, "%.32s", sql);
	return out;
}

/* Every statement of ours: bounded by statement_deadline_ms. A session that
 * answered neither the statement nor its cancel is given up. Returns the
 * result (which may be an error) or NULL; *ws says how the wait ended. */
static PGresult *
run(PGconn *db, const char *sql, int n, const char *const *params, const int *lengths,
    const int *formats, int result_format, enum pgwait_status *ws)
{
	char what[64];
	PGresult *r;

	r = pgwait_exec_params(db, statement_name(what, sizeof(what), sql), sql, n, params,
	    lengths, formats, result_format, atomic_load(&statement_deadline_ms), ws);
	if (*ws == PGWAIT_TIMEOUT || (*ws == PGWAIT_LOST && PQisBusy(db)))
		pool_give_up(db);
	return r;
}

PGresult *
pool_run(PGconn *db, const char *sql, int n, const char *const *params,
    enum pgwait_status *ws)
{
	return run(db, sql, n, params, NULL, NULL, 0, ws);
}

PGresult *
pool_exec_params(PGconn *db, const char *sql, int n, const char *const *params,
    const int *lengths, const int *formats, int result_format, ExecStatusType ok,
    enum ph_err *st)
{
	enum pgwait_status ws;
	PGresult *r = run(db, sql, n, params, lengths, formats, result_format, &ws);

	if (r == NULL || PQresultStatus(r) != ok) {
		*st = pool_failure(r, db, ws);
		PQclear(r);
		return NULL;
	}
	*st = PH_OK;
	return r;
}

PGresult *
pool_exec(PGconn *db, const char *sql, int n, const char *const *params,
    ExecStatusType ok, enum ph_err *st)
{
	return pool_exec_params(db, sql, n, params, NULL, NULL, 0, ok, st);
}

void
pool_rollback(PGconn *db)
{
	enum pgwait_status ws;

	/* Nothing to roll back on a lost session (and no WARNING for none). */
	if (PQstatus(db) != CONNECTION_OK || PQtransactionStatus(db) == PQTRANS_IDLE)
		return;
	PQclear(run(db, "ROLLBACK", 0, NULL, NULL, NULL, 0, &ws));
}
