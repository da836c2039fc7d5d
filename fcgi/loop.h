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
 * in hold.h). What happens meanwhile is gathered for the next step.
 *
 * A request reaches the loop from a worker thread (libfcgi read it and its
 * handler decided to hold it: http_detach) or from the previous image at a
 * restart in place (handoff_resume, through its kind's resume op). The loop
 * knows the requests it holds only through hold.h: it names no transport.
 * Its parts: inbox (what other threads hand the loop thread), holdset (the
 * held requests on the loop thread), timerheap, jobs (the job threads),
 * fcgiconn (one held FastCGI connection's reading and writing).
 */
#ifndef POLLHUB_LOOP_H
#define POLLHUB_LOOP_H

#include <stddef.h>

#include "hold.h"

struct app;
struct loop;

/* The loop's own line (HANDOFF_ANSWER): an ended request whose whole answer
 * a previous image queued and did not write; its resume op writes it and
 * closes (it is only resumed: no hold is of this kind). main.c lists it with
 * the transports' kinds for handoff_resume. */
extern const struct hold_kind loop_answer_kind;

/* Start the loop thread and jobs job threads. NULL with a message. */
struct loop	*loop_start(struct app *, int jobs, char *err, size_t errlen);

/* hold.h has what a transport uses: hold_new, loop_add, the accessors. */

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
