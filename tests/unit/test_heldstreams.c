/* Unit tests for common/heldstreams.h: which held streams' Pings may skip
 * the database. */
#include <pthread.h>
#include <stdio.h>

#include "heldstreams.h"
#include "unit.h"

/* heldstreams_ping's verdict; *gen and the id it gave. */
static int
ping(struct heldstreams *s, const char *key, unsigned *gen, char *id)
{
	id[0] = '\0';
	return heldstreams_ping(s, key, id, 64, gen);
}

static void
test_confirm(void)
{
	char err[100], id[64];
	struct heldstreams *s = heldstreams_new(err, sizeof(err));
	struct heldstream a = { 0 }, b = { 0 };
	unsigned gen;

	CHECK(s != NULL);
	/* Not listed: the database's path. */
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_add(s, &a, "key-a", "id-a");
	heldstreams_add(s, &b, "key-b", "id-b");
	/* Listed, not yet confirmed: ask pollhub.ping once. */
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_confirm(s, "key-a", gen);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 1);
	CHECK_STREQ(id, "id-a");
	/* The other is not confirmed by it. */
	CHECK_INTEQ(ping(s, "key-b", &gen, id), 0);
	/* Unlisted (the stream ended, or a Close went out): never answered here. */
	heldstreams_remove(s, &a);
	heldstreams_remove(s, &a);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_confirm(s, "key-a", gen);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	/* Listed again (taken back after a failed restart): confirmed anew. */
	heldstreams_add(s, &a, "key-a", "id-a");
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_remove(s, &a);
	heldstreams_remove(s, &b);
	heldstreams_free(s);
}

static void
test_sends(void)
{
	char err[100], id[64];
	struct heldstreams *s = heldstreams_new(err, sizeof(err));
	struct heldstream a = { 0 };
	unsigned gen, old;
	int counted, c2;

	heldstreams_add(s, &a, "key-a", "id-a");
	/* A send here that leaves it clean (the handshake) confirms it. */
	counted = heldstreams_send_begin(s, "key-a");
	CHECK_INTEQ(counted, 1);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_send_end(s, "key-a", counted, HELD_SEND_CLEAN);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 1);
	/* While a send runs its Pings go the database's way. */
	counted = heldstreams_send_begin(s, "key-a");
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	/* Rolled back: what was known stands. */
	heldstreams_send_end(s, "key-a", counted, HELD_SEND_ROLLED_BACK);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 1);
	/* A partial record left (or a Close): no longer. */
	counted = heldstreams_send_begin(s, "key-a");
	heldstreams_send_end(s, "key-a", counted, HELD_SEND_UNCLEAN);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	/* A confirmation asked before a send began or ended here is stale. */
	old = gen;
	counted = heldstreams_send_begin(s, "key-a");
	heldstreams_send_end(s, "key-a", counted, HELD_SEND_UNCLEAN);
	heldstreams_confirm(s, "key-a", old);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	/* And one asked while a send runs does not count either. */
	counted = heldstreams_send_begin(s, "key-a");
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_confirm(s, "key-a", gen);
	heldstreams_send_end(s, "key-a", counted, HELD_SEND_ROLLED_BACK);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_confirm(s, "key-a", gen);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 1);
	/* Two sends at once: not answered until both ended. */
	counted = heldstreams_send_begin(s, "key-a");
	c2 = heldstreams_send_begin(s, "key-a");
	heldstreams_send_end(s, "key-a", counted, HELD_SEND_CLEAN);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_send_end(s, "key-a", c2, HELD_SEND_CLEAN);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 1);
	/* A send that began before the stream was listed is not counted, and its
	 * end takes no other send's count. */
	heldstreams_remove(s, &a);
	counted = heldstreams_send_begin(s, "key-a");
	CHECK_INTEQ(counted, 0);
	heldstreams_add(s, &a, "key-a", "id-a");
	c2 = heldstreams_send_begin(s, "key-a");
	heldstreams_send_end(s, "key-a", counted, HELD_SEND_CLEAN);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 0);
	heldstreams_send_end(s, "key-a", c2, HELD_SEND_CLEAN);
	CHECK_INTEQ(ping(s, "key-a", &gen, id), 1);
	heldstreams_remove(s, &a);
	heldstreams_free(s);
}

/* Many streams: each found by its own key, in every bucket. */
static void
test_many(void)
{
	enum { N = 20000 };
	static struct heldstream e[N];
	static char keys[N][24], ids[N][24];
	char err[100], id[64];
	struct heldstreams *s = heldstreams_new(err, sizeof(err));
	unsigned gen;
	int ok = 1;

	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		snprintf(ids[i], sizeof(ids[i]), "c%d", i);
		heldstreams_add(s, &e[i], keys[i], ids[i]);
		if (i % 2 == 0)
			heldstreams_confirm(s, keys[i], 0);
	}
	for (int i = 0; i < N; i += 3)
		heldstreams_remove(s, &e[i]);
	for (int i = 0; i < N; i++) {
		int want = i % 2 == 0 && i % 3 != 0;

		if (ping(s, keys[i], &gen, id) != want || (want && strcmp(id, ids[i]) != 0))
			ok = 0;
	}
	CHECK(ok);
	for (int i = 0; i < N; i++)
		heldstreams_remove(s, &e[i]);
	heldstreams_free(s);
}

/* Threads listing, pinging and sending at once (under ASan/TSan-like load:
 * the lock keeps the chains whole). */
struct worker {
	struct heldstreams *s;
	int		 base;
	int		 bad;
};

static void *
churn(void *arg)
{
	struct worker *w = arg;
	struct heldstream e[50] = { 0 };
	char keys[50][24], id[64];
	unsigned gen;

	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 50; i++) {
			snprintf(keys[i], sizeof(keys[i]), "t%d-%d", w->base, i);
			heldstreams_add(w->s, &e[i], keys[i], keys[i]);
			heldstreams_confirm(w->s, keys[i], 0);
		}
		for (int i = 0; i < 50; i++) {
			int c = heldstreams_send_begin(w->s, keys[i]);

			if (heldstreams_ping(w->s, keys[i], id, sizeof(id), &gen))
				w->bad++;
			heldstreams_send_end(w->s, keys[i], c, HELD_SEND_CLEAN);
			if (!heldstreams_ping(w->s, keys[i], id, sizeof(id), &gen) ||
			    strcmp(id, keys[i]) != 0)
				w->bad++;
		}
		for (int i = 0; i < 50; i++)
			heldstreams_remove(w->s, &e[i]);
	}
	return NULL;
}

static void
test_threads(void)
{
	char err[100];
	struct heldstreams *s = heldstreams_new(err, sizeof(err));
	struct worker w[4];
	pthread_t t[4];
	int bad = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ s, i, 0 };
		pthread_create(&t[i], NULL, churn, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
	}
	CHECK_INTEQ(bad, 0);
	heldstreams_free(s);
}

int
main(void)
{
	test_confirm();
	test_sends();
	test_many();
	test_threads();
	return unit_done();
}
