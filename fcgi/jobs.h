/*
 * jobs: a few threads that run what may block, so that the event loop's own
 * thread never does. A job is a node embedded in its owner's struct; jobs run
 * in the order they were submitted, each by one thread, and the run function
 * says itself when one is done (the loop queues it back to its own thread).
 */
#ifndef POLLHUB_JOBS_H
#define POLLHUB_JOBS_H

struct job {
	struct job	*next;		/* the pool's while queued */
};

struct jobs;

/* Start n threads that call run(job, arg) for each job submitted. NULL when
 * out of memory or when no thread could start; fewer than n may run. */
struct jobs	*jobs_start(int n, void (*run)(struct job *, void *arg), void *arg);
/* Queue a chain of jobs (linked by next, NULL-terminated), in its order. */
void		 jobs_submit(struct jobs *, struct job *first);

#endif
