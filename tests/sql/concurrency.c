/*
 * SQL-level concurrency tests of the delivery functions (issue 10 item 7):
 * poll_drain, drain_many, the send transaction (send_begin), the reaper
 * (CALL pollhub.maintain) and the classic drain, each driven by several
 * libpq sessions of this one process through forced interleavings. A
 * session that must not wait runs its statement asynchronously
 * (PQsendQueryParams, then poll() with a deadline): it has to be back within
 * NOWAIT_MS while another session holds the lock in question; a session that
 * is meant to wait is seen waiting in pg_stat_activity before the test goes
 * on. Every session also has a statement_timeout, so nothing hangs.
 *
 * Each check prints one line ("ok" or "FAIL", the case and what was checked);
 * the last line is "N passed, N failed" and the exit status is non-zero on
 * any failure.
 *
 *   sqlconc [conninfo]     a migrated database (deploy/scripts/migrate.sh);
 *                          default: libpq's PG* variables
 *
 * Data is made directly with SQL, with ids and group names unique to the run
 * and the case, and removed when the case ends. Run by
 * tests/integration/sqlconc.test.mjs; built by `make build/asan/tests/sqlconc`.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* How long a statement that must not wait may take (a lock wait is seconds). */
#define NOWAIT_MS	500
/* How long the reaper may take on a small database while locks are held. */
#define MAINTAIN_MS	1000
/* The responder's lock_timeout (POLLHUB_DB_LOCK_TIMEOUT's default). */
#define SERVER_LOCK_TIMEOUT_MS	2000

/* Sessions: X makes the data and watches the others; A..D are the actors. */
enum { X, A, B, C, D, NSESS };
static const char *const sname[NSESS] = { "X", "A", "B", "C", "D" };
static PGconn *db[NSESS];
static int spid[NSESS];
static double sent_at[NSESS];	/* when the statement in flight was sent; 0: none */

static int n_pass, n_fail;
static const char *tag = "setup";	/* the case running */
static char run_id[32];		/* unique to this run: ids never collide */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* One line per check. */
static int __attribute__((format(printf, 2, 3)))
check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s: ", ok ? "ok  " : "FAIL", tag);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		n_pass++;
	else
		n_fail++;
	return ok;
}

/* Parameters of a statement: ARGS("a", b) expands to the count and the array. */
#define ARGS(...) \
	(int)(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)), \
	(const char *const[]){ __VA_ARGS__ }
#define NOARGS 0, NULL

static int
result_ok(const PGresult *r)
{
	ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* The first line of a result's error (or the connection's), for a check line. */
static const char *
errline(int s, const PGresult *r)
{
	static char line[400];
	const char *m = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(db[s]);
	size_t n = strcspn(m, "\n");

	snprintf(line, sizeof(line), "%.*s", (int)(n < 300 ? n : 300), m);
	return line;
}

static PGresult *settle(int s, const char *what);

/* A statement that did not return in time (a FAIL line said so) is still in
 * flight on s: collect it before s is used again, and show its first row. */
static void
late(int s)
{
	PGresult *r = settle(s, "a statement that waited");

	if (r != NULL) {
		printf("note %s: session %s: the statement that waited ended later:", tag, sname[s]);
		for (int f = 0; PQntuples(r) > 0 && f < PQnfields(r) && f < 6; f++)
			printf(" %s=%.60s", PQfname(r, f), PQgetvalue(r, 0, f));
		printf(" (%d rows)\n", PQntuples(r));
	}
	PQclear(r);
}

/* Run a statement on session s and wait for it. NULL (with a FAIL line)
 * unless it succeeded; the caller PQclears the result. */
