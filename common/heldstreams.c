#include "heldstreams.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"

/* A power of two. A responder holds up to ~10,000 streams (lighttpd's
 * descriptors bound them): chains of one or two. */
#define BUCKETS 8192

struct heldstreams {
	pthread_mutex_t	 lock;
	struct heldstream *bucket[BUCKETS];
};

struct heldstreams *
heldstreams_new(char *err, size_t errlen)
{
	struct heldstreams *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory for the held streams' set");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void
heldstreams_free(struct heldstreams *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct heldstream **
slot(struct heldstreams *s, const char *key)
{
	return &s->bucket[fnv1a(key) & (BUCKETS - 1)];
}

/* The listed stream of key, or NULL; with the lock held. */
static struct heldstream *
find(struct heldstreams *s, const char *key)
{
	for (struct heldstream *e = *slot(s, key); e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

void
heldstreams_add(struct heldstreams *s, struct heldstream *e, const char *key,
    const char *connection_id)
{
	struct heldstream **b;

	heldstreams_remove(s, e);
	pthread_mutex_lock(&s->lock);
	b = slot(s, key);
	e->key = key;
	e->connection_id = connection_id;
	e->confirmed = 0;
	e->sending = 0;
	e->gen = 0;
	e->listed = 1;
	e->next = *b;
	*b = e;
	pthread_mutex_unlock(&s->lock);
}

void
heldstreams_remove(struct heldstreams *s, struct heldstream *e)
{
	pthread_mutex_lock(&s->lock);
	if (e->listed) {
		for (struct heldstream **p = slot(s, e->key); *p != NULL; p = &(*p)->next)
			if (*p == e) {
				*p = e->next;
				break;
			}
		e->listed = 0;
		e->next = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

int
heldstreams_ping(struct heldstreams *s, const char *key, char *id, size_t idlen, unsigned *gen)
{
	struct heldstream *e;
	int ok;

	pthread_mutex_lock(&s->lock);
	e = find(s, key);
	ok = e != NULL && e->confirmed && e->sending == 0;
	if (ok)
		snprintf(id, idlen, "%s", e->connection_id);
	*gen = e != NULL ? e->gen : 0;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void
heldstreams_confirm(struct heldstreams *s, const char *key, unsigned gen)
{
	struct heldstream *e;

	pthread_mutex_lock(&s->lock);
	if ((e = find(s, key)) != NULL && e->gen == gen && e->sending == 0)
		e->confirmed = 1;
	pthread_mutex_unlock(&s->lock);
}

int
heldstreams_send_begin(struct heldstreams *s, const char *key)
{
	struct heldstream *e;

	pthread_mutex_lock(&s->lock);
	if ((e = find(s, key)) != NULL) {
		e->sending++;
		e->gen++;
	}
	pthread_mutex_unlock(&s->lock);
	return e != NULL;
}

void
heldstreams_send_end(struct heldstreams *s, const char *key, int counted, enum held_send sent)
{
	struct heldstream *e;

	pthread_mutex_lock(&s->lock);
	if ((e = find(s, key)) != NULL) {
		/* Not counted: the stream was listed while the send ran. */
		if (counted && e->sending > 0)
			e->sending--;
		e->gen++;
		if (sent != HELD_SEND_ROLLED_BACK)
			e->confirmed = sent == HELD_SEND_CLEAN;
	}
	pthread_mutex_unlock(&s->lock);
}
