#include "turns.h"

#include <stdlib.h>
#include <string.h>

#include "fnv.h"

#define BUCKETS 4096	/* of the queued groups */

struct turn_queue {
	struct turn	*head, *tail;
};

struct turns {
	/* Groups in turn, and the connection ids of 'c:' notifications, which
	 * take one turn together (direct_queued: its mark is in turns; busy:
	 * those put after the others while their turn runs). */
	struct turn_queue turns, direct, busy;
	int		 direct_queued;
	/* The groups in turns, so that each has one turn at a time. */
	struct turn	*queued_groups[BUCKETS];
};

static void
queue_push(struct turn_queue *q, struct turn *t)
{
	t->next = NULL;
	if (q->tail != NULL)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
}

static struct turn *
queue_pop(struct turn_queue *q)
{
	struct turn *t = q->head;

	if (t != NULL && (q->head = t->next) == NULL)
		q->tail = NULL;
	return t;
}

static void
queue_free(struct turn_queue *q)
{
	struct turn *t;

	while ((t = queue_pop(q)) != NULL)
		free(t);
}

struct turns *
turns_new(void)
{
	return calloc(1, sizeof(struct turns));
}

void
turns_free(struct turns *q)
{
	if (q == NULL)
		return;
	queue_free(&q->turns);
	queue_free(&q->direct);
	queue_free(&q->busy);
	free(q);
}

void
turns_requeue(struct turns *q, struct turn *t)
{
	struct turn **chain = &q->queued_groups[fnv1a(t->key) % BUCKETS];

	t->hnext = *chain;
	*chain = t;
	queue_push(&q->turns, t);
}

static int
group_queued(struct turns *q, const char *key)
{
	for (struct turn *t = q->queued_groups[fnv1a(key) % BUCKETS]; t != NULL; t = t->hnext)
		if (strcmp(t->key, key) == 0)
			return 1;
	return 0;
}

/* A group's turn taken off the queue. */
static void
group_taken(struct turns *q, struct turn *t)
{
	struct turn **p = &q->queued_groups[fnv1a(t->key) % BUCKETS];

	while (*p != NULL && *p != t)
		p = &(*p)->hnext;
	if (*p != NULL)
		*p = t->hnext;
}

int
turns_queue(struct turns *q, int is_group, const char *key, size_t cap)
{
	size_t len = strlen(key);
	struct turn *t;

	if (is_group && group_queued(q, key))
		return 0;
	if ((t = malloc(sizeof(*t) + len + 1)) == NULL)
		return -1;
	memcpy(t->key, key, len + 1);
	t->cap = cap;
	if (is_group) {
		turns_requeue(q, t);
		return 0;
	}
	queue_push(&q->direct, t);
	if (!q->direct_queued) {
		struct turn *mark = malloc(sizeof(*mark) + 1);

		if (mark == NULL)
			return -1;	/* the direct list waits for the next 'c:' */
		mark->key[0] = '\0';
		queue_push(&q->turns, mark);
		q->direct_queued = 1;
	}
	return 0;
}

int
turns_any(const struct turns *q)
{
	return q->turns.head != NULL;
}

struct turn *
turns_next(struct turns *q)
{
	struct turn *t = queue_pop(&q->turns);

	if (t != NULL && t->key[0] != '\0')
		group_taken(q, t);
	return t;
}

struct turn *
turns_direct_pop(struct turns *q)
{
	return queue_pop(&q->direct);
}

void
turns_direct_unpop(struct turns *q, struct turn *d)
{
	d->next = q->direct.head;
	q->direct.head = d;
	if (q->direct.tail == NULL)
		q->direct.tail = d;
}

void
turns_direct_later(struct turns *q, struct turn *d)
{
	queue_push(&q->busy, d);
}

void
turns_direct_done(struct turns *q, struct turn *mark)
{
	if (q->busy.head != NULL) {
		if (q->direct.tail != NULL)
			q->direct.tail->next = q->busy.head;
		else
			q->direct.head = q->busy.head;
		q->direct.tail = q->busy.tail;
		q->busy.head = q->busy.tail = NULL;
	}
	if (q->direct.head != NULL)
		queue_push(&q->turns, mark);
	else {
		q->direct_queued = 0;
		free(mark);
	}
}