static PGresult *
run(int s, const char *sql, int n, const char *const *p)
{
	PGresult *r;

	if (sent_at[s] != 0)
		late(s);
	r = PQexecParams(db[s], sql, n, NULL, p, NULL, NULL, 0);

	if (!result_ok(r)) {
		check(0, "session %s: %.120s: %s", sname[s], sql, errline(s, r));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* run() for a statement whose rows do not matter: 0, or -1 (a FAIL line). */
static int
exec_(int s, const char *sql, int n, const char *const *p)
{
	PGresult *r = run(s, sql, n, p);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* The first column of the first row into out ("(null)" for NULL, "(none)"
 * for no row); 0, or -1 when the statement failed (a FAIL line). */
static int
value(int s, char *out, size_t len, const char *sql, int n, const char *const *p)
{
	PGresult *r = run(s, sql, n, p);

	if (r == NULL) {
		snprintf(out, len, "(error)");
		return -1;
	}
	if (PQntuples(r) == 0 || PQnfields(r) == 0)
		snprintf(out, len, "(none)");
	else if (PQgetisnull(r, 0, 0))
		snprintf(out, len, "(null)");
	else
		snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static long long
value_ll(int s, const char *sql, int n, const char *const *p)
{
	char v[64];

	if (value(s, v, sizeof(v), sql, n, p) == -1)
		return -1;
	return strtoll(v, NULL, 10);
}

/* Send a statement on session s without waiting for it. */
static int
send_(int s, const char *sql, int n, const char *const *p)
{
	if (sent_at[s] != 0)
		late(s);
	if (!PQsendQueryParams(db[s], sql, n, NULL, p, NULL, NULL, 0)) {
		check(0, "session %s: could not send %.120s: %s", sname[s], sql, errline(s, NULL));
		return -1;
	}
	sent_at[s] = now_ms();
	return 0;
}

/* Wait up to ms for the statement in flight on session s. 1 when it ended:
 * *res is its (last) result, which the caller clears, and *took how long it
 * ran (ms); 0 when it is still running at the deadline; -1 when the
 * connection failed. */
static int
await_(int s, double ms, PGresult **res, double *took)
{
	double deadline = now_ms() + ms;
	PGresult *last = NULL;

	*res = NULL;
	for (;;) {
		if (!PQconsumeInput(db[s])) {
			PQclear(last);
			return -1;
		}
		while (!PQisBusy(db[s])) {
			PGresult *r = PQgetResult(db[s]);

			if (r == NULL) {
				if (took != NULL)
					*took = now_ms() - sent_at[s];
				sent_at[s] = 0;
				*res = last;
				return 1;
			}
			PQclear(last);
			last = r;
		}
		double left = deadline - now_ms();
		if (left <= 0) {
			PQclear(last);	/* none before the end: a statement has one */
			return 0;
		}
		struct pollfd pfd = { .fd = PQsocket(db[s]), .events = POLLIN };
		if (poll(&pfd, 1, (int)left + 1) == -1) {
			PQclear(last);
			return -1;
		}
	}
}

/* Collect the statement in flight on s after whatever blocked it has gone:
 * up to 15 s, then it is cancelled. Its result, or NULL (a FAIL line) if it
 * did not end or failed. */
static PGresult *
settle(int s, const char *what)
{
	PGresult *r;
	double took;
	int rc = await_(s, 15000, &r, &took);

	if (rc == 0) {
		char err[256];
		PGcancel *cn = PQgetCancel(db[s]);

		if (cn != NULL) {
			PQcancel(cn, err, sizeof(err));
			PQfreeCancel(cn);
		}
		rc = await_(s, 15000, &r, &took);
		check(0, "session %s: %s did not end within 15 s; cancelled", sname[s], what);
		PQclear(r);
		return NULL;
	}
	if (rc == -1) {
		check(0, "session %s: %s: connection failed: %s", sname[s], what, errline(s, NULL));
		return NULL;
	}
	if (!result_ok(r)) {
		check(0, "session %s: %s failed: %s", sname[s], what, errline(s, r));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Run a statement on session s that must not wait: its result (the caller
 * clears it) when it ended within bound_ms, checked and timed on one line.
 * NULL if it failed, or if it was still running: then it stays in flight
 * for settle() (or the reset between cases). */
static PGresult *
nowait(int s, double bound_ms, const char *what, const char *sql, int n, const char *const *p)
{
	PGresult *r;
	double took = 0;
	int rc;

	if (send_(s, sql, n, p) == -1)
		return NULL;
	rc = await_(s, bound_ms, &r, &took);
	if (rc == 0) {
		check(0, "%s did not return within %.0f ms (it waits)", what, bound_ms);
		return NULL;
	}
	if (rc == -1) {
		check(0, "%s: connection failed: %s", what, errline(s, NULL));
		return NULL;
	}
	if (!result_ok(r)) {
		check(0, "%s failed: %s", what, errline(s, r));
		PQclear(r);
		return NULL;
	}
	check(1, "%s returned without waiting (%.0f ms)", what, took);
	return r;
}

/* Whether session s is waiting for a lock (pg_stat_activity), looked at
 * from X for up to 5 s. */
static int
waits_for_lock(int s)
{
	char pid[16], v[64];
	double deadline = now_ms() + 5000;

	snprintf(pid, sizeof(pid), "%d", spid[s]);
	while (now_ms() < deadline) {
		if (value(X, v, sizeof(v), "SELECT coalesce(wait_event_type, '') FROM pg_stat_activity"
		    " WHERE pid = $1::int", ARGS(pid)) == -1)
			return 0;
		if (strcmp(v, "Lock") == 0)
			return 1;
		usleep(20000);
	}
	return 0;
}

/* Back to a clean state between cases: statements in flight are cancelled
 * and collected, open transactions rolled back. */
static void
reset_sessions(void)
{
	for (int s = 0; s < NSESS; s++) {
		if (sent_at[s] != 0) {
			PGresult *r;
			char err[256];
			PGcancel *cn = PQgetCancel(db[s]);

			if (cn != NULL) {
				PQcancel(cn, err, sizeof(err));
				PQfreeCancel(cn);
			}
			if (await_(s, 15000, &r, NULL) != 1)
				check(0, "session %s: a statement in flight did not end", sname[s]);
			PQclear(r);
			sent_at[s] = 0;
		}
		if (PQtransactionStatus(db[s]) != PQTRANS_IDLE) {
			PGresult *r = PQexec(db[s], "ROLLBACK");
			PQclear(r);
		}
	}
}

/*
 * Records: every payload here is {"r":"NAME"}; a drained payload is shown as
 * its names separated by blanks ("P1 C P2"), so checks compare short lists.
 */
static const char *
rec(const char *name)
{
	static char bufs[8][96];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "{\"r\":\"%s\"}", name);
	return b;
}

/* payload (0x1E-terminated records) as names, into out; malformed bits are
 * shown as !raw. */
static void
names(const char *payload, char *out, size_t len)
{
	const char *p = payload;
	size_t used = 0;

	out[0] = '\0';
	while (*p != '\0' && used + 1 < len) {
		const char *end = strchr(p, '\x1e');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		int w;

		if (end != NULL && n > 8 && strncmp(p, "{\"r\":\"", 6) == 0 &&
		    strncmp(p + n - 2, "\"}", 2) == 0)
			w = snprintf(out + used, len - used, "%s%.*s", used ? " " : "",
			    (int)(n - 8), p + 6);
		else
			w = snprintf(out + used, len - used, "%s!%.*s%s", used ? " " : "",
			    (int)(n < 60 ? n : 60), p, end == NULL ? "(unterminated)" : "");
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
		p += n + (end != NULL);
	}
}

/* Ids: "q<run>-<case>-<name>" (tokens add "-t"). */
static const char *
ident(const char *name)
{
	static char bufs[16][96];
	static int next;
	char *b = bufs[next++ % 16];

	snprintf(b, sizeof(bufs[0]), "q%s-%s-%s", run_id, tag, name);
	return b;
}

struct conn {
	char id[96], token[100], group[96];
	char poll[24];	/* its current poll number */
};

/* A Core long-polling connection in group (already made, as at its
 * handshake), with a poll begun. */
static int
mkconn(struct conn *c, const char *name, const char *group)
{
	snprintf(c->id, sizeof(c->id), "%s", ident(name));
	snprintf(c->token, sizeof(c->token), "%s-t", c->id);
	snprintf(c->group, sizeof(c->group), "%s", group);
	if (exec_(X, "INSERT INTO pollhub.connections (id, token, group_name, transport, handshaken)"
	    " VALUES ($1, $2, $3, 'LongPolling', true)", ARGS(c->id, c->token, c->group)) == -1 ||
	    exec_(X, "SELECT pollhub.join_group($1, $2)", ARGS(c->id, c->group)) == -1 ||
	    value(X, c->poll, sizeof(c->poll), "SELECT poll_no FROM pollhub.poll_begin($1)",
	    ARGS(c->token)) == -1)
		return -1;
	return 0;
}

/* A push to group (committed unless s is in a transaction), no sender. */
static int
push(int s, const char *group, const char *name)
{
	return exec_(s, "SELECT pollhub.enqueue($1, $2)", ARGS(group, rec(name)));
}

/* A message in the connection's own queue (a completion), group_seq stamped
 * by the trigger. */
static int
queue(int s, const struct conn *c, const char *name)
{
	return exec_(s, "INSERT INTO pollhub.connection_messages (connection_id, payload)"
	    " VALUES ($1, $2)", ARGS(c->id, rec(name)));
}

/* Append src to the string in dst (size len), cut to fit. */
static void
append(char *dst, size_t len, const char *src)
{
	size_t used = strlen(dst), n = strlen(src);

	if (used + 1 >= len)
		return;
	if (n > len - used - 1)
		n = len - used - 1;
	memcpy(dst + used, src, n);
	dst[used + n] = '\0';
}

struct drained {
	int ok;			/* the statement succeeded */
	char status[32];
	char recs[2048];	/* names() of the payload */
};

static void
from_row(const PGresult *r, int row, int scol, int pcol, struct drained *d)
{
	d->ok = 1;
	snprintf(d->status, sizeof(d->status), "%s", PQgetvalue(r, row, scol));
	names(PQgetvalue(r, row, pcol), d->recs, sizeof(d->recs));
}

static const char *const drain_sql = "SELECT status, payload FROM pollhub.poll_drain($1, $2)";

/* poll_drain(c) on session s, waiting as long as it takes. */
static struct drained
drain(int s, const struct conn *c)
{
	struct drained d = { 0 };
	PGresult *r = run(s, drain_sql, ARGS(c->token, c->poll));

	snprintf(d.status, sizeof(d.status), "(error)");
	if (r != NULL && PQntuples(r) == 1)
		from_row(r, 0, 0, 1, &d);
	PQclear(r);
	return d;
}

static struct drained
drain_result(PGresult *r)
{
	struct drained d = { 0 };

	snprintf(d.status, sizeof(d.status), "(error)");
	if (r != NULL && PQntuples(r) == 1)
		from_row(r, 0, 0, 1, &d);
	PQclear(r);
	return d;
}

/* poll_drain(c) on session s, which must not wait. */
static struct drained
drain_nowait(int s, const struct conn *c, const char *what)
{
	return drain_result(nowait(s, NOWAIT_MS, what, drain_sql, ARGS(c->token, c->poll)));
}

static int
expect_drain(struct drained d, const char *status, const char *recs, const char *what)
{
	return check(d.ok && strcmp(d.status, status) == 0 && strcmp(d.recs, recs) == 0,
	    "%s: %s [%s] (want %s [%s])", what, d.status, d.recs, status, recs);
}

static const char *const many_sql =
    "SELECT n, status, payload FROM pollhub.drain_many($1::text[], $2::bigint[]) ORDER BY n";

/* A text[] / bigint[] literal of n values (ids here have no special characters). */
static void
array_lit(char *out, size_t len, const char *const *v, int n)
{
	size_t used = 0;

	used += (size_t)snprintf(out, len, "{");
	for (int i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", v[i]);
	if (used < len)
		snprintf(out + used, len - used, "}");
}

/* The rows of a drain_many result into d[0..n-1]; 0, or -1 if the rows are
 * not 1..n. */
static int
many_rows(PGresult *r, struct drained *d, int n)
{
	int ok = r != NULL && PQntuples(r) == n;

	for (int i = 0; ok && i < n; i++) {
		ok = atoi(PQgetvalue(r, i, 0)) == i + 1;
		if (ok)
			from_row(r, i, 1, 2, &d[i]);
	}
	if (!ok && r != NULL)
		check(0, "drain_many answered %d rows, not %d numbered 1..%d", PQntuples(r), n, n);
	PQclear(r);
	return ok ? 0 : -1;
}

/* Remove what a case made: its connections (memberships and queues
 * cascade), then its groups' outbox rows and groups. */
static void
cleanup(void)
{
	char like[64];

	reset_sessions();
	snprintf(like, sizeof(like), "q%s-%s-%%", run_id, tag);
	exec_(X, "DELETE FROM pollhub.connections WHERE id LIKE $1", ARGS(like));
	exec_(X, "DELETE FROM pollhub.outbox WHERE group_name LIKE $1", ARGS(like));
	exec_(X, "DELETE FROM pollhub.groups WHERE name LIKE $1", ARGS(like));
}

/*
 * The second of two concurrent drains of connection c: session s has sent
 * its poll_drain while session holder has an open transaction that drained c
 * (and got first_got, names separated by blanks). s may wait for holder's
 * row lock or answer at once; either way none of first_got may be in what it
 * returns. holder then commits, s's answer is collected, and one more drain
 * (on s) follows. Returned: the status of s's drain and the records of both,
 * which must be what came after holder's batch, once.
 */
static struct drained
concurrent_second(int s, int holder, const struct conn *c, const char *what,
    const char *first_got)
{
	struct drained d, more;
	PGresult *r;
	double took = 0, t0 = sent_at[s];
	int rc = await_(s, 300, &r, &took);
	char got[sizeof(d.recs) + 2], want[256];

	if (rc == 1)
		d = drain_result(r);
	exec_(holder, "COMMIT", NOARGS);
	if (rc != 1) {
		d = drain_result(settle(s, what));
		took = now_ms() - t0;
	}
	check(d.ok, "%s %s (%.0f ms)", what,
	    rc == 1 ? "answered without waiting" : "waited for the open drain", took);
	snprintf(got, sizeof(got), " %s ", d.recs);
	snprintf(want, sizeof(want), "%s", first_got);
	for (char *tok = strtok(want, " "); tok != NULL; tok = strtok(NULL, " ")) {
		char w[64];

		snprintf(w, sizeof(w), " %s ", tok);
		check(strstr(got, w) == NULL, "%s did not get %s again [%s]", what, tok, d.recs);
	}
	more = drain(s, c);
	if (more.recs[0] != '\0' && d.recs[0] != '\0')
		append(d.recs, sizeof(d.recs), " ");
	append(d.recs, sizeof(d.recs), more.recs);
	return d;
}

/* ------------------------------------------------------------------------ */
/* 1. poll_drain: order and exactly once                                    */

/* A push committed before a completion is queued comes before it; one
 * committed after, after it (today's drain put the own queue first). */
static void
case_order(void)
{
	struct conn x;
	const char *g = ident("g");
	char v[32];

	if (mkconn(&x, "x", g) == -1)
		goto out;
	push(X, g, "P1");
	queue(X, &x, "C");
	value(X, v, sizeof(v), "SELECT group_seq FROM pollhub.connection_messages"
	    " WHERE connection_id = $1", ARGS(x.id));
	check(strcmp(v, "1") == 0, "the completion's group_seq is the group's last_seq: %s (want 1)", v);
	push(X, g, "P2");
	expect_drain(drain(B, &x), "ok", "P1 C P2", "push, completion, push");
	expect_drain(drain(B, &x), "ok", "", "drained again: nothing returned twice");

	/* A longer mix, with the connection's own push (not sent back) in it. */
	queue(X, &x, "C1");
	push(X, g, "P3");
	push(X, g, "P4");
	queue(X, &x, "C2");
	queue(X, &x, "C3");
	exec_(X, "BEGIN", NOARGS);
	exec_(X, "SELECT set_config('pollhub.sender', $1, true)", ARGS(x.id));
	push(X, g, "OWN");
	exec_(X, "COMMIT", NOARGS);
	push(X, g, "P5");
	queue(X, &x, "C4");
	expect_drain(drain(B, &x), "ok", "C1 P3 P4 C2 C3 P5 C4",
	    "a longer mix in commit order, own push left out");
out:
	cleanup();
}

/* A push whose transaction is open (it took its seq under the group row's
 * lock) is not returned, and drains do not wait for it; once it commits the
 * next drain returns it: the cursor did not step over it. */
static void
case_uncommitted_push(void)
{
	struct conn x;
	const char *g = ident("g");
	PGresult *r;

	if (mkconn(&x, "x", g) == -1)
		goto out;
	push(X, g, "P1");
	exec_(A, "BEGIN", NOARGS);
	push(A, g, "U1");
	/* Queueing a completion reads the group's last_seq: no wait either. */
	r = nowait(C, NOWAIT_MS, "a completion queued while a push is open",
	    "INSERT INTO pollhub.connection_messages (connection_id, payload) VALUES ($1, $2)",
	    ARGS(x.id, rec("D1")));
	PQclear(r);
	expect_drain(drain_nowait(B, &x, "poll_drain while a push to the group is open"),
	    "ok", "P1 D1", "what committed, not the open push");
	exec_(A, "COMMIT", NOARGS);
	expect_drain(drain(B, &x), "ok", "U1", "the push once it committed");
	expect_drain(drain(B, &x), "ok", "", "and not again");
out:
	cleanup();
}

/* Two sessions drain one connection at the same time: the second waits for
 * the first (or returns nothing of what the first got), never both get a
 * record. */
static void
case_concurrent_drains(void)
{
	struct conn x;
	const char *g = ident("g");
	struct drained a, b;
	PGresult *r;

	if (mkconn(&x, "x", g) == -1)
		goto out;
	push(X, g, "P1");
	queue(X, &x, "D1");
	exec_(A, "BEGIN", NOARGS);
	a = drain(A, &x);
	expect_drain(a, "ok", "P1 D1", "A drains in an open transaction");
	/* A push is not held up by a drain in flight. */
	r = nowait(C, NOWAIT_MS, "a push while a drain of a member is open",
	    "SELECT pollhub.enqueue($1, $2)", ARGS(g, rec("P2")));
	PQclear(r);
	send_(B, drain_sql, ARGS(x.token, x.poll));
	b = concurrent_second(B, A, &x, "B's poll_drain", "P1 D1");
	expect_drain(b, "ok", "P2", "B, with the drain after it: only what came after A's, once");
out:
	cleanup();
}

/*
 * Many rounds: pushes and completions committed one by one (so their commit
 * order is known: record k is the k-th), then two drains of the same
 * connection sent at once from two sessions (two poll_drains, or a
 * poll_drain and a drain_many, every other round). Every record must be returned
 * exactly once, and the batches, taken in the order of their first record,
 * must concatenate to 1..N: each batch is in commit order and holds
 * everything up to its last record.
 */
#define STRESS_ROUNDS	150
#define STRESS_MAX	(STRESS_ROUNDS * 3)
static void
case_stress(void)
{
	struct conn x;
	const char *g = ident("g");
	int seen[STRESS_MAX + 1] = { 0 };
	int batch_first[2 * STRESS_ROUNDS + 2], batch_last[2 * STRESS_ROUNDS + 2];
	int batch_sorted[2 * STRESS_ROUNDS + 2];
	int nb = 0, k = 0, dup = 0, disorder = 0, errors = 0, selfs = 0;
	unsigned int seed = 7;
	char ids[128], polls[32];

	if (mkconn(&x, "x", g) == -1)
		goto out;
	array_lit(ids, sizeof(ids), (const char *const[]){ x.id }, 1);
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll }, 1);
	for (int round = 0; round <= STRESS_ROUNDS; round++) {
		int m = round == STRESS_ROUNDS ? 0 : (int)(rand_r(&seed) % 4);

		for (int i = 0; i < m; i++) {
			char name[16];

			snprintf(name, sizeof(name), "%d", ++k);
			if ((rand_r(&seed) & 1 ? push(C, g, name) : queue(D, &x, name)) == -1)
				errors++;
		}
		/* Both drains in flight at once (the last round: one, to collect):
		 * A's poll_drain, and B's poll_drain or (every other round) drain_many. */
		int many = round % 2 == 1;

		send_(A, drain_sql, ARGS(x.token, x.poll));
		if (round < STRESS_ROUNDS && many)
			send_(B, many_sql, ARGS(ids, polls));
		else if (round < STRESS_ROUNDS)
			send_(B, drain_sql, ARGS(x.token, x.poll));
		for (int s = A; s <= (round < STRESS_ROUNDS ? B : A); s++) {
			struct drained d = { 0 };
			int prev = 0, first = 0, n = 0;

			if (s == B && many) {
				if (many_rows(settle(s, "drain_many"), &d, 1) == -1)
					d.ok = 0;
				if (d.ok && strcmp(d.status, "self") == 0) {
					selfs++;
					continue;
				}
			} else {
				d = drain_result(settle(s, "a drain"));
			}
			if (!d.ok || strcmp(d.status, "ok") != 0) {
				errors++;
				continue;
			}
			for (char *tok = strtok(d.recs, " "); tok != NULL; tok = strtok(NULL, " ")) {
				int v = atoi(tok);

				if (v < 1 || v > STRESS_MAX) {
					errors++;
					continue;
				}
				if (seen[v]++)
					dup++;
				if (v < prev)
					disorder++;
				if (n++ == 0)
					first = v;
				prev = v;
			}
			if (n > 0) {
				batch_first[nb] = first;
				batch_last[nb] = prev;
				nb++;
			}
		}
	}
	{
		int missing = 0, gaps = 0;

		for (int v = 1; v <= k; v++)
			missing += seen[v] == 0;
		/* Batches by their first record: each must start right after the previous ends. */
		for (int i = 0; i < nb; i++)
			batch_sorted[i] = i;
		for (int i = 1; i < nb; i++)
			for (int j = i; j > 0 && batch_first[batch_sorted[j]] < batch_first[batch_sorted[j - 1]]; j--) {
				int t = batch_sorted[j];

				batch_sorted[j] = batch_sorted[j - 1];
				batch_sorted[j - 1] = t;
			}
		for (int i = 0, end = 0; i < nb; i++) {
			if (batch_first[batch_sorted[i]] != end + 1)
				gaps++;
			end = batch_last[batch_sorted[i]];
		}
		check(errors == 0 && dup == 0 && missing == 0,
		    "%d records over %d rounds of two concurrent drains: %d returned twice, %d never,"
		    " %d errors (drain_many said 'self' %d times)", k, STRESS_ROUNDS, dup, missing,
		    errors, selfs);
		check(disorder == 0 && gaps == 0,
		    "%d batches, each in commit order (%d out of order) and contiguous (%d gaps)",
		    nb, disorder, gaps);
	}
out:
	cleanup();
}

/* ------------------------------------------------------------------------ */
/* 2. drain_many                                                            */

/* A row another session holds is not waited for: 'self', and the others are
 * drained at once. */
static void
case_many_skips_locked(void)
{
	struct conn x, y;
	const char *g = ident("g");
	char ids[256], polls[64];
	struct drained d[2];

	if (mkconn(&x, "x", g) == -1 || mkconn(&y, "y", g) == -1)
		goto out;
	push(X, g, "P1");
	queue(X, &x, "DX");
	queue(X, &y, "DY");
	array_lit(ids, sizeof(ids), (const char *const[]){ x.id, y.id }, 2);
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll, y.poll }, 2);
	exec_(A, "BEGIN", NOARGS);
	exec_(A, "SELECT 1 FROM pollhub.connections WHERE id = $1 FOR UPDATE", ARGS(x.id));
	if (many_rows(nowait(B, NOWAIT_MS, "drain_many([X, Y]) while X's row is held",
	    many_sql, ARGS(ids, polls)), d, 2) == 0) {
		expect_drain(d[0], "self", "", "X (held): not drained");
		expect_drain(d[1], "ok", "P1 DY", "Y: drained");
	}
	exec_(A, "ROLLBACK", NOARGS);
	expect_drain(drain(B, &x), "ok", "P1 DX", "X's own drain afterwards: all of it");
	expect_drain(drain(B, &y), "ok", "", "Y: nothing twice");

	/* The same with the row held by an open poll_drain of X. */
	push(X, g, "P2");
	exec_(A, "BEGIN", NOARGS);
	expect_drain(drain(A, &x), "ok", "P2", "A drains X in an open transaction");
	if (many_rows(nowait(B, NOWAIT_MS, "drain_many([X, Y]) while X is being drained",
	    many_sql, ARGS(ids, polls)), d, 2) == 0) {
		expect_drain(d[0], "self", "", "X: not drained");
		expect_drain(d[1], "ok", "P2", "Y: drained");
	}
	exec_(A, "COMMIT", NOARGS);
out:
	cleanup();
}

/* Between drain_many and poll_drain of one connection, each record goes out
 * once, whichever holds the row first. */
static void
case_many_exactly_once(void)
{
	struct conn x;
	const char *g = ident("g");
	char ids[128], polls[32];
	struct drained d[1], b;

	if (mkconn(&x, "x", g) == -1)
		goto out;
	array_lit(ids, sizeof(ids), (const char *const[]){ x.id }, 1);
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll }, 1);

	/* poll_drain first (open), drain_many meanwhile, then after. */
	push(X, g, "P1");
	queue(X, &x, "C1");
	exec_(A, "BEGIN", NOARGS);
	expect_drain(drain(A, &x), "ok", "P1 C1", "A: poll_drain in an open transaction");
	push(X, g, "P2");
	if (many_rows(nowait(B, NOWAIT_MS, "drain_many([X]) while A's drain is open",
	    many_sql, ARGS(ids, polls)), d, 1) == 0)
		expect_drain(d[0], "self", "", "X: not drained (A holds it)");
	exec_(A, "COMMIT", NOARGS);
	if (many_rows(run(B, many_sql, ARGS(ids, polls)), d, 1) == 0)
		expect_drain(d[0], "ok", "P2", "drain_many after A committed: only what came after");

	/* drain_many first (open), poll_drain meanwhile (it may wait), then after. */
	push(X, g, "P3");
	queue(X, &x, "C2");
	exec_(A, "BEGIN", NOARGS);
	if (many_rows(run(A, many_sql, ARGS(ids, polls)), d, 1) == 0)
		expect_drain(d[0], "ok", "P3 C2", "A: drain_many in an open transaction");
	push(X, g, "P4");
	send_(B, drain_sql, ARGS(x.token, x.poll));
	b = concurrent_second(B, A, &x, "poll_drain", "P3 C2");
	expect_drain(b, "ok", "P4",
	    "poll_drain, with the drain after it: only what came after A's batch, once");
out:
	cleanup();
}

