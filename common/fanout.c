#include "fanout.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pgwait.h"
#include "sqlproto.h"
#include "tcpdiag.h"

/* Leave out the polls whose client has closed its connection to the web
 * server: drained, their records would go into a dead socket. Left unserved,
 * each drains for itself and ends without records (longpoll.c). Returns how
 * many are kept, first in waiters[]. One sock_diag socket for the batch. */
static size_t
keep_present(struct waiter **waiters, size_t n)
{
	size_t kept = 0;
	int fd = -1;

	for (size_t i = 0; i < n; i++) {
		struct waiter *w = waiters[i];

		if (w->peer != NULL && fd == -1 && (fd = tcpdiag_open()) == -1)
			log_debug("fan-out: no sock_diag socket; clients are not checked");
		if (w->peer != NULL && tcpdiag_query(fd, w->peer) == PH_LEFT)
			continue;
		waiters[kept++] = w;
	}
	if (fd != -1)
		close(fd);
	return kept;
}

/* One statement of the batch's transaction, within FANOUT_DEADLINE_MS.
 * Returns its result (the caller checks and clears it), or NULL when the
 * session is unusable now (given up past the deadline, or lost). */
static PGresult *
step(PGconn *db, const char *what, const char *sql, int n, const char *const *p)
{
	enum pgwait_status st;
	PGresult *r = pgwait_exec(db, what, sql, n, p, FANOUT_DEADLINE_MS, &st);

	if (r == NULL)
		log_warn("fan-out: %s: %s (backend pid %d)", what, pgwait_strstatus(st),
		    PQbackendPID(db));
	return r;
}

/* The waiter a result row (n, status, ...) serves, or NULL when there is
 * nothing to hand it: not served ('self', or absent), 'later' (flagged: the
 * group's next batch) or 'queued' (flagged: the connection ids' turn). */
static struct waiter *
served_by(PGresult *r, int i, struct waiter **waiters, size_t n)
{
	size_t k = (size_t)strtoull(PQgetvalue(r, i, 0), NULL, 10) - 1;
	const char *status = PQgetvalue(r, i, 1);
	struct waiter *w;

	if (k >= n)
		return NULL;
	w = waiters[k];
	if (strcmp(status, SQL_LATER) == 0)
		w->later = 1;
	else if (strcmp(status, SQL_QUEUED) == 0)
		w->direct = 1;
	if (strcmp(status, SQL_OK) != 0 && strcmp(status, SQL_MORE) != 0)
		return NULL;
	w->more = strcmp(status, SQL_MORE) == 0;
	return w;
}

/* Hand each waiter its row of drain_many's result. */
static void
deliver(PGresult *r, struct waiter **waiters, size_t n)
{
	for (int i = 0; i < PQntuples(r); i++) {
		struct waiter *w = served_by(r, i, waiters, n);

		if (w == NULL)
			continue;
		if (buf_append(&w->records, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2)) == -1) {
			log_error("connection %s: out of memory; %zu bytes of records lost",
			    w->connection_id, (size_t)PQgetlength(r, i, 2));
			continue;
		}
		w->served = 1;
	}
}

/* Hand fanout_group's rows to the waiters it served. The rows are framed
 * once (0x1E-terminated, in seq order); a member gets those past its cursor,
 * a contiguous tail of them, appended whole unless it sent one of them
 * itself (then it gets the others only). */
static void
deliver_group(PGresult *r, struct waiter **waiters, size_t n)
{
	struct buf all = BUF_INIT;
	size_t *off = NULL;
	int rows = 0, i;

	while (rows < PQntuples(r) && PQgetisnull(r, rows, 0))
		rows++;
	if (rows > 0 && (off = malloc((size_t)rows * sizeof(*off))) == NULL)
		goto oom;
	for (i = 0; i < rows; i++) {
		off[i] = all.len;
		if (buf_append(&all, PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4)) == -1 ||
		    buf_putc(&all, 0x1e) == -1)
			goto oom;
	}
	for (i = rows; i < PQntuples(r); i++) {
		struct waiter *w = served_by(r, i, waiters, n);
		long long cursor = PQgetisnull(r, i, 2) ? 0 : strtoll(PQgetvalue(r, i, 2), NULL, 10);
		int first = 0, own = 0, rc = 0;

		if (w == NULL)
			continue;
		while (first < rows && strtoll(PQgetvalue(r, first, 2), NULL, 10) <= cursor)
			first++;
		for (int j = first; j < rows && !own; j++)
			own = !PQgetisnull(r, j, 3) && strcmp(PQgetvalue(r, j, 3), w->connection_id) == 0;
		if (!own && first < rows)
			rc = buf_append(&w->records, all.data + off[first], all.len - off[first]);
		for (int j = first; own && j < rows && rc == 0; j++) {
			if (!PQgetisnull(r, j, 3) && strcmp(PQgetvalue(r, j, 3), w->connection_id) == 0)
				continue;
			rc = buf_append(&w->records, all.data + off[j],
			    (j + 1 < rows ? off[j + 1] : all.len) - off[j]);
		}
		if (rc != 0) {
			log_error("connection %s: out of memory; %zu bytes of records lost",
			    w->connection_id, all.len);
			continue;
		}
		w->served = 1;
	}
	free(off);
	buf_free(&all);
	return;
