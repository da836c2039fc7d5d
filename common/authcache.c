#include "authcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

struct authcache_entry {
	unsigned char	 key[AUTHCACHE_KEY];
	long long	 until;		/* 0: empty */
	char		 user[AUTHCACHE_USER_SIZE];
};

struct authcache {
	pthread_mutex_t		 lock;
	struct authcache_entry	 entries[AUTHCACHE_ENTRIES];
};

struct authcache *
authcache_new(void)
{
	struct authcache *c = calloc(1, sizeof(*c));

	if (c != NULL && pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

void
authcache_free(struct authcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* SHA-256 is uniform: its first bytes pick the slot. */
static struct authcache_entry *
slot(struct authcache *c, const unsigned char key[AUTHCACHE_KEY])
{
	return &c->entries[(key[0] | (unsigned)key[1] << 8) % AUTHCACHE_ENTRIES];
}

int
authcache_get(struct authcache *c, const char *token, size_t n, unsigned char key[AUTHCACHE_KEY],
    char *user)
{
	struct authcache_entry *e;
	unsigned int len = 0;
	int hit;

	if (EVP_Digest(token, n, key, &len, EVP_sha256(), NULL) != 1 || len != AUTHCACHE_KEY)
		memset(key, 0, AUTHCACHE_KEY);
	if (c == NULL || len != AUTHCACHE_KEY)
		return 0;
	e = slot(c, key);
	pthread_mutex_lock(&c->lock);
	hit = e->until != 0 && (long long)time(NULL) <= e->until &&
	    memcmp(e->key, key, AUTHCACHE_KEY) == 0;
	if (hit)
		memcpy(user, e->user, strlen(e->user) + 1);
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void
authcache_put(struct authcache *c, const unsigned char key[AUTHCACHE_KEY], const char *user,
    long long until)
{
	struct authcache_entry *e;
	size_t n = strlen(user);
	static const unsigned char zero[AUTHCACHE_KEY];

	/* A zero key is a digest that failed: never an entry. */
	if (c == NULL || n >= AUTHCACHE_USER_SIZE || until <= 0 ||
	    memcmp(key, zero, AUTHCACHE_KEY) == 0)
		return;
	e = slot(c, key);
	pthread_mutex_lock(&c->lock);
	memcpy(e->key, key, AUTHCACHE_KEY);
	memcpy(e->user, user, n + 1);
	e->until = until;
	pthread_mutex_unlock(&c->lock);
}