/* Rows in the order of the input; a superseded poll is 'self'. */
static void
case_many_input_order(void)
{
	struct conn x, y, z;
	const char *g = ident("g");
	char ids[512], polls[96], stale[24];
	struct drained d[3];

	if (mkconn(&x, "x", g) == -1 || mkconn(&y, "y", g) == -1 || mkconn(&z, "z", g) == -1)
		goto out;
	queue(X, &x, "DX");
	queue(X, &y, "DY");
	queue(X, &z, "DZ");
	snprintf(stale, sizeof(stale), "%lld", strtoll(x.poll, NULL, 10) - 1);
	/* Input not in id order: z, x (an older poll), y. */
	array_lit(ids, sizeof(ids), (const char *const[]){ z.id, x.id, y.id }, 3);
	array_lit(polls, sizeof(polls), (const char *const[]){ z.poll, stale, y.poll }, 3);
	if (many_rows(run(B, many_sql, ARGS(ids, polls)), d, 3) == 0) {
		expect_drain(d[0], "ok", "DZ", "row 1: Z");
		expect_drain(d[1], "self", "", "row 2: X's superseded poll");
		expect_drain(d[2], "ok", "DY", "row 3: Y");
	}
	expect_drain(drain(B, &x), "ok", "DX", "X's current poll drains it itself");
out:
	cleanup();
}

