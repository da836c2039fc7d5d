/* Unit tests for common/waiters.h: the registry as the listener drives it
 * (marks, a claimed batch, its settlement) and as a waiter sees it. */
#include <time.h>

#include "waiters.h"
#include "unit.h"

static int woken;

static void
count_wake(void *arg)
{
	(void)arg;
	woken++;
}

static void
test_batch(void)
{
	char err[64];
	struct waiters *r = waiters_new(err, sizeof(err));
	struct waiter a, b, c, **batch;
	struct buf out = BUF_INIT, ids = BUF_INIT;
	int group;

	CHECK(r != NULL);
	waiter_register_hook(r, &a, "a", "g", 1, 0, count_wake, NULL);
	waiter_register_hook(r, &b, "b", "g", 1, 1, count_wake, NULL);
	waiter_register_hook(r, &c, "c", NULL, 1, 0, count_wake, NULL);
	CHECK_INTEQ(waiters_streams(r, &ids), 1);
	CHECK_MEMEQ(ids.data, ids.len, "{b}", 3);
	CHECK_INTEQ(waiters_have_turns(r), 0);

	/* A group's notification: one turn for its waiters, both claimed. */
	waiters_mark(r, 1, "g");
	waiters_mark(r, 1, "g");
	waiters_mark(r, 1, "nobody");
	CHECK_INTEQ(waiters_have_turns(r), 1);
	CHECK_INTEQ(waiters_claim(r, &batch, &group), 2);
	CHECK_INTEQ(group, 1);
	CHECK_INTEQ(waiter_poll(r, &a, &out), PH_DRAINING);
	CHECK_INTEQ(waiter_try_unregister(r, &a, &out), -1);
	/* a served with a record; b not served: it drains itself. */
	for (int i = 0; i < 2; i++)
		if (batch[i] == &a) {
			buf_append(&a.records, "x\x1e", 2);
			a.served = 1;
		}
	woken = 0;
	waiters_settle(r, 0);
	CHECK_INTEQ(woken, 2);
	CHECK_INTEQ(waiter_poll(r, &a, &out), PH_DELIVERED);
	CHECK_MEMEQ(out.data, out.len, "x\x1e", 2);
	CHECK_INTEQ(waiter_poll(r, &b, &out), PH_DRAIN);
	CHECK_INTEQ(waiter_poll(r, &b, &out), PH_TIMEOUT);
	CHECK_INTEQ(waiters_have_turns(r), 0);

	/* A connection id's: past the batch's bytes ('later'), it stays
	 * pending for the next turn, and is not told to drain alone. */
	waiters_mark(r, 0, "c");
	CHECK_INTEQ(waiters_claim(r, &batch, &group), 1);
	CHECK_INTEQ(group, 0);
	CHECK(batch[0] == &c);
	c.later = 1;
	waiters_settle(r, 0);
	CHECK_INTEQ(waiter_poll(r, &c, &out), PH_TIMEOUT);
	CHECK_INTEQ(waiters_have_turns(r), 1);
	CHECK_INTEQ(waiters_claim(r, &batch, &group), 1);
	/* The drains' session given up: nothing served, it drains itself. */
	waiters_settle(r, 1);
	CHECK_INTEQ(waiter_poll(r, &c, &out), PH_DRAIN);
	CHECK_INTEQ(waiters_have_turns(r), 0);

	/* A poll that took its records answers with them: no turn claims it
	 * again (a second batch would pass its budget). */
	waiters_mark(r, 0, "a");
	waiters_mark(r, 1, "g");
	CHECK_INTEQ(waiters_claim(r, &batch, &group), 1);
	CHECK(batch[0] == &b);
	waiters_settle(r, 0);
	CHECK_INTEQ(waiters_claim(r, &batch, &group), 0);
	waiters_settle(r, 0);

	/* A waiter draining itself is left for a later turn. */
	waiter_drain_begin(r, &c, &out);
	waiters_mark(r, 0, "c");
	CHECK_INTEQ(waiters_claim(r, &batch, &group), 0);
	waiters_settle(r, 0);
	waiter_drain_end(r, &c);
	CHECK_INTEQ(waiters_claim(r, &batch, &group), 1);
	waiters_settle(r, 0);

	waiters_wake_all(r);
	CHECK_INTEQ(waiter_poll(r, &a, &out), PH_DRAIN);
	CHECK_INTEQ(waiter_poll(r, &c, &out), PH_DRAIN);
	CHECK_INTEQ(waiter_try_unregister(r, &a, &out), 0);
	waiter_unregister(r, &b, &out);
	waiter_unregister(r, &c, &out);
	buf_reset(&ids);
	CHECK_INTEQ(waiters_streams(r, &ids), 0);
	CHECK_MEMEQ(ids.data, ids.len, "{}", 2);
	waiters_free(r);
	buf_free(&out);
	buf_free(&ids);
}

static void
test_wait(void)
{
	char err[64];
	struct waiters *r = waiters_new(err, sizeof(err));
	struct waiter w;
	struct buf out = BUF_INIT;
	struct timespec passed = { 0, 0 };

	waiter_register(r, &w, "w", "g", 7, 0);
	/* A deadline already passed is a check, not a wait. */
	CHECK_INTEQ(waiter_wait(r, &w, &passed, &out), PH_TIMEOUT);
	waiters_wake_all(r);
	CHECK_INTEQ(waiter_wait(r, &w, &passed, &out), PH_DRAIN);
	waiter_unregister(r, &w, &out);
	waiters_free(r);
	buf_free(&out);
}

int
main(void)
{
	test_batch();
	test_wait();
	return unit_done();
}
