#include "store.h"

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
#include "meeting.h"
#include "pgwait.h"
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

static enum ph_err send_begin(PGconn *, const char *token, enum store_proto, int wait,
		    struct send_conn *, int *locked);

/* How long any statement of ours is waited for (pgwait): the sessions'
 * statement_timeout plus STORE_DEADLINE_MARGIN_MS, set by store_open. The
 * statement functions are given only a PGconn, and every session of the
 * process has the same limits: so one value for the process. */
static atomic_int statement_deadline_ms = 0;

struct slot {
	PGconn		*conn;		/* NULL = not yet connected */
	int		 busy;
	char		 key[SQL_GROUP_SIZE];	/* what a keyed holder holds it for ("" = unkeyed) */
};

struct store {
	/* Connection parameters for PQconnectdbParams: the caller's conninfo
	 * plus ours (encoding, timeouts in options, keepalives). Kept as
	 * keywords so PQreset reconnects with all of them. */
	char		**keys, **vals;
	int		 nparams;
	struct store_limits lim;
	int		 size;
	struct slot	*slots;
	int		 keyed;		/* slots held by keyed acquisitions */
	pthread_mutex_t	 lock;
	pthread_cond_t	 freed;
};

static void
params_free(struct store *s)
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
param_set(struct store *s, const char *k, const char *v, int force)
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
param_get(const struct store *s, const char *k)
{
	for (int i = 0; i < s->nparams; i++)
		if (strcmp(s->keys[i], k) == 0)
			return s->vals[i];
	return NULL;
}

/* The caller's conninfo, then what every session of ours needs. */
static int
params_build(struct store *s, const char *conninfo, char *err, size_t errlen)
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
store_connect(const struct store *s)
{
	PGconn *c = PQconnectdbParams((const char *const *)s->keys,
	    (const char *const *)s->vals, 0);

	/* Kept across PQreset. */
	if (c != NULL)
		PQsetNoticeReceiver(c, notice, c);
	return c;
}

struct store *
store_open(const char *conninfo, int size, const struct store_limits *lim, char *err,
    size_t errlen)
{
	struct store *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->lim = *lim;
	atomic_store(&statement_deadline_ms, lim->statement_timeout_ms + STORE_DEADLINE_MARGIN_MS);
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
		store_close(s);
		return NULL;
	}
	/* Connect one now so a wrong conninfo fails at start-up, not at the first request. */
	s->slots[0].conn = store_connect(s);
	if (s->slots[0].conn == NULL || PQstatus(s->slots[0].conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
		    s->slots[0].conn ? PQerrorMessage(s->slots[0].conn) : "out of memory");
		store_close(s);
		return NULL;
	}
	return s;
}

