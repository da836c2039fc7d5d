/*
 * Unit tests for common/auth.h. The keys are made here, at test time, with
 * OpenSSL (RSA 2048, EC prime256v1) into a temporary directory, and every
 * token is signed here: with OpenSSL directly (so that the test can also
 * build the tokens an attacker would) and, for interoperability, with
 * libjwt's own jwt_encode_str.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth.h"
#include "ids.h"
#include "unit.h"

#define SECRET "0123456789abcdef0123456789abcdef-the-hs256-secret"

static char dir[64];
/* rsa_a and ec_c are configured; rsa_b and ec_d are other keys (rotation). */
static EVP_PKEY *rsa_a, *rsa_b, *ec_c, *ec_d;
static long long now;

enum signer { SIGN_RS256, SIGN_ES256, SIGN_HS256, SIGN_NONE };

static const char *
path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void
write_text(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	if (f == NULL || fputs(text, f) < 0)
		abort();
	fclose(f);
}

/* The public keys (and private, when priv) of keys[0..n) into one file. */
static void
write_keys(const char *name, EVP_PKEY **keys, int n, int priv)
{
	FILE *f = fopen(path(name), "w");

	if (f == NULL)
		abort();
	for (int i = 0; i < n; i++)
		if ((priv ? PEM_write_PrivateKey(f, keys[i], NULL, NULL, 0, NULL, NULL) :
		    PEM_write_PUBKEY(f, keys[i])) != 1)
			abort();
	fclose(f);
}

/* A key's public PEM text (caller frees). */
static char *
pem_of(EVP_PKEY *k, int priv)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	if ((priv ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_bio_PUBKEY(b, k)) != 1)
		abort();
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

static void
setup(void)
{
	EVP_PKEY *small, *p384;

	snprintf(dir, sizeof(dir), "/tmp/pollhub-test-auth.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	rsa_a = EVP_RSA_gen(2048);
	rsa_b = EVP_RSA_gen(2048);
	ec_c = EVP_EC_gen("prime256v1");
	ec_d = EVP_EC_gen("prime256v1");
	small = EVP_RSA_gen(1024);
	p384 = EVP_EC_gen("secp384r1");
	if (!rsa_a || !rsa_b || !ec_c || !ec_d || !small || !p384)
		abort();
	write_keys("a_c.pem", (EVP_PKEY *[]){ rsa_a, ec_c }, 2, 0);
	write_keys("a_b.pem", (EVP_PKEY *[]){ rsa_a, rsa_b }, 2, 0);
	write_keys("a.pem", (EVP_PKEY *[]){ rsa_a }, 1, 0);
	write_keys("private.pem", (EVP_PKEY *[]){ rsa_a }, 1, 1);
	write_keys("small.pem", (EVP_PKEY *[]){ small }, 1, 0);
	write_keys("p384.pem", (EVP_PKEY *[]){ p384 }, 1, 0);
	write_text("secret", SECRET "\n");
	write_text("short", "only-31-bytes-of-secret-here...\n");
	write_text("empty.pem", "no key here\n");
	write_text("broken.pem", "-----BEGIN PUBLIC KEY-----\nnot*base64\n"
	    "-----END PUBLIC KEY-----\n");
	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
	now = (long long)time(NULL);
}

static void
teardown(void)
{
	static const char *const names[] = { "a_c.pem", "a_b.pem", "a.pem", "private.pem",
	    "small.pem", "p384.pem", "secret", "short", "empty.pem", "broken.pem" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path(names[i]));
	rmdir(dir);
	EVP_PKEY_free(rsa_a);
	EVP_PKEY_free(rsa_b);
	EVP_PKEY_free(ec_c);
	EVP_PKEY_free(ec_d);
}

/* --- Environment --------------------------------------------------------- */

static void
env_clear(void)
{
	static const char *const vars[] = { "POLLHUB_AUTH", "POLLHUB_JWT_KEYS",
	    "POLLHUB_JWT_SECRET_FILE", "POLLHUB_JWT_LEEWAY", "POLLHUB_JWT_ISSUER",
	    "POLLHUB_JWT_AUDIENCE", "POLLHUB_JWT_USER_CLAIM", "POLLHUB_TRUSTED_PROXIES" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* Load with the variables given as name, value pairs ending in NULL; the
 * others unset. NULL when auth_load refuses (its message in last_err). */
static char last_err[300];

static struct auth *
load(const char *name, ...)
{
	struct auth *a = NULL;
	va_list ap;

	env_clear();
	va_start(ap, name);
	for (; name != NULL; name = va_arg(ap, const char *))
		setenv(name, va_arg(ap, const char *), 1);
	va_end(ap);
	last_err[0] = '\0';
	if (auth_load(&a, last_err, sizeof(last_err)) != PH_OK) {
		CHECK(a == NULL);
		return NULL;
	}
	return a;
}

/* The standard jwt configuration: RSA key a and EC key c, the secret. */
static struct auth *
load_jwt(void)
{
	return load("POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("a_c.pem"),
	    "POLLHUB_JWT_SECRET_FILE", path("secret"), NULL);
}

/* --- Tokens -------------------------------------------------------------- */

static void
b64(const void *data, size_t n, char *out)
{
	base64url_encode(data, n, out);
}

/* A signature of in by signer with key (an EVP_PKEY, or the HMAC secret
 * key[0..keylen)), base64url into out. */
static void
sign(enum signer s, const void *key, size_t keylen, const char *in, char *out)
{
	unsigned char sig[512], raw[64];
	size_t siglen = sizeof(sig);
	unsigned int hlen = 0;
	EVP_MD_CTX *ctx;
	ECDSA_SIG *es;
	const unsigned char *p;

	out[0] = '\0';
	switch (s) {
	case SIGN_NONE:
		return;
	case SIGN_HS256:
		if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)in, strlen(in),
		    sig, &hlen) == NULL)
			abort();
		b64(sig, hlen, out);
		return;
	case SIGN_RS256:
	case SIGN_ES256:
		ctx = EVP_MD_CTX_new();
		if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, (EVP_PKEY *)key) != 1 ||
		    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)in, strlen(in)) != 1)
			abort();
		EVP_MD_CTX_free(ctx);
		if (s == SIGN_RS256) {
			b64(sig, siglen, out);
			return;
		}
		/* JWS ES256 is r || s, 32 bytes each, not OpenSSL's DER. */
		p = sig;
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)siglen)) == NULL ||
		    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
		    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32)
			abort();
		ECDSA_SIG_free(es);
		b64(raw, 64, out);
		return;
	}
}

