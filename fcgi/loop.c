#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "fcgiconn.h"
#include "handoff.h"
#include "jobs.h"
#include "log.h"
#include "monotime.h"
#include "notify.h"
#include "timerheap.h"

#define MAX_EVENTS	256
#define TICK_MS		1000	/* the loop looks at its commands at least this often */
#define CLOSE_GRACE_MS	30000	/* an ended request's answer must be taken within this */
#define STUCK_MS	2000	/* a client that took nothing this long is not held back */
#define THREAD_STACK	(256 * 1024)

struct hold {
	const struct hold_kind	*kind;
	void			*state;
	struct loop		*loop;
	struct waiter		 w;
	struct fcgiconn		 fc;		/* held.fd -1: closed */
	/* The loop thread's: */
	struct hold		*prev, *next;	/* all holds */
	struct hold		*ready_next;	/* in the ready list */
	struct hold		*grave_next;	/* in the graveyard */
	int			 in_ready;
	int			 attached;	/* the loop took it from newq */
	int			 busy;		/* a step runs (job_* are the job's) */
	unsigned		 pending;	/* for the next step */
	int			 closing;	/* END_REQUEST queued: close once written */
	int			 parking;	/* park once written */
	int			 parked;
	int			 counted;	/* in unparked_left (a handoff waits for it) */
	int			 done;		/* the kind said END or PARK: no more steps */
	int			 dead;		/* destroyed: freed after this round of events */
	int			 epoll_mask;	/* registered events, 0: not registered */
	int			 wait_writable;	/* HOLD_WRITABLE once below the low-water mark */
	struct timer_node	 timer;
	/* Guarded by loop->qlock: */
	int			 queued;	/* in wakeq */
	struct hold		*wake_next;	/* in wakeq */
	struct hold		*q_next;	/* in newq or doneq (never both) */
	/* The running step's (handed over by the queues' locks): */
	struct job		 job;
	unsigned		 job_why;
	enum hold_next		 job_result;
	struct buf		 job_out;
	long long		 job_timer;
	int			 job_timer_set;
	size_t			 job_unflushed;	/* out's unwritten bytes when the step began */
	int			 job_wait_writable;	/* hold_may_drain said no */
	int			 job_stuck;	/* the client took nothing for STUCK_MS */
};

struct loop {
	struct app		*app;
	int			 ep, efd;
	pthread_t		 thread;
	struct jobs		*jobs;
	struct fcgiconn_limits	 limits;
	atomic_size_t		 count;		/* holds not yet freed */
	/* The loop thread's: */
	struct hold		 all;		/* list head */
	struct hold		*ready;
	struct hold		*graveyard;	/* destroyed this round (via ready_next) */
	struct timerheap	 timers;
	int			 stopping, handing_off;
	int			 forcing;	/* a handoff past its wait: park without waiting for writes */
	/* Guarded by qlock: */
	pthread_mutex_t		 qlock;
	pthread_cond_t		 qcond;		/* broadcast when a hold ends or parks */
	int			 signaled;	/* efd written since the loop last looked */
	struct hold		*newq, *wakeq, *doneq, *doneq_tail;
	int			 cmd_stop, cmd_handoff, cmd_unpark, cmd_force;
	size_t			 unparked_left;	/* holds neither ended nor parked, while handing off */
};

/* With qlock held. */
static void
signal_loop(struct loop *l)
{
	uint64_t one = 1;

	if (l->signaled)
		return;
	l->signaled = 1;
	/* An eventfd write fails only when its counter would overflow. */
	(void)!write(l->efd, &one, sizeof(one));
}

/* ---- timers (loop thread) ---- */

static void
timer_remove(struct loop *l, struct hold *h)
{
	timerheap_remove(&l->timers, &h->timer);
}

/* 0: no timer. Out of memory: the hold goes without (its poll timeout then
 * comes from the client giving up); said once. */
static void
timer_set(struct loop *l, struct hold *h, long long at)
{
	if (timerheap_set(&l->timers, &h->timer, at) != PH_OK)
		log_error("loop: out of memory for a timer");
}

static struct hold *
timer_hold(struct timer_node *t)
{
	return (struct hold *)(void *)((char *)t - offsetof(struct hold, timer));
}

/* ---- holds ---- */

