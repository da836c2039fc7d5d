/* Unit tests for common/turns.h: the keys with pending waiters in turn. */
#include <stdlib.h>

#include "turns.h"
#include "unit.h"

/* The next turn's key ("" for the connection ids'), or "-" for none; the
 * turn is freed unless kept. */
static const char *
next_key(struct turns *q, struct turn **kept)
{
	static char key[64];
	struct turn *t = turns_next(q);

	if (t == NULL)
		return "-";
	snprintf(key, sizeof(key), "%s", t->key);
	if (kept != NULL)
		*kept = t;
	else
		free(t);
	return key;
}

static void
test_groups(void)
{
	struct turns *q = turns_new();
	struct turn *t = NULL;

	CHECK(q != NULL);
	CHECK_INTEQ(turns_any(q), 0);
	CHECK_STREQ(next_key(q, NULL), "-");
	/* A group has one turn queued at a time, whatever its notifications. */
	CHECK_INTEQ(turns_queue(q, 1, "g1", 500), 0);
	CHECK_INTEQ(turns_queue(q, 1, "g2", 500), 0);
	CHECK_INTEQ(turns_queue(q, 1, "g1", 500), 0);
	CHECK_INTEQ(turns_any(q), 1);
	CHECK_STREQ(next_key(q, &t), "g1");
	CHECK_INTEQ(t->cap, 500);
	/* Taken off the queue: a new notification queues it again... */
	CHECK_INTEQ(turns_queue(q, 1, "g1", 500), 0);
	/* ...and so does a turn put back, behind the others. */
	t->cap = 8;
	turns_requeue(q, t);
	CHECK_STREQ(next_key(q, NULL), "g2");
	CHECK_STREQ(next_key(q, NULL), "g1");
	CHECK_STREQ(next_key(q, &t), "g1");
	CHECK_INTEQ(t->cap, 8);
	free(t);
	CHECK_INTEQ(turns_any(q), 0);
	turns_free(q);
}

static void
test_connection_ids(void)
{
	struct turns *q = turns_new();
	struct turn *mark = NULL, *d;

	/* Connection ids share one turn, queued once, between the groups'. */
	CHECK_INTEQ(turns_queue(q, 0, "a", 500), 0);
	CHECK_INTEQ(turns_queue(q, 1, "g", 500), 0);
	CHECK_INTEQ(turns_queue(q, 0, "b", 500), 0);
	CHECK_INTEQ(turns_queue(q, 0, "c", 500), 0);
	CHECK_STREQ(next_key(q, &mark), "");
	/* a is busy (after the others), b served, c finds no room. */
	d = turns_direct_pop(q);
	CHECK_STREQ(d->key, "a");
	turns_direct_later(q, d);
	d = turns_direct_pop(q);
	CHECK_STREQ(d->key, "b");
	free(d);
	d = turns_direct_pop(q);
	CHECK_STREQ(d->key, "c");
	turns_direct_unpop(q, d);
	turns_direct_done(q, mark);
	/* Ids left: the shared turn comes again, after the group's. */
	CHECK_STREQ(next_key(q, NULL), "g");
	CHECK_STREQ(next_key(q, &mark), "");
	d = turns_direct_pop(q);
	CHECK_STREQ(d->key, "c");
	free(d);
	d = turns_direct_pop(q);
	CHECK_STREQ(d->key, "a");
	free(d);
	CHECK(turns_direct_pop(q) == NULL);
	turns_direct_done(q, mark);
	CHECK_INTEQ(turns_any(q), 0);
	/* None left: the next id queues the shared turn anew. */
	CHECK_INTEQ(turns_queue(q, 0, "d", 500), 0);
	CHECK_STREQ(next_key(q, &mark), "");
	turns_direct_done(q, mark);
	CHECK_INTEQ(turns_any(q), 1);
	turns_free(q);		/* frees what is still queued */
}

int
main(void)
{
	test_groups();
	test_connection_ids();
	return unit_done();
}
