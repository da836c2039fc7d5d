/*
 * hold: a held request, as the event loop and a transport see it. A
 * transport (a long poll, a stream, the classic ones) implements a struct
 * hold_kind: the loop runs its step whenever something happened to the
 * request (the why-bits below) and writes what the step produced. The loop
 * knows its users only through this header: it names no transport, and a
 * transport includes this header, not loop.h.
 *
 * The functions below are the loop's (loop.c); the kinds are the transports'.
 * At a restart in place, a parked hold leaves one line for the next image
 * (struct handoff_item, which handoff.c writes and reads), and the next image
 * gives that line to the kind whose parks_as it carries (handoff_resume, with
 * the table main.c builds).
 */
#ifndef POLLHUB_HOLD_H
#define POLLHUB_HOLD_H

#include <stddef.h>

#include "buf.h"
#include "fcgirec.h"
#include "http.h"
#include "corestore.h"
#include "tcpdiag.h"

struct app;
struct loop;
struct hold;
struct waiter;

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
			 * the next image (park_info): the waiter is unregistered */
};

/* What the next image needs to go on with a held request: one line of the
 * handoff's list. */
enum handoff_kind {
	HANDOFF_STREAM = 'S',
	HANDOFF_POLL = 'P',
	HANDOFF_ANSWER = 'A'	/* an ended request's answer, not all written: write it, close */
};
struct handoff_item {
	enum handoff_kind	 kind;
	int			 fd;		/* the FastCGI connection */
	int			 request_id;
	int			 keep;		/* the web server asked to keep the connection */
	int			 cors_index;	/* in POLLHUB_ALLOWED_ORIGINS, or -1: no CORS headers */
	int			 vary_origin;
	long long		 left_ms;	/* a poll: what is left of its timeout */
	char			 token[64];
	struct poll_info	 pi;
	struct tcpdiag_conn	 peer;		/* a poll's client connection (family 0: unknown) */
	struct fcgirec_state	 rd;		/* where the connection's records stand */
	const char		*carry;		/* records queued and not written (a forced */
	size_t			 carry_len;	/* handoff): copied by handoff_park_item */
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
	/* The line a parked hold of this kind leaves (0: it never parks), and,
	 * in the next image, what takes that line back: a new hold on conn
	 * given to the loop (handoff_resume). -1 when out of memory (conn is
	 * the caller's). */
	enum handoff_kind parks_as;
	int		(*resume)(struct app *, const struct http_held *conn,
			    const struct handoff_item *);
};

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

#endif