struct hold *
hold_new(struct loop *l, const struct hold_kind *kind, void *state)
{
	struct hold *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->loop = l;
	h->kind = kind;
	h->state = state;
	timer_node_init(&h->timer);
	h->fc.held.fd = -1;
	return h;
}

/* Take h off the wake queue (its waiter is unregistered: nothing queues it again). */
static void
unqueue(struct loop *l, struct hold *h)
{
	pthread_mutex_lock(&l->qlock);
	if (h->queued) {
		for (struct hold **pp = &l->wakeq; *pp != NULL; pp = &(*pp)->wake_next)
			if (*pp == h) {
				*pp = h->wake_next;
				break;
			}
		h->queued = 0;
	}
	pthread_mutex_unlock(&l->qlock);
}

void
hold_free_unused(struct hold *h)
{
	unqueue(h->loop, h);
	free(h);
}

struct waiter *
hold_waiter(struct hold *h)
{
	return &h->w;
}

void *
hold_state(struct hold *h)
{
	return h->state;
}

struct app *
hold_app(struct hold *h)
{
	return h->loop->app;
}

const struct http_held *
hold_conn(struct hold *h)
{
	return &h->fc.held;
}

void
hold_set_timer(struct hold *h, long long at_ms)
{
	h->job_timer = at_ms;
	h->job_timer_set = 1;
}

/* A stream drains again only when less than this waits for its client. With
 * POLLHUB_MAX_BUFFERED at least twice POLLHUB_MAX_ANSWER (config.c), the
 * mark plus one more answer and its framing stays under the cap, so a client
 * that reads is never judged full by its own catch-up. */
static size_t
low_water(const struct loop *l)
{
	return l->app->cfg.max_buffered / 4;
}

static size_t
unflushed(const struct hold *h)
{
	return fcgiconn_unflushed(&h->fc);
}

int
hold_may_drain(struct hold *h, const struct buf *out)
{
	/* The loop only writes out of h->out while the step runs: the count at
	 * its start is an upper bound. Holding back serves a client that reads:
	 * one that took nothing for STUCK_MS is filled up to the cap, and closed
	 * there if it never reads, as soon as its calendar is busy. */
	if (h->job_unflushed + out->len < low_water(h->loop) ||
	    (h->job_stuck && h->job_unflushed + out->len <= h->loop->app->cfg.max_buffered))
		return 1;
	h->job_wait_writable = 1;
	return 0;
}

void
hold_wake(void *arg)
{
	struct hold *h = arg;
	struct loop *l = h->loop;

	/* Called with the notifier's lock held (never the other way round). A
	 * wake-up before the loop attached the hold is kept for its first step. */
	pthread_mutex_lock(&l->qlock);
	if (!h->queued) {
		h->queued = 1;
		h->wake_next = l->wakeq;
		l->wakeq = h;
		signal_loop(l);
	}
	pthread_mutex_unlock(&l->qlock);
}

static void
make_ready(struct loop *l, struct hold *h, unsigned why)
{
	h->pending |= why;
	if (!h->attached || h->in_ready || h->busy || h->parked || h->done || h->dead)
		return;
	h->in_ready = 1;
	h->ready_next = l->ready;
	l->ready = h;
}

static void
epoll_mask(struct loop *l, struct hold *h, int mask)
{
	struct epoll_event ev = { .events = (uint32_t)mask, .data.ptr = h };

	if (h->fc.held.fd < 0 || mask == h->epoll_mask)
		return;
	if (mask == 0)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, h->fc.held.fd, NULL);
	else if (epoll_ctl(l->ep, h->epoll_mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
	    h->fc.held.fd, &ev) == -1) {
		log_warn("loop: epoll_ctl: %s", strerror(errno));
		return;
	}
	h->epoll_mask = mask;
}

/* The connection is of no more use: the web server left, or we are done. */
static void
close_conn(struct loop *l, struct hold *h)
{
	if (h->fc.held.fd < 0)
		return;
	epoll_mask(l, h, 0);
	fcgiconn_close(&h->fc);
}

static void settled(struct loop *, struct hold *);