/* A token of header and payload (JSON texts) signed by s. Static storage,
 * four in rotation. */
static const char *
token_key(const char *header, const char *payload, enum signer s, const void *key,
    size_t keylen)
{
	static char tokens[4][8192];
	static int i;
	char *t;
	size_t n;

	i = (i + 1) % 4;
	t = tokens[i];
	b64(header, strlen(header), t);
	n = strlen(t);
	t[n++] = '.';
	b64(payload, strlen(payload), t + n);
	n = strlen(t);
	t[n++] = '.';
	t[n] = '\0';
	{
		char in[8192];

		snprintf(in, sizeof(in), "%.*s", (int)n - 1, t);
		sign(s, key, keylen, in, t + n);
	}
	return t;
}

/* A token by the configured key of s's kind. */
static const char *
token(const char *header, const char *payload, enum signer s)
{
	switch (s) {
	case SIGN_RS256:
		return token_key(header, payload, s, rsa_a, 0);
	case SIGN_ES256:
		return token_key(header, payload, s, ec_c, 0);
	case SIGN_HS256:
		return token_key(header, payload, s, SECRET, strlen(SECRET));
	default:
		return token_key(header, payload, s, NULL, 0);
	}
}

static const char *
claims(const char *fmt, ...)
{
	static char out[4][4096];
	static int i;
	va_list ap;

	i = (i + 1) % 4;
	va_start(ap, fmt);
	vsnprintf(out[i], sizeof(out[i]), fmt, ap);
	va_end(ap);
	return out[i];
}

/* The usual claims: sub alice, expiring in 5 minutes. */
static const char *
alice(void)
{
	return claims("{\"sub\":\"alice\",\"exp\":%lld,\"iat\":%lld}", now + 300, now);
}

#define RS	"{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define ES	"{\"alg\":\"ES256\",\"typ\":\"JWT\"}"
#define HS	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* auth_identify with tok in an Authorization header. */
static enum ph_err
identify(const struct auth *a, const char *tok, struct auth_verdict *v)
{
	char header[9000];
	struct auth_request r = { NULL, header, "", 0, 0 };

	snprintf(header, sizeof(header), "Bearer %s", tok);
	memset(v, 0x5a, sizeof(*v));
	return auth_identify(a, &r, v);
}

/* tok is refused as invalid_token, with a why that names reason and holds
 * none of the token's bytes. */
#define REFUSED(a, tok, reason) refused((a), (tok), (reason), __LINE__)

static void
refused(const struct auth *a, const char *tok, const char *reason, int line)
{
	struct auth_verdict v;
	enum ph_err e = identify(a, tok, &v);
	const char *dot = strchr(tok, '.');
	char part[17];

	if (e != PH_UNAUTHORIZED || v.error == NULL || strcmp(v.error, "invalid_token") != 0 ||
	    strstr(v.why, reason) == NULL)
		printf("refused() at line %d: got %s, error %s, why '%s'\n", line,
		    ph_strerror(e), v.error ? v.error : "(null)", v.why);
	CHECK_INTEQ(e, PH_UNAUTHORIZED);
	CHECK_STREQ(v.error, "invalid_token");
	CHECK_CONTAINS(v.why, reason);
	CHECK_STREQ(v.user, "");
	/* No 16 bytes of the header, the payload or the signature. */
	for (const char *p = tok; p != NULL && *p != '\0'; p = dot ? dot + 1 : NULL) {
		snprintf(part, sizeof(part), "%s", p);
		if (strlen(part) == 16)
			CHECK(strstr(v.why, part) == NULL);
		dot = strchr(p, '.');
	}
}

static void
accepted(const struct auth *a, const char *tok, const char *user, int line)
{
	struct auth_verdict v;
	enum ph_err e = identify(a, tok, &v);

	if (e != PH_OK)
		printf("accepted() at line %d: got %s, why '%s'\n", line, ph_strerror(e), v.why);
	CHECK_INTEQ(e, PH_OK);
	CHECK_STREQ(v.user, user);
	CHECK(v.error == NULL);
}
#define ACCEPTED(a, tok, user) accepted((a), (tok), (user), __LINE__)

/* --- Tests ----------------------------------------------------------------- */