void
store_close(struct store *s)
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
free_slot(const struct store *s, const char *key)
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
store_acquire_for(struct store *s, const char *key)
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
		if ((c = store_connect(s)) == NULL) {
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
store_acquire(struct store *s)
{
	return store_acquire_for(s, NULL);
}

/* Count c (held unkeyed) as held for key, if key's share allows. */
static int
claim(struct store *s, PGconn *c, const char *key)
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

enum ph_err
store_send_open(struct store *s, const char *token, enum store_proto proto, int writes,
    struct send_conn *sc, PGconn **out)
{
	enum ph_err st;
	PGconn *db;
	int locked;

	*out = NULL;
	/* Begin on any connection without waiting; the row says the group. A
	 * POST that writes, or that finds another POST of its connection in
	 * flight (which may be waiting for the calendar's lock), then counts as
	 * the group's, or waits for the group's share holding nothing. */
	if ((db = store_acquire(s)) == NULL)
		return PH_BUSY;
	if ((st = send_begin(db, token, proto, 0, sc, &locked)) != PH_OK) {
		store_release(s, db);
		return st;
	}
	if (locked && (!writes || claim(s, db, sc->group) == 0)) {
		*out = db;
		return PH_OK;
	}
	if (locked)
		store_rollback(db);
	store_release(s, db);
	if ((db = store_acquire_for(s, sc->group)) == NULL)
		return PH_BUSY;
	if ((st = send_begin(db, token, proto, 1, sc, &locked)) != PH_OK) {
		store_release(s, db);
		return st;
	}
	*out = db;
	return PH_OK;
}

void
store_release(struct store *s, PGconn *c)
{
	int drop, found = 0;

	/* A connection left inside a transaction would poison the next user.
	 * The ROLLBACK is a round trip (bounded, but seconds when the session
	 * does not answer): not under the pool's lock. The slot is still ours. */
	if (PQtransactionStatus(c) == PQTRANS_INTRANS || PQtransactionStatus(c) == PQTRANS_INERROR)
		store_rollback(c);
	/* Given up (store_give_up), lost, or still mid-statement: the slot
	 * connects anew when next taken. */
	drop = PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE;
	if (drop)
		store_give_up(c);
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
store_give_up(PGconn *c)
{
	/* libpq then reads the end of the stream and marks the connection
	 * CONNECTION_BAD, so every holder (the pool, the notifier) sees it as
	 * lost; the backend, when it runs again, finds its client gone. */
	if (PQstatus(c) == CONNECTION_OK && PQsocket(c) >= 0) {
		shutdown(PQsocket(c), SHUT_RDWR);
		/* Anything still buffered is read first, then the end. */
		for (int i = 0; i < 8 && PQstatus(c) == CONNECTION_OK; i++)
			(void)PQconsumeInput(c);
	}
}

/* Run a parameterised statement; NULL (and a log line) unless the status is ok. */
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

/* The one place a failed statement becomes a status: what gave up waiting
 * (a lock, the statement timeout, a deadlock, our own deadline) is
 * PH_BUSY, the rest PH_DB. Logged. */
static enum ph_err
failure_status(const PGresult *r, PGconn *db, enum pgwait_status ws)
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
		store_give_up(db);
	return r;
}

/* run, then the result if its status is ok, else NULL and *st (logged). */
static PGresult *
exec_status(PGconn *db, const char *sql, int n, const char *const *params, const int *lengths,
    const int *formats, int result_format, ExecStatusType ok, enum ph_err *st)
{
	enum pgwait_status ws;
	PGresult *r = run(db, sql, n, params, lengths, formats, result_format, &ws);

	if (r == NULL || PQresultStatus(r) != ok) {
		*st = failure_status(r, db, ws);
		PQclear(r);
		return NULL;
	}
	*st = PH_OK;
	return r;
}

PGresult *
store_exec_status(PGconn *db, const char *sql, int n, const char *const *params,
    ExecStatusType ok, enum ph_err *st)
{
	return exec_status(db, sql, n, params, NULL, NULL, 0, ok, st);
}

PGresult *
store_exec(PGconn *db, const char *sql, int n, const char *const *params, ExecStatusType ok)
{
	enum ph_err st;

	return exec_status(db, sql, n, params, NULL, NULL, 0, ok, &st);
}

static enum ph_err
command(PGconn *db, const char *sql, int n, const char *const *params)
{
	enum ph_err st;
	PGresult *r = exec_status(db, sql, n, params, NULL, NULL, 0, PGRES_COMMAND_OK, &st);

	PQclear(r);
	return st;
}

static enum ph_err
tuples(PGconn *db, const char *sql, int n, const char *const *params, PGresult **out)
{
	enum ph_err st;

	*out = exec_status(db, sql, n, params, NULL, NULL, 0, PGRES_TUPLES_OK, &st);
	return st;
}

static void
copy_field(char *dst, size_t dstlen, const PGresult *r, int row, int col)
{
	snprintf(dst, dstlen, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

const char *
store_header_text(char *out, const char *value)
{
	utf8_escape(out, STORE_HEADER_MAX, value, strlen(value));
	return out;
}

enum ph_err
store_connection_create(PGconn *db, const char *id, const char *token, const char *group,
    const char *remote_addr, const char *user_agent)
{
	char addr[STORE_HEADER_SIZE], agent[STORE_HEADER_SIZE];
	const char *p[] = { id, token, group, store_header_text(addr, remote_addr),
	    store_header_text(agent, user_agent) };

	return command(db,
	    "INSERT INTO pollhub.connections (id, token, group_name, remote_addr, user_agent)"
	    " VALUES ($1, $2, $3, $4, $5)", 5, p);
}

enum ph_err
store_connection_remove(PGconn *db, const char *token, enum store_proto proto, char *id,
    size_t idsize, int *was_open)
{
	const char *p[] = { token, proto == PROTO_CLASSIC ? "t" : "f" };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT id, was_open FROM pollhub.disconnect_id($1, $2)", 2, p, &r)) != PH_OK)
		return st;
	st = PQgetisnull(r, 0, 0) ? PH_NOT_FOUND : PH_OK;
	if (st == PH_OK && id != NULL)
		copy_field(id, idsize, r, 0, 0);
	if (was_open != NULL)
		*was_open = st == PH_OK && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	return st;
}

enum ph_err
store_connection_delete(PGconn *db, const char *token, enum store_proto proto)
{
	return store_connection_remove(db, token, proto, NULL, 0, NULL);
}

enum ph_err
store_poll_begin(PGconn *db, const char *token, struct poll_info *pi)
{
	const char *p[] = { token };
	PGresult *r;
	enum ph_err st;

	st = tuples(db, "SELECT connection_id, group_name, poll_no, first_poll, transport"
	    " FROM pollhub.poll_begin($1)", 1, p, &r);
	if (st != PH_OK)
		return st;
	if (PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return PH_NOT_FOUND;
	}
	copy_field(pi->connection_id, sizeof(pi->connection_id), r, 0, 0);
	copy_field(pi->group, sizeof(pi->group), r, 0, 1);
	pi->poll_no = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	pi->first_poll = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	pi->longpolling = strcmp(PQgetvalue(r, 0, 4), SQL_TRANSPORT_LP) == 0;
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_stream_begin(PGconn *db, const char *token, struct poll_info *pi,
    enum ph_err *ss)
{
	const char *p[] = { token };
	PGresult *r;
	enum ph_err st;
	const char *status;

	st = tuples(db, "SELECT status, connection_id, group_name, poll_no"
	    " FROM pollhub.stream_begin($1)", 1, p, &r);
	if (st != PH_OK)
		return st;
	status = PQgetvalue(r, 0, 0);
	if (strcmp(status, SQL_OK) == 0) {
		*ss = PH_OK;
		copy_field(pi->connection_id, sizeof(pi->connection_id), r, 0, 1);
		copy_field(pi->group, sizeof(pi->group), r, 0, 2);
		pi->poll_no = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
		pi->first_poll = 0;
		pi->longpolling = 0;
	} else if (strcmp(status, SQL_TRANSPORT) == 0)
		*ss = PH_TRANSPORT;
	else if (strcmp(status, SQL_BUSY) == 0)
		*ss = PH_BUSY;
	else
		*ss = PH_NOT_FOUND;
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_touch(PGconn *db, const char *ids)
{
	const char *p[] = { ids };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT pollhub.touch($1::text[])", 1, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_poll_drain(PGconn *db, const char *token, long long poll_no, size_t budget,
    struct buf *out, enum ph_err *ds, int *more)
{
	char no[24], bud[24];
	const char *p[] = { token, no, bud };
	PGresult *r;
	enum ph_err st;
	const char *status;

	snprintf(no, sizeof(no), "%lld", poll_no);
	snprintf(bud, sizeof(bud), "%zu", budget < INT_MAX ? budget : (size_t)INT_MAX);
	st = tuples(db, "SELECT status, payload, more FROM pollhub.poll_drain($1, $2, $3)", 3, p,
	    &r);
	if (st != PH_OK)
		return st;
	status = PQgetvalue(r, 0, 0);
	*more = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	if (strcmp(status, SQL_GONE) == 0)
		*ds = PH_NOT_FOUND;
	else if (strcmp(status, SQL_SUPERSEDED) == 0)
		*ds = PH_SUPERSEDED;
	else if (strcmp(status, SQL_CLOSED) == 0)
		*ds = PH_CLOSED;
	else if (strcmp(status, SQL_CLOSING) == 0)
		*ds = PH_LAST;
	else
		*ds = PH_OK;
	if (!PQgetisnull(r, 0, 1) &&
	    buf_append(out, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1)) == -1)
		st = PH_DB;
	PQclear(r);
	return st;
}

enum ph_err
store_poll_end(PGconn *db, const char *connection_id, long long poll_no)
{
	char no[24];
	const char *p[] = { connection_id, no };
	PGresult *r;
	enum ph_err st;

	snprintf(no, sizeof(no), "%lld", poll_no);
	if ((st = tuples(db, "SELECT pollhub.poll_end($1, $2)", 2, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

/* store_send_begin; wait 0: *locked = 0 (and only sc->id and sc->group
 * filled, the transaction rolled back) when another send of the connection
 * holds its send lock. */
static enum ph_err
send_begin(PGconn *db, const char *token, enum store_proto proto, int wait,
    struct send_conn *sc, int *locked)
{
	const char *p[] = { token, proto == PROTO_CLASSIC ? "t" : "f", wait ? "t" : "f" };
	PGresult *r;
	enum ph_err st;

	*locked = 0;
	if ((st = command(db, "BEGIN", 0, NULL)) != PH_OK)
		return st;
	/* Binary result: inbound is bytea and may hold any bytes. */
	r = exec_status(db, "SELECT id, group_name, handshaken, closing, inbound, locked"
	    " FROM pollhub.send_begin($1, $2, $3)", 3, p, NULL, NULL, 1, PGRES_TUPLES_OK, &st);
	if (r == NULL) {
		store_rollback(db);
		return st;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		store_rollback(db);
		return PH_NOT_FOUND;
	}
	snprintf(sc->id, sizeof(sc->id), "%.*s", PQgetlength(r, 0, 0), PQgetvalue(r, 0, 0));
	snprintf(sc->group, sizeof(sc->group), "%.*s", PQgetlength(r, 0, 1), PQgetvalue(r, 0, 1));
	if (*PQgetvalue(r, 0, 5) == 0) {
		PQclear(r);
		store_rollback(db);
		return PH_OK;
	}
	*locked = 1;
	sc->handshaken = *PQgetvalue(r, 0, 2) != 0;
	sc->closing = *PQgetvalue(r, 0, 3) != 0;
	buf_reset(&sc->inbound);
	if (buf_append(&sc->inbound, PQgetvalue(r, 0, 4), (size_t)PQgetlength(r, 0, 4)) == -1) {
		PQclear(r);
		store_rollback(db);
		return PH_DB;
	}
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_send_begin(PGconn *db, const char *token, enum store_proto proto, struct send_conn *sc)
{
	int locked;

	return send_begin(db, token, proto, 1, sc, &locked);
}

enum ph_err
store_ping(PGconn *db, const char *token, int *done)
{
	const char *p[] = { token };
	PGresult *r;
	enum ph_err st;

	*done = 0;
	if ((st = tuples(db, "SELECT pollhub.ping($1)", 1, p, &r)) != PH_OK)
		return st;
	*done = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_send_queue(PGconn *db, const char *connection_id, const char *record, long long stamp)
{
	char st[24];
	const char *p[] = { connection_id, record, stamp >= 0 ? st : NULL };
	PGresult *r;

	enum ph_err status;

	snprintf(st, sizeof(st), "%lld", stamp);
	status = tuples(db,
	    "WITH q AS (INSERT INTO pollhub.connection_messages (connection_id, payload, group_seq)"
	    " VALUES ($1, $2, $3::bigint)) SELECT pg_notify('" SQL_CHANNEL "', '" SQL_NOTIFY_CONN "' || $1)",
	    3, p, &r);
	PQclear(r);
	return status;
}

enum ph_err
store_join_group(PGconn *db, const char *connection_id, const char *group)
{
	const char *p[] = { connection_id, group };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT pollhub.join_group($1, $2)", 2, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_mark_closing(PGconn *db, const char *connection_id)
{
	const char *p[] = { connection_id };
	PGresult *r;
	enum ph_err st;

	st = command(db, "UPDATE pollhub.connections SET state = 'closing' WHERE id = $1", 1, p);
	if (st == PH_OK)
		st = command(db, "DELETE FROM pollhub.memberships WHERE connection_id = $1", 1, p);
	/* Wake its held poll or stream (at commit): there may be nothing to send. */
	if (st == PH_OK && (st = tuples(db,
	    "SELECT pg_notify('" SQL_CHANNEL "', '" SQL_NOTIFY_CONN "' || $1)",
	    1, p, &r)) == PH_OK)
		PQclear(r);
	return st;
}

enum ph_err
store_send_commit(PGconn *db, const struct send_conn *sc, const char *rest, size_t restlen)
{
	const char *p[] = { sc->id, rest, sc->handshaken ? "t" : "f" };
	int lens[] = { 0, (int)restlen, 0 };
	int fmts[] = { 0, 1, 0 };
	PGresult *r;
	enum ph_err st;

	r = exec_status(db, "UPDATE pollhub.connections SET inbound = $2, handshaken = $3,"
	    " last_seen = now() WHERE id = $1", 3, p, lens, fmts, 0, PGRES_COMMAND_OK, &st);
	if (r == NULL) {
		store_rollback(db);
		return st;
	}
	PQclear(r);
	if ((st = command(db, "COMMIT", 0, NULL)) != PH_OK)
		store_rollback(db);
	return st;
}

void
store_rollback(PGconn *db)
{
	enum pgwait_status ws;

	/* Nothing to roll back on a lost session (and no WARNING for none). */
	if (PQstatus(db) != CONNECTION_OK || PQtransactionStatus(db) == PQTRANS_IDLE)
		return;
	PQclear(run(db, "ROLLBACK", 0, NULL, NULL, NULL, 0, &ws));
}

enum ph_err
store_savepoint(PGconn *db)
{
	return command(db, "SAVEPOINT invocation", 0, NULL);
}

enum ph_err
store_savepoint_release(PGconn *db)
{
	return command(db, "RELEASE SAVEPOINT invocation", 0, NULL);
}

enum ph_err
store_savepoint_rollback(PGconn *db)
{
	return command(db, "ROLLBACK TO SAVEPOINT invocation", 0, NULL);
}

enum ph_err
store_set_sender(PGconn *db, const char *connection_id)
{
	const char *p[] = { connection_id };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT set_config('pollhub.sender', $1, true)", 1, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_meetings_read(PGconn *db, const char *group, struct buf *out, long long *stamp)
{
	const char *p[] = { group };
	PGresult *r;
	enum ph_err st;

	/* One statement, one snapshot: the stamp is the last push this result
	 * reflects (see store_send_queue). */
	st = tuples(db, "SELECT coalesce((SELECT g.last_seq FROM pollhub.groups g WHERE g.name = $1), 0),"
	    " coalesce(json_agg(pollhub.meeting_json(m) ORDER BY m.start_at, m.id), '[]')"
	    " FROM pollhub.meetings m WHERE m.group_name = $1", 1, p, &r);
	if (st != PH_OK)
		return st;
	*stamp = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	if (buf_append(out, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1)) == -1)
		st = PH_DB;
	PQclear(r);
	return st;
}

/* Map a failed meeting statement: constraint violations are the client's
 * fault (named in why), anything else is ours. */
static enum ph_err
meeting_failure(PGresult *r, PGconn *db, enum pgwait_status ws, char *why, size_t whylen)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
	enum ph_err st;

	if (state != NULL && strncmp(state, "23", 2) == 0) {
		if (constraint != NULL && strcmp(constraint, "meetings_recurrence") == 0)
			snprintf(why, whylen, "Invalid meeting: 'RecurrenceID' does not name a"
			    " meeting of this calendar.");
		else if (constraint != NULL && strcmp(constraint, "meetings_end_after_start") == 0)
			snprintf(why, whylen, "Invalid meeting: 'End' must not be before 'Start'.");
		else
			snprintf(why, whylen, "Invalid meeting: %s",
			    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
		PQclear(r);
		return PH_INVALID;
	}
	if (state != NULL && strcmp(state, "22008") == 0) {	/* datetime out of range */
		snprintf(why, whylen, "Invalid meeting: a date is out of range.");
		PQclear(r);
		return PH_INVALID;
	}
	st = failure_status(r, db, ws);
	PQclear(r);
	return st;
}

static enum ph_err
meeting_write(PGconn *db, const char *sql, const char *const *p, int n, struct buf *out,
    char *why, size_t whylen)
{
	enum pgwait_status ws;
	PGresult *r = run(db, sql, n, p, NULL, NULL, 0, &ws);
	enum ph_err st = PH_OK;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		return meeting_failure(r, db, ws, why, whylen);
	if (PQntuples(r) == 0)
		st = PH_NOT_FOUND;
	else if (out != NULL &&
	    buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)) == -1)
		st = PH_DB;
	PQclear(r);
	return st;
}

enum ph_err
store_meeting_create(PGconn *db, const char *group, const struct meeting *m,
    struct buf *out, char *why, size_t whylen)
{
	const char *p[] = { group, m->title, m->description, m->start, m->end,
	    m->start_timezone, m->end_timezone, m->is_all_day, m->room_id,
	    m->recurrence_rule, m->recurrence_id, m->recurrence_exception, m->attendees };

	return meeting_write(db,
	    "INSERT INTO pollhub.meetings AS m (group_name, title, description, start_at, end_at,"
	    " start_timezone, end_timezone, is_all_day, room_id, recurrence_rule, recurrence_id,"
	    " recurrence_exception, attendees)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
	    " RETURNING pollhub.meeting_json(m)", p, 13, out, why, whylen);
}

enum ph_err
store_meeting_update(PGconn *db, const char *group, const struct meeting *m,
    struct buf *out, char *why, size_t whylen)
{
	const char *p[] = { group, m->title, m->description, m->start, m->end,
	    m->start_timezone, m->end_timezone, m->is_all_day, m->room_id,
	    m->recurrence_rule, m->recurrence_id, m->recurrence_exception, m->attendees, m->id };

	return meeting_write(db,
	    "UPDATE pollhub.meetings AS m SET title = $2, description = $3, start_at = $4,"
	    " end_at = $5, start_timezone = $6, end_timezone = $7, is_all_day = $8,"
	    " room_id = $9, recurrence_rule = $10, recurrence_id = $11,"
	    " recurrence_exception = $12, attendees = $13"
	    " WHERE m.id = $14 AND m.group_name = $1 RETURNING pollhub.meeting_json(m)",
	    p, 14, out, why, whylen);
}

enum ph_err
store_meeting_destroy(PGconn *db, const char *group, const struct meeting *m,
    struct buf *out)
{
	const char *p[] = { group, m->id };
	char why[16];

	return meeting_write(db, "DELETE FROM pollhub.meetings AS m"
	    " WHERE m.id = $2 AND m.group_name = $1 RETURNING pollhub.meeting_json(m)",
	    p, 2, out, why, sizeof(why));
}

enum ph_err
store_responder_seen(PGconn *db, const char *id, int *poll_timeout, int *disconnect_timeout)
{
	char pt[32], dt[32];
	const char *p[] = { id, pt, dt };
	PGresult *r;
	enum ph_err st;

	snprintf(pt, sizeof(pt), "%d seconds", *poll_timeout);
	snprintf(dt, sizeof(dt), "%d seconds", *disconnect_timeout);
	if ((st = tuples(db, "SELECT extract(epoch FROM poll_timeout)::integer,"
	    " extract(epoch FROM disconnect_timeout)::integer"
	    " FROM pollhub.responder_seen($1, $2, $3)", 3, p, &r)) != PH_OK)
		return st;
	*poll_timeout = atoi(PQgetvalue(r, 0, 0));
	*disconnect_timeout = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_responder_leave(PGconn *db, const char *id)
{
	const char *p[] = { id };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT pollhub.responder_leave($1)", 1, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_maintain(PGconn *db, const char *id, int poll_timeout, int disconnect_timeout,
    int max_pending, struct maintain_result *res)
{
	char pt[32], dt[32], mp[16];
	const char *p[] = { id, pt, dt, mp };
	PGresult *r;
	enum ph_err st;

	snprintf(pt, sizeof(pt), "%d seconds", poll_timeout);
	snprintf(dt, sizeof(dt), "%d seconds", disconnect_timeout);
	snprintf(mp, sizeof(mp), "%d", max_pending);
	/* A procedure that commits step by step: never inside a transaction. */
	if ((st = tuples(db, "CALL pollhub.maintain($1, $2, $3, $4)", 4, p, &r)) != PH_OK)
		return st;
	res->removed = atoi(PQgetvalue(r, 0, 0));
	res->closed = atoi(PQgetvalue(r, 0, 1));
	res->skipped = atoi(PQgetvalue(r, 0, 2));
	res->max_lock_ms = strtod(PQgetvalue(r, 0, 3), NULL);
	res->removed_ids[0] = res->closed_ids[0] = '\0';
	/* A text[] of ids (no quoting needed: ids are [A-Za-z0-9_-]): drop the braces. */
	if (PQnfields(r) >= 6) {
		const char *v;

		v = PQgetvalue(r, 0, 4);
		snprintf(res->removed_ids, sizeof(res->removed_ids), "%.*s",
		    strlen(v) >= 2 ? (int)strlen(v) - 2 : 0, v + (strlen(v) >= 2));
		v = PQgetvalue(r, 0, 5);
		snprintf(res->closed_ids, sizeof(res->closed_ids), "%.*s",
		    strlen(v) >= 2 ? (int)strlen(v) - 2 : 0, v + (strlen(v) >= 2));
	}
	PQclear(r);
	return PH_OK;
}

enum ph_err
store_queued_bytes(PGconn *db, const char *connection_id, long long *bytes)
{
	const char *p[] = { connection_id };
	PGresult *r;
	enum ph_err st;

	st = tuples(db, "SELECT coalesce(sum(octet_length(d.payload) + 1), 0)"
	    " FROM pollhub.connection_messages d WHERE d.connection_id = $1", 1, p, &r);
	if (st != PH_OK)
		return st;
	*bytes = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return PH_OK;
}