static void
hold_destroy(struct loop *l, struct hold *h)
{
	if (h->dead)
		return;
	settled(l, h);
	close_conn(l, h);
	timer_remove(l, h);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	/* Its waiter is unregistered, but a wake-up may have queued it before. */
	unqueue(l, h);
	/* Later events of this round may still name it: freed after them. */
	h->dead = 1;
	h->grave_next = l->graveyard;
	l->graveyard = h;
}

static void
bury(struct loop *l)
{
	struct hold *h, *next;

	for (h = l->graveyard, l->graveyard = NULL; h != NULL; h = next) {
		next = h->grave_next;
		if (h->kind->free != NULL)
			h->kind->free(h->state);
		fcgiconn_free(&h->fc);
		buf_free(&h->job_out);
		free(h);
		atomic_fetch_sub(&l->count, 1);
	}
}

/* A hold a handoff waits for has ended or is parked. */
static void
settled(struct loop *l, struct hold *h)
{
	if (!h->counted)
		return;
	h->counted = 0;
	pthread_mutex_lock(&l->qlock);
	if (l->unparked_left > 0)
		l->unparked_left--;
	pthread_cond_broadcast(&l->qcond);
	pthread_mutex_unlock(&l->qlock);
}

/* Hand h's connection to the next image, with where its records stand and
 * what is not written yet (only a forced handoff leaves any). answer: its
 * whole answer is queued (closing): the next image writes the rest and
 * closes; otherwise its kind says what the next image resumes. */
static void
hand_over(struct loop *l, struct hold *h, int answer)
{
	struct handoff_item item;
	const char *why = "out of memory";
	enum ph_err st;

	epoll_mask(l, h, 0);
	timer_remove(l, h);
	memset(&item, 0, sizeof(item));
	if (answer) {
		item.kind = HANDOFF_ANSWER;
		strcpy(item.token, "-");
		strcpy(item.pi.connection_id, "-");
	} else
		h->kind->park_info(h, &item);
	if ((st = fcgiconn_park(&h->fc, l->app->cfg.allowed_origins, &item)) == PH_LEFT)
		why = "client gone";
	else if (st != PH_OK)
		why = "its FastCGI records out of step";
	else if (handoff_park_item(l->app->handoff, &item) == 0) {
		h->parked = 1;
		settled(l, h);
		return;
	}
	log_warn("connection %s: %s could not be handed over (%s)", item.pi.connection_id,
	    h->kind->name, why);
	hold_destroy(l, h);
}

static void
park_now(struct loop *l, struct hold *h)
{
	h->parking = 0;
	if (h->fc.held.fd >= 0 && !l->handing_off) {
		/* The handoff is over (a failed exec took the parked holds back)
		 * before this one's answer was written: it goes on here, or it
		 * would be in no list at all. */
		h->done = 0;
		make_ready(l, h, HOLD_START);
		return;
	}
	hand_over(l, h, 0);
}

/* Write what is queued. A failure means the web server is gone. */
static void
flush(struct loop *l, struct hold *h)
{
	if (fcgiconn_flush(&h->fc) != PH_OK) {
		close_conn(l, h);
		if (!h->done)
			make_ready(l, h, HOLD_GONE);
	} else if (h->fc.held.fd >= 0 && unflushed(h) > 0) {
		epoll_mask(l, h, h->epoll_mask | EPOLLOUT);
		return;
	}
	if (unflushed(h) == 0 && h->fc.held.fd >= 0 && (h->epoll_mask & EPOLLOUT))
		epoll_mask(l, h, h->epoll_mask & ~EPOLLOUT);
	/* A stream that stopped draining for its client resumes. */
	if (h->wait_writable && !h->done && unflushed(h) < low_water(l)) {
		h->wait_writable = 0;
		make_ready(l, h, HOLD_WRITABLE);
	}
	if (unflushed(h) > 0)
		return;
	if (h->closing)
		hold_destroy(l, h);
	else if (h->parking)
		park_now(l, h);
}

/* The web server closed the connection, or broke the protocol. */
static void
conn_gone(struct loop *l, struct hold *h)
{
	close_conn(l, h);
	if (h->closing || h->parking) {
		h->closing = 0;
		if (h->parking)
			park_now(l, h);	/* fails: gone */
		else
			hold_destroy(l, h);
		return;
	}
	make_ready(l, h, HOLD_GONE);
}