static void
test_valid_tokens(void)
{
	struct auth *a = load_jwt();
	char *priv;
	jwt_t *j;
	char *t;

	now = (long long)time(NULL);

	CHECK(a != NULL);
	if (a == NULL)
		return;
	CHECK_INTEQ(auth_mode(a), AUTH_JWT);
	ACCEPTED(a, token(RS, alice(), SIGN_RS256), "alice");
	ACCEPTED(a, token(ES, alice(), SIGN_ES256), "alice");
	ACCEPTED(a, token(HS, alice(), SIGN_HS256), "alice");
	/* typ is optional; its case does not matter (libjwt's rule). */
	ACCEPTED(a, token("{\"alg\":\"RS256\"}", alice(), SIGN_RS256), "alice");
	ACCEPTED(a, token("{\"typ\":\"jwt\",\"alg\":\"ES256\",\"kid\":\"k1\"}", alice(),
	    SIGN_ES256), "alice");
	/* A user name of 256 characters (of 2 bytes each), and one beyond ASCII. */
	{
		char name[600] = "", payload[800];

		for (int i = 0; i < 256; i++)
			strcat(name, "\xc3\xa9");
		snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%lld}", name,
		    now + 60);
		ACCEPTED(a, token(HS, payload, SIGN_HS256), name);
		ACCEPTED(a, token(HS, claims("{\"sub\":\"Zo\\u00e9 B.\",\"exp\":%lld}",
		    now + 60), SIGN_HS256), "Zo\xc3\xa9 B.");
	}
	/* exp may be a fraction (NumericDate); within the leeway it still holds. */
	ACCEPTED(a, token(RS, claims("{\"sub\":\"bob\",\"exp\":%lld.5}", now + 100),
	    SIGN_RS256), "bob");
	ACCEPTED(a, token(RS, claims("{\"sub\":\"bob\",\"exp\":%lld}", now - 30), SIGN_RS256),
	    "bob");
	ACCEPTED(a, token(ES, claims("{\"sub\":\"bob\",\"exp\":%lld,\"nbf\":%lld}", now + 300,
	    now + 30), SIGN_ES256), "bob");

	/* Tokens made by libjwt itself, with the private keys. */
	for (int k = 0; k < 2; k++) {
		priv = pem_of(k == 0 ? rsa_a : ec_c, 1);
		CHECK_INTEQ(jwt_new(&j), 0);
		CHECK_INTEQ(jwt_add_grant(j, "sub", "carol"), 0);
		CHECK_INTEQ(jwt_add_grant_int(j, "exp", (long)now + 60), 0);
		CHECK_INTEQ(jwt_set_alg(j, k == 0 ? JWT_ALG_RS256 : JWT_ALG_ES256,
		    (const unsigned char *)priv, (int)strlen(priv)), 0);
		t = jwt_encode_str(j);
		CHECK(t != NULL);
		if (t != NULL)
			ACCEPTED(a, t, "carol");
		free(t);
		jwt_free(j);
		free(priv);
	}
	auth_free(a);
}

static void
test_query_token(void)
{
	struct auth *a = load_jwt();
	struct auth_verdict v;
	char qs[9000];
	struct auth_request r = { NULL, NULL, qs, 0, 1 };

	now = (long long)time(NULL);

	if (a == NULL)
		return;
	snprintf(qs, sizeof(qs), "id=x&access_token=%s", token(ES, alice(), SIGN_ES256));
	r.query_len = strlen(qs);
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_OK);
	CHECK_STREQ(v.user, "alice");
	/* Only where the query may carry it. */
	r.query_token = 0;
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_UNAUTHORIZED);
	CHECK(v.error == NULL);
	CHECK_CONTAINS(v.why, "no Authorization: Bearer header");
	r.query = "id=x";
	r.query_len = 4;
	r.query_token = 1;
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_UNAUTHORIZED);
	CHECK(v.error == NULL);
	CHECK_CONTAINS(v.why, "no bearer token");
	/* A malformed header is invalid_request. */
	r.authorization = "Bearer a b";
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_UNAUTHORIZED);
	CHECK_STREQ(v.error, "invalid_request");
	auth_free(a);
}

