/*
 * Fuzz the routing decision and the Origin check. The input is up to nine
 * LF-separated fields: method, path, query, Accept, Origin, Host, a
 * POLLHUB_ALLOWED_ORIGINS value (parsed as the operator's would be),
 * Sec-Fetch-Site and Referer; the first byte's low bit says whether the
 * request came over TLS. Asserts what
 * each route promises (the right method, a well-formed token that is the
 * query's id, 403 exactly for state changes from a refused origin, the same
 * answer whatever the buffer size), that the Origin verdict agrees with its
 * definition, and that every parsed allowed origin is in canonical form and
 * allowed.
 */
#include <string.h>
#include <strings.h>

#include "classicproto.h"
#include "config.h"
#include "fuzz.h"
#include "http.h"
#include "ids.h"
#include "query.h"
#include "router.h"

enum { F_METHOD, F_PATH, F_QUERY, F_ACCEPT, F_ORIGIN, F_HOST, F_ALLOWED, F_FETCH_SITE, F_REFERER,
	F_COUNT };

static int
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum route
route_with(char *const *f, enum http_origin origin, char *token, size_t tokenlen)
{
	return router_route(f[F_METHOD], f[F_PATH], f[F_QUERY], strlen(f[F_QUERY]), f[F_ACCEPT],
	    origin, token, tokenlen);
}

static void
check_route(char *const *f, enum http_origin origin)
{
	const char *m = f[F_METHOD];
	char token[64], *exact = malloc(ID_LEN + 1), *id = malloc(strlen(f[F_QUERY]) + 1);
	enum route r = route_with(f, origin, token, sizeof(token)), r2;
	int found;

	REQUIRE(id != NULL && exact != NULL);
	REQUIRE(r >= ROUTE_NEGOTIATE && r <= ROUTE_UNKNOWN_ID);
	REQUIRE((r == ROUTE_PREFLIGHT) == is(m, "OPTIONS"));
	/* A refused origin may change nothing: no method but GET, HEAD and OPTIONS,
	 * and no classic request at all (JSONP acts with GETs). */
	REQUIRE((r == ROUTE_FORBIDDEN) == (origin == HTTP_ORIGIN_REFUSED && !is(m, "OPTIONS") &&
	    ((!is(m, "GET") && !is(m, "HEAD")) ||
	    route_with(f, HTTP_ORIGIN_NONE, exact, ID_LEN + 1) == ROUTE_CLASSIC)));
	if (r == ROUTE_NEGOTIATE)
		REQUIRE(is(m, "POST") && ends_with(f[F_PATH], "/negotiate"));
	found = query_get(f[F_QUERY], strlen(f[F_QUERY]), "id", id, strlen(f[F_QUERY]) + 1);
	switch (r) {
	case ROUTE_STREAM:
	case ROUTE_POLL:
	case ROUTE_SEND:
	case ROUTE_DELETE:
		REQUIRE(!ends_with(f[F_PATH], "/negotiate"));
		REQUIRE(strlen(token) == ID_LEN && id_is_wellformed(token, ID_LEN));
		REQUIRE(found == 1 && is(token, id));
		REQUIRE(r != ROUTE_STREAM || (is(m, "GET") && strstr(f[F_ACCEPT], "text/event-stream")));
		REQUIRE(r != ROUTE_POLL || (is(m, "GET") && !strstr(f[F_ACCEPT], "text/event-stream")));
		REQUIRE(r != ROUTE_SEND || is(m, "POST"));
		REQUIRE(r != ROUTE_DELETE || is(m, "DELETE"));
		break;
	case ROUTE_NO_ID:
		REQUIRE(found == 0 || (found == 1 && id[0] == '\0'));
		break;
	case ROUTE_UNKNOWN_ID:
		REQUIRE(found == -1 || (found == 1 && id[0] != '\0' &&
		    !id_is_wellformed(id, strlen(id))));
		break;
	case ROUTE_CLASSIC:
		/* GET negotiate with clientProtocol, or GET/POST on a classic endpoint. */
		REQUIRE(is(m, "GET") || is(m, "POST"));
		REQUIRE(ends_with(f[F_PATH], "/negotiate") ? is(m, "GET") :
		    classic_verb(f[F_PATH], strlen(f[F_PATH])) != CLASSIC_NONE);
		break;
	case ROUTE_NOT_ALLOWED:
		REQUIRE(!is(m, "OPTIONS"));
		REQUIRE(ends_with(f[F_PATH], "/negotiate") ? !is(m, "POST") :
		    !is(m, "GET") && !is(m, "POST") && !is(m, "DELETE"));
		break;
	default:
		break;
	}
	/* A buffer just big enough for a token decides the same (ASan: no overrun). */
	r2 = route_with(f, origin, exact, ID_LEN + 1);
	REQUIRE(r2 == r);
	if (r == ROUTE_STREAM || r == ROUTE_POLL || r == ROUTE_SEND || r == ROUTE_DELETE)
		REQUIRE(is(exact, token));
	free(exact);
	free(id);
}

/* The Origin verdict against its definition (http.h). */
static void
check_origin(const char *origin, const char *host, int https, char *const *allowed,
    enum http_origin v)
{
	int listed = 0;