/* What the records read on a held connection call for (FCGICONN_*). */
static void
act_on_records(struct loop *l, struct hold *h, unsigned what)
{
	if (what & FCGICONN_BROKEN) {
		conn_gone(l, h);
		return;
	}
	if (what & FCGICONN_ANSWERED)
		flush(l, h);	/* may end or park it */
	if (!(what & FCGICONN_ABORT) || h->dead || h->parked || h->closing)
		return;		/* ending: its END_REQUEST answers the abort */
	if (h->parking)
		conn_gone(l, h);	/* aborted: nothing to hand over */
	else
		make_ready(l, h, HOLD_GONE);	/* the step ends it: END_REQUEST */
}

/* A step came back (loop thread), or on_wake handled a wake-up there. */
static void
completed(struct loop *l, struct hold *h)
{
	enum hold_next next = h->job_result;

	h->busy = 0;
	if (h->job_timer_set)
		timer_set(l, h, h->job_timer);
	h->wait_writable = h->job_wait_writable && next == HOLD_KEEP;
	/* A client that stopped reading will not take the end of its answer
	 * either: its connection goes now, with what was queued for it, not
	 * after CLOSE_GRACE_MS. */
	if (next == HOLD_END && (h->job_why & HOLD_FULL))
		close_conn(l, h);
	fcgiconn_compact(&h->fc);
	if (h->fc.held.fd >= 0 && fcgiconn_queue(&h->fc, &h->job_out, next == HOLD_END) != PH_OK) {
		log_error("loop: out of memory; a client's connection is cut");
		close_conn(l, h);
		if (next == HOLD_KEEP)
			h->pending |= HOLD_GONE;
	}
	buf_shrink(&h->job_out);
	switch (next) {
	case HOLD_END:
		h->done = 1;
		timer_remove(l, h);
		h->closing = 1;
		flush(l, h);	/* destroys it once written */
		/* A web server that stops reading the answer is not waited for
		 * without a bound. */
		if (!h->dead)
			timer_set(l, h, monotime_ms() + CLOSE_GRACE_MS);
		return;
	case HOLD_PARK:
		h->done = 1;
		h->parking = 1;
		flush(l, h);	/* parks it once written */
		return;
	case HOLD_KEEP:
		break;
	}
	/* Judged after writing what the socket takes: only what the client has
	 * not taken counts. */
	flush(l, h);
	if (h->kind->stream && h->fc.held.fd >= 0 && unflushed(h) > l->app->cfg.max_buffered)
		h->pending |= HOLD_FULL;
	if (h->pending != 0 && !h->done)
		make_ready(l, h, 0);
}

/* A request whose whole answer a previous image queued and did not write
 * (HANDOFF_ANSWER): attach makes it closing at once; no step runs for it
 * but after its connection failed at attach. */
static enum hold_next
answer_step(struct hold *h, unsigned why, struct buf *out)
{
	(void)h;
	(void)why;
	(void)out;
	return HOLD_END;
}

static int answer_resume(struct app *, const struct http_held *, const struct handoff_item *);

const struct hold_kind loop_answer_kind = {
	.name = "answer",
	.step = answer_step,
	.parks_as = HANDOFF_ANSWER,
	.resume = answer_resume,
};

/* The loop's: the answer's bytes came with conn (carry). */
static int
answer_resume(struct app *app, const struct http_held *conn, const struct handoff_item *item)
{
	struct hold *h = hold_new(app->loop, &loop_answer_kind, NULL);

	(void)item;
	if (h == NULL)
		return -1;
	loop_add(app->loop, h, conn);
	return 0;
}