static void
test_refused_tokens(void)
{
	struct auth *a = load_jwt();
	char t[8192], *p;

	now = (long long)time(NULL);

	if (a == NULL)
		return;
	/* A forged signature: one character in its middle changed. */
	snprintf(t, sizeof(t), "%s", token(RS, alice(), SIGN_RS256));
	p = strrchr(t, '.') + 100;
	*p = *p == 'A' ? 'B' : 'A';
	REFUSED(a, t, "does not verify");
	snprintf(t, sizeof(t), "%s", token(ES, alice(), SIGN_ES256));
	p = strrchr(t, '.') + 20;
	*p = *p == 'A' ? 'B' : 'A';
	REFUSED(a, t, "does not verify");
	/* Signed by keys that are not configured. */
	REFUSED(a, token_key(RS, alice(), SIGN_RS256, rsa_b, 0), "does not verify");
	REFUSED(a, token_key(ES, alice(), SIGN_ES256, ec_d, 0), "does not verify");
	REFUSED(a, token_key(HS, alice(), SIGN_HS256, "another secret of 32 bytes or more", 34),
	    "does not verify");
	/* An ES256 signature under an RS256 header and the reverse. */
	snprintf(t, sizeof(t), "%s", token(RS, alice(), SIGN_RS256));
	REFUSED(a, token_key(RS, alice(), SIGN_ES256, ec_c, 0), "does not verify");
	REFUSED(a, token_key(ES, alice(), SIGN_RS256, rsa_a, 0), "does not verify");
	/* alg none, with and without an (empty) signature part; and signed. */
	REFUSED(a, token("{\"alg\":\"none\"}", alice(), SIGN_NONE), "alg none is refused");
	snprintf(t, sizeof(t), "%s", token("{\"alg\":\"none\",\"typ\":\"JWT\"}", alice(),
	    SIGN_NONE));
	t[strlen(t) - 1] = '\0';
	REFUSED(a, t, "alg none is refused");
	REFUSED(a, token("{\"alg\":\"NONE\"}", alice(), SIGN_HS256), "alg none is refused");
	/* HS256 keyed with the RSA public key's PEM, as libjwt alone would accept. */
	p = pem_of(rsa_a, 0);
	REFUSED(a, token_key(HS, alice(), SIGN_HS256, p, strlen(p)), "does not verify");
	/* Duplicate alg names: whichever wins, the PEM is never an HMAC key. */
	REFUSED(a, token_key("{\"alg\":\"RS256\",\"alg\":\"HS256\"}", alice(), SIGN_HS256, p,
	    strlen(p)), "does not verify");
	REFUSED(a, token_key("{\"alg\":\"HS256\",\"alg\":\"RS256\"}", alice(), SIGN_HS256, p,
	    strlen(p)), "does not verify");
	free(p);
	/* Other algorithms; a name in another case is not a name we know. */
	REFUSED(a, token("{\"alg\":\"RS512\"}", alice(), SIGN_RS256), "alg RS512 is not accepted");
	REFUSED(a, token("{\"alg\":\"rs256\"}", alice(), SIGN_RS256), "alg (unknown)");
	REFUSED(a, token("{\"alg\":\"x\\r\\nSet-Cookie: a\"}", alice(), SIGN_RS256),
	    "alg (unknown)");
	REFUSED(a, token("{\"alg\":256}", alice(), SIGN_RS256), "has no alg");
	REFUSED(a, token("{\"typ\":\"JWT\"}", alice(), SIGN_RS256), "has no alg");
	REFUSED(a, token("[\"RS256\"]", alice(), SIGN_RS256), "not a base64url JSON object");
	REFUSED(a, token("{\"alg\":\"RS256\"", alice(), SIGN_RS256), "not a base64url JSON");
	REFUSED(a, token("{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", alice(), SIGN_RS256),
	    "typ is not JWT");
	REFUSED(a, token("{\"alg\":\"RS256\",\"crit\":[\"exp\"]}", alice(), SIGN_RS256),
	    "crit");
	/* Expired beyond the leeway (60 s), not yet valid beyond it. */
	REFUSED(a, token(RS, claims("{\"sub\":\"alice\",\"exp\":%lld}", now - 120), SIGN_RS256),
	    "expired 12");
	REFUSED(a, token(HS, claims("{\"sub\":\"alice\",\"exp\":%lld}", now - 3600), SIGN_HS256),
	    "expired 360");
	REFUSED(a, token(ES, claims("{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":%lld}", now + 7200,
	    now + 3600), SIGN_ES256), "not valid for another 3");
	REFUSED(a, token(ES, claims("{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":\"soon\"}",
	    now + 7200), SIGN_ES256), "nbf is not a number");
	/* exp required, and a number. */
	REFUSED(a, token(RS, "{\"sub\":\"alice\"}", SIGN_RS256), "has no exp");
	REFUSED(a, token(RS, claims("{\"sub\":\"alice\",\"exp\":\"%lld\"}", now + 60),
	    SIGN_RS256), "exp is not a number");
	REFUSED(a, token(RS, "{\"sub\":\"alice\",\"exp\":null}", SIGN_RS256),
	    "exp is not a number");
	/* The user claim: missing, not a string, not a user name. */
	REFUSED(a, token(RS, claims("{\"exp\":%lld}", now + 60), SIGN_RS256), "no sub claim");
	REFUSED(a, token(RS, claims("{\"sub\":42,\"exp\":%lld}", now + 60), SIGN_RS256),
	    "sub claim is not a string");
	REFUSED(a, token(RS, claims("{\"sub\":[\"alice\"],\"exp\":%lld}", now + 60), SIGN_RS256),
	    "sub claim is not a string");
	REFUSED(a, token(RS, claims("{\"sub\":\"\",\"exp\":%lld}", now + 60), SIGN_RS256),
	    "sub claim is not a valid user name");
	REFUSED(a, token(RS, claims("{\"sub\":\"al\\u0007ice\",\"exp\":%lld}", now + 60),
	    SIGN_RS256), "sub claim is not a valid user name");
	REFUSED(a, token(RS, claims("{\"sub\":\"al\\u202eice\",\"exp\":%lld}", now + 60),
	    SIGN_RS256), "sub claim is not a valid user name");
	{
		char name[300] = "", payload[600];

		memset(name, 'x', 257);
		name[257] = '\0';
		snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%lld}", name, now + 60);
		REFUSED(a, token(HS, payload, SIGN_HS256), "sub claim is not a valid user name");
	}
	/* The claims must be a JSON object. */
	REFUSED(a, token(HS, "[1,2]", SIGN_HS256), "");
	/* An altered payload under a valid signature. */
	{
		char other[600], *dot1, *dot2;

		snprintf(t, sizeof(t), "%s", token(RS, alice(), SIGN_RS256));
		b64(claims("{\"sub\":\"admin\",\"exp\":%lld,\"iat\":%lld}", now + 300, now),
		    strlen(claims("{\"sub\":\"admin\",\"exp\":%lld,\"iat\":%lld}", now + 300,
		    now)), other);
		dot1 = strchr(t, '.');
		dot2 = strchr(dot1 + 1, '.');
		{
			char rebuilt[8192];

			snprintf(rebuilt, sizeof(rebuilt), "%.*s.%s%s", (int)(dot1 - t), t, other,
			    dot2);
			REFUSED(a, rebuilt, "does not verify");
		}
	}
	/* Not the shape of a JWS. */
	REFUSED(a, "abc", "not a JWT");
	snprintf(t, sizeof(t), "%s.e30.e30", token(RS, alice(), SIGN_RS256));
	REFUSED(a, t, "three parts");
	snprintf(t, sizeof(t), "%s", token(RS, alice(), SIGN_RS256));
	*strrchr(t, '.') = '\0';
	REFUSED(a, t, "three parts");
	snprintf(t, sizeof(t), "%s", token(RS, alice(), SIGN_RS256));
	p = strrchr(t, '.') + 5;
	*p = '+';
	REFUSED(a, t, "not base64url");
	snprintf(t, sizeof(t), "%s==", token(RS, alice(), SIGN_RS256));
	REFUSED(a, t, "not base64url");
	/* A signature of 256 bytes ends in a character with 4 unused bits:
	 * setting them is another spelling of the same signature, refused. */
	snprintf(t, sizeof(t), "%s", token(RS, alice(), SIGN_RS256));
	p = t + strlen(t) - 1;
	*p = *p == 'A' ? 'B' : (char)(*p + 1);
	REFUSED(a, t, "not base64url");
	auth_free(a);
}

