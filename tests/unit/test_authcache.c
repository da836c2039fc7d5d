/* Unit tests for common/authcache.h. */
#include <time.h>

#include "authcache.h"
#include "unit.h"

static void
test_cache(void)
{
	struct authcache *c = authcache_new();
	unsigned char key[AUTHCACHE_KEY], other[AUTHCACHE_KEY];
	char user[AUTHCACHE_USER_SIZE], long_user[AUTHCACHE_USER_SIZE + 1];
	long long now = (long long)time(NULL);
	int slot_mates = 0;

	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_INTEQ(authcache_get(c, "tok-a", 5, key, user), 0);
	authcache_put(c, key, "alice", now + 60);
	strcpy(user, "?");
	CHECK_INTEQ(authcache_get(c, "tok-a", 5, key, user), 1);
	CHECK_STREQ(user, "alice");
	/* Another token, another key; the length counts. */
	CHECK_INTEQ(authcache_get(c, "tok-b", 5, other, user), 0);
	CHECK(memcmp(key, other, AUTHCACHE_KEY) != 0);
	CHECK_INTEQ(authcache_get(c, "tok-a", 4, other, user), 0);
	/* A verdict past its end is not one. */
	authcache_put(c, other, "bob", now - 1);
	CHECK_INTEQ(authcache_get(c, "tok-a", 4, other, user), 0);
	/* A newer token takes the slot: the older is verified again. */
	for (int i = 0; i < 20000 && slot_mates == 0; i++) {
		char t[32];
		unsigned char k[AUTHCACHE_KEY];

		snprintf(t, sizeof(t), "tok-%d", i);
		authcache_get(c, t, strlen(t), k, user);
		if (k[0] == key[0] && (k[1] & 3) == (key[1] & 3) && memcmp(k, key, 32) != 0) {
			authcache_put(c, k, "carol", now + 60);
			slot_mates = 1;
		}
	}
	CHECK_INTEQ(slot_mates, 1);
	CHECK_INTEQ(authcache_get(c, "tok-a", 5, key, user), 0);
	/* A user too long for a slot is not remembered. */
	memset(long_user, 'x', AUTHCACHE_USER_SIZE);
	long_user[AUTHCACHE_USER_SIZE] = '\0';
	authcache_put(c, key, long_user, now + 60);
	CHECK_INTEQ(authcache_get(c, "tok-a", 5, key, user), 0);
	authcache_free(c);
	/* Without a cache: never a hit, still the key. */
	CHECK_INTEQ(authcache_get(NULL, "tok-a", 5, other, user), 0);
	CHECK(memcmp(key, other, AUTHCACHE_KEY) == 0);
	authcache_put(NULL, key, "alice", now + 60);
	authcache_free(NULL);
}

int
main(void)
{
	test_cache();
	return unit_done();
}