/* ------------------------------------------------------------------------ */
/* 2'. fanout_group: one read of a group's rows for all its waiting members   */

static const char *const group_sql =
    "SELECT n, status, seq, sender, payload FROM pollhub.fanout_group($1, $2::text[], $3::bigint[])";

/*
 * A fanout_group result as fanout.c hands it out: d[i] for the member at
 * ids[i] (n = i + 1): its status, or "self" when the result leaves it out
 * (it drains alone), and the rows without those it sent itself, as names.
 * 0, or -1 on a malformed result.
 */
static int
group_rows(PGresult *r, struct drained *d, const char *const *ids, int n)
{
	int rows = 0, ok = r != NULL;

	for (int i = 0; i < n; i++) {
		memset(&d[i], 0, sizeof(d[i]));
		d[i].ok = ok;
		snprintf(d[i].status, sizeof(d[i].status), "self");
	}
	while (ok && rows < PQntuples(r) && PQgetisnull(r, rows, 0))
		rows++;
	for (int i = rows; ok && i < PQntuples(r); i++) {
		int k = atoi(PQgetvalue(r, i, 0)) - 1;

		if (k < 0 || k >= n) {
			ok = 0;
			break;
		}
		snprintf(d[k].status, sizeof(d[k].status), "%s", PQgetvalue(r, i, 1));
		for (int j = 0; j < rows; j++) {
			if (PQgetisnull(r, i, 2) ||
			    strtoll(PQgetvalue(r, j, 2), NULL, 10) <= strtoll(PQgetvalue(r, i, 2), NULL, 10))
				continue;	/* at or before its cursor */
			char raw[256], one[256];

			if (!PQgetisnull(r, j, 3) && strcmp(PQgetvalue(r, j, 3), ids[k]) == 0)
				continue;
			snprintf(raw, sizeof(raw), "%s\x1e", PQgetvalue(r, j, 4));
			names(raw, one, sizeof(one));
			if (d[k].recs[0] != '\0')
				append(d[k].recs, sizeof(d[k].recs), " ");
			append(d[k].recs, sizeof(d[k].recs), one);
		}
	}
	if (!ok)
		check(0, "fanout_group answered a malformed result (%d rows)",
		    r != NULL ? PQntuples(r) : -1);
	PQclear(r);
	return ok ? 0 : -1;
}

/* A push with a sender (its own pushes are not sent back to it). */
static int
push_from(int s, const char *group, const struct conn *c, const char *name)
{
	int rc = exec_(s, "BEGIN", NOARGS);

	rc |= exec_(s, "SELECT set_config('pollhub.sender', $1, true)", ARGS(c->id));
	rc |= push(s, group, name);
	rc |= exec_(s, "COMMIT", NOARGS);
	return rc;
}

/* Rows read once for every member at the group's common cursor or ahead
 * of it (each gets those past its cursor); the sender's own row left out for
 * it; a member with a queued completion, one behind the common cursor or a
 * superseded poll is not served (it drains alone, in order); nothing is
 * returned twice. */