static void
attach(struct loop *l, struct hold *h)
{
	unsigned what = FCGICONN_BROKEN;

	h->attached = 1;
	h->prev = &l->all;
	h->next = l->all.next;
	l->all.next->prev = h;
	l->all.next = h;
	if (fcgiconn_open(&h->fc, h->kind->name) == PH_OK) {
		epoll_mask(l, h, EPOLLIN | EPOLLRDHUP);
		/* What libfcgi read ahead of the handler is read first. */
		if (h->epoll_mask != 0)
			what = fcgiconn_read_ahead(&h->fc, &l->limits, h->kind->name);
	}
	if (what & FCGICONN_BROKEN) {
		close_conn(l, h);
		make_ready(l, h, HOLD_START | HOLD_GONE);
	} else if (h->kind == &loop_answer_kind) {
		/* Its answer, from a previous image: written, then closed. */
		h->done = h->closing = 1;
		timer_set(l, h, monotime_ms() + CLOSE_GRACE_MS);
	} else
		make_ready(l, h, HOLD_START);
	if (l->stopping)
		make_ready(l, h, HOLD_STOP);
	else if (l->handing_off) {
		pthread_mutex_lock(&l->qlock);
		l->unparked_left++;
		pthread_mutex_unlock(&l->qlock);
		h->counted = 1;
		make_ready(l, h, HOLD_HANDOFF);
	}
	if (!(what & FCGICONN_BROKEN)) {
		act_on_records(l, h, what);
		if (!h->dead && !h->parked && unflushed(h) > 0)
			flush(l, h);
	}
}

/* A wake-up alone: the kind's on_wake may handle it here, without a job. */
static int
fast_wake(struct loop *l, struct hold *h)
{
	enum hold_next next = HOLD_KEEP;
	int rc;

	if (h->kind->on_wake == NULL || h->pending != HOLD_WAKE)
		return 0;
	h->job_timer_set = 0;
	h->job_why = HOLD_WAKE;
	h->job_unflushed = unflushed(h);
	h->job_wait_writable = h->wait_writable;
	h->job_stuck = 0;
	buf_reset(&h->job_out);
	if ((rc = h->kind->on_wake(h, &h->job_out, &next)) == 0)
		return 0;
	h->pending = 0;
	h->job_result = next;
	h->busy = 1;		/* completed() clears it */
	completed(l, h);
	if (rc == 2 && next == HOLD_KEEP && !h->dead)
		h->pending |= HOLD_WAKE;	/* still in the ready list: dispatched below */
	return 1;
}

static void
dispatch(struct loop *l)
{
	struct hold *h, *next;
	struct job *first = NULL, **tail = &first;

	if (l->ready == NULL)
		return;
	/* On this thread first: a fan-out's deliveries need no job. */
	for (h = l->ready; h != NULL; h = h->ready_next)
		if (!h->busy && !h->parked && !h->done && !h->dead)
			(void)fast_wake(l, h);
	for (h = l->ready, l->ready = NULL; h != NULL; h = next) {
		next = h->ready_next;
		h->in_ready = 0;
		if (h->busy || h->parked || h->done || h->dead || h->pending == 0)
			continue;
		h->busy = 1;
		h->job_why = h->pending;
		h->pending = 0;
		h->job_timer_set = 0;
		h->job_unflushed = unflushed(h);
		h->job_wait_writable = 0;
		h->job_stuck = h->job_unflushed >= low_water(l) &&
		    monotime_ms() - h->fc.wrote_at >= STUCK_MS;
		h->job.next = NULL;
		*tail = &h->job;
		tail = &h->job.next;
	}
	jobs_submit(l->jobs, first);
}

/* The exec failed: every parked hold is the loop's again, and the list is
 * emptied here, on the loop thread, so that no hold parks into it between
 * (park_now revives one that would). */
static void
take_back(struct loop *l)
{
	struct hold *h, *next;

	l->handing_off = l->forcing = 0;
	handoff_unpark(l->app->handoff);
	pthread_mutex_lock(&l->qlock);
	l->unparked_left = 0;
	pthread_mutex_unlock(&l->qlock);
	for (h = l->all.next; h != &l->all; h = next) {
		next = h->next;
		h->counted = 0;
		if (!h->parked)
			continue;
		h->parked = 0;
		epoll_mask(l, h, EPOLLIN | EPOLLRDHUP);
		if (h->closing) {
			/* An answer handed over unwritten: written here after all. */
			timer_set(l, h, monotime_ms() + CLOSE_GRACE_MS);
			flush(l, h);
			continue;
		}
		h->done = 0;
		make_ready(l, h, HOLD_START);
		if (unflushed(h) > 0)
			flush(l, h);
	}
}

/* A handoff past its wait: a hold that waits only for the web server to
 * take what is queued for it is handed over with those bytes (the next
 * image writes them first), so no answer is cut and no client that reads
 * slowly holds the restart. A step that runs or is to run is still waited
 * for: it may have drained records. */
