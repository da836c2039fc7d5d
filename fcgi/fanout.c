#include "fanout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "log.h"
#include "tcpdiag.h"

#define CHUNK 1000	/* waiters per query: bounds statement size and lock time */

struct chunk {
	struct waiter	**waiters;
	size_t		  n;
};

static void
row(void *ctx, size_t i, int served, int more, const char *records, size_t len)
{
	struct chunk *c = ctx;
	struct waiter *w;

	if (i >= c->n || !served)
		return;
	w = c->waiters[i];
	if (buf_append(&w->records, records, len) == -1) {
		log_error("connection %s: out of memory; %zu bytes of records lost",
		    w->connection_id, len);
		return;
	}
	w->served = 1;
	w->more = more;
}

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
		if (w->peer != NULL && tcpdiag_query(fd, w->peer) == TCPDIAG_PEER_CLOSED)
			continue;
		waiters[kept++] = w;
	}
	if (fd != -1)
		close(fd);
	return kept;
}

void
fanout_drain(void *ctx, PGconn *db, struct waiter **all, size_t total)
{
	struct buf ids = BUF_INIT, polls = BUF_INIT;
	const struct app *app = ctx;
	struct waiter **waiters = all;
	size_t n = total;

	/* The notifier's array is ours for the call; a copy keeps its order. */
	if ((waiters = malloc(total * sizeof(*waiters))) != NULL) {
		memcpy(waiters, all, total * sizeof(*waiters));
		n = keep_present(waiters, total);
	} else
		waiters = all;
	for (size_t start = 0; start < n; start += CHUNK) {
		struct chunk c = { waiters + start, n - start < CHUNK ? n - start : CHUNK };
		int oom = 0;

		buf_reset(&ids);
		buf_reset(&polls);
		oom |= buf_putc(&ids, '{') | buf_putc(&polls, '{');
		for (size_t i = 0; i < c.n; i++) {
			char no[24];

			/* Connection ids are base64url: nothing to quote. */
			snprintf(no, sizeof(no), "%s%lld", i > 0 ? "," : "", c.waiters[i]->poll_no);
			oom |= (i > 0 ? buf_putc(&ids, ',') : 0) |
			    buf_puts(&ids, c.waiters[i]->connection_id) | buf_puts(&polls, no);
		}
		oom |= buf_putc(&ids, '}') | buf_putc(&polls, '}');
		if (oom != 0 || store_drain_many(db, ids.data, polls.data, app->cfg.max_answer, row,
		    &c) != STORE_OK)
			log_warn("batched drain of %zu waiter(s) failed; they drain alone", c.n);
	}
	buf_free(&ids);
	buf_free(&polls);
	if (waiters != all)
		free(waiters);
}