static void
case_group_basic(void)
{
	struct conn x, y, z, w;
	const char *g = ident("g");
	const char *ids[4];
	char lit[1024], polls[128], stale[24];
	struct drained d[4];

	if (mkconn(&x, "x", g) == -1 || mkconn(&y, "y", g) == -1 || mkconn(&z, "z", g) == -1 ||
	    mkconn(&w, "w", g) == -1)
		goto out;
	ids[0] = x.id, ids[1] = y.id, ids[2] = z.id, ids[3] = w.id;
	array_lit(lit, sizeof(lit), ids, 4);
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll, y.poll, z.poll, w.poll }, 4);
	push(X, g, "P1");
	push_from(X, g, &x, "P2");
	if (group_rows(run(B, group_sql, ARGS(g, lit, polls)), d, ids, 4) == 0) {
		expect_drain(d[0], "ok", "P1", "X: the rows but its own");
		expect_drain(d[1], "ok", "P1 P2", "Y: the rows");
		expect_drain(d[3], "ok", "P1 P2", "W: the rows");
	}
	if (group_rows(run(B, group_sql, ARGS(g, lit, polls)), d, ids, 4) == 0)
		expect_drain(d[1], "ok", "", "again: nothing twice");
	expect_drain(drain(B, &y), "ok", "", "Y's own drain after: nothing twice");

	/* X has a completion queued; Z drained alone (a cursor of its own); W's
	 * poll is superseded. */
	push(X, g, "P3");
	queue(X, &x, "CX");
	push(X, g, "P4");
	expect_drain(drain(B, &z), "ok", "P3 P4", "Z drains alone");
	push(X, g, "P5");
	snprintf(stale, sizeof(stale), "%lld", strtoll(w.poll, NULL, 10) - 1);
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll, y.poll, z.poll, stale }, 4);
	if (group_rows(run(B, group_sql, ARGS(g, lit, polls)), d, ids, 4) == 0) {
		expect_drain(d[0], "queued", "", "X (a queued completion): left to drain_many's merge");
		expect_drain(d[1], "ok", "P3 P4 P5", "Y: at the common cursor");
		expect_drain(d[2], "ok", "P5", "Z (ahead of the common cursor): what is past its own");
		expect_drain(d[3], "self", "", "W (a superseded poll): drains alone");
	}
	{
		char xi[128], xp[32];
		struct drained dm[1];

		array_lit(xi, sizeof(xi), (const char *const[]){ x.id }, 1);
		array_lit(xp, sizeof(xp), (const char *const[]){ x.poll }, 1);
		if (many_rows(run(B, many_sql, ARGS(xi, xp)), dm, 1) == 0)
			expect_drain(dm[0], "ok", "P3 CX P4 P5",
			    "X by drain_many: the merge, in commit order");
	}
	expect_drain(drain(B, &z), "ok", "", "Z alone: nothing twice");
	expect_drain(drain(B, &w), "ok", "P3 P4 P5", "W's current poll");

	/* W behind the common cursor (Y, Z), X ahead of it. */
	push(X, g, "P6");
	expect_drain(drain(B, &y), "ok", "P6", "Y alone");
	expect_drain(drain(B, &z), "ok", "P6", "Z alone");
	push(X, g, "P7");
	expect_drain(drain(B, &x), "ok", "P6 P7", "X alone");
	push(X, g, "P8");
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll, y.poll, z.poll, w.poll }, 4);
	if (group_rows(run(B, group_sql, ARGS(g, lit, polls)), d, ids, 4) == 0) {
		expect_drain(d[0], "ok", "P8", "X (ahead)");
		expect_drain(d[1], "ok", "P7 P8", "Y (the common cursor)");
		expect_drain(d[2], "ok", "P7 P8", "Z (the common cursor)");
		expect_drain(d[3], "self", "", "W (behind): drains alone");
	}
	expect_drain(drain(B, &w), "ok", "P6 P7 P8", "W alone: all of it once");
out:
	cleanup();
}

/*
 * The forced interleaving: fanout_group has read the group's rows and the
 * members' queues, and waits (a membership row another session holds) before
 * it moves the cursors; meanwhile X's own completion (after a push) commits.
 * X gets the rows of the batch from the fan-out, then, draining alone, the
 * push and its completion in commit order: nothing twice, nothing lost.
 * Also: a connection closed while a batch holds it keeps the batch's
 * records, and its Close comes after them.
 */
static void
case_group_interleave(void)
{
	struct conn x, y;
	const char *g = ident("g");
	const char *ids[2];
	char lit[512], polls[64];
	struct drained d[2];

	if (mkconn(&x, "x", g) == -1 || mkconn(&y, "y", g) == -1)
		goto out;
	ids[0] = x.id, ids[1] = y.id;
	array_lit(lit, sizeof(lit), ids, 2);
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll, y.poll }, 2);
	push(X, g, "P1");
	exec_(A, "BEGIN", NOARGS);
	exec_(A, "SELECT 1 FROM pollhub.memberships WHERE connection_id = $1 FOR UPDATE",
	    ARGS(y.id));
	exec_(B, "BEGIN", NOARGS);
	send_(B, group_sql, ARGS(g, lit, polls));
	check(waits_for_lock(B), "the fan-out waits before it moves the cursors");
	push(C, g, "P2");
	queue(C, &x, "CX");
	exec_(A, "COMMIT", NOARGS);
	if (group_rows(settle(B, "fanout_group"), d, ids, 2) == 0) {
		expect_drain(d[0], "ok", "P1", "X: the batch's rows");
		expect_drain(d[1], "ok", "P1", "Y: the batch's rows");
	}
	exec_(B, "COMMIT", NOARGS);
	expect_drain(drain(B, &x), "ok", "P2 CX", "X alone: what came after, in commit order");
	expect_drain(drain(B, &y), "ok", "P2", "Y alone: the push after the batch");

	/* A closes X (the admin's close waits for the batch's row lock). */
	push(X, g, "P3");
	exec_(B, "BEGIN", NOARGS);
	if (group_rows(run(B, group_sql, ARGS(g, lit, polls)), d, ids, 2) == 0)
		expect_drain(d[0], "ok", "P3", "X: served in an open batch");
	send_(A, "SELECT pollhub.disconnect_connection($1, 'closed by a test', false)",
	    ARGS(x.id));
	check(waits_for_lock(A), "closing X waits for the batch that holds it");
	exec_(B, "COMMIT", NOARGS);
	PQclear(settle(A, "disconnect_connection"));
	push(X, g, "P4");
	{
		struct drained c = drain(B, &x);

		check(c.ok && strstr(c.recs, "P3") == NULL && strstr(c.recs, "P4") == NULL,
		    "X closed after the batch: only its Close is left [%s] (%s)", c.recs, c.status);
		check(c.ok && strcmp(c.status, "closing") == 0, "X: status closing (%s)", c.status);
	}
	expect_drain(drain(B, &y), "ok", "P4", "Y: every push once (P3 came in the batch)");
out:
	cleanup();
}

/* ------------------------------------------------------------------------ */
/* 3. The send transaction (a POST) does not hold up its connection's drains */

static void
case_send_blocked(void)
{
	struct conn x;
	const char *g = ident("g");
	char ids[128], polls[32];
	struct drained d[1];
	PGresult *r;

	if (mkconn(&x, "x", g) == -1)
		goto out;
	array_lit(ids, sizeof(ids), (const char *const[]){ x.id }, 1);
	array_lit(polls, sizeof(polls), (const char *const[]){ x.poll }, 1);
	push(X, g, "P0");

	/* C: an administrator's open transaction that pushed to the group. */
	exec_(C, "BEGIN", NOARGS);
	push(C, g, "ADMIN");
	/* A: X's POST, as common/store.c runs it: send_begin, the invocation's
	 * push (waits for C's group lock), then its completion and the row. */
	exec_(A, "BEGIN", NOARGS);
	r = run(A, "SELECT id, group_name, handshaken, closing, inbound, locked"
	    " FROM pollhub.send_begin($1, false, false)", ARGS(x.token));
	check(r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), x.id) == 0 &&
	    strcmp(PQgetvalue(r, 0, 5), "t") == 0, "send_begin returns the connection's row, locked");
	PQclear(r);
	exec_(A, "SELECT set_config('pollhub.sender', $1, true)", ARGS(x.id));
	send_(A, "SELECT pollhub.enqueue($1, $2)", ARGS(g, rec("OWN")));
	check(waits_for_lock(A), "A's send waits for the group's lock held by C");

	/* D: a second POST of X. Without waiting it is told the first holds
	 * the send lock; waiting, it waits for the first. */
	exec_(D, "BEGIN", NOARGS);
	r = nowait(D, NOWAIT_MS, "a second send_begin(wait false) of the same connection",
	    "SELECT id, locked FROM pollhub.send_begin($1, false, false)", ARGS(x.token));
	check(r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "f") == 0,
	    "it is told another send holds the lock (locked false)");
	PQclear(r);
	exec_(D, "ROLLBACK", NOARGS);
	exec_(D, "BEGIN", NOARGS);
	send_(D, "SELECT id, locked FROM pollhub.send_begin($1, false, true)", ARGS(x.token));
	check(waits_for_lock(D), "send_begin(wait true) of the same connection waits for the first");

	expect_drain(drain_nowait(B, &x, "poll_drain of X while its send is blocked"),
	    "ok", "P0", "what committed before");
	if (many_rows(nowait(B, NOWAIT_MS, "drain_many([X]) while its send is blocked",
	    many_sql, ARGS(ids, polls)), d, 1) == 0)
		expect_drain(d[0], "ok", "", "drained (nothing new)");

	exec_(C, "COMMIT", NOARGS);
	PQclear(settle(A, "A's push"));
	queue(A, &x, "DONE");
	/* The send's last statement (store_send_commit): the row. */
	exec_(A, "UPDATE pollhub.connections SET inbound = ''::bytea, handshaken = true,"
	    " last_seen = now() WHERE id = $1", ARGS(x.id));
	exec_(A, "COMMIT", NOARGS);
	r = settle(D, "the second send_begin");
	check(r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0,
	    "the second send went on once the first committed");
	PQclear(r);
	exec_(D, "COMMIT", NOARGS);
	expect_drain(drain(B, &x), "ok", "ADMIN DONE",
	    "then the push, and the completion after it (own push left out)");
