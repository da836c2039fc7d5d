#include "auth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "authcache.h"
#include "config.h"
#include "jwtcheck.h"
#include "netaddr.h"
#include "query.h"
#include "utf8.h"

#define USER_MAX	256		/* characters of a user name (AUTH_USER_SIZE) */
#define TOKEN_MAX	8192		/* bytes of a bearer token */
#define CLAIM_NAME_MAX	100

_Static_assert(AUTH_USER_SIZE == AUTHCACHE_USER_SIZE && AUTH_USER_SIZE == JWTCHECK_USER_SIZE,
    "one size of a user name");

struct auth {
	enum auth_mode		 mode;
	struct jwtcheck		*jwt;		/* keys and claims; NULL outside jwt */
	/* Verified tokens: libjwt parses a PEM key on every verification
	 * (about 0.5 ms with OpenSSL 3), a cache hit costs about 2 us. */
	struct authcache	*cache;
	struct netaddr_net	*proxies;
	size_t			 nproxies;
};

const char *
auth_mode_name(enum auth_mode m)
{
	switch (m) {
	case AUTH_NONE:
		return "none";
	case AUTH_WEB_SERVER:
		return "web-server";
	case AUTH_JWT:
		return "jwt";
	}
	return "?";
}

enum auth_mode
auth_mode(const struct auth *a)
{
	return a->mode;
}

/* 1 if s[0..len) is a user name: the rule of group names. */
static int
user_valid(const char *s, size_t len)
{
	return utf8_name_valid(s, len, USER_MAX);
}

/* --- Configuration ------------------------------------------------------ */

/* The variable's value, or NULL when it is unset or empty. */
static const char *
env_set(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
claim_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CLAIM_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

static int
jwt_load(struct auth *a, char *err, size_t errlen)
{
	const char *keys = env_set("POLLHUB_JWT_KEYS");
	const char *secret = env_set("POLLHUB_JWT_SECRET_FILE");
	struct jwtcheck_policy policy = {
		.issuer = env_set("POLLHUB_JWT_ISSUER"),
		.audience = env_set("POLLHUB_JWT_AUDIENCE"),
		.user_claim = env_set("POLLHUB_JWT_USER_CLAIM"),
		.user_valid = user_valid,
	};

	if (keys == NULL && secret == NULL) {
		snprintf(err, errlen, "POLLHUB_AUTH=jwt needs a key: POLLHUB_JWT_KEYS (a file of"
		    " PEM public keys, RS256 or ES256) or POLLHUB_JWT_SECRET_FILE (HS256)");
		return -1;
	}
	if (config_env_long("POLLHUB_JWT_LEEWAY", 60, 0, 3600, &policy.leeway, err, errlen) == -1)
		return -1;
	if (policy.user_claim == NULL)
		policy.user_claim = "sub";
	if (!claim_name_valid(policy.user_claim)) {
		snprintf(err, errlen, "POLLHUB_JWT_USER_CLAIM must be a claim's name (1 to %d"
		    " printable ASCII characters, no quotes), not '%.100s'", CLAIM_NAME_MAX,
		    policy.user_claim);
		return -1;
	}
	if (jwtcheck_new(&a->jwt, keys, secret, &policy, err, errlen) == -1)
		return -1;
	if ((a->cache = authcache_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

enum ph_err
auth_load(struct auth **out, char *err, size_t errlen)
{
	const char *mode = env_set("POLLHUB_AUTH");
	const char *proxies = getenv("POLLHUB_TRUSTED_PROXIES");
	char why[200];
	struct auth *a;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return PH_NOMEM;
	}
	if (mode == NULL || strcmp(mode, "none") == 0) {
		a->mode = AUTH_NONE;
	} else if (strcmp(mode, "web-server") == 0) {
		a->mode = AUTH_WEB_SERVER;
	} else if (strcmp(mode, "jwt") == 0) {
		a->mode = AUTH_JWT;
	} else {
		snprintf(err, errlen, "POLLHUB_AUTH must be none, web-server or jwt, not '%.100s'",
		    mode);
		goto fail;
	}
	/* Keys without jwt: the operator believes tokens are checked. */
	if (a->mode != AUTH_JWT && (env_set("POLLHUB_JWT_KEYS") != NULL ||
	    env_set("POLLHUB_JWT_SECRET_FILE") != NULL)) {
		snprintf(err, errlen, "POLLHUB_JWT_KEYS or POLLHUB_JWT_SECRET_FILE is set but"
		    " POLLHUB_AUTH is '%s': set POLLHUB_AUTH=jwt, or unset them",
		    auth_mode_name(a->mode));
		goto fail;
	}
	if (a->mode == AUTH_JWT && jwt_load(a, err, errlen) == -1)
		goto fail;
	if (netaddr_parse_nets(proxies != NULL ? proxies : "", &a->proxies, &a->nproxies,
	    why, sizeof(why)) == -1) {
		snprintf(err, errlen, "POLLHUB_TRUSTED_PROXIES: %s", why);
		goto fail;
	}
	*out = a;
	return PH_OK;
fail:
	auth_free(a);
	return PH_INVALID;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	jwtcheck_free(a->jwt);
	authcache_free(a->cache);
	free(a->proxies);
	free(a);
}

/* --- The bearer token ---------------------------------------------------- */

/* 1 if s[0..n) is non-empty and has only bytes a bearer token may have
 * (RFC 6750's b64token; a JWT needs fewer). */
static int
token_bytes_valid(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("._~+/=-", c) != NULL) || c == '\0')
			return 0;
	}
	return 1;
}

