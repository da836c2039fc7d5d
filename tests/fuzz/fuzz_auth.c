/*
 * Fuzz the bearer token's way in: auth_bearer (the Authorization header and
 * the access_token query parameter) and auth_identify in jwt mode, with keys
 * made once per run.
 *
 * The first byte picks what the rest is:
 *   0: an Authorization header, verified against RSA and EC public keys
 *      whose private halves are gone: nothing may ever verify;
 *   1: a query string (explicit length) with access_token allowed, the same;
 *   2: a header and a payload (JSON texts, split at the first 0xff byte)
 *      signed HS256 with the configured secret, so that the header and
 *      claims checks see tokens that verify;
 *   3: a payload under {"alg":"HS256"}, signed likewise.
 * Properties: auth_bearer's answer does not depend on the buffer's size
 * beyond the fit, and what it returns is a token's bytes; a refusal carries
 * RFC 6750's error and a printable why (it ends up in a response header)
 * that holds none of the token; an identity is a valid user name.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth.h"
#include "fuzz.h"
#include "ids.h"
#include "utf8.h"

#define SECRET	"fuzz-secret-fuzz-secret-fuzz-secret-0123456789"
#define MAXTOK	8200

static struct auth *by_keys, *by_secret;

static void
write_file(const char *path, EVP_PKEY *k1, EVP_PKEY *k2, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	if (text != NULL)
		REQUIRE(fputs(text, f) >= 0);
	else
		REQUIRE(PEM_write_PUBKEY(f, k1) == 1 && PEM_write_PUBKEY(f, k2) == 1);
	fclose(f);
}

static struct auth *
load(const char *var, const char *path)
{
	char err[300];
	struct auth *a = NULL;

	unsetenv("POLLHUB_JWT_KEYS");
	unsetenv("POLLHUB_JWT_SECRET_FILE");
	setenv("POLLHUB_AUTH", "jwt", 1);
	setenv(var, path, 1);
	setenv("POLLHUB_JWT_AUDIENCE", "pollhub", 1);
	if (auth_load(&a, err, sizeof(err)) != PH_OK) {
		fprintf(stderr, "fuzz_auth: %s\n", err);
		abort();
	}
	return a;
}

/* Keys are made once; their files are gone as soon as they are read. */
static void
init(void)
{
	char dir[] = "/tmp/pollhub-fuzz-auth.XXXXXX", keys[64], secret[64];
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("prime256v1");

	REQUIRE(rsa != NULL && ec != NULL && mkdtemp(dir) != NULL);
	snprintf(keys, sizeof(keys), "%s/keys.pem", dir);
	snprintf(secret, sizeof(secret), "%s/secret", dir);
	write_file(keys, rsa, ec, NULL);
	write_file(secret, NULL, NULL, SECRET "\n");
	by_keys = load("POLLHUB_JWT_KEYS", keys);
	by_secret = load("POLLHUB_JWT_SECRET_FILE", secret);
	unlink(keys);
	unlink(secret);
	rmdir(dir);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static int
token_byte(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("._~+/=-", c) != NULL);
}

/* auth_bearer into an exact-size heap buffer and into a large one: they agree. */
static void
check_bearer(const char *authorization, const char *query, size_t qlen, int query_token,
    size_t outlen)
{
	char *small = malloc(outlen), big[MAXTOK + 1];
	enum ph_err es, eb;

	REQUIRE(small != NULL);
	es = auth_bearer(authorization, query, qlen, query_token, small, outlen);
	eb = auth_bearer(authorization, query, qlen, query_token, big, sizeof(big));
	REQUIRE(eb == PH_OK || eb == PH_NOT_FOUND || eb == PH_INVALID);
	REQUIRE(es == eb || (eb == PH_OK && es == PH_INVALID && strlen(big) >= outlen));
	if (eb == PH_OK) {
		size_t n = strlen(big);
		REQUIRE(n >= 1);
		for (size_t i = 0; i < n; i++)
			REQUIRE(token_byte(big[i]));
		if (es == PH_OK)
			REQUIRE(strcmp(small, big) == 0);
	} else {
		REQUIRE(big[0] == '\0');
	}
	if (es != PH_OK)
		REQUIRE(small[0] == '\0');
	free(small);
}