out:
	cleanup();
}

/* ------------------------------------------------------------------------ */
/* 4. The reaper: CALL pollhub.maintain(responder, poll, disconnect, cap)   */

struct maint {
	int ok;
	long long removed, closed, skipped;
	double max_lock_ms;
};

/* As a responder runs it (store_maintain): its id, its poll and disconnect
 * timeouts (the responder defaults), the pending cap. The thresholds in force
 * are the longest of the responders seen lately (pollhub.responders). */
static const char *const maintain_sql =
    "CALL pollhub.maintain($1, '90 seconds', '15 seconds', $2::integer)";
static char responder_id[48];

static struct maint
maint_result(PGresult *r)
{
	struct maint m = { 0 };
	int fr, fc, fs, fl;

	if (r == NULL)
		return m;
	fr = PQfnumber(r, "removed");
	fc = PQfnumber(r, "closed");
	fs = PQfnumber(r, "skipped");
	fl = PQfnumber(r, "max_lock_ms");
	if (PQntuples(r) != 1 || fr < 0 || fc < 0 || fs < 0 || fl < 0) {
		check(0, "CALL pollhub.maintain answered %d rows without removed, closed, skipped,"
		    " max_lock_ms", PQntuples(r));
	} else {
		m.ok = 1;
		m.removed = strtoll(PQgetvalue(r, 0, fr), NULL, 10);
		m.closed = strtoll(PQgetvalue(r, 0, fc), NULL, 10);
		m.skipped = strtoll(PQgetvalue(r, 0, fs), NULL, 10);
		m.max_lock_ms = strtod(PQgetvalue(r, 0, fl), NULL);
	}
	PQclear(r);
	return m;
}

static long long
outbox_rows(const char *group, const char *upto)
{
	return value_ll(X, "SELECT count(*) FROM pollhub.outbox WHERE group_name = $1"
	    " AND seq <= $2::bigint", ARGS(group, upto));
}

static long long
conn_exists(const struct conn *c)
{
	return value_ll(X, "SELECT count(*) FROM pollhub.connections WHERE id = $1", ARGS(c->id));
}

/* A connection made stale: unseen for an hour (longer than any threshold
 * pollhub.settings may hold in a test database). */
static int
make_stale(const struct conn *c)
{
	return exec_(X, "UPDATE pollhub.connections SET last_seen = now() - interval '1 hour'"
	    " WHERE id = $1", ARGS(c->id));
}

/*
 * A holds an open transaction that pushed to group G (its row is locked), a
 * FOR UPDATE lock on stale connection S1 and a drain's lock (FOR NO KEY
 * UPDATE) on connection O, which is over the pending cap. maintain() must
 * not wait: it removes the other stale connection S2, trims group H and
 * skips G, S1 and O; once A has committed, the next run does those.
 */
static void
case_reaper_skips_locked(void)
{
	struct conn g1, h1, s1, s2, o;
	const char *g = ident("g"), *h = ident("h"), *k = ident("k"), *q = ident("q");
	struct maint m;
	char st[32];

	if (mkconn(&g1, "g1", g) == -1 || mkconn(&h1, "h1", h) == -1 ||
	    mkconn(&s1, "s1", k) == -1 || mkconn(&s2, "s2", k) == -1 || mkconn(&o, "o", q) == -1)
		goto out;
	/* G and H: 5 rows each, the member at 3 (rows 1..3 may go). */
	for (int i = 1; i <= 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "G%d", i);
		push(X, g, name);
		snprintf(name, sizeof(name), "H%d", i);
		push(X, h, name);
		if (i == 3) {
			expect_drain(drain(X, &g1), "ok", "G1 G2 G3", "G's member at 3");
			expect_drain(drain(X, &h1), "ok", "H1 H2 H3", "H's member at 3");
		}
	}
	/* O: 8 pending, over a cap of 5. */
	for (int i = 1; i <= 8; i++)
		push(X, q, "Q");
	make_stale(&s1);
	make_stale(&s2);

	exec_(A, "BEGIN", NOARGS);
	push(A, g, "G6");
	exec_(A, "SELECT 1 FROM pollhub.connections WHERE id = $1 FOR UPDATE", ARGS(s1.id));
	exec_(A, "SELECT 1 FROM pollhub.connections WHERE id = $1 FOR NO KEY UPDATE", ARGS(o.id));

	m = maint_result(nowait(B, MAINTAIN_MS, "maintain() while G, S1 and O are held",
	    maintain_sql, ARGS(responder_id, "5")));
	if (m.ok)
		printf("note %s: removed %lld, closed %lld, skipped %lld, longest lock %.1f ms\n",
		    tag, m.removed, m.closed, m.skipped, m.max_lock_ms);
	check(m.ok && m.skipped >= 1, "it counts G as skipped (skipped %lld)", m.skipped);
	check(m.ok && m.removed >= 1 && conn_exists(&s2) == 0, "the stale S2 is removed (removed %lld)",
	    m.removed);
	check(conn_exists(&s1) == 1, "the stale S1, held by A, is left");
	check(outbox_rows(h, "3") == 0 && outbox_rows(h, "5") == 2,
	    "H is trimmed to the rows after its member");
	check(outbox_rows(g, "3") == 3, "G, held by A, is left untrimmed");
	value(X, st, sizeof(st), "SELECT state FROM pollhub.connections WHERE id = $1", ARGS(o.id));
	check(strcmp(st, "open") == 0, "O, over the cap but held, is left open (%s)", st);

	exec_(A, "COMMIT", NOARGS);
	m = maint_result(nowait(B, MAINTAIN_MS, "maintain() once A committed", maintain_sql,
	    ARGS(responder_id, "5")));
	check(m.ok && conn_exists(&s1) == 0, "now S1 is removed");
	check(outbox_rows(g, "3") == 0 && outbox_rows(g, "6") == 3, "and G trimmed");
	value(X, st, sizeof(st), "SELECT state FROM pollhub.connections WHERE id = $1", ARGS(o.id));
	check(m.ok && m.closed >= 1 && strcmp(st, "closing") == 0,
	    "and O closed by the cap (%s, closed %lld)", st, m.closed);
	check(value_ll(X, "SELECT count(*) FROM pollhub.connection_messages WHERE connection_id = $1"
	    " AND payload::json->>'type' = '7'", ARGS(o.id)) == 1, "O has its Close queued");
	m = maint_result(run(B, maintain_sql, ARGS(responder_id, "5")));
	check(m.ok && value_ll(X, "SELECT count(*) FROM pollhub.groups WHERE name = $1", ARGS(q)) == 0,
	    "a later run forgets O's group, which nobody is in any more");
out:
	cleanup();
}

/*
 * A join racing a trim (issue 18): join_group reads the group's last_seq,
 * then inserts the membership. D holds the joiner J's connection row FOR
 * UPDATE, so J's insert (its foreign-key check) waits right in that gap. B
 * pushes P and commits; the old member M drains past it; C trims the group.
 * J must still get P: the trim may not delete a push J has not been given
 * (J's read holds the group row FOR KEY SHARE: the push does not wait for
 * it, the trim skips the group until J commits).
 */
static void
case_join_races_trim(void)
{
	struct conn m, j;
	const char *g = ident("g");
	PGresult *r;

	if (mkconn(&m, "m", g) == -1 || push(X, g, "P0") == -1)
		goto out;
	expect_drain(drain(X, &m), "ok", "P0", "the old member is at P0");
	snprintf(j.id, sizeof(j.id), "%s", ident("j"));
	snprintf(j.token, sizeof(j.token), "%s-t", j.id);
	snprintf(j.group, sizeof(j.group), "%s", g);
	if (exec_(X, "INSERT INTO pollhub.connections (id, token, group_name, transport, handshaken)"
	    " VALUES ($1, $2, $3, 'LongPolling', true)", ARGS(j.id, j.token, g)) == -1)
		goto out;
	exec_(D, "BEGIN", NOARGS);
	exec_(D, "SELECT 1 FROM pollhub.connections WHERE id = $1 FOR UPDATE", ARGS(j.id));
	if (send_(A, "SELECT pollhub.join_group($1, $2)", ARGS(j.id, g)) == -1)
		goto out;
	check(waits_for_lock(A), "the joiner waits in join_group, between its read and its insert");
	PQclear(nowait(B, NOWAIT_MS, "a push while the joiner is in the gap", "SELECT"
	    " pollhub.enqueue($1, $2)", ARGS(g, rec("P1"))));
	value(X, m.poll, sizeof(m.poll), "SELECT poll_no FROM pollhub.poll_begin($1)", ARGS(m.token));
	expect_drain(drain(X, &m), "ok", "P1", "the old member drains the push");
	PQclear(nowait(C, NOWAIT_MS, "trim_group while the joiner is in the gap",
	    "SELECT pollhub.trim_group($1, 1000)", ARGS(g)));
	exec_(D, "COMMIT", NOARGS);
	r = settle(A, "join_group");
	PQclear(r);
	if (value(X, j.poll, sizeof(j.poll), "SELECT poll_no FROM pollhub.poll_begin($1)",
	    ARGS(j.token)) == -1)
		goto out;
	expect_drain(drain(X, &j), "ok", "P1", "the joiner gets the push that committed in the gap");
	PQclear(run(C, "SELECT pollhub.trim_group($1, 1000)", ARGS(g)));
	check(outbox_rows(g, "2") == 0, "a later trim removes what every member has");
out:
	cleanup();
}

