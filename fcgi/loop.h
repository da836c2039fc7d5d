/*
 * loop: the event loop that holds every waiting long poll and stream, so a
 * held client costs memory, not a thread. One epoll thread per process owns
 * the held requests' FastCGI connections: it writes their STDOUT and
 * END_REQUEST records from a per-connection output buffer (non-blocking),
 * reads every record the web server sends with an fcgirec reader (what is
 * left of a body, discarded up to 64 KiB; management records and a second
 * request answered; an abort or EOF: the request is gone), keeps their
 * timers in a heap, and takes wake-ups from the notifier through an eventfd.
 *
 * What may block (a database round trip, waiting for a batch drain in
 * flight) never runs on the loop thread: each held request's kind has a
 * step function that the loop runs on one of a few job threads, at most one
 * step per request at a time, whenever something happened to it (the bits
 * below). What happens meanwhile is gathered for the next step.
 *
 * A request reaches the loop from a worker thread (libfcgi read it and its
 * handler decided to hold it: http_detach) or from the previous image at a
 * restart in place (handoff_resume).
 */
#ifndef POLLHUB_LOOP_H
#define POLLHUB_LOOP_H

#include <stddef.h>

#include "buf.h"
#include "handoff.h"
#include "http.h"
#include "waiters.h"
#include "corestore.h"

struct app;
struct loop;
struct hold;

/* Why a step runs (bits of its why argument). */
#define HOLD_START	0x01u	/* just handed to the loop (or taken back after a failed exec) */
#define HOLD_WAKE	0x02u	/* the notifier: records delivered, or drain yourself */
#define HOLD_TIMER	0x04u	/* the time the last step asked for (hold_set_timer) came */
#define HOLD_GONE	0x08u	/* the web server closed the connection or aborted the request */
#define HOLD_FULL	0x10u	/* the output buffer passed POLLHUB_MAX_BUFFERED: not reading */
#define HOLD_STOP	0x20u	/* the process is stopping */
#define HOLD_HANDOFF	0x40u	/* restart in place: answer, or park (HOLD_PARK) */
#define HOLD_WRITABLE	0x80u	/* the output fell below the low-water mark (hold_may_drain) */

/* What the loop does after a step. */
enum hold_next {
	HOLD_KEEP,	/* write what the step produced and go on holding */
	HOLD_END,	/* write it, end the request (END_REQUEST), close: the
			 * step has unregistered its waiter */
	HOLD_PARK	/* (after HOLD_HANDOFF) write it, then hand the connection to
			 * the next image (hold_park_info): the waiter is unregistered */
};

struct hold_kind {
	const char	*name;		/* for log lines: "poll", "stream", ... */
	int		 stream;	/* output is capped (POLLHUB_MAX_BUFFERED) */
	/* On a job thread: act on why; bytes for the client (the response
	 * body, after headers the step wrote itself or that went out before
	 * the request was held) are appended to out. */
	enum hold_next	(*step)(struct hold *, unsigned why, struct buf *out);
	/* Optional, on the loop thread itself (never blocks: waiter_poll,
	 * waiter_try_unregister): a wake-up alone, when no step runs. Takes
	 * what the notifier delivered; returns 1 with *next and the bytes in out
	 * when that was all, 2 the same and a step must follow (HOLD_WAKE: a
	 * drain), 0 when it did nothing and a step must run. A fan-out to N
	 * members then costs N of these and N writes, no job each. */
	int		(*on_wake)(struct hold *, struct buf *out, enum hold_next *next);
	/* For HOLD_PARK: what the next image resumes (kind, token, poll, left_ms;
	 * the loop fills in the connection). */
	void		(*park_info)(struct hold *, struct handoff_item *);
	/* Free the kind's state (the loop thread, once nothing runs for it). */
	void		(*free)(void *state);
};

/* Start the loop thread and jobs job threads. NULL with a message. */
struct loop	*loop_start(struct app *, int jobs, char *err, size_t errlen);

/* A request to hold: hold_new, then register its waiter (hold_waiter) with
 * waiter_register_hook(..., hold_wake, the hold) before the first drain
 * (wake-ups before loop_add are kept for the first step), then loop_add
 * with the detached connection: the loop owns it and the hold from then on.
 * state belongs to the kind (kind->free). The first step runs with
 * HOLD_START (and whatever came before). hold_new: NULL when out of memory;
 * hold_free_unused frees one that never reached loop_add. */
struct hold	*hold_new(struct loop *, const struct hold_kind *, void *state);
void		 hold_free_unused(struct hold *);	/* hold_new's, never given to the loop */
void		 loop_add(struct loop *, struct hold *, const struct http_held *conn);
/* A request whose whole answer a previous image queued and did not write
 * (conn->carry): the loop writes it and closes. Takes conn's buffers; -1
 * when out of memory (the caller still owns them and the descriptor). */
int		 loop_add_answer(struct loop *, const struct http_held *conn);

/* The hold's waiter (its storage; registered by the kind). */
struct waiter	*hold_waiter(struct hold *);
/* The notifier's wake hook for a hold (arg: the hold). */
void		 hold_wake(void *hold);
void		*hold_state(struct hold *);
struct app	*hold_app(struct hold *);
/* Where the request was answered from: the CORS headers its answer carries. */
const struct http_held *hold_conn(struct hold *);
/* From a step: run a step with HOLD_TIMER at this CLOCK_MONOTONIC time in ms
 * (0: no timer). */
void		 hold_set_timer(struct hold *, long long at_ms);
/* From a stream's step, before it drains more for its client: 1 when what
 * waits for the client and what the step produced so far (out) are below the
 * low-water mark (a quarter of POLLHUB_MAX_BUFFERED), or when the client took
 * nothing for 2 s (then it is filled up to the cap, and closed there). 0: do
 * not drain now; a step runs with HOLD_WRITABLE once the client has taken
 * enough. A stream catching up a backlog thus never fills its own buffer past
 * the cap while its client reads. */
int		 hold_may_drain(struct hold *, const struct buf *out);

/* Held requests now (polls and streams). */
size_t		 loop_count(struct loop *);
/* SIGTERM: every held request gets HOLD_STOP. */
void		 loop_stop_all(struct loop *);
/* SIGHUP: every held request gets HOLD_HANDOFF; returns once each has ended
 * or been parked (handoff_park). After timeout_ms, one whose answer or
 * parking waits only for the web server to read is parked with its unwritten
 * bytes (the next image writes them), and a step still running is waited
 * for without a bound (its own database deadlines bound it): nothing queued
 * or drained is cut by the exec. */
void		 loop_handoff(struct loop *, int timeout_ms);
/* The exec failed: parked requests are the loop's again (HOLD_START), the
 * handoff's list is emptied (by the loop thread), and one that would park
 * later goes on instead. */
void		 loop_unpark(struct loop *);

#endif