enum ph_err
auth_bearer(const char *authorization, const char *query, size_t query_len, int query_token,
    char *out, size_t outlen)
{
	const char *p = authorization, *end;

	if (outlen == 0)
		return PH_INVALID;
	out[0] = '\0';
	if (p != NULL) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "Bearer", 6) == 0 &&
		    (p[6] == '\0' || p[6] == ' ' || p[6] == '\t')) {
			for (p += 6; *p == ' ' || *p == '\t'; p++)
				;
			for (end = p + strlen(p); end > p && (end[-1] == ' ' || end[-1] == '\t'); end--)
				;
			if (!token_bytes_valid(p, (size_t)(end - p)) || (size_t)(end - p) >= outlen)
				return PH_INVALID;
			memcpy(out, p, (size_t)(end - p));
			out[end - p] = '\0';
			return PH_OK;
		}
	}
	if (query_token && query != NULL) {
		switch (query_get(query, query_len, "access_token", out, outlen)) {
		case 0:
			break;
		case 1:
			if (token_bytes_valid(out, strlen(out)))
				return PH_OK;
			/* FALLTHROUGH */
		default:
			out[0] = '\0';
			return PH_INVALID;
		}
	}
	return PH_NOT_FOUND;
}

/* --- Verification --------------------------------------------------------- */

static enum ph_err
refuse(struct auth_verdict *v, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ph_err
refuse(struct auth_verdict *v, const char *error, const char *fmt, ...)
{
	va_list ap;

	v->user[0] = '\0';
	v->error = error;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return PH_UNAUTHORIZED;
}

static enum ph_err
identify_jwt(const struct auth *a, const struct auth_request *r, struct auth_verdict *v)
{
	char token[TOKEN_MAX + 1];
	unsigned char key[AUTHCACHE_KEY];
	long long until;
	enum ph_err e;

	e = auth_bearer(r->authorization, r->query, r->query_len, r->query_token, token,
	    sizeof(token));
	if (e == PH_NOT_FOUND)
		return refuse(v, NULL, r->query_token ? "no bearer token (neither an"
		    " Authorization: Bearer header nor access_token)" :
		    "no Authorization: Bearer header");
	if (e != PH_OK)
		return refuse(v, "invalid_request", "the bearer token is malformed or longer"
		    " than %d bytes", TOKEN_MAX);
	e = PH_OK;
	if (!authcache_get(a->cache, token, strlen(token), key, v->user)) {
		if (jwtcheck_verify(a->jwt, token, v->user, &until, v->why, sizeof(v->why)) == 0)
			authcache_put(a->cache, key, v->user, until);
		else
			e = PH_UNAUTHORIZED, v->error = "invalid_token";
	}
	OPENSSL_cleanse(token, sizeof(token));
	return e;
}

enum ph_err
auth_identify(const struct auth *a, const struct auth_request *r, struct auth_verdict *v)
{
	const char *u = r->remote_user;
	size_t n;

	v->user[0] = '\0';
	v->error = NULL;
	v->why[0] = '\0';
	switch (a->mode) {
	case AUTH_NONE:
		return PH_OK;
	case AUTH_JWT:
		return identify_jwt(a, r, v);
	case AUTH_WEB_SERVER:
		break;
	}
	if (u == NULL || *u == '\0')
		return refuse(v, NULL, "no REMOTE_USER: is the web server's authentication in"
		    " front of the hub?");
	if (!user_valid(u, n = strlen(u)))
		return refuse(v, NULL, "REMOTE_USER is not a user name (1 to %d characters of"
		    " UTF-8, no controls)", USER_MAX);
	memcpy(v->user, u, n + 1);
	return PH_OK;
}

/* --- The client's address ------------------------------------------------ */

void
auth_client_addr(const struct auth *a, const char *remote_addr, const char *xff, char *out,
    size_t outlen)
{
	struct netaddr peer;
	const char *start, *end, *s, *e;

	if (outlen == 0)
		return;
	snprintf(out, outlen, "%s", remote_addr != NULL ? remote_addr : "");
	if (a->nproxies == 0 || remote_addr == NULL || xff == NULL ||
	    netaddr_parse(remote_addr, strlen(remote_addr), &peer) == -1 ||
	    !netaddr_in_nets(&peer, a->proxies, a->nproxies))
		return;
	/* Right to left: each trusted hop vouches for the one before it. */
	for (end = xff + strlen(xff);; end = start - 1) {
		for (start = end; start > xff && start[-1] != ','; start--)
			;
		for (s = start; s < end && (*s == ' ' || *s == '\t'); s++)
			;
		for (e = end; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (netaddr_parse(s, (size_t)(e - s), &peer) == -1)
			return;
		netaddr_format(&peer, out, outlen);
		if (!netaddr_in_nets(&peer, a->proxies, a->nproxies) || start == xff)
			return;
	}
}