static void
test_issuer_audience(void)
{
	struct auth *a = load("POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("a_c.pem"),
	    "POLLHUB_JWT_ISSUER", "https://idp.example", "POLLHUB_JWT_AUDIENCE", "pollhub",
	    "POLLHUB_JWT_USER_CLAIM", "preferred_username", "POLLHUB_JWT_LEEWAY", "0", NULL);
	const char *ok = "\"iss\":\"https://idp.example\",\"preferred_username\":\"dave\"";

	now = (long long)time(NULL);

	CHECK(a != NULL);
	if (a == NULL)
		return;
	ACCEPTED(a, token(RS, claims("{%s,\"aud\":\"pollhub\",\"exp\":%lld}", ok, now + 60),
	    SIGN_RS256), "dave");
	ACCEPTED(a, token(ES, claims("{%s,\"aud\":[\"x\",\"pollhub\"],\"exp\":%lld}", ok,
	    now + 60), SIGN_ES256), "dave");
	REFUSED(a, token(RS, claims("{%s,\"aud\":\"other\",\"exp\":%lld}", ok, now + 60),
	    SIGN_RS256), "aud does not name");
	REFUSED(a, token(RS, claims("{%s,\"aud\":[\"other\",1],\"exp\":%lld}", ok, now + 60),
	    SIGN_RS256), "aud does not name");
	REFUSED(a, token(RS, claims("{%s,\"exp\":%lld}", ok, now + 60), SIGN_RS256),
	    "aud does not name");
	REFUSED(a, token(RS, claims("{\"iss\":\"https://evil.example\",\"aud\":\"pollhub\","
	    "\"preferred_username\":\"dave\",\"exp\":%lld}", now + 60), SIGN_RS256),
	    "iss is not");
	REFUSED(a, token(RS, claims("{\"aud\":\"pollhub\",\"preferred_username\":\"dave\","
	    "\"exp\":%lld}", now + 60), SIGN_RS256), "iss is not");
	/* The configured claim, not sub. */
	REFUSED(a, token(RS, claims("{\"iss\":\"https://idp.example\",\"aud\":\"pollhub\","
	    "\"sub\":\"dave\",\"exp\":%lld}", now + 60), SIGN_RS256),
	    "no preferred_username claim");
	/* Leeway 0: a second past exp is too late. */
	REFUSED(a, token(RS, claims("{%s,\"aud\":\"pollhub\",\"exp\":%lld}", ok, now - 2),
	    SIGN_RS256), "expired");
	/* No secret configured: HS256 is refused before any verification. */
	REFUSED(a, token(HS, claims("{%s,\"aud\":\"pollhub\",\"exp\":%lld}", ok, now + 60),
	    SIGN_HS256), "alg HS256 is refused: no key of that kind");
	auth_free(a);
}

static void
test_rotation(void)
{
	struct auth *a = load("POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("a_b.pem"), NULL);

	now = (long long)time(NULL);

	CHECK(a != NULL);
	if (a == NULL)
		return;
	ACCEPTED(a, token_key(RS, alice(), SIGN_RS256, rsa_a, 0), "alice");
	ACCEPTED(a, token_key(RS, alice(), SIGN_RS256, rsa_b, 0), "alice");
	REFUSED(a, token_key(ES, alice(), SIGN_ES256, ec_c, 0), "alg ES256 is refused");
	REFUSED(a, token(HS, alice(), SIGN_HS256), "alg HS256 is refused");
	auth_free(a);
	/* A single key: b's tokens are not accepted. */
	a = load("POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("a.pem"), NULL);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	ACCEPTED(a, token_key(RS, alice(), SIGN_RS256, rsa_a, 0), "alice");
	REFUSED(a, token_key(RS, alice(), SIGN_RS256, rsa_b, 0), "does not verify");
	auth_free(a);
}

/* A verified token is remembered until its exp (plus the leeway), no longer. */
static void
test_cache(void)
{
	struct auth *a = load("POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("a_c.pem"),
	    "POLLHUB_JWT_LEEWAY", "0", NULL);
	char t[8192];

	if (a == NULL)
		return;
	snprintf(t, sizeof(t), "%s", token(ES, claims("{\"sub\":\"erin\",\"exp\":%lld}",
	    (long long)time(NULL) + 2), SIGN_ES256));
	ACCEPTED(a, t, "erin");
	ACCEPTED(a, t, "erin");
	/* Another token in the same slot or not: its own verdict. */
	REFUSED(a, token(ES, claims("{\"sub\":\"erin\",\"exp\":%lld}", now - 10), SIGN_ES256),
	    "expired");
	sleep(3);
	REFUSED(a, t, "expired");
	auth_free(a);
}

struct worker_arg {
	const struct auth	*a;
	const char		*rs;
	int			 ok;
};

static void *
worker(void *p)
{
	struct worker_arg *w = p;
	struct auth_verdict v;
	char header[9000];
	struct auth_request r = { NULL, header, NULL, 0, 0 };

	snprintf(header, sizeof(header), "Bearer %s", w->rs);
	for (int i = 0; i < 300; i++)
		if (auth_identify(w->a, &r, &v) != PH_OK || strcmp(v.user, "alice") != 0)
			w->ok = 0;
	return NULL;
}

/* Several threads on one struct auth: no shared state but the cache's lock. */
static void
test_threads(void)
{
	struct auth *a = load_jwt();
	struct worker_arg w[4];
	pthread_t th[4];
	char toks[4][8192];

	now = (long long)time(NULL);

	if (a == NULL)
		return;
	for (int i = 0; i < 4; i++) {
		snprintf(toks[i], sizeof(toks[i]), "%s", token(i % 2 ? RS : ES,
		    claims("{\"sub\":\"alice\",\"exp\":%lld,\"jti\":\"%d\"}", now + 300, i),
		    i % 2 ? SIGN_RS256 : SIGN_ES256));
		w[i] = (struct worker_arg){ a, toks[i], 1 };
		CHECK_INTEQ(pthread_create(&th[i], NULL, worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].ok);
	}
	auth_free(a);
}

static void
test_modes(void)
{
	struct auth *a = load(NULL);
	struct auth_verdict v;
	struct auth_request r = { "alice", "Bearer x", "", 0, 1 };

	CHECK(a != NULL);
	if (a == NULL)
		return;
	CHECK_INTEQ(auth_mode(a), AUTH_NONE);
	memset(&v, 0x5a, sizeof(v));
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_OK);
	CHECK_STREQ(v.user, "");
	CHECK(v.error == NULL);
	auth_free(a);
	CHECK_STREQ(auth_mode_name(AUTH_NONE), "none");
	CHECK_STREQ(auth_mode_name(AUTH_WEB_SERVER), "web-server");
	CHECK_STREQ(auth_mode_name(AUTH_JWT), "jwt");

	a = load("POLLHUB_AUTH", "none", NULL);
	CHECK(a != NULL && auth_mode(a) == AUTH_NONE);
	auth_free(a);

	a = load("POLLHUB_AUTH", "web-server", NULL);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	CHECK_INTEQ(auth_mode(a), AUTH_WEB_SERVER);
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_OK);
	CHECK_STREQ(v.user, "alice");
	r.remote_user = "Zo\xc3\xa9";
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_OK);
	CHECK_STREQ(v.user, "Zo\xc3\xa9");
	r.remote_user = NULL;
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_UNAUTHORIZED);
	CHECK(v.error == NULL);
	CHECK_CONTAINS(v.why, "no REMOTE_USER");
	CHECK_STREQ(v.user, "");
	r.remote_user = "";
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_UNAUTHORIZED);
	CHECK_CONTAINS(v.why, "no REMOTE_USER");
	r.remote_user = "al\nice";
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_UNAUTHORIZED);
	CHECK(v.error == NULL);
	CHECK_CONTAINS(v.why, "REMOTE_USER is not a user name");
	r.remote_user = "caf\xe9";
	CHECK_INTEQ(auth_identify(a, &r, &v), PH_UNAUTHORIZED);
	auth_free(a);
}