oom:
	/* Their cursors moved: the records are lost for them (logged, as a
	 * drain that cannot hand out what it read). */
	log_error("fan-out: out of memory; a batch of %zu waiter(s) lost its records", n);
	free(off);
	buf_free(&all);
}

/* drain_many for waiters[0..n) in a transaction of its own, so that a
 * statement given up past its deadline can never commit later (a stopped
 * backend resumed runs it, then finds the session closed before COMMIT):
 * records are consumed only when they are in hand. Returns -1 when the
 * session must be given up, 0 otherwise (failures leave waiters unserved). */
static int
drain_chunk(PGconn *db, const char *group, const char *ids, const char *polls, size_t budget,
    size_t total, struct waiter **waiters, size_t n)
{
	char bud[24], tot[24];
	const char *p[] = { ids, polls, bud, tot, group };
	void (*hand)(PGresult *, struct waiter **, size_t) = group != NULL ? deliver_group : deliver;
	PGresult *r, *rows;
	int ok;

	snprintf(bud, sizeof(bud), "%zu", budget < INT_MAX ? budget : (size_t)INT_MAX);
	snprintf(tot, sizeof(tot), "%zu", total < INT_MAX ? total : (size_t)INT_MAX);
	if ((r = step(db, "fan-out BEGIN", "BEGIN", 0, NULL)) == NULL)
		return -1;
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return -1;	/* a session in an unknown state: a new one */
	if ((rows = group != NULL ?
	    step(db, "group fan-out", "SELECT n, status, seq, sender, payload FROM"
	    " pollhub.fanout_group($5, $1::text[], $2::bigint[], $3::integer, $4::integer)",
	    5, p) :
	    step(db, "batched drain", "SELECT n, status, payload FROM"
	    " pollhub.drain_many($1::text[], $2::bigint[], $3::integer, $4::integer)",
	    4, p)) == NULL)
		return -1;
	if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
		log_warn("batched drain of %zu waiter(s) failed; they drain alone: %s", n,
		    PQresultErrorMessage(rows));
		PQclear(rows);
		if ((r = step(db, "fan-out ROLLBACK", "ROLLBACK", 0, NULL)) == NULL)
			return -1;
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		return ok ? 0 : -1;
	}
	if ((r = step(db, "fan-out COMMIT", "COMMIT", 0, NULL)) == NULL) {
		/* In doubt: COMMIT went out before the session was given up, and a
		 * resumed backend reads it before it sees the session closed. The
		 * records are handed out: a duplicate (a backend that dies instead)
		 * is better than a loss. */
		log_warn("fan-out: COMMIT of %zu waiter(s) in doubt; their records are sent", n);
		hand(rows, waiters, n);
		PQclear(rows);
		return -1;
	}
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (ok)
		hand(rows, waiters, n);
	else
		log_warn("batched drain of %zu waiter(s): COMMIT failed; they drain alone: %s", n,
		    PQresultErrorMessage(r));
	PQclear(r);
	PQclear(rows);
	return 0;
}

int
fanout_drain(void *ctx, PGconn *db, const char *group, struct waiter **all, size_t total)
{
	struct buf ids = BUF_INIT, polls = BUF_INIT;
	const struct config *cfg = ctx;
	struct waiter **waiters = all;
	size_t n = total, budget = cfg->max_answer;
	int oom = 0, rc = 0;

	/* The registry's array is ours for the call; a copy keeps its order. */
	if ((waiters = malloc(total * sizeof(*waiters))) != NULL) {
		memcpy(waiters, all, total * sizeof(*waiters));
		n = keep_present(waiters, total);
	} else
		waiters = all;
	if (n == 0)
		goto done;
	oom |= buf_putc(&ids, '{') | buf_putc(&polls, '{');
	for (size_t i = 0; i < n; i++) {
		char no[24];

		/* Connection ids are base64url: nothing to quote. */
		snprintf(no, sizeof(no), "%s%lld", i > 0 ? "," : "", waiters[i]->poll_no);
		oom |= (i > 0 ? buf_putc(&ids, ',') : 0) |
		    buf_puts(&ids, waiters[i]->connection_id) | buf_puts(&polls, no);
	}
	oom |= buf_putc(&ids, '}') | buf_putc(&polls, '}');
	if (oom != 0)
		log_warn("batched drain of %zu waiter(s): out of memory; they drain alone", n);
	else
		rc = drain_chunk(db, group, ids.data, polls.data, budget,
		    budget > FANOUT_BATCH_BYTES ? budget : FANOUT_BATCH_BYTES, waiters, n);
done:
	buf_free(&ids);
	buf_free(&polls);
	if (waiters != all)
		free(waiters);
	return rc;
}