/*
 * Sizing: 10,000 connections (long polls held) in 1,000 groups of 10, 20
 * rows per group and every member 6 to 10 rows behind the end (rows 1..10
 * of each group may go), then one maintain(): how long it takes, and the
 * longest it held any one lock. Not a benchmark: the bound on the whole run
 * is generous, the figures are printed; the bound on a lock is the point.
 */
#define SIZE_GROUPS	1000
#define SIZE_PER_GROUP	10
#define SIZE_ROWS	20
#define SIZE_LOCK_MS	50
static void
case_reaper_sizing(void)
{
	char prefix[64], ng[16], npg[16], nrows[16], v[64];
	struct maint m;
	double t0, took;
	long long left, before;

	snprintf(prefix, sizeof(prefix), "%s", ident(""));
	snprintf(ng, sizeof(ng), "%d", SIZE_GROUPS);
	snprintf(npg, sizeof(npg), "%d", SIZE_PER_GROUP);
	snprintf(nrows, sizeof(nrows), "%d", SIZE_ROWS);
	t0 = now_ms();
	if (exec_(X, "BEGIN", NOARGS) == -1 ||
	    exec_(X, "INSERT INTO pollhub.groups (name, last_seq)"
	    " SELECT $1 || 'g' || i, $3::int FROM generate_series(1, $2::int) i",
	    ARGS(prefix, ng, nrows)) == -1 ||
	    exec_(X, "INSERT INTO pollhub.outbox (group_name, seq, payload)"
	    " SELECT $1 || 'g' || i, s, '{\"r\":\"z\"}'"
	    " FROM generate_series(1, $2::int) i, generate_series(1, $3::int) s",
	    ARGS(prefix, ng, nrows)) == -1 ||
	    /* Each holding a poll, seen as the row is written (now() would be
	     * the transaction's start: a slow machine would make them stale). */
	    exec_(X, "INSERT INTO pollhub.connections (id, token, group_name, transport, poll_no,"
	    " poll_active, last_seen)"
	    " SELECT $1 || 'c' || j, $1 || 't' || j, $1 || 'g' || (j % $2::int + 1), 'LongPolling',"
	    " 1, true, clock_timestamp() FROM generate_series(0, $2::int * $3::int - 1) j",
	    ARGS(prefix, ng, npg)) == -1 ||
	    exec_(X, "INSERT INTO pollhub.memberships (connection_id, group_name, cursor)"
	    " SELECT $1 || 'c' || j, $1 || 'g' || (j % $2::int + 1), $4::int / 2 + (j / $2::int) % 5"
	    " FROM generate_series(0, $2::int * $3::int - 1) j", ARGS(prefix, ng, npg, nrows)) == -1 ||
	    exec_(X, "COMMIT", NOARGS) == -1 || exec_(X, "ANALYZE pollhub.outbox", NOARGS) == -1 ||
	    exec_(X, "ANALYZE pollhub.memberships", NOARGS) == -1 ||
	    exec_(X, "ANALYZE pollhub.connections", NOARGS) == -1)
		goto out;
	before = value_ll(X, "SELECT count(*) FROM pollhub.outbox WHERE group_name LIKE $1 || '%'",
	    ARGS(prefix));
	printf("note %s: made %d connections in %d groups, %lld outbox rows (%.0f ms)\n", tag,
	    SIZE_GROUPS * SIZE_PER_GROUP, SIZE_GROUPS, before, now_ms() - t0);

	exec_(B, "SET statement_timeout = '300s'", NOARGS);
	t0 = now_ms();
	m = maint_result(run(B, maintain_sql, ARGS(responder_id, "1000")));
	took = now_ms() - t0;
	exec_(B, "SET statement_timeout = '30s'", NOARGS);
	left = value_ll(X, "SELECT count(*) FROM pollhub.outbox WHERE group_name LIKE $1 || '%'",
	    ARGS(prefix));
	if (m.ok)
		printf("note %s: maintain(): %.0f ms in all, longest lock %.2f ms; removed %lld,"
		    " closed %lld, skipped %lld; outbox rows %lld -> %lld\n", tag, took, m.max_lock_ms,
		    m.removed, m.closed, m.skipped, before, left);
	check(m.ok && m.max_lock_ms < SIZE_LOCK_MS, "the longest lock held: %.2f ms (bound %d ms)",
	    m.max_lock_ms, SIZE_LOCK_MS);
	check(m.ok && took < 120000, "one run over %d groups: %.0f ms (bound 120 s)", SIZE_GROUPS, took);
	value(X, v, sizeof(v), "SELECT count(*) FROM pollhub.outbox WHERE group_name LIKE $1 || '%'"
	    " AND seq <= $2::int / 2", ARGS(prefix, nrows));
	check(strcmp(v, "0") == 0 && left == (long long)SIZE_GROUPS * (SIZE_ROWS - SIZE_ROWS / 2),
	    "every group trimmed to its slowest member: %s rows left behind, %lld kept", v, left);
out:
	reset_sessions();
	{
		char like[80];

		snprintf(like, sizeof(like), "%s%%", prefix);
		exec_(X, "DELETE FROM pollhub.connections WHERE id LIKE $1", ARGS(like));
		exec_(X, "DELETE FROM pollhub.outbox WHERE group_name LIKE $1", ARGS(like));
		exec_(X, "DELETE FROM pollhub.groups WHERE name LIKE $1", ARGS(like));
	}
}

/* ------------------------------------------------------------------------ */
/* 5. The classic drain: nothing consumed, the cursor at the acknowledged    */

/* A classic long-polling connection in group, connected (in its group) and
 * with a receive request begun. */
static int
mkclassic(struct conn *c, const char *name, const char *group)
{
	char v[32];

	snprintf(c->id, sizeof(c->id), "%s", ident(name));
	snprintf(c->token, sizeof(c->token), "%s-t", c->id);
	snprintf(c->group, sizeof(c->group), "%s", group);
	if (exec_(X, "SELECT pollhub.classic_negotiate($1, $2, NULL, $3, NULL, NULL)",
	    ARGS(c->id, c->token, c->group)) == -1 ||
	    value(X, v, sizeof(v), "SELECT status FROM pollhub.classic_connect($1, 'ClassicLongPolling')",
	    ARGS(c->token)) == -1 ||
	    value(X, c->poll, sizeof(c->poll), "SELECT poll_no FROM pollhub.classic_receive_begin($1)",
	    ARGS(c->token)) == -1)
		return -1;
	return check(strcmp(v, "ok") == 0, "classic_connect: %s", v) ? 0 : -1;
}

static const char *const classic_sql =
    "SELECT status, cursor, seq, payload FROM pollhub.classic_drain($1, $2::bigint, $3::bigint,"
    " $4::bigint, $5::boolean, $6::integer)";

struct cdrained {
	int ok;
	char status[32], cursor[24];
	char recs[1024];	/* the records' names */
};

/* classic_drain's rows: one per record (or one with seq NULL), the same
 * status and cursor in each. */
static struct cdrained
classic_rows(PGresult *r)
{
	struct cdrained d = { 0 };

	snprintf(d.status, sizeof(d.status), "(error)");
	if (r == NULL || PQntuples(r) < 1) {
		PQclear(r);
		return d;
	}
	d.ok = 1;
	snprintf(d.status, sizeof(d.status), "%s", PQgetvalue(r, 0, 0));
	snprintf(d.cursor, sizeof(d.cursor), "%s", PQgetvalue(r, 0, 1));
	for (int i = 0; i < PQntuples(r); i++) {
		char one[128], rs[120];

		if (PQgetisnull(r, i, 3))
			continue;
		snprintf(rs, sizeof(rs), "%.100s\x1e", PQgetvalue(r, i, 3));
		names(rs, one, sizeof(one));
		if (d.recs[0] != '\0')
			append(d.recs, sizeof(d.recs), " ");
		append(d.recs, sizeof(d.recs), one);
		if (strcmp(PQgetvalue(r, i, 1), d.cursor) != 0)
			d.ok = 0;
	}
	PQclear(r);
	return d;
}

static struct cdrained
classic_drain(int s, const struct conn *c, const char *ack, const char *from, int stream)
{
	return classic_rows(run(s, classic_sql,
	    ARGS(c->token, c->poll, ack, from, stream ? "true" : "false", "100")));
}