static void
test_load_errors(void)
{
	struct auth *a;

#define LOAD_REFUSED(needle, ...) do { \
	a = load(__VA_ARGS__, NULL); \
	CHECK(a == NULL); \
	CHECK_CONTAINS(last_err, needle); \
	auth_free(a); \
} while (0)

	LOAD_REFUSED("POLLHUB_AUTH must be none, web-server or jwt, not 'basic'",
	    "POLLHUB_AUTH", "basic");
	LOAD_REFUSED("POLLHUB_AUTH=jwt needs a key", "POLLHUB_AUTH", "jwt");
	LOAD_REFUSED("POLLHUB_JWT_KEYS: cannot open", "POLLHUB_AUTH", "jwt",
	    "POLLHUB_JWT_KEYS", path("missing.pem"));
	LOAD_REFUSED("POLLHUB_JWT_KEYS: cannot", "POLLHUB_AUTH", "jwt",
	    "POLLHUB_JWT_KEYS", dir);
	LOAD_REFUSED("POLLHUB_JWT_SECRET_FILE: cannot open", "POLLHUB_AUTH", "jwt",
	    "POLLHUB_JWT_SECRET_FILE", path("missing"));
	LOAD_REFUSED("is 31 bytes; at least 32", "POLLHUB_AUTH", "jwt",
	    "POLLHUB_JWT_SECRET_FILE", path("short"));
	LOAD_REFUSED("holds no PEM public key", "POLLHUB_AUTH", "jwt",
	    "POLLHUB_JWT_KEYS", path("empty.pem"));
	LOAD_REFUSED("block 1 of", "POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("broken.pem"));
	LOAD_REFUSED("not a PUBLIC KEY", "POLLHUB_AUTH", "jwt",
	    "POLLHUB_JWT_KEYS", path("private.pem"));
	LOAD_REFUSED("RSA of 1024 bits", "POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS",
	    path("small.pem"));
	LOAD_REFUSED("only P-256", "POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("p384.pem"));
	LOAD_REFUSED("POLLHUB_JWT_LEEWAY must be an integer from 0 to 3600, not 'soon'",
	    "POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS", path("a.pem"),
	    "POLLHUB_JWT_LEEWAY", "soon");
	LOAD_REFUSED("POLLHUB_JWT_LEEWAY", "POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS",
	    path("a.pem"), "POLLHUB_JWT_LEEWAY", "-1");
	LOAD_REFUSED("POLLHUB_JWT_LEEWAY", "POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS",
	    path("a.pem"), "POLLHUB_JWT_LEEWAY", "3601");
	LOAD_REFUSED("POLLHUB_JWT_USER_CLAIM", "POLLHUB_AUTH", "jwt", "POLLHUB_JWT_KEYS",
	    path("a.pem"), "POLLHUB_JWT_USER_CLAIM", "a b");
	/* Keys while the mode ignores them: the operator thinks tokens count. */
	LOAD_REFUSED("POLLHUB_AUTH is 'none'", "POLLHUB_JWT_KEYS", path("a.pem"));
	LOAD_REFUSED("POLLHUB_AUTH is 'web-server'", "POLLHUB_AUTH", "web-server",
	    "POLLHUB_JWT_SECRET_FILE", path("secret"));
	LOAD_REFUSED("POLLHUB_TRUSTED_PROXIES: '10.0.0.0/33': the prefix must be 0 to 32",
	    "POLLHUB_TRUSTED_PROXIES", "10.0.0.0/33");
	LOAD_REFUSED("'10.0.0.1/8' has host bits set (10.0.0.0/8?)",
	    "POLLHUB_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.1/8");
	LOAD_REFUSED("'proxy.example' is not", "POLLHUB_TRUSTED_PROXIES", "proxy.example");
	LOAD_REFUSED("POLLHUB_TRUSTED_PROXIES", "POLLHUB_TRUSTED_PROXIES", "::1/129");
	LOAD_REFUSED("POLLHUB_TRUSTED_PROXIES", "POLLHUB_TRUSTED_PROXIES", "10.0.0.0/");
	LOAD_REFUSED("POLLHUB_TRUSTED_PROXIES", "POLLHUB_TRUSTED_PROXIES", "10.0.0.0/+8");
	LOAD_REFUSED("POLLHUB_TRUSTED_PROXIES", "POLLHUB_TRUSTED_PROXIES", "/8");
	LOAD_REFUSED("POLLHUB_TRUSTED_PROXIES", "POLLHUB_TRUSTED_PROXIES", "10.0.0/8");
	LOAD_REFUSED("POLLHUB_TRUSTED_PROXIES", "POLLHUB_TRUSTED_PROXIES", "fe80::1%eth0");
	LOAD_REFUSED("the prefix must be 96 to 128", "POLLHUB_TRUSTED_PROXIES",
	    "::ffff:10.0.0.0/8");
#undef LOAD_REFUSED
	/* The secret's final newline is not part of it; 32 bytes are enough. */
	write_text("secret32", "0123456789abcdef0123456789abcdef\r\n");
	a = load("POLLHUB_AUTH", "jwt", "POLLHUB_JWT_SECRET_FILE", path("secret32"), NULL);
	CHECK(a != NULL);
	if (a != NULL)
		ACCEPTED(a, token_key(HS, alice(), SIGN_HS256, "0123456789abcdef0123456789abcdef",
		    32), "alice");
	auth_free(a);
	unlink(path("secret32"));
}

static enum ph_err
bearer(const char *authorization, const char *query, int query_token, char *out, size_t outlen)
{
	memset(out, '#', outlen);
	return auth_bearer(authorization, query, query ? strlen(query) : 0, query_token, out,
	    outlen);
}

static void
test_bearer(void)
{
	char out[64], big[5000];

	CHECK_INTEQ(bearer("Bearer abc.def.ghi", NULL, 0, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "abc.def.ghi");
	CHECK_INTEQ(bearer("bearer abc", NULL, 0, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "abc");
	CHECK_INTEQ(bearer("BEARER abc", NULL, 0, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "abc");
	CHECK_INTEQ(bearer("Bearer    a-_~+/9==  ", NULL, 0, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "a-_~+/9==");
	CHECK_INTEQ(bearer("  Bearer\tabc", NULL, 0, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "abc");
	/* Another scheme is not a bearer token; neither is an empty header. */
	CHECK_INTEQ(bearer("Basic YWxpY2U6cGFzcw==", NULL, 0, out, sizeof(out)), PH_NOT_FOUND);
	CHECK_STREQ(out, "");
	CHECK_INTEQ(bearer("Bearerabc", NULL, 0, out, sizeof(out)), PH_NOT_FOUND);
	CHECK_INTEQ(bearer("", NULL, 0, out, sizeof(out)), PH_NOT_FOUND);
	CHECK_INTEQ(bearer(NULL, NULL, 0, out, sizeof(out)), PH_NOT_FOUND);
	/* Bearer with nothing usable after it. */
	CHECK_INTEQ(bearer("Bearer", NULL, 0, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer("Bearer   ", NULL, 1, out, sizeof(out)), PH_INVALID);
	CHECK_STREQ(out, "");
	CHECK_INTEQ(bearer("Bearer a b", NULL, 0, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer("Bearer a,b", NULL, 0, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer("Bearer a\"b", NULL, 0, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer("Bearer ab\xc3\xa9", NULL, 0, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer("Bearer a\r\nX: y", NULL, 0, out, sizeof(out)), PH_INVALID);
	/* Too long: 63 bytes fit 64, 64 do not. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "Bearer ", 7);
	big[7 + 63] = '\0';
	CHECK_INTEQ(bearer(big, NULL, 0, out, sizeof(out)), PH_OK);
	CHECK_INTEQ(strlen(out), 63);
	big[7 + 63] = 'a';
	big[7 + 64] = '\0';
	CHECK_INTEQ(bearer(big, NULL, 0, out, sizeof(out)), PH_INVALID);
	CHECK_STREQ(out, "");
	CHECK_INTEQ(bearer("Bearer a", NULL, 0, out, 1), PH_INVALID);
	CHECK_INTEQ(auth_bearer("Bearer a", NULL, 0, 0, out, 0), PH_INVALID);

	/* access_token: only when the query may carry it; percent-decoded. */
	CHECK_INTEQ(bearer(NULL, "id=1&access_token=abc.d%2Be", 0, out, sizeof(out)),
	    PH_NOT_FOUND);
	CHECK_INTEQ(bearer(NULL, "id=1&access_token=abc.d%2Be", 1, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "abc.d+e");
	CHECK_INTEQ(bearer(NULL, "access_token=a%2Fb%3D", 1, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "a/b=");
	/* '+' is a space in a query, and a space no token has. */
	CHECK_INTEQ(bearer(NULL, "access_token=a+b", 1, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer(NULL, "access_token=a%00b", 1, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer(NULL, "access_token=a%zz", 1, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer(NULL, "access_token=a%C3%A9", 1, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer(NULL, "access_token=", 1, out, sizeof(out)), PH_INVALID);
	CHECK_INTEQ(bearer(NULL, "access_token", 1, out, sizeof(out)), PH_INVALID);
	CHECK_STREQ(out, "");
	CHECK_INTEQ(bearer(NULL, "token=abc", 1, out, sizeof(out)), PH_NOT_FOUND);
	CHECK_INTEQ(bearer(NULL, "", 1, out, sizeof(out)), PH_NOT_FOUND);
	memset(big, 'a', sizeof(big));
	memcpy(big, "access_token=", 13);
	big[13 + 64] = '\0';
	CHECK_INTEQ(bearer(NULL, big, 1, out, sizeof(out)), PH_INVALID);
	/* The header wins over the query; another scheme leaves the query. */
	CHECK_INTEQ(bearer("Bearer head", "access_token=query", 1, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "head");
	CHECK_INTEQ(bearer("Basic xyz", "access_token=query", 1, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "query");
	CHECK_INTEQ(bearer("Bearer", "access_token=query", 1, out, sizeof(out)), PH_INVALID);
	/* The query's length is explicit: nothing past it is read. */
	CHECK_INTEQ(auth_bearer(NULL, "access_token=abcdef", 16, 1, out, sizeof(out)), PH_OK);
	CHECK_STREQ(out, "abc");
}

static const char *
client(const struct auth *a, const char *remote, const char *xff)
{
	static char out[64];

	memset(out, '#', sizeof(out));
	auth_client_addr(a, remote, xff, out, sizeof(out));
	return out;
}

static void
test_client_addr(void)
{
	struct auth *a = load("POLLHUB_TRUSTED_PROXIES",
	    "127.0.0.1, 10.0.0.0/8 192.168.1.0/24,\t::1,fd00::/8 ::ffff:172.16.0.0/108", NULL);
	struct auth *none = load(NULL);
	char small[8];

	CHECK(a != NULL && none != NULL);
	if (a == NULL || none == NULL)
		return;
	/* Nobody trusted: the peer itself, whatever it says. */
	CHECK_STREQ(client(none, "127.0.0.1", "203.0.113.9"), "127.0.0.1");
	/* An untrusted peer's X-Forwarded-For is ignored. */
	CHECK_STREQ(client(a, "203.0.113.7", "198.51.100.1"), "203.0.113.7");
	CHECK_STREQ(client(a, "11.0.0.1", "198.51.100.1"), "11.0.0.1");
	CHECK_STREQ(client(a, "192.168.2.1", "198.51.100.1"), "192.168.2.1");
	/* A trusted peer: the right-most address that is not a trusted proxy. */
	CHECK_STREQ(client(a, "127.0.0.1", "198.51.100.1"), "198.51.100.1");
	CHECK_STREQ(client(a, "127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3, 192.168.1.77"),
	    "198.51.100.1");
	CHECK_STREQ(client(a, "10.255.255.255", " 198.51.100.1 ,10.0.0.1 "), "198.51.100.1");
	/* Without X-Forwarded-For, or all of it trusted. */
	CHECK_STREQ(client(a, "127.0.0.1", NULL), "127.0.0.1");
	CHECK_STREQ(client(a, "127.0.0.1", ""), "127.0.0.1");
	CHECK_STREQ(client(a, "127.0.0.1", "10.0.0.2, 10.0.0.1"), "10.0.0.2");
	/* IPv6: CIDR, canonical text, brackets; a v4-mapped peer is its IPv4. */
	CHECK_STREQ(client(a, "::1", "2001:DB8:0:0::1"), "2001:db8::1");
	CHECK_STREQ(client(a, "fd12:3456::1", "2001:db8::2, fdff::9"), "2001:db8::2");
	CHECK_STREQ(client(a, "[::1]", "[2001:db8::3]"), "2001:db8::3");
	CHECK_STREQ(client(a, "fe80::1", "2001:db8::1"), "fe80::1");
	CHECK_STREQ(client(a, "::ffff:10.1.1.1", "198.51.100.4"), "198.51.100.4");
	CHECK_STREQ(client(a, "::ffff:172.16.9.9", "198.51.100.5"), "198.51.100.5");
	CHECK_STREQ(client(a, "::ffff:172.32.0.1", "198.51.100.5"), "::ffff:172.32.0.1");
	CHECK_STREQ(client(a, "127.0.0.1", "::ffff:198.51.100.6"), "198.51.100.6");
	CHECK_STREQ(client(a, "::ffff:203.0.113.1", "198.51.100.5"), "::ffff:203.0.113.1");
	/* A malformed entry stops the walk: the last good address is kept. */
	CHECK_STREQ(client(a, "127.0.0.1", "198.51.100.1, unknown"), "127.0.0.1");
	CHECK_STREQ(client(a, "127.0.0.1", "198.51.100.1, bogus, 10.0.0.9"), "10.0.0.9");
	CHECK_STREQ(client(a, "127.0.0.1", "198.51.100.1,,10.0.0.9"), "10.0.0.9");
	CHECK_STREQ(client(a, "127.0.0.1", "198.51.100.1:443"), "127.0.0.1");
	CHECK_STREQ(client(a, "127.0.0.1", "fe80::1%eth0"), "127.0.0.1");
	CHECK_STREQ(client(a, "127.0.0.1", ","), "127.0.0.1");
	CHECK_STREQ(client(a, "127.0.0.1", "1.2.3.4\n"), "127.0.0.1");
	/* A peer that is no address is itself. */
	CHECK_STREQ(client(a, "unix:", "198.51.100.1"), "unix:");
	CHECK_STREQ(client(a, NULL, "198.51.100.1"), "");
	/* Always NUL-terminated, even cut. */
	memset(small, '#', sizeof(small));
	auth_client_addr(a, "127.0.0.1", "2001:db8::1234", small, sizeof(small));
	CHECK_STREQ(small, "2001:db");
	auth_free(a);
	auth_free(none);
}

int
main(void)
{
	setup();
	test_valid_tokens();
	test_query_token();
	test_refused_tokens();
	test_issuer_audience();
	test_rotation();
	test_cache();
	test_threads();
	test_modes();
	test_load_errors();
	test_bearer();
	test_client_addr();
	teardown();
	env_clear();
	return unit_done();
}
