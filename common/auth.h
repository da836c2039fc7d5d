/*
 * auth: who a request comes from (POLLHUB_AUTH): nobody in particular
 * (none), the web server's authenticated user (web-server: REMOTE_USER), or
 * the subject of a bearer JWT (jwt), verified with libjwt against keys the
 * operator configures. Also the client's address behind trusted proxies.
 *
 * Loaded once at start-up from the environment; read-only afterwards, so
 * any thread may use it. Tokens never reach a log line: verdicts carry a
 * reason that names what failed, never the token's bytes.
 */
#ifndef POLLHUB_AUTH_H
#define POLLHUB_AUTH_H

#include <stddef.h>

#include "pherr.h"

enum auth_mode { AUTH_NONE, AUTH_WEB_SERVER, AUTH_JWT };

/* A user name: 1 to 256 characters of UTF-8 without controls (as a group's). */
#define AUTH_USER_SIZE	1025

struct auth;

/* Read POLLHUB_AUTH (none, web-server, jwt; default none), POLLHUB_JWT_KEYS,
 * POLLHUB_JWT_SECRET_FILE, POLLHUB_JWT_LEEWAY (seconds, default 60),
 * POLLHUB_JWT_ISSUER, POLLHUB_JWT_AUDIENCE, POLLHUB_JWT_USER_CLAIM (default
 * "sub") and POLLHUB_TRUSTED_PROXIES (addresses or CIDRs, IPv4 or IPv6,
 * separated by commas or spaces). PH_OK and *out; or PH_INVALID with err
 * saying which variable is wrong and why (jwt without any key, an unreadable
 * key file, a key that is neither RSA nor EC P-256, ...). */
enum ph_err	auth_load(struct auth **out, char *err, size_t errlen);
void		auth_free(struct auth *);
enum auth_mode	auth_mode(const struct auth *);
/* "none", "web-server" or "jwt". */
const char	*auth_mode_name(enum auth_mode);

/* What a request offers as identity (borrowed strings, "" or NULL when
 * absent). query_token: the access_token query parameter may carry the
 * bearer token (server-sent events, whose EventSource sends no headers, and
 * classic clients' qs); otherwise only the Authorization header counts. */
struct auth_request {
	const char	*remote_user;	/* REMOTE_USER */
	const char	*authorization;	/* the Authorization header */
	const char	*query;		/* the query string */
	size_t		 query_len;
	int		 query_token;
};

struct auth_verdict {
	char		 user[AUTH_USER_SIZE];	/* "" in mode none */
	/* On PH_UNAUTHORIZED, RFC 6750's error code for WWW-Authenticate:
	 * NULL when no token was offered at all, "invalid_request" for a
	 * malformed header, "invalid_token" for one that did not verify or
	 * has expired. A static string. */
	const char	*error;
	/* Why, for the log and error_description: names what failed ("expired
	 * 42 s ago", "signature does not verify with any configured key",
	 * "alg none is refused", "no REMOTE_USER: is the web server's
	 * authentication in front of the hub?"), never a token's bytes. */
	char		 why[200];
};

/* The identity of a request: PH_OK with v->user set (to "" in mode none), or
 * PH_UNAUTHORIZED with v->error and v->why. In mode jwt the token is
 * verified against the configured keys: the algorithm is the key's (RS256
 * for an RSA key, ES256 for an EC P-256 key, HS256 for the secret), never
 * the token header's choice: alg none, or a header naming an algorithm no
 * configured key has, is refused. exp is required; exp and nbf are checked
 * with the leeway; iss and aud when configured (aud may be a string or an
 * array); the user is the configured claim, which must be a string that is
 * a valid user name. Thread-safe. */
enum ph_err	auth_identify(const struct auth *, const struct auth_request *,
		    struct auth_verdict *);

/* Pure, for the router and the fuzzer: the bearer token offered: the
 * Authorization header's "Bearer <token>" (the scheme case-insensitive, one
 * or more spaces), else, when query_token, the access_token query parameter
 * (percent-decoded). PH_OK with the token in out; PH_NOT_FOUND when neither
 * is there (or the header has another scheme, e.g. Basic); PH_INVALID when
 * the header says Bearer with nothing usable after it, or the token does not
 * fit outlen or has bytes no JWT has (anything but [A-Za-z0-9._~+/=-]). */
enum ph_err	auth_bearer(const char *authorization, const char *query, size_t query_len,
		    int query_token, char *out, size_t outlen);

/* The client's address: remote_addr itself, unless remote_addr is one of
 * POLLHUB_TRUSTED_PROXIES: then the right-most address of xff (the
 * X-Forwarded-For header, "a, b, c") that is not itself a trusted proxy (a
 * malformed entry stops the walk: the last good address is kept). Always
 * NUL-terminates out. */
void		auth_client_addr(const struct auth *, const char *remote_addr, const char *xff,
		    char *out, size_t outlen);

#endif
