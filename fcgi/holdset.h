/*
 * holdset: the held requests on the event loop's thread, and what happens to
 * each: its steps (run on a job thread, their results applied here), its
 * FastCGI connection's events (fcgiconn), its timer (timerheap), its end,
 * and its parking at a restart in place (handoff). It implements hold.h for
 * the transports (but hold_new and loop_add, the loop's).
 *
 * Everything here runs on the loop thread, but holdset_hold_new, holdset_add
 * (any thread) and holdset_run_step (a job thread). What crosses threads
 * goes through the inbox.
 */
#ifndef POLLHUB_HOLDSET_H
#define POLLHUB_HOLDSET_H

#include <stddef.h>
#include <stdint.h>

#include "hold.h"
#include "inbox.h"
#include "jobs.h"

struct app;
struct holdset;

/* NULL when out of memory. ep: the loop's epoll set (a hold's data.ptr is
 * the hold). */
struct holdset	*holdset_new(struct app *, int ep, struct inbox *);
/* hold_new and loop_add for the loop. */
struct hold	*holdset_hold_new(struct holdset *, const struct hold_kind *, void *state);
void		 holdset_add(struct holdset *, struct hold *, const struct http_held *conn);
/* Holds not yet freed (any thread). */
size_t		 holdset_count(struct holdset *);

/* What was handed over through the inbox. */
void		 holdset_attach(struct holdset *, struct inbox_node *);
void		 holdset_completed(struct holdset *, struct inbox_node *);
void		 holdset_woken(struct inbox_node *, void *holdset);	/* under the inbox's lock */
/* An epoll event for a hold (data.ptr). */
void		 holdset_event(struct holdset *, void *hold, uint32_t events);
/* The time the first timer is due, 0: none. */
long long	 holdset_next_timer(struct holdset *);
/* Timers due by now. */
void		 holdset_expire(struct holdset *, long long now);
/* 1 when a step or on_wake is to run. */
int		 holdset_has_ready(struct holdset *);
/* Run what is ready: wake-ups that on_wake takes here, the rest as a chain of
 * jobs (NULL: none) for holdset_run_step. */
struct job	*holdset_dispatch(struct holdset *);
/* On a job thread: one step, then back to the loop through the inbox. */
void		 holdset_run_step(struct job *, void *holdset);
/* Free the holds destroyed this round (events may still have named them). */
void		 holdset_bury(struct holdset *);

/* The commands taken with the inbox: stop (every hold gets HOLD_STOP),
 * restart in place (HOLD_HANDOFF, each counted in the inbox until it ends or
 * parks), a handoff past its wait (force: a hold that waits only for the web
 * server to read is parked with its unwritten bytes), a failed exec (unpark:
 * every parked hold is the loop's again). */
void		 holdset_commands(struct holdset *, const struct inbox_taken *);

/* An ended request whose whole answer a previous image queued and did not
 * write (conn->carry; HANDOFF_ANSWER): written, then closed. -1 when out of
 * memory (conn is the caller's). */
int		 holdset_add_answer(struct holdset *, const struct http_held *conn);

#endif
