#include "inbox.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct inbox {
	int			 efd;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* broadcast when a hold ends or parks */
	int			 signaled;	/* efd written since the loop last looked */
	struct inbox_node	*newq, *wakeq, *doneq, *doneq_tail;
	int			 cmd_stop, cmd_handoff, cmd_unpark, cmd_force;
	size_t			 unparked_left;	/* holds neither ended nor parked, while handing off */
};

struct inbox *
inbox_new(void)
{
	struct inbox *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return NULL;
	if ((in->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(in);
		return NULL;
	}
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	return in;
}

int
inbox_fd(const struct inbox *in)
{
	return in->efd;
}

/* With the lock held. */
static void
signal_loop(struct inbox *in)
{
	uint64_t one = 1;

	if (in->signaled)
		return;
	in->signaled = 1;
	/* An eventfd write fails only when its counter would overflow. */
	(void)!write(in->efd, &one, sizeof(one));
}

void
inbox_add(struct inbox *in, struct inbox_node *n)
{
	pthread_mutex_lock(&in->lock);
	n->q_next = in->newq;
	in->newq = n;
	signal_loop(in);
	pthread_mutex_unlock(&in->lock);
}

void
inbox_wake(struct inbox *in, struct inbox_node *n)
{
	pthread_mutex_lock(&in->lock);
	if (!n->queued) {
		n->queued = 1;
		n->wake_next = in->wakeq;
		in->wakeq = n;
		signal_loop(in);
	}
	pthread_mutex_unlock(&in->lock);
}

void
inbox_unqueue(struct inbox *in, struct inbox_node *n)
{
	pthread_mutex_lock(&in->lock);
	if (n->queued) {
		for (struct inbox_node **pp = &in->wakeq; *pp != NULL; pp = &(*pp)->wake_next)
			if (*pp == n) {
				*pp = n->wake_next;
				break;
			}
		n->queued = 0;
	}
	pthread_mutex_unlock(&in->lock);
}

void
inbox_done(struct inbox *in, struct inbox_node *n)
{
	pthread_mutex_lock(&in->lock);
	n->q_next = NULL;
	if (in->doneq_tail != NULL)
		in->doneq_tail->q_next = n;
	else
		in->doneq = n;
	in->doneq_tail = n;
	signal_loop(in);
	pthread_mutex_unlock(&in->lock);
}

/* Raise one of the commands. */
static void
command(struct inbox *in, int *flag)
{
	pthread_mutex_lock(&in->lock);
	*flag = 1;
	signal_loop(in);
	pthread_mutex_unlock(&in->lock);
}

void
inbox_stop(struct inbox *in)
{
	command(in, &in->cmd_stop);
}

void
inbox_unpark(struct inbox *in)
{
	command(in, &in->cmd_unpark);
}

void
inbox_take(struct inbox *in, struct inbox_taken *t,
    void (*woken)(struct inbox_node *, void *), void *arg)
{
	struct inbox_node *n, *next;
	uint64_t count;

	(void)!read(in->efd, &count, sizeof(count));
	pthread_mutex_lock(&in->lock);
	in->signaled = 0;
	t->added = in->newq;
	t->done = in->doneq;
	n = in->wakeq;
	in->newq = in->wakeq = in->doneq = in->doneq_tail = NULL;
	/* Under the lock: once off the queue, a node may be queued again. */
	for (; n != NULL; n = next) {
		next = n->wake_next;
		n->queued = 0;
		woken(n, arg);
	}
	t->stop = in->cmd_stop;
	t->handoff = in->cmd_handoff;	/* cleared once counted (inbox_counted) */
	t->unpark = in->cmd_unpark;
	t->force = in->cmd_force;
	in->cmd_stop = in->cmd_unpark = in->cmd_force = 0;
	pthread_mutex_unlock(&in->lock);
}

void
inbox_counted(struct inbox *in, size_t n)
{
	pthread_mutex_lock(&in->lock);
	in->unparked_left += n;
	in->cmd_handoff = 0;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

void
inbox_count_one(struct inbox *in)
{
	pthread_mutex_lock(&in->lock);
	in->unparked_left++;
	pthread_mutex_unlock(&in->lock);
}

void
inbox_settled(struct inbox *in)
{
	pthread_mutex_lock(&in->lock);
	if (in->unparked_left > 0)
		in->unparked_left--;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

void
inbox_uncount(struct inbox *in)
{
	pthread_mutex_lock(&in->lock);
	in->unparked_left = 0;
	pthread_mutex_unlock(&in->lock);
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
inbox_handoff(struct inbox *in, int timeout_ms)
{
	struct timespec until;

	deadline(&until, timeout_ms);
	pthread_mutex_lock(&in->lock);
	in->cmd_handoff = 1;
	/* Counted by the loop thread when it takes the command. */
	in->unparked_left = 0;
	signal_loop(in);
	/* Wait for the loop to take it (it counts the holds), then for each. */
	while (in->cmd_handoff || in->unparked_left > 0)
		if (pthread_cond_timedwait(&in->cond, &in->lock, &until) != 0)
			break;
	if (in->cmd_handoff || in->unparked_left > 0) {
		log_warn("restart: %zu held request(s) not answered or parked in %d s: those whose"
		    " answer is not written yet go to the next image with it; steps still running"
		    " are waited for", in->unparked_left, timeout_ms / 1000);
		in->cmd_force = 1;
		signal_loop(in);
		/* No bound here: a step may have drained records, and its own
		 * database deadlines bound it. */
		while (in->cmd_handoff || in->unparked_left > 0) {
			deadline(&until, timeout_ms);
			if (pthread_cond_timedwait(&in->cond, &in->lock, &until) != 0)
				log_warn("restart: still waiting for %zu held request(s) whose step"
				    " runs", in->unparked_left);
		}
	}
	pthread_mutex_unlock(&in->lock);
}
