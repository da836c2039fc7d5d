/* Unit tests for fcgi/timerheap.h: the event loop's timers. */
#include <stdlib.h>

#include "timerheap.h"
#include "unit.h"

#define N	3000	/* past the first capacity (1024): the heap grows twice */

/* Nodes come out in due order, whatever order they went in. */
static void
test_order(void)
{
	static struct timer_node nodes[N];
	struct timerheap t = { 0 };
	struct timer_node *first;
	long long last = 0;
	int n = 0, failed = 0, out_of_order = 0, still_indexed = 0;

	srand(19);
	for (int i = 0; i < N; i++) {
		timer_node_init(&nodes[i]);
		failed += timerheap_set(&t, &nodes[i], 1 + rand() % 100000) != PH_OK;
	}
	CHECK_INTEQ(failed, 0);
	while ((first = timerheap_first(&t)) != NULL) {
		out_of_order += first->at_ms < last;
		last = first->at_ms;
		timerheap_remove(&t, first);
		still_indexed += first->index != TIMERHEAP_NONE;
		n++;
	}
	CHECK_INTEQ(n, N);
	CHECK_INTEQ(out_of_order, 0);
	CHECK_INTEQ(still_indexed, 0);
	timerheap_free(&t);
}

/* Moving, clearing (0) and removing a node in the middle keep the order;
 * removing one that is in no heap does nothing. */
static void
test_move_and_remove(void)
{
	struct timer_node a, b, c, d;
	struct timerheap t = { 0 };

	timer_node_init(&a);
	timer_node_init(&b);
	timer_node_init(&c);
	timer_node_init(&d);
	timerheap_remove(&t, &a);
	CHECK(timerheap_first(&t) == NULL);
	CHECK_INTEQ(timerheap_set(&t, &a, 40), PH_OK);
	CHECK_INTEQ(timerheap_set(&t, &b, 20), PH_OK);
	CHECK_INTEQ(timerheap_set(&t, &c, 30), PH_OK);
	CHECK_INTEQ(timerheap_set(&t, &d, 10), PH_OK);
	CHECK(timerheap_first(&t) == &d);
	CHECK_INTEQ(timerheap_set(&t, &a, 5), PH_OK);	/* moved to the front */
	CHECK(timerheap_first(&t) == &a);
	CHECK_INTEQ(timerheap_set(&t, &a, 0), PH_OK);	/* cleared: out */
	CHECK(a.index == TIMERHEAP_NONE);
	CHECK(timerheap_first(&t) == &d);
	timerheap_remove(&t, &b);			/* from the middle */
	timerheap_remove(&t, &b);			/* twice: nothing */
	CHECK(timerheap_first(&t) == &d);
	timerheap_remove(&t, &d);
	CHECK(timerheap_first(&t) == &c);
	timerheap_remove(&t, &c);
	CHECK(timerheap_first(&t) == NULL);
	CHECK_INTEQ(timerheap_set(&t, &b, 7), PH_OK);	/* a removed node is set again */
	CHECK(timerheap_first(&t) == &b);
	timerheap_free(&t);
}

int
main(void)
{
	test_order();
	test_move_and_remove();
	return unit_done();
}
