#include "timerheap.h"

#include <stdlib.h>

#define FIRST_CAP	1024

static void
swap(struct timerheap *t, size_t a, size_t b)
{
	struct timer_node *n = t->v[a];

	t->v[a] = t->v[b];
	t->v[b] = n;
	t->v[a]->index = a;
	t->v[b]->index = b;
}

static void
sift_up(struct timerheap *t, size_t i)
{
	while (i > 0 && t->v[(i - 1) / 2]->at_ms > t->v[i]->at_ms) {
		swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
sift_down(struct timerheap *t, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;

		if (c < t->n && t->v[c]->at_ms < t->v[m]->at_ms)
			m = c;
		if (c + 1 < t->n && t->v[c + 1]->at_ms < t->v[m]->at_ms)
			m = c + 1;
		if (m == i)
			return;
		swap(t, i, m);
		i = m;
	}
}

void
timer_node_init(struct timer_node *node)
{
	node->at_ms = 0;
	node->index = TIMERHEAP_NONE;
}

void
timerheap_remove(struct timerheap *t, struct timer_node *node)
{
	size_t i = node->index;

	if (i == TIMERHEAP_NONE)
		return;
	node->index = TIMERHEAP_NONE;
	if (i != --t->n) {
		t->v[i] = t->v[t->n];
		t->v[i]->index = i;
		sift_down(t, i);
		sift_up(t, i);
	}
}

enum ph_err
timerheap_set(struct timerheap *t, struct timer_node *node, long long at_ms)
{
	timerheap_remove(t, node);
	node->at_ms = at_ms;
	if (at_ms == 0)
		return PH_OK;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : FIRST_CAP;
		struct timer_node **grown = realloc(t->v, cap * sizeof(*grown));

		if (grown == NULL)
			return PH_NOMEM;
		t->v = grown;
		t->cap = cap;
	}
	node->index = t->n;
	t->v[t->n++] = node;
	sift_up(t, node->index);
	return PH_OK;
}

struct timer_node *
timerheap_first(const struct timerheap *t)
{
	return t->n > 0 ? t->v[0] : NULL;
}

void
timerheap_free(struct timerheap *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}
