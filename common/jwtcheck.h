/*
 * jwtcheck: the verification of a bearer JWT (a compact JWS), for auth. The
 * keys: POLLHUB_JWT_KEYS' PEM public keys (RS256 for an RSA key, ES256 for
 * an EC P-256 key, several for rotation) and POLLHUB_JWT_SECRET_FILE's HS256
 * secret. The algorithm is the key's, never the token header's choice: the
 * header is read here first, and libjwt 1.10 (which would take the header's
 * word, and HMAC with a PEM public key given as the secret) is only asked
 * to verify with keys of the kind the accepted algorithm needs. Then the
 * claims: exp (required) and nbf with the leeway, iss and aud when
 * configured, the user claim.
 *
 * Read-only after jwtcheck_new: any thread may verify.
 */
#ifndef POLLHUB_JWTCHECK_H
#define POLLHUB_JWTCHECK_H

#include <stddef.h>

#define JWTCHECK_USER_SIZE	1025	/* as AUTH_USER_SIZE */

struct jwtcheck_policy {
	long		 leeway;	/* seconds of clock skew allowed for exp and nbf */
	const char	*issuer;	/* NULL: iss not checked */
	const char	*audience;	/* NULL: aud not checked */
	const char	*user_claim;	/* the claim that names the user */
	/* 1 if s[0..len) is a user name (len < JWTCHECK_USER_SIZE); the
	 * rule is the caller's. */
	int		(*user_valid)(const char *s, size_t len);
};

struct jwtcheck;

/* Load the keys: keys_path (PEM public keys) and secret_path (the HS256
 * secret: the file's bytes less a final newline, at least 32), either NULL
 * but not both. The policy is copied. 0 and *out, or -1 with err naming the
 * variable and what is wrong (an unreadable file, a block that is not a
 * public key, an RSA key under 2048 bits, an EC key not on P-256, a short
 * secret). */
int	jwtcheck_new(struct jwtcheck **out, const char *keys_path, const char *secret_path,
	    const struct jwtcheck_policy *policy, char *err, size_t errlen);
void	jwtcheck_free(struct jwtcheck *);

/* Verify token (NUL-terminated, at most a few KiB). 0 with the user
 * (JWTCHECK_USER_SIZE bytes) and *until, the last second its verdict holds
 * (exp plus the leeway); or -1 with why, which names what failed ("the token
 * expired 42 s ago", "alg none is refused") and never holds the token's
 * bytes. */
int	jwtcheck_verify(const struct jwtcheck *, const char *token, char *user,
	    long long *until, char *why, size_t whylen);

#endif
