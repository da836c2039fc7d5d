#include "holdset.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "app.h"
#include "fcgiconn.h"
#include "handoff.h"
#include "log.h"
#include "monotime.h"
#include "waiters.h"
#include "timerheap.h"

#define CLOSE_GRACE_MS	30000	/* an ended request's answer must be taken within this */
#define STUCK_MS	2000	/* a client that took nothing this long is not held back */

struct hold {
	const struct hold_kind	*kind;
	void			*state;
	struct holdset		*set;
	struct waiter		 w;
	struct fcgiconn		 fc;		/* held.fd -1: closed */
	/* The loop thread's: */
	struct hold		*prev, *next;	/* all holds */
	struct hold		*ready_next;	/* in the ready list */
	struct hold		*grave_next;	/* in the graveyard */
	int			 in_ready;
	int			 attached;	/* the loop took it from the inbox */
	int			 busy;		/* a step runs (job_* are the job's) */
	unsigned		 pending;	/* for the next step */
	int			 closing;	/* END_REQUEST queued: close once written */
	int			 parking;	/* park once written */
	int			 parked;
	int			 counted;	/* counted in the inbox (a handoff waits for it) */
	int			 done;		/* the kind said END or PARK: no more steps */
	int			 dead;		/* destroyed: freed after this round of events */
	int			 epoll_mask;	/* registered events, 0: not registered */
	int			 wait_writable;	/* HOLD_WRITABLE once below the low-water mark */
	struct timer_node	 timer;
	struct inbox_node	 node;		/* the inbox's */
	/* The running step's (handed over by the inbox's and the jobs' locks): */
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

struct holdset {
	struct app		*app;
	int			 ep;
	struct inbox		*inbox;
	struct fcgiconn_limits	 limits;
	atomic_size_t		 count;		/* holds not yet freed */
	struct hold		 all;		/* list head */
	struct hold		*ready;
	struct hold		*graveyard;	/* destroyed this round (via ready_next) */
	struct timerheap	 timers;
	int			 stopping, handing_off;
	int			 forcing;	/* a handoff past its wait: park without waiting for writes */
};

/* ---- timers (loop thread) ---- */

static void
timer_remove(struct holdset *s, struct hold *h)
{
	timerheap_remove(&s->timers, &h->timer);
}

/* 0: no timer. Out of memory: the hold goes without (its poll timeout then
 * comes from the client giving up); said once. */
static void
timer_set(struct holdset *s, struct hold *h, long long at)
{
	if (timerheap_set(&s->timers, &h->timer, at) != PH_OK)
		log_error("loop: out of memory for a timer");
}

static struct hold *
timer_hold(struct timer_node *t)
{
	return (struct hold *)(void *)((char *)t - offsetof(struct hold, timer));
}

/* ---- holds ---- */

static struct hold *
hold_of_node(struct inbox_node *n)
{
	return (struct hold *)(void *)((char *)n - offsetof(struct hold, node));
}

struct holdset *
holdset_new(struct app *app, int ep, struct inbox *inbox)
{
	struct holdset *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->app = app;
	s->ep = ep;
	s->inbox = inbox;
	s->limits.values.max_conns = (unsigned)app->cfg.threads;
	s->limits.values.max_reqs = (unsigned)app->cfg.threads;
	s->limits.max_buffered = app->cfg.max_buffered;
	s->all.next = s->all.prev = &s->all;
	return s;
}

struct hold *
holdset_hold_new(struct holdset *s, const struct hold_kind *kind, void *state)
{
	struct hold *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->set = s;
	h->kind = kind;
	h->state = state;
	timer_node_init(&h->timer);
	h->fc.held.fd = -1;
	return h;
}

void
hold_free_unused(struct hold *h)
{
	inbox_unqueue(h->set->inbox, &h->node);
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
	return h->set->app;
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
low_water(const struct holdset *s)
{
	return s->app->cfg.max_buffered / 4;
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
	if (h->job_unflushed + out->len < low_water(h->set) ||
	    (h->job_stuck && h->job_unflushed + out->len <= h->set->app->cfg.max_buffered))
		return 1;
	h->job_wait_writable = 1;
	return 0;
}

void
hold_wake(void *arg)
{
	struct hold *h = arg;

	/* Called with the notifier's lock held (never the other way round). A
	 * wake-up before the loop attached the hold is kept for its first step. */
	inbox_wake(h->set->inbox, &h->node);
}

static void
make_ready(struct holdset *s, struct hold *h, unsigned why)
{
	h->pending |= why;
	if (!h->attached || h->in_ready || h->busy || h->parked || h->done || h->dead)
		return;
	h->in_ready = 1;
	h->ready_next = s->ready;
	s->ready = h;
}

static void
epoll_mask(struct holdset *s, struct hold *h, int mask)
{
	struct epoll_event ev = { .events = (uint32_t)mask, .data.ptr = h };

	if (h->fc.held.fd < 0 || mask == h->epoll_mask)
		return;
	if (mask == 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, h->fc.held.fd, NULL);
	else if (epoll_ctl(s->ep, h->epoll_mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
	    h->fc.held.fd, &ev) == -1) {
		log_warn("loop: epoll_ctl: %s", strerror(errno));
		return;
	}
	h->epoll_mask = mask;
}

/* The connection is of no more use: the web server left, or we are done. */
static void
close_conn(struct holdset *s, struct hold *h)
{
	if (h->fc.held.fd < 0)
		return;
	epoll_mask(s, h, 0);
	fcgiconn_close(&h->fc);
}

static void settled(struct holdset *, struct hold *);

static void
hold_destroy(struct holdset *s, struct hold *h)
{
	if (h->dead)
		return;
	settled(s, h);
	close_conn(s, h);
	timer_remove(s, h);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	/* Its waiter is unregistered, but a wake-up may have queued it before. */
	inbox_unqueue(s->inbox, &h->node);
	/* Later events of this round may still name it: freed after them. */
	h->dead = 1;
	h->grave_next = s->graveyard;
	s->graveyard = h;
}

void
holdset_bury(struct holdset *s)
{
	struct hold *h, *next;

	for (h = s->graveyard, s->graveyard = NULL; h != NULL; h = next) {
		next = h->grave_next;
		if (h->kind->free != NULL)
			h->kind->free(h->state);
		fcgiconn_free(&h->fc);
		buf_free(&h->job_out);
		free(h);
		atomic_fetch_sub(&s->count, 1);
	}
}

/* A hold a handoff waits for has ended or is parked. */
static void
settled(struct holdset *s, struct hold *h)
{
	if (!h->counted)
		return;
	h->counted = 0;
	inbox_settled(s->inbox);
}

/* Hand h's connection to the next image, with where its records stand and
 * what is not written yet (only a forced handoff leaves any). answer: its
 * whole answer is queued (closing): the next image writes the rest and
 * closes; otherwise its kind says what the next image resumes. */
static void
hand_over(struct holdset *s, struct hold *h, int answer)
{
	struct handoff_item item;
	const char *why = "out of memory";
	enum ph_err st;

	epoll_mask(s, h, 0);
	timer_remove(s, h);
	memset(&item, 0, sizeof(item));
	if (answer) {
		item.kind = HANDOFF_ANSWER;
		strcpy(item.token, "-");
		strcpy(item.pi.connection_id, "-");
	} else
		h->kind->park_info(h, &item);
	if ((st = fcgiconn_park(&h->fc, s->app->cfg.allowed_origins, &item)) == PH_LEFT)
		why = "client gone";
	else if (st != PH_OK)
		why = "its FastCGI records out of step";
	else if (handoff_park_item(s->app->handoff, &item) == 0) {
		h->parked = 1;
		settled(s, h);
		return;
	}
	log_warn("connection %s: %s could not be handed over (%s)", item.pi.connection_id,
	    h->kind->name, why);
	hold_destroy(s, h);
}

static void
park_now(struct holdset *s, struct hold *h)
{
	h->parking = 0;
	if (h->fc.held.fd >= 0 && !s->handing_off) {
		/* The handoff is over (a failed exec took the parked holds back)
		 * before this one's answer was written: it goes on here, or it
		 * would be in no list at all. */
		h->done = 0;
		make_ready(s, h, HOLD_START);
		return;
	}
	hand_over(s, h, 0);
}

/* Write what is queued. A failure means the web server is gone. */
static void
flush(struct holdset *s, struct hold *h)
{
	if (fcgiconn_flush(&h->fc) != PH_OK) {
		close_conn(s, h);
		if (!h->done)
			make_ready(s, h, HOLD_GONE);
	} else if (h->fc.held.fd >= 0 && unflushed(h) > 0) {
		epoll_mask(s, h, h->epoll_mask | EPOLLOUT);
		return;
	}
	if (unflushed(h) == 0 && h->fc.held.fd >= 0 && (h->epoll_mask & EPOLLOUT))
		epoll_mask(s, h, h->epoll_mask & ~EPOLLOUT);
	/* A stream that stopped draining for its client resumes. */
	if (h->wait_writable && !h->done && unflushed(h) < low_water(s)) {
		h->wait_writable = 0;
		make_ready(s, h, HOLD_WRITABLE);
	}
	if (unflushed(h) > 0)
		return;
	if (h->closing)
		hold_destroy(s, h);
	else if (h->parking)
		park_now(s, h);
}

/* The web server closed the connection, or broke the protocol. */
static void
conn_gone(struct holdset *s, struct hold *h)
{
	close_conn(s, h);
	if (h->closing || h->parking) {
		h->closing = 0;
		if (h->parking)
			park_now(s, h);	/* fails: gone */
		else
			hold_destroy(s, h);
		return;
	}
	make_ready(s, h, HOLD_GONE);
}

/* What the records read on a held connection call for (FCGICONN_*). */
static void
act_on_records(struct holdset *s, struct hold *h, unsigned what)
{
	if (what & FCGICONN_BROKEN) {
		conn_gone(s, h);
		return;
	}
	if (what & FCGICONN_ANSWERED)
		flush(s, h);	/* may end or park it */
	if (!(what & FCGICONN_ABORT) || h->dead || h->parked || h->closing)
		return;		/* ending: its END_REQUEST answers the abort */
	if (h->parking)
		conn_gone(s, h);	/* aborted: nothing to hand over */
	else
		make_ready(s, h, HOLD_GONE);	/* the step ends it: END_REQUEST */
}

/* A step came back (loop thread), or on_wake handled a wake-up there. */
static void
completed(struct holdset *s, struct hold *h)
{
	enum hold_next next = h->job_result;

	h->busy = 0;
	if (h->job_timer_set)
		timer_set(s, h, h->job_timer);
	h->wait_writable = h->job_wait_writable && next == HOLD_KEEP;
	/* A client that stopped reading will not take the end of its answer
	 * either: its connection goes now, with what was queued for it, not
	 * after CLOSE_GRACE_MS. */
	if (next == HOLD_END && (h->job_why & HOLD_FULL))
		close_conn(s, h);
	fcgiconn_compact(&h->fc);
	if (h->fc.held.fd >= 0 && fcgiconn_queue(&h->fc, &h->job_out, next == HOLD_END) != PH_OK) {
		log_error("loop: out of memory; a client's connection is cut");
		close_conn(s, h);
		if (next == HOLD_KEEP)
			h->pending |= HOLD_GONE;
	}
	buf_shrink(&h->job_out);
	switch (next) {
	case HOLD_END:
		h->done = 1;
		timer_remove(s, h);
		h->closing = 1;
		flush(s, h);	/* destroys it once written */
		/* A web server that stops reading the answer is not waited for
		 * without a bound. */
		if (!h->dead)
			timer_set(s, h, monotime_ms() + CLOSE_GRACE_MS);
		return;
	case HOLD_PARK:
		h->done = 1;
		h->parking = 1;
		flush(s, h);	/* parks it once written */
		return;
	case HOLD_KEEP:
		break;
	}
	/* Judged after writing what the socket takes: only what the client has
	 * not taken counts. */
	flush(s, h);
	if (h->kind->stream && h->fc.held.fd >= 0 && unflushed(h) > s->app->cfg.max_buffered)
		h->pending |= HOLD_FULL;
	if (h->pending != 0 && !h->done)
		make_ready(s, h, 0);
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

static const struct hold_kind answer_kind = { .name = "answer", .step = answer_step };

int
holdset_add_answer(struct holdset *s, const struct http_held *conn)
{
	struct hold *h = holdset_hold_new(s, &answer_kind, NULL);

	if (h == NULL)
		return -1;
	holdset_add(s, h, conn);
	return 0;
}

void
holdset_attach(struct holdset *s, struct inbox_node *n)
{
	struct hold *h = hold_of_node(n);
	unsigned what = FCGICONN_BROKEN;

	h->attached = 1;
	h->prev = &s->all;
	h->next = s->all.next;
	s->all.next->prev = h;
	s->all.next = h;
	if (fcgiconn_open(&h->fc, h->kind->name) == PH_OK) {
		epoll_mask(s, h, EPOLLIN | EPOLLRDHUP);
		/* What libfcgi read ahead of the handler is read first. */
		if (h->epoll_mask != 0)
			what = fcgiconn_read_ahead(&h->fc, &s->limits, h->kind->name);
	}
	if (what & FCGICONN_BROKEN) {
		close_conn(s, h);
		make_ready(s, h, HOLD_START | HOLD_GONE);
	} else if (h->kind == &answer_kind) {
		/* Its answer, from a previous image: written, then closed. */
		h->done = h->closing = 1;
		timer_set(s, h, monotime_ms() + CLOSE_GRACE_MS);
	} else
		make_ready(s, h, HOLD_START);
	if (s->stopping)
		make_ready(s, h, HOLD_STOP);
	else if (s->handing_off) {
		inbox_count_one(s->inbox);
		h->counted = 1;
		make_ready(s, h, HOLD_HANDOFF);
	}
	if (!(what & FCGICONN_BROKEN)) {
		act_on_records(s, h, what);
		if (!h->dead && !h->parked && unflushed(h) > 0)
			flush(s, h);
	}
}

/* A wake-up alone: the kind's on_wake may handle it here, without a job. */
static int
fast_wake(struct holdset *s, struct hold *h)
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
	completed(s, h);
	if (rc == 2 && next == HOLD_KEEP && !h->dead)
		h->pending |= HOLD_WAKE;	/* still in the ready list: dispatched below */
	return 1;
}

struct job *
holdset_dispatch(struct holdset *s)
{
	struct hold *h, *next;
	struct job *first = NULL, **tail = &first;

	if (s->ready == NULL)
		return NULL;
	/* On this thread first: a fan-out's deliveries need no job. */
	for (h = s->ready; h != NULL; h = h->ready_next)
		if (!h->busy && !h->parked && !h->done && !h->dead)
			(void)fast_wake(s, h);
	for (h = s->ready, s->ready = NULL; h != NULL; h = next) {
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
		h->job_stuck = h->job_unflushed >= low_water(s) &&
		    monotime_ms() - h->fc.wrote_at >= STUCK_MS;
		h->job.next = NULL;
		*tail = &h->job;
		tail = &h->job.next;
	}
	return first;
}

/* The exec failed: every parked hold is the loop's again, and the list is
 * emptied here, on the loop thread, so that no hold parks into it between
 * (park_now revives one that would). */
static void
take_back(struct holdset *s)
{
	struct hold *h, *next;

	s->handing_off = s->forcing = 0;
	handoff_unpark(s->app->handoff);
	inbox_uncount(s->inbox);
	for (h = s->all.next; h != &s->all; h = next) {
		next = h->next;
		h->counted = 0;
		if (!h->parked)
			continue;
		h->parked = 0;
		epoll_mask(s, h, EPOLLIN | EPOLLRDHUP);
		if (h->closing) {
			/* An answer handed over unwritten: written here after all. */
			timer_set(s, h, monotime_ms() + CLOSE_GRACE_MS);
			flush(s, h);
			continue;
		}
		h->done = 0;
		make_ready(s, h, HOLD_START);
		if (unflushed(h) > 0)
			flush(s, h);
	}
}

/* A handoff past its wait: a hold that waits only for the web server to
 * take what is queued for it is handed over with those bytes (the next
 * image writes them first), so no answer is cut and no client that reads
 * slowly holds the restart. A step that runs or is to run is still waited
 * for: it may have drained records. */
static void
force_settle(struct holdset *s)
{
	struct hold *h, *next;

	for (h = s->all.next; h != &s->all; h = next) {
		next = h->next;
		if (h->dead || h->parked || h->busy || !h->done || !h->counted)
			continue;
		if (h->parking) {
			h->parking = 0;
			hand_over(s, h, 0);
		} else if (h->closing)
			hand_over(s, h, 1);
	}
}

void
holdset_woken(struct inbox_node *n, void *arg)
{
	struct hold *h = hold_of_node(n);

	if (!h->done)
		make_ready(arg, h, HOLD_WAKE);
}

void
holdset_completed(struct holdset *s, struct inbox_node *n)
{
	completed(s, hold_of_node(n));
}

/* The commands taken with the inbox. */
void
holdset_commands(struct holdset *s, const struct inbox_taken *t)
{
	struct hold *h;

	if (t->unpark)
		take_back(s);
	if (t->force)
		s->forcing = 1;
	if (t->stop) {
		s->stopping = 1;
		for (h = s->all.next; h != &s->all; h = h->next)
			make_ready(s, h, HOLD_STOP);
	}
	if (t->handoff) {
		size_t n = 0;

		s->handing_off = 1;
		/* Ending ones too: an answer not written yet is waited for. */
		for (h = s->all.next; h != &s->all; h = h->next)
			if (!h->parked && !h->dead) {
				make_ready(s, h, HOLD_HANDOFF);
				h->counted = 1;
				n++;
			}
		inbox_counted(s->inbox, n);
	}
	if (s->forcing && s->handing_off)
		force_settle(s);
}

void
holdset_event(struct holdset *s, void *arg, uint32_t e)
{
	struct hold *h = arg;

	if (h->dead || h->fc.held.fd < 0)
		return;		/* closed earlier in this round */
	if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		act_on_records(s, h, fcgiconn_read(&h->fc, &s->limits, h->kind->name));
	if ((e & EPOLLOUT) && !h->dead && h->fc.held.fd >= 0)
		flush(s, h);
}

long long
holdset_next_timer(struct holdset *s)
{
	struct timer_node *t = timerheap_first(&s->timers);

	return t != NULL ? t->at_ms : 0;
}

void
holdset_expire(struct holdset *s, long long now)
{
	struct timer_node *t;

	while ((t = timerheap_first(&s->timers)) != NULL && t->at_ms <= now) {
		struct hold *h = timer_hold(t);

		timer_remove(s, h);
		if (h->closing) {
			log_warn("loop: an answer not taken by the web server in %d s; its"
			    " connection is closed", CLOSE_GRACE_MS / 1000);
			hold_destroy(s, h);
			continue;
		}
		make_ready(s, h, HOLD_TIMER);
	}
}

int
holdset_has_ready(struct holdset *s)
{
	return s->ready != NULL;
}

void
holdset_run_step(struct job *job, void *arg)
{
	struct holdset *s = arg;
	struct hold *h = (struct hold *)(void *)((char *)job - offsetof(struct hold, job));

	h->job_result = h->kind->step(h, h->job_why, &h->job_out);
	inbox_done(s->inbox, &h->node);
}

void
holdset_add(struct holdset *s, struct hold *h, const struct http_held *conn)
{
	h->fc.held = *conn;
	atomic_fetch_add(&s->count, 1);
	inbox_add(s->inbox, &h->node);
}

size_t
holdset_count(struct holdset *s)
{
	return atomic_load(&s->count);
}