	for (char *const *p = allowed; p != NULL && *p != NULL; p++)
		listed |= is(origin, *p);
	REQUIRE((v == HTTP_ORIGIN_NONE) == (origin[0] == '\0'));
	REQUIRE((v == HTTP_ORIGIN_ALLOWED) == (origin[0] != '\0' && listed));
	if (v == HTTP_ORIGIN_SAME) {
		int tls = strncmp(origin, "https://", 8) == 0;
		const char *auth = origin + (tls ? 8 : 7);
		const char *def = tls ? ":443" : ":80";
		size_t a = strlen(auth), h = strlen(host), d = strlen(def);

		REQUIRE(tls || strncmp(origin, "http://", 7) == 0);
		REQUIRE(tls || !https);
		REQUIRE(a > 0 && strcspn(auth, "/?#@\\") == a);
		if (a > d && is(auth + a - d, def))
			a -= d;
		if (h > d && is(host + h - d, def))
			h -= d;
		REQUIRE(a == h && strncasecmp(auth, host, a) == 0);
	}
	if (is(origin, "null") && !listed)
		REQUIRE(v == HTTP_ORIGIN_REFUSED);
}

/* The verdict on a request: its Origin's, else its Referer's when the browser
 * says it comes from another site, else none. */
static void
check_request_origin(char *const *f, int https, char *const *allowed)
{
	const char *site = f[F_FETCH_SITE], *ref = f[F_REFERER];
	enum http_origin v = http_request_origin(f[F_ORIGIN], site, ref, f[F_HOST], https, allowed);

	if (f[F_ORIGIN][0] != '\0') {
		REQUIRE(v == http_origin_check(f[F_ORIGIN], f[F_HOST], https, allowed));
	} else if (!is(site, "cross-site") && !is(site, "same-site")) {
		REQUIRE(v == HTTP_ORIGIN_NONE);
	} else {
		REQUIRE(v != HTTP_ORIGIN_NONE);
		if (v != HTTP_ORIGIN_REFUSED) {
			size_t skip = strncmp(ref, "https://", 8) == 0 ? 8 : 7;
			size_t n = skip + strcspn(ref + skip, "/?#");
			char *from = malloc(n + 1);

			REQUIRE(strncmp(ref, "http://", 7) == 0 || skip == 8);
			REQUIRE(from != NULL);
			memcpy(from, ref, n);
			from[n] = '\0';
			REQUIRE(http_origin_check(from, f[F_HOST], https, allowed) == v);
			free(from);
		}
	}
}

/* Parsed allowed origins are canonical (what browsers send) and allowed. */
static void
check_allowed(char *const *allowed)
{
	for (char *const *p = allowed; *p != NULL; p++) {
		const char *o = *p;
		int tls = strncmp(o, "https://", 8) == 0;
		size_t n = strlen(o);

		REQUIRE(tls || strncmp(o, "http://", 7) == 0);
		REQUIRE(n > (size_t)(tls ? 8 : 7) && n < 300);
		REQUIRE(strcspn(o + (tls ? 8 : 7), "/?#@ \t\r\n,*") == n - (tls ? 8 : 7));
		for (size_t i = 0; i < n; i++)
			REQUIRE(o[i] < 'A' || o[i] > 'Z');
		REQUIRE(!ends_with(o, tls ? ":443" : ":80"));
		REQUIRE(http_origin_check(o, "", 0, allowed) == HTTP_ORIGIN_ALLOWED);
		REQUIRE(http_origin_check(o, "", 1, allowed) == HTTP_ORIGIN_ALLOWED);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *f[F_COUNT], **allowed = NULL, err[400];
	enum http_origin v;
	enum route first;
	int https;
	size_t i, k;

	if (size == 0)
		return 0;
	https = data[0] & 1;
	/* FastCGI parameters end at their first NUL. */
	size = strnlen((const char *)data + 1, size - 1);
	REQUIRE((copy = malloc(size + 1)) != NULL);
	memcpy(copy, data + 1, size);
	copy[size] = '\0';
	for (i = 0, k = 0; k < F_COUNT; k++) {
		f[k] = copy + i;
		while (copy[i] != '\0' && (copy[i] != '\n' || k == F_COUNT - 1))
			i++;
		if (copy[i] == '\n')
			copy[i++] = '\0';
	}

	if (config_parse_origins(f[F_ALLOWED], &allowed, err, sizeof(err)) == 0) {
		REQUIRE(allowed != NULL);
		check_allowed(allowed);
	} else {
		REQUIRE(allowed == NULL && strstr(err, "POLLHUB_ALLOWED_ORIGINS") != NULL);
	}
	v = http_origin_check(f[F_ORIGIN], f[F_HOST], https, allowed);
	REQUIRE(v == http_origin_check(f[F_ORIGIN], f[F_HOST], https, allowed));
	check_origin(f[F_ORIGIN], f[F_HOST], https, allowed, v);
	check_request_origin(f, https, allowed);

	/* Every verdict: routes differ only where the origin must matter. */
	for (int o = HTTP_ORIGIN_NONE; o <= HTTP_ORIGIN_REFUSED; o++)
		check_route(f, (enum http_origin)o);
	first = route_with(f, HTTP_ORIGIN_NONE, err, sizeof(err));
	REQUIRE(route_with(f, HTTP_ORIGIN_SAME, err, sizeof(err)) == first);
	REQUIRE(route_with(f, HTTP_ORIGIN_ALLOWED, err, sizeof(err)) == first);
	{
		enum route refused = route_with(f, HTTP_ORIGIN_REFUSED, err, sizeof(err));
		REQUIRE(refused == first || refused == ROUTE_FORBIDDEN);
	}
	config_free_origins(allowed);
	free(copy);
	return 0;
}