static void
force_settle(struct loop *l)
{
	struct hold *h, *next;

	for (h = l->all.next; h != &l->all; h = next) {
		next = h->next;
		if (h->dead || h->parked || h->busy || !h->done || !h->counted)
			continue;
		if (h->parking) {
			h->parking = 0;
			hand_over(l, h, 0);
		} else if (h->closing)
			hand_over(l, h, 1);
	}
}

/* Take what the other threads queued. */
static void
take_queues(struct loop *l)
{
	struct hold *newq, *wakeq, *doneq, *h, *next;
	int stop, handoff, unpark, force;
	uint64_t count;

	(void)!read(l->efd, &count, sizeof(count));
	pthread_mutex_lock(&l->qlock);
	l->signaled = 0;
	newq = l->newq;
	wakeq = l->wakeq;
	doneq = l->doneq;
	l->newq = l->wakeq = l->doneq = l->doneq_tail = NULL;
	/* Under the lock: once off the queue, a hold may be queued again. */
	for (h = wakeq; h != NULL; h = next) {
		next = h->wake_next;
		h->queued = 0;
		if (!h->done)
			make_ready(l, h, HOLD_WAKE);
	}
	stop = l->cmd_stop;
	handoff = l->cmd_handoff;	/* cleared once counted, below */
	unpark = l->cmd_unpark;
	force = l->cmd_force;
	l->cmd_stop = l->cmd_unpark = l->cmd_force = 0;
	pthread_mutex_unlock(&l->qlock);

	for (h = doneq; h != NULL; h = next) {
		next = h->q_next;
		completed(l, h);
	}
	for (h = newq; h != NULL; h = next) {
		next = h->q_next;
		attach(l, h);
	}
	if (unpark)
		take_back(l);
	if (force)
		l->forcing = 1;
	if (stop) {
		l->stopping = 1;
		for (h = l->all.next; h != &l->all; h = h->next)
			make_ready(l, h, HOLD_STOP);
	}
	if (handoff) {
		size_t n = 0;

		l->handing_off = 1;
		/* Ending ones too: an answer not written yet is waited for. */
		for (h = l->all.next; h != &l->all; h = h->next)
			if (!h->parked && !h->dead) {
				make_ready(l, h, HOLD_HANDOFF);
				h->counted = 1;
				n++;
			}
		pthread_mutex_lock(&l->qlock);
		l->unparked_left += n;
		l->cmd_handoff = 0;
		pthread_cond_broadcast(&l->qcond);
		pthread_mutex_unlock(&l->qlock);
	}
	if (l->forcing && l->handing_off)
		force_settle(l);
}

static void *
loop_thread(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		struct timer_node *t;
		long long now = monotime_ms();
		int timeout = TICK_MS, n;

		if ((t = timerheap_first(&l->timers)) != NULL) {
			long long d = t->at_ms - now;

			timeout = d <= 0 ? 0 : d < TICK_MS ? (int)d : TICK_MS;
		}
		if (l->ready != NULL)
			timeout = 0;
		n = epoll_wait(l->ep, evs, MAX_EVENTS, timeout);
		for (int i = 0; i < n; i++) {
			struct hold *h = evs[i].data.ptr;
			uint32_t e = evs[i].events;

			if (h == NULL) {
				take_queues(l);
				continue;
			}
			if (h->dead || h->fc.held.fd < 0)
				continue;	/* closed earlier in this round */
			if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				act_on_records(l, h, fcgiconn_read(&h->fc, &l->limits, h->kind->name));
			if ((e & EPOLLOUT) && !h->dead && h->fc.held.fd >= 0)
				flush(l, h);
		}
		now = monotime_ms();
		while ((t = timerheap_first(&l->timers)) != NULL && t->at_ms <= now) {
			struct hold *h = timer_hold(t);

			timer_remove(l, h);
			if (h->closing) {
				log_warn("loop: an answer not taken by the web server in %d s; its"
				    " connection is closed", CLOSE_GRACE_MS / 1000);
				hold_destroy(l, h);
				continue;
			}
			make_ready(l, h, HOLD_TIMER);
		}
		dispatch(l);
		bury(l);
	}
	return NULL;
}

