#include "notify.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"

struct notifier {
	char		*conninfo;
	PGconn		*db;		/* the dispatcher thread's own connection */
	pthread_t	 thread;
	int		 stop_pipe[2];	/* written once to stop the thread */
	pthread_mutex_t	 lock;		/* guards the waiter list */
	struct waiter	 head;		/* sentinel of a circular list */
};

static PGconn *
listen_connect(const char *conninfo, char *err, size_t errlen)
{
	PGconn *db = PQconnectdb(conninfo);
	PGresult *r;

	if (db == NULL || PQstatus(db) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
		    db ? PQerrorMessage(db) : "out of memory");
		PQfinish(db);
		return NULL;
	}
	r = PQexec(db, "LISTEN pollhub");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "LISTEN failed: %s", PQerrorMessage(db));
		PQclear(r);
		PQfinish(db);
		return NULL;
	}
	PQclear(r);
	return db;
}

static void
dispatch(struct notifier *n, const char *payload)
{
	const char *key = payload + 2;
	int is_group;

	if (strncmp(payload, "g:", 2) == 0)
		is_group = 1;
	else if (strncmp(payload, "c:", 2) == 0)
		is_group = 0;
	else
		return;
	pthread_mutex_lock(&n->lock);
	for (struct waiter *w = n->head.next; w != &n->head; w = w->next) {
		const char *mine = is_group ? w->group : w->connection_id;
		if (mine != NULL && strcmp(mine, key) == 0) {
			w->signaled = 1;
			pthread_cond_signal(&w->cond);
		}
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

static void *
run(void *arg)
{
	struct notifier *n = arg;
	char err[512];

	for (;;) {
		struct pollfd p[2];
		PGnotify *note;

		if (n->db == NULL) {
			if ((n->db = listen_connect(n->conninfo, err, sizeof(err))) == NULL) {
				log_warn("notify: %s; retrying", err);
				if (pause_or_stop(n, 1000))
					break;
				continue;
			}
			log_info("notify: listening again");
			/* Hints sent while we were away are lost: everyone re-reads. */
			notifier_wake_all(n);
		}
		p[0] = (struct pollfd){ .fd = PQsocket(n->db), .events = POLLIN };
		p[1] = (struct pollfd){ .fd = n->stop_pipe[0], .events = POLLIN };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("notify: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (!PQconsumeInput(n->db) || PQstatus(n->db) != CONNECTION_OK) {
			log_warn("notify: lost the database connection: %s", PQerrorMessage(n->db));
			PQfinish(n->db);
			n->db = NULL;
			continue;
		}
		while ((note = PQnotifies(n->db)) != NULL) {
			dispatch(n, note->extra);
			PQfreemem(note);
		}
	}
	return NULL;
}

struct notifier *
notifier_start(const char *conninfo, char *err, size_t errlen)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (n == NULL || (n->conninfo = strdup(conninfo)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(n);
		return NULL;
	}
	n->head.next = n->head.prev = &n->head;
	pthread_mutex_init(&n->lock, NULL);
	if ((n->db = listen_connect(conninfo, err, errlen)) == NULL)
		goto fail;
	if (pipe(n->stop_pipe) == -1) {
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
	free(n->conninfo);
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
	pthread_mutex_destroy(&n->lock);
	free(n->conninfo);
	free(n);
}

void
waiter_register(struct notifier *n, struct waiter *w, const char *connection_id,
    const char *group, int stream)
{
	pthread_condattr_t attr;

	w->connection_id = connection_id;
	w->group = group;
	w->signaled = 0;
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
	pthread_mutex_unlock(&n->lock);
}

int
waiter_wait(struct notifier *n, struct waiter *w, const struct timespec *deadline)
{
	int rc = 0;

	pthread_mutex_lock(&n->lock);
	while (!w->signaled && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &n->lock, deadline);
	rc = w->signaled;
	w->signaled = 0;
	pthread_mutex_unlock(&n->lock);
	return rc;
}

void
waiter_unregister(struct notifier *n, struct waiter *w)
{
	pthread_mutex_lock(&n->lock);
	w->prev->next = w->next;
	w->next->prev = w->prev;
	pthread_mutex_unlock(&n->lock);
	pthread_cond_destroy(&w->cond);
}

void
notifier_wake_all(struct notifier *n)
{
	pthread_mutex_lock(&n->lock);
	for (struct waiter *w = n->head.next; w != &n->head; w = w->next) {
		w->signaled = 1;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&n->lock);
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
