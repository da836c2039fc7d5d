#include "jobs.h"

#include <pthread.h>
#include <stdlib.h>

#define STACK_SIZE	(256 * 1024)	/* a step's frames are small; libpq's too */

struct jobs {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct job	*head, *tail;
	void		(*run)(struct job *, void *);
	void		*arg;
};

static void *
job_thread(void *arg)
{
	struct jobs *j = arg;

	for (;;) {
		struct job *job;

		pthread_mutex_lock(&j->lock);
		while (j->head == NULL)
			pthread_cond_wait(&j->cond, &j->lock);
		job = j->head;
		if ((j->head = job->next) == NULL)
			j->tail = NULL;
		pthread_mutex_unlock(&j->lock);
		j->run(job, j->arg);
	}
	return NULL;
}

struct jobs *
jobs_start(int n, void (*run)(struct job *, void *arg), void *arg)
{
	struct jobs *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t tid;
	int started = 0;

	if (j == NULL)
		return NULL;
	j->run = run;
	j->arg = arg;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < n; i++)
		started += pthread_create(&tid, &attr, job_thread, j) == 0;
	pthread_attr_destroy(&attr);
	/* Threads that started wait on j for ever: it is never freed once one has. */
	if (started == 0) {
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->lock);
		free(j);
		return NULL;
	}
	return j;
}

void
jobs_submit(struct jobs *j, struct job *first)
{
	struct job *last;

	if (first == NULL)
		return;
	for (last = first; last->next != NULL; last = last->next)
		;
	pthread_mutex_lock(&j->lock);
	if (j->tail != NULL)
		j->tail->next = first;
	else
		j->head = first;
	j->tail = last;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}
