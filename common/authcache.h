/*
 * authcache: bearer tokens verified recently, so that a client's polls and
 * sends do not each pay a signature verification (libjwt parses the PEM key
 * on every call: tens of microseconds for RS256 and ES256; see auth.c).
 *
 * A token is known by its SHA-256 only: neither the token nor anything that
 * would let one rebuild it is kept. An entry holds the user the token named
 * and the time its verdict stops holding (exp plus the leeway); past it the
 * entry is ignored. Fixed size (AUTHCACHE_ENTRIES slots, direct-mapped: a
 * newer token takes the slot of an older one), one lock, any thread.
 */
#ifndef POLLHUB_AUTHCACHE_H
#define POLLHUB_AUTHCACHE_H

#include <stddef.h>

#define AUTHCACHE_ENTRIES	1024
#define AUTHCACHE_KEY		32	/* bytes of SHA-256 */
#define AUTHCACHE_USER_SIZE	1025	/* as AUTH_USER_SIZE */

struct authcache;

/* NULL when out of memory. */
struct authcache	*authcache_new(void);
void			 authcache_free(struct authcache *);

/* Hash token[0..n) into key (for authcache_put after a verification). 1 with
 * user (AUTHCACHE_USER_SIZE bytes) when a verdict for it holds now; else 0,
 * as always with a NULL cache. */
int	authcache_get(struct authcache *, const char *token, size_t n,
	    unsigned char key[AUTHCACHE_KEY], char *user);
/* Remember that the token of key names user until until (seconds since the
 * epoch). A user too long for an entry is not remembered. */
void	authcache_put(struct authcache *, const unsigned char key[AUTHCACHE_KEY],
	    const char *user, long long until);

#endif