/* The verdict's shape; tok (may be NULL) must not show in the why. */
static void
check_verdict(enum ph_err e, const struct auth_verdict *v, const char *tok)
{
	size_t n = strlen(v->user), w = strnlen(v->why, sizeof(v->why));
	const char *p;

	REQUIRE(w < sizeof(v->why));
	if (e == PH_OK) {
		REQUIRE(v->error == NULL);
		REQUIRE(n >= 1 && n < AUTH_USER_SIZE && utf8_valid(v->user, n));
		REQUIRE(utf8_count(v->user, n) <= 256);
		return;
	}
	REQUIRE(e == PH_UNAUTHORIZED);
	REQUIRE(n == 0);
	REQUIRE(v->error == NULL || strcmp(v->error, "invalid_request") == 0 ||
	    strcmp(v->error, "invalid_token") == 0);
	REQUIRE(w > 0);
	for (size_t i = 0; i < w; i++)
		REQUIRE(v->why[i] >= 0x20 && v->why[i] < 0x7f);
	/* No 24 bytes of any part: the why's words are shorter and spaced. */
	for (p = tok; p != NULL && *p != '\0'; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
		char part[25];

		snprintf(part, sizeof(part), "%.*s", (int)strcspn(p, "."), p);
		if (strlen(part) == 24)
			REQUIRE(strstr(v->why, part) == NULL);
	}
}

static void
identify(const struct auth *a, const struct auth_request *r, const char *tok, int may_verify)
{
	struct auth_verdict v;
	enum ph_err e;

	memset(&v, 0x5a, sizeof(v));
	e = auth_identify(a, r, &v);
	check_verdict(e, &v, tok);
	if (!may_verify)
		REQUIRE(e != PH_OK);
}

/* header.payload signed HS256 with the secret, as the Authorization header. */
static void
signed_token(const char *header, size_t hlen, const char *payload, size_t plen)
{
	static char tok[3 * MAXTOK], auth[3 * MAXTOK + 8];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct auth_request r = { NULL, auth, NULL, 0, 0 };
	size_t n;

	n = base64url_encode((const unsigned char *)header, hlen, tok);
	tok[n++] = '.';
	n += base64url_encode((const unsigned char *)payload, plen, tok + n);
	REQUIRE(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok, n,
	    mac, &maclen) != NULL);
	tok[n++] = '.';
	base64url_encode(mac, maclen, tok + n);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	identify(by_secret, &r, tok, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *rest = (const char *)data + 1, *cut, *tok;
	static char tokbuf[MAXTOK + 1];
	size_t len = size - 1, outlen;
	char *text;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 2 || size > MAXTOK)
		return 0;
	outlen = 1 + (size_t)data[1] % 64;
	if ((text = malloc(len + 1)) == NULL)
		return 0;
	memcpy(text, rest, len);
	text[len] = '\0';
	switch (data[0] % 4) {
	case 0: {
		struct auth_request r = { NULL, text, NULL, 0, 0 };

		check_bearer(text, NULL, 0, 0, outlen);
		check_bearer(text, "access_token=abc", 16, 1, outlen);
		tok = auth_bearer(text, NULL, 0, 0, tokbuf, sizeof(tokbuf)) == PH_OK ? tokbuf : NULL;
		identify(by_keys, &r, tok, 0);
		identify(by_secret, &r, tok, 1);
		break;
	}
	case 1: {
		struct auth_request r = { NULL, NULL, rest, len, 1 };

		check_bearer(NULL, rest, len, 1, outlen);
		check_bearer(NULL, rest, len, 0, outlen);
		tok = auth_bearer(NULL, rest, len, 1, tokbuf, sizeof(tokbuf)) == PH_OK ? tokbuf : NULL;
		identify(by_keys, &r, tok, 0);
		break;
	}
	case 2:
		cut = memchr(rest, 0xff, len);
		if (cut != NULL)
			signed_token(rest, (size_t)(cut - rest), cut + 1, len - (size_t)(cut - rest) - 1);
		else
			signed_token(rest, len, "{}", 2);
		break;
	default:
		signed_token("{\"alg\":\"HS256\"}", 15, rest, len);
		break;
	}
	free(text);
	return 0;
}