static int
expect_classic(struct cdrained d, const char *recs, const char *cursor, const char *what)
{
	return check(d.ok && strcmp(d.status, "ok") == 0 && strcmp(d.recs, recs) == 0 &&
	    strcmp(d.cursor, cursor) == 0, "%s: %s [%s] cursor %s (want ok [%s] cursor %s)",
	    what, d.status, d.recs, d.cursor, recs, cursor);
}

static void
membership(const struct conn *c, char *cursor, size_t len)
{
	value(X, cursor, len, "SELECT cursor || '/' || coalesce(sent::text, '-')"
	    " FROM pollhub.memberships WHERE connection_id = $1", ARGS(c->id));
}

/* Nothing is consumed; the membership cursor moves to what the client
 * acknowledged only (never back), and the trim keeps what is after it. */
static void
case_classic_cursor(void)
{
	struct conn k;
	const char *g = ident("g");
	char m[48];

	if (mkclassic(&k, "k", g) == -1)
		goto out;
	push(X, g, "P1");
	push(X, g, "P2");
	push(X, g, "P3");
	expect_classic(classic_drain(B, &k, "0", "0", 0), "P1 P2 P3", "3", "a poll from 0");
	expect_classic(classic_drain(B, &k, "0", "0", 0), "P1 P2 P3", "3",
	    "the same poll again: the same rows");
	membership(&k, m, sizeof(m));
	check(strcmp(m, "0/-") == 0,
	    "the membership cursor stays at the acknowledged 0 (cursor/sent %s)", m);
	expect_classic(classic_drain(B, &k, "2", "2", 0), "P3", "3", "a poll from 2");
	membership(&k, m, sizeof(m));
	check(strcmp(m, "2/-") == 0, "the cursor moves to 2 (%s)", m);
	expect_classic(classic_drain(B, &k, "1", "1", 0), "P2 P3", "3",
	    "a poll from 1 (a client gone back)");
	membership(&k, m, sizeof(m));
	check(strcmp(m, "2/-") == 0, "the cursor does not move back (%s)", m);
	maint_result(run(B, maintain_sql, ARGS(responder_id, "1000")));
	check(outbox_rows(g, "2") == 0 && outbox_rows(g, "3") == 1,
	    "the reaper trims up to the acknowledged 2 and keeps P3");
	/* A stream: reads on from what it wrote; sent follows, cursor stays. */
	expect_classic(classic_drain(B, &k, "2", "3", 1), "", "3", "a stream at 3, acknowledged 2");
	push(X, g, "P4");
	expect_classic(classic_drain(B, &k, "2", "3", 1), "P4", "4", "the stream gets P4");
	membership(&k, m, sizeof(m));
	check(strcmp(m, "2/4") == 0, "cursor 2 (acknowledged), sent 4 (written): %s", m);
	maint_result(run(B, maintain_sql, ARGS(responder_id, "1000")));
	check(outbox_rows(g, "4") == 2, "the trim keeps what the stream's client has not acknowledged");
out:
	cleanup();
}

/* A row held by another session is waited for no longer than the server's
 * lock_timeout; an open push is not waited for, and is read once committed;
 * a classic send blocked on the group's lock holds up no drain. */
static void
case_classic_locks(void)
{
	struct conn k;
	const char *g = ident("g");
	char lt[32];
	PGresult *r;
	double t0, took;
	int rc;

	if (mkclassic(&k, "k", g) == -1)
		goto out;
	push(X, g, "P1");

	/* The row held (a drain elsewhere, an administrator): bounded. */
	snprintf(lt, sizeof(lt), "%dms", SERVER_LOCK_TIMEOUT_MS);
	exec_(B, "SELECT set_config('lock_timeout', $1, false)", ARGS(lt));
	exec_(A, "BEGIN", NOARGS);
	exec_(A, "SELECT 1 FROM pollhub.connections WHERE id = $1 FOR UPDATE", ARGS(k.id));
	t0 = now_ms();
	send_(B, classic_sql, ARGS(k.token, k.poll, "0", "0", "false", "100"));
	rc = await_(B, SERVER_LOCK_TIMEOUT_MS + NOWAIT_MS, &r, &took);
	if (rc == 1) {
		const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

		check(1, "classic_drain with the row held returned within %d + %d ms (%.0f ms, %s)",
		    SERVER_LOCK_TIMEOUT_MS, NOWAIT_MS, took,
		    result_ok(r) ? "answered" : state != NULL ? state : "failed");
		check(result_ok(r) || (state != NULL && strcmp(state, "55P03") == 0),
		    "it answered or gave up on the lock (lock_not_available), nothing else");
		PQclear(r);
	} else {
		check(0, "classic_drain with the row held did not return within %d + %d ms (%.0f ms)",
		    SERVER_LOCK_TIMEOUT_MS, NOWAIT_MS, now_ms() - t0);
	}
	exec_(A, "ROLLBACK", NOARGS);
	exec_(B, "SET lock_timeout = '20s'", NOARGS);

	/* An open push: not waited for, not skipped. */
	exec_(A, "BEGIN", NOARGS);
	push(A, g, "U1");
	expect_classic(classic_rows(nowait(B, NOWAIT_MS, "classic_drain while a push is open",
	    classic_sql, ARGS(k.token, k.poll, "0", "0", "false", "100"))), "P1", "1",
	    "what committed, the cursor before the open push");
	exec_(A, "COMMIT", NOARGS);
	expect_classic(classic_drain(B, &k, "1", "1", 0), "U1", "2", "from 1 once it committed");

	/* A classic send waiting for the group's lock. */
	exec_(C, "BEGIN", NOARGS);
	push(C, g, "ADMIN");
	exec_(A, "BEGIN", NOARGS);
	r = run(A, "SELECT id, locked FROM pollhub.send_begin($1, true, true)", ARGS(k.token));
	check(r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0,
	    "send_begin(classic) returns the connection, locked");
	PQclear(r);
	send_(A, "SELECT pollhub.enqueue($1, $2)", ARGS(g, rec("OWN")));
	check(waits_for_lock(A), "the classic send waits for the group's lock held by C");
	expect_classic(classic_rows(nowait(B, NOWAIT_MS, "classic_drain while its send is blocked",
	    classic_sql, ARGS(k.token, k.poll, "2", "2", "false", "100"))), "", "2", "nothing new");
	exec_(C, "COMMIT", NOARGS);
	PQclear(settle(A, "the classic send's push"));
	exec_(A, "COMMIT", NOARGS);
out:
	cleanup();
}

/* ------------------------------------------------------------------------ */

/* Run one case under its name (ids, group names and check lines carry it). */
static void
case_run(const char *name, void (*fn)(void))
{
	tag = name;
	fn();
}

static int
connect_all(const char *conninfo)
{
	for (int s = 0; s < NSESS; s++) {
		char v[32];

		db[s] = PQconnectdb(conninfo);
		if (PQstatus(db[s]) != CONNECTION_OK) {
			check(0, "session %s: could not connect: %s", sname[s], errline(s, NULL));
			return -1;
		}
		/* Nothing may hang: no statement of the test runs for long. */
		if (exec_(s, "SET statement_timeout = '30s'", NOARGS) == -1 ||
		    exec_(s, "SET lock_timeout = '20s'", NOARGS) == -1 ||
		    exec_(s, "SET client_min_messages = warning", NOARGS) == -1 ||
		    value(s, v, sizeof(v), "SELECT pg_backend_pid()", NOARGS) == -1)
			return -1;
		spid[s] = atoi(v);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *conninfo = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL) % 100000, (int)getpid() % 1000);
	snprintf(responder_id, sizeof(responder_id), "sqlconc:%d:%s", (int)getpid(), run_id);
	if (connect_all(conninfo) == 0) {
		case_run("1a-order", case_order);
		case_run("1b-uncommitted-push", case_uncommitted_push);
		case_run("1c-concurrent-drains", case_concurrent_drains);
		case_run("1d-stress", case_stress);
		case_run("2a-many-skips-locked", case_many_skips_locked);
		case_run("2b-many-exactly-once", case_many_exactly_once);
		case_run("2c-many-input-order", case_many_input_order);
		case_run("2d-group-basic", case_group_basic);
		case_run("2e-group-interleave", case_group_interleave);
		case_run("3-send-blocked", case_send_blocked);
		case_run("4a-reaper-skips-locked", case_reaper_skips_locked);
		case_run("4b-reaper-sizing", case_reaper_sizing);
		case_run("4c-join-races-trim", case_join_races_trim);
		case_run("5a-classic-cursor", case_classic_cursor);
		case_run("5b-classic-locks", case_classic_locks);
	}
	if (db[X] != NULL && PQstatus(db[X]) == CONNECTION_OK) {
		/* The reaper's runs registered this program as a responder. */
		tag = "end";
		exec_(X, "SELECT pollhub.responder_leave($1)", ARGS(responder_id));
	}
	for (int s = 0; s < NSESS; s++)
		PQfinish(db[s]);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail != 0;
}