/* On a job thread: one step of one hold, then back to the loop's thread. */
static void
run_step(struct job *job, void *arg)
{
	struct loop *l = arg;
	struct hold *h = (struct hold *)(void *)((char *)job - offsetof(struct hold, job));

	h->job_result = h->kind->step(h, h->job_why, &h->job_out);

	pthread_mutex_lock(&l->qlock);
	h->q_next = NULL;
	if (l->doneq_tail != NULL)
		l->doneq_tail->q_next = h;
	else
		l->doneq = h;
	l->doneq_tail = h;
	signal_loop(l);
	pthread_mutex_unlock(&l->qlock);
}

struct loop *
loop_start(struct app *app, int jobs, char *err, size_t errlen)
{
	struct loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	pthread_attr_t attr;

	if (l == NULL) {
		snprintf(err, errlen, "loop: out of memory");
		return NULL;
	}
	l->app = app;
	l->limits.values.max_conns = (unsigned)app->cfg.threads;
	l->limits.values.max_reqs = (unsigned)app->cfg.threads;
	l->limits.max_buffered = app->cfg.max_buffered;
	l->all.next = l->all.prev = &l->all;
	pthread_mutex_init(&l->qlock, NULL);
	pthread_cond_init(&l->qcond, NULL);
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &ev) == -1) {
		snprintf(err, errlen, "loop: %s", strerror(errno));
		return NULL;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((l->jobs = jobs_start(jobs, run_step, l)) == NULL ||
	    pthread_create(&l->thread, &attr, loop_thread, l) != 0) {
		pthread_attr_destroy(&attr);
		snprintf(err, errlen, "loop: cannot start threads");
		return NULL;
	}
	pthread_attr_destroy(&attr);
	return l;
}

void
loop_add(struct loop *l, struct hold *h, const struct http_held *conn)
{
	h->fc.held = *conn;
	atomic_fetch_add(&l->count, 1);
	pthread_mutex_lock(&l->qlock);
	h->q_next = l->newq;
	l->newq = h;
	signal_loop(l);
	pthread_mutex_unlock(&l->qlock);
}

size_t
loop_count(struct loop *l)
{
	return atomic_load(&l->count);
}

/* Raise one of the loop's command flags. */
static void
command(struct loop *l, int *flag)
{
	pthread_mutex_lock(&l->qlock);
	*flag = 1;
	signal_loop(l);
	pthread_mutex_unlock(&l->qlock);
}

void
loop_stop_all(struct loop *l)
{
	command(l, &l->cmd_stop);
}

static void
deadline(struct timespec *until, int ms)
{
	clock_gettime(CLOCK_REALTIME, until);
	until->tv_sec += ms / 1000;
	until->tv_nsec += (long)(ms % 1000) * 1000000;
	if (until->tv_nsec >= 1000000000) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000;
	}
}

void
loop_handoff(struct loop *l, int timeout_ms)
{
	struct timespec until;

	deadline(&until, timeout_ms);
	pthread_mutex_lock(&l->qlock);
	l->cmd_handoff = 1;
	/* Counted by the loop thread when it takes the command. */
	l->unparked_left = 0;
	signal_loop(l);
	/* Wait for the loop to take it (it counts the holds), then for each. */
	while (l->cmd_handoff || l->unparked_left > 0)
		if (pthread_cond_timedwait(&l->qcond, &l->qlock, &until) != 0)
			break;
	if (l->cmd_handoff || l->unparked_left > 0) {
		log_warn("restart: %zu held request(s) not answered or parked in %d s: those whose"
		    " answer is not written yet go to the next image with it; steps still running"
		    " are waited for", l->unparked_left, timeout_ms / 1000);
		l->cmd_force = 1;
		signal_loop(l);
		/* No bound here: a step may have drained records, and its own
		 * database deadlines bound it. */
		while (l->cmd_handoff || l->unparked_left > 0) {
			deadline(&until, timeout_ms);
			if (pthread_cond_timedwait(&l->qcond, &l->qlock, &until) != 0)
				log_warn("restart: still waiting for %zu held request(s) whose step"
				    " runs", l->unparked_left);
		}
	}
	pthread_mutex_unlock(&l->qlock);
}

void
loop_unpark(struct loop *l)
{
	command(l, &l->cmd_unpark);
}
