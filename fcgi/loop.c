#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "app.h"
#include "holdset.h"
#include "inbox.h"
#include "jobs.h"
#include "monotime.h"

#define MAX_EVENTS	256
#define TICK_MS		1000	/* the loop looks at its commands at least this often */
#define THREAD_STACK	(256 * 1024)

struct loop {
	struct app	*app;
	int		 ep;
	pthread_t	 thread;
	struct inbox	*inbox;		/* what other threads hand the loop thread */
	struct holdset	*holds;		/* the loop thread's */
	struct jobs	*jobs;
};

/* Take what the other threads handed over: finished steps first, then new
 * holds, then the commands. */
static void
take_inbox(struct loop *l)
{
	struct inbox_taken t;
	struct inbox_node *n, *next;

	inbox_take(l->inbox, &t, holdset_woken, l->holds);
	for (n = t.done; n != NULL; n = next) {
		next = n->q_next;
		holdset_completed(l->holds, n);
	}
	for (n = t.added; n != NULL; n = next) {
		next = n->q_next;
		holdset_attach(l->holds, n);
	}
	holdset_commands(l->holds, &t);
}

static void *
loop_thread(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		long long now = monotime_ms(), at = holdset_next_timer(l->holds);
		int timeout = TICK_MS, n;

		if (at != 0) {
			long long d = at - now;

			timeout = d <= 0 ? 0 : d < TICK_MS ? (int)d : TICK_MS;
		}
		if (holdset_has_ready(l->holds))
			timeout = 0;
		n = epoll_wait(l->ep, evs, MAX_EVENTS, timeout);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				take_inbox(l);
			else
				holdset_event(l->holds, evs[i].data.ptr, evs[i].events);
		}
		holdset_expire(l->holds, monotime_ms());
		jobs_submit(l->jobs, holdset_dispatch(l->holds));
		holdset_bury(l->holds);
	}
	return NULL;
}

struct loop *
loop_start(struct app *app, int jobs, char *err, size_t errlen)
{
	struct loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	pthread_attr_t attr;

	if (l == NULL || (l->inbox = inbox_new()) == NULL) {
		snprintf(err, errlen, "loop: %s", l == NULL || errno == ENOMEM ? "out of memory" :
		    strerror(errno));
		return NULL;
	}
	l->app = app;
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, inbox_fd(l->inbox), &ev) == -1) {
		snprintf(err, errlen, "loop: %s", strerror(errno));
		return NULL;
	}
	if ((l->holds = holdset_new(app, l->ep, l->inbox)) == NULL) {
		snprintf(err, errlen, "loop: out of memory");
		return NULL;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((l->jobs = jobs_start(jobs, holdset_run_step, l->holds)) == NULL ||
	    pthread_create(&l->thread, &attr, loop_thread, l) != 0) {
		pthread_attr_destroy(&attr);
		snprintf(err, errlen, "loop: cannot start threads");
		return NULL;
	}
	pthread_attr_destroy(&attr);
	return l;
}

struct hold *
hold_new(struct loop *l, const struct hold_kind *kind, void *state)
{
	return holdset_hold_new(l->holds, kind, state);
}

void
loop_add(struct loop *l, struct hold *h, const struct http_held *conn)
{
	holdset_add(l->holds, h, conn);
}

/* A line of the previous image's: an ended request's answer, not all
 * written (conn->carry). */
static int
answer_resume(struct app *app, const struct http_held *conn, const struct handoff_item *item)
{
	(void)item;
	return holdset_add_answer(app->loop->holds, conn);
}

const struct hold_kind loop_answer_kind = {
	.name = "answer",
	.parks_as = HANDOFF_ANSWER,
	.resume = answer_resume,
};

size_t
loop_count(struct loop *l)
{
	return holdset_count(l->holds);
}

void
loop_stop_all(struct loop *l)
{
	inbox_stop(l->inbox);
}

void
loop_handoff(struct loop *l, int timeout_ms)
{
	inbox_handoff(l->inbox, timeout_ms);
}

void
loop_unpark(struct loop *l)
{
	inbox_unpark(l->inbox);
}
