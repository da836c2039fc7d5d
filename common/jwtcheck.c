#include "jwtcheck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pherr.h"

#define HEADER_MAX	1024		/* bytes of a token's decoded header */
#define KEYS_FILE_MAX	(1024 * 1024)
#define KEYS_MAX	32
#define SECRET_MIN	32		/* bytes: RFC 7518 3.2, a key as long as the hash */
#define SECRET_MAX	4096
#define TIME_MAX	1000000000000000LL	/* seconds: clamps absurd exp and nbf */

enum key_kind { KEY_RSA, KEY_EC };

/* A public key as libjwt takes it: its PEM text (libjwt parses it per call). */
struct jwt_key {
	enum key_kind	 kind;
	char		*pem;
	int		 pemlen;
};

struct jwtcheck {
	struct jwt_key		*keys;
	size_t			 nkeys;
	unsigned char		*secret;	/* HS256; NULL when not configured */
	int			 secretlen;
	struct jwtcheck_policy	 policy;	/* its strings owned */
};

/* Where a verification writes its user or its why. */
struct outcome {
	char		*user;
	char		*why;
	size_t		 whylen;
};

static enum ph_err __attribute__((format(printf, 2, 3)))
fail(struct outcome *o, const char *fmt, ...)
{
	va_list ap;

	o->user[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(o->why, o->whylen, fmt, ap);
	va_end(ap);
	return PH_UNAUTHORIZED;
}

/* --- Keys ------------------------------------------------------------------ */

/* The whole file at path (at most max bytes) into *out (caller frees, NUL
 * appended). 0, or -1 with err naming var. */
static int
file_read(const char *var, const char *path, size_t max, char **out, size_t *len,
    char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(max + 2);
	size_t n = 0;

	*out = NULL;
	if (f == NULL || buf == NULL)
		snprintf(err, errlen, "%s: cannot open '%s': %s", var, path, strerror(errno));
	else if ((n = fread(buf, 1, max + 1, f)) > max || ferror(f))
		snprintf(err, errlen, ferror(f) ? "%s: cannot read '%s'" :
		    "%s: '%s' is larger than %zu bytes", var, path, max);
	else
		*out = buf;
	if (f != NULL)
		fclose(f);
	if (*out == NULL) {
		if (buf != NULL)
			OPENSSL_cleanse(buf, n);
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Which algorithm pkey verifies: RS256 for RSA (2048 bits or more), ES256 for
 * EC on P-256; anything else is refused. 0, or -1 with err. */
static int
key_classify(EVP_PKEY *pkey, int block, enum key_kind *kind, char *err, size_t errlen)
{
	char group[64];
	size_t glen = 0;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pkey) < 2048) {
			snprintf(err, errlen, "POLLHUB_JWT_KEYS: key %d is RSA of %d bits;"
			    " at least 2048 are needed", block, EVP_PKEY_get_bits(pkey));
			return -1;
		}
		*kind = KEY_RSA;
		return 0;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
			group[0] = '\0';
		if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0) {
			snprintf(err, errlen, "POLLHUB_JWT_KEYS: key %d is EC on curve '%s';"
			    " only P-256 (prime256v1, ES256) is accepted", block, group);
			return -1;
		}
		*kind = KEY_EC;
		return 0;
	default:
		snprintf(err, errlen, "POLLHUB_JWT_KEYS: key %d is neither RSA nor EC P-256",
		    block);
		return -1;
	}
}

/* One PEM block of the keys file: a "PUBLIC KEY" (SubjectPublicKeyInfo),
 * kept as PEM text, which is what libjwt reads. */
static int
key_add(struct jwtcheck *j, const char *name, const unsigned char *der, long derlen, int block,
    char *err, size_t errlen)
{
	struct jwt_key *k = &j->keys[j->nkeys];
	EVP_PKEY *pkey = NULL;
	BIO *mem = NULL;
	char *data;
	long n;
	int rc = -1;

	if (strcmp(name, "PUBLIC KEY") != 0)
		snprintf(err, errlen, "POLLHUB_JWT_KEYS: block %d is a '%.40s', not a PUBLIC KEY"
		    " (`openssl pkey -pubout` or `openssl x509 -pubkey -noout` makes one)",
		    block, name);
	else if ((pkey = d2i_PUBKEY(NULL, &der, derlen)) == NULL)
		snprintf(err, errlen, "POLLHUB_JWT_KEYS: key %d is not a valid public key", block);
	else if (key_classify(pkey, block, &k->kind, err, errlen) == 0) {
		if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(mem, pkey) != 1 ||
		    (n = BIO_get_mem_data(mem, &data)) <= 0 || (k->pem = strndup(data, (size_t)n)) == NULL)
			snprintf(err, errlen, "out of memory");
		else {
			k->pemlen = (int)n;
			j->nkeys++;
			rc = 0;
		}
	}
	BIO_free(mem);
	EVP_PKEY_free(pkey);
	return rc;
}

/* POLLHUB_JWT_KEYS: one or more concatenated PEM public keys. */
static int
keys_load(struct jwtcheck *j, const char *path, char *err, size_t errlen)
{
	char *text, *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	size_t len;
	long derlen;
	BIO *in;
	int rc = -1, block = 0;

	if (file_read("POLLHUB_JWT_KEYS", path, KEYS_FILE_MAX, &text, &len, err, errlen) == -1)
		return -1;
	if ((j->keys = calloc(KEYS_MAX, sizeof(*j->keys))) == NULL ||
	    (in = BIO_new_mem_buf(text, (int)len)) == NULL) {
		free(text);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ERR_clear_error();
	while (PEM_read_bio(in, &name, &header, &der, &derlen) == 1) {
		if (++block > KEYS_MAX) {
			snprintf(err, errlen, "POLLHUB_JWT_KEYS: more than %d keys in '%s'",
			    KEYS_MAX, path);
			goto done;
		}
		if (key_add(j, name, der, derlen, block, err, errlen) == -1)
			goto done;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	/* The loop ends at the end of the file, or at a block that is not PEM. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		snprintf(err, errlen, "POLLHUB_JWT_KEYS: block %d of '%s' is not valid PEM",
		    block + 1, path);
		goto done;
	}
	if (j->nkeys == 0) {
		snprintf(err, errlen, "POLLHUB_JWT_KEYS: '%s' holds no PEM public key", path);
		goto done;
	}
	rc = 0;
done:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(in);
	free(text);
	return rc;
}

/* POLLHUB_JWT_SECRET_FILE: the HS256 secret, its bytes less a final newline. */
static int
secret_load(struct jwtcheck *j, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;

	if (file_read("POLLHUB_JWT_SECRET_FILE", path, SECRET_MAX, &text, &len,
	    err, errlen) == -1)
		return -1;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len < SECRET_MIN) {
		snprintf(err, errlen, "POLLHUB_JWT_SECRET_FILE: the secret in '%s' is %zu bytes;"
		    " at least %d are needed (`openssl rand -base64 48` makes one)",
		    path, len, SECRET_MIN);
		OPENSSL_cleanse(text, len);
		free(text);
		return -1;
	}
	j->secret = (unsigned char *)text;
	j->secretlen = (int)len;
	return 0;
}

int
jwtcheck_new(struct jwtcheck **out, const char *keys_path, const char *secret_path,
    const struct jwtcheck_policy *policy, char *err, size_t errlen)
{
	struct jwtcheck *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (keys_path == NULL && secret_path == NULL) {
		snprintf(err, errlen, "no key: neither POLLHUB_JWT_KEYS nor POLLHUB_JWT_SECRET_FILE");
		free(j);
		return -1;
	}
	if (j == NULL)
		goto nomem;
	j->policy = *policy;
	j->policy.issuer = j->policy.audience = j->policy.user_claim = NULL;
	if ((policy->issuer != NULL && (j->policy.issuer = strdup(policy->issuer)) == NULL) ||
	    (policy->audience != NULL &&
	    (j->policy.audience = strdup(policy->audience)) == NULL) ||
	    (j->policy.user_claim = strdup(policy->user_claim)) == NULL)
		goto nomem;
	if ((keys_path != NULL && keys_load(j, keys_path, err, errlen) == -1) ||
	    (secret_path != NULL && secret_load(j, secret_path, err, errlen) == -1)) {
		jwtcheck_free(j);
		return -1;
	}
	*out = j;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	jwtcheck_free(j);
	return -1;
}

void
jwtcheck_free(struct jwtcheck *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->nkeys; i++)
		free(j->keys[i].pem);
	free(j->keys);
	if (j->secret != NULL) {
		OPENSSL_cleanse(j->secret, (size_t)j->secretlen);
		free(j->secret);
	}
	free((char *)j->policy.issuer);
	free((char *)j->policy.audience);
	free((char *)j->policy.user_claim);
	free(j);
}

/* --- Verification ---------------------------------------------------------- */

/* The value of a base64url character, or -1. */
static int
b64url_value(char c)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

	return p != NULL ? (int)(p - alphabet) : -1;
}

/* 1 if s[0..n) is non-empty unpadded base64url in its one canonical form
 * (the bits past the last byte zero), as JWS parts are. */
static int
b64url_valid(const char *s, size_t n)
{
	if (n == 0 || n % 4 == 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (b64url_value(s[i]) < 0)
			return 0;
	return (b64url_value(s[n - 1]) & (n % 4 == 2 ? 0x0f : n % 4 == 3 ? 0x03 : 0)) == 0;
}

/* Decode the base64url s[0..n) into out (at most max bytes). The decoded
 * length, or -1 when it is not base64url or does not fit. */
static long
b64url_decode(const char *s, size_t n, unsigned char *out, size_t max)
{
	unsigned long bits = 0;
	size_t o = 0;
	int have = 0;

	if (!b64url_valid(s, n) || n / 4 * 3 + 2 > max)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 6) | (unsigned long)b64url_value(s[i]);
		if ((have += 6) >= 8) {
			have -= 8;
			out[o++] = (unsigned char)(bits >> have);
		}
	}
	return (long)o;
}

/* Parse text[0..len) as one JSON object (strict, depth-limited); NULL if not. */
static json_object *
json_parse_object(const char *text, size_t len, int depth)
{
	json_tokener *tok = json_tokener_new_ex(depth);
	json_object *o;

	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o != NULL && (json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The algorithm the header asks for, accepted only when a configured key
 * dictates it: libjwt 1.10 takes the header's word, and would HMAC with a
 * PEM public key given as the secret. PH_OK with *alg, or a refusal. */
static enum ph_err
header_check(const struct jwtcheck *j, const char *b64, size_t n, jwt_alg_t *alg,
    struct outcome *o)
{
	unsigned char text[HEADER_MAX];
	json_object *h, *name, *typ;
	const char *s;
	long len;
	int have = 0;
	enum ph_err e = PH_OK;

	if ((len = b64url_decode(b64, n, text, sizeof(text))) < 0 ||
	    (h = json_parse_object((const char *)text, (size_t)len, 4)) == NULL)
		return fail(o, "the token's header is not a base64url JSON"
		    " object of at most %d bytes", HEADER_MAX);
	if (!json_object_object_get_ex(h, "alg", &name) ||
	    !json_object_is_type(name, json_type_string)) {
		e = fail(o, "the token's header has no alg");
		goto done;
	}
	s = json_object_get_string(name);
	*alg = strlen(s) != (size_t)json_object_get_string_len(name) ? JWT_ALG_INVAL :
	    strcmp(s, "RS256") == 0 ? JWT_ALG_RS256 : strcmp(s, "ES256") == 0 ?
	    JWT_ALG_ES256 : strcmp(s, "HS256") == 0 ? JWT_ALG_HS256 : JWT_ALG_INVAL;
	for (size_t i = 0; i < j->nkeys; i++)
		have |= (*alg == JWT_ALG_RS256 && j->keys[i].kind == KEY_RSA) ||
		    (*alg == JWT_ALG_ES256 && j->keys[i].kind == KEY_EC);
	have |= *alg == JWT_ALG_HS256 && j->secret != NULL;
	/* The header's text is named only when it is a known name: a why ends up
	 * in a response header. */
	if (strcasecmp(s, "none") == 0)
		e = fail(o, "alg none is refused");
	else if (*alg == JWT_ALG_INVAL)
		e = fail(o, "alg %s is not accepted (RS256, ES256 or HS256)",
		    jwt_str_alg(s) != JWT_ALG_INVAL && strcmp(jwt_alg_str(jwt_str_alg(s)), s) == 0 ?
		    s : "(unknown)");
	else if (!have)
		e = fail(o, "alg %s is refused: no key of that kind is"
		    " configured", jwt_alg_str(*alg));
	/* libjwt 1.10 refuses any other typ; crit names extensions we do not know. */
	else if (json_object_object_get_ex(h, "typ", &typ) &&
	    (!json_object_is_type(typ, json_type_string) ||
	    strcasecmp(json_object_get_string(typ), "JWT") != 0))
		e = fail(o, "the token's typ is not JWT");
	else if (json_object_object_get_ex(h, "crit", NULL))
		e = fail(o, "the token's header has crit extensions");
done:
	json_object_put(h);
	return e;
}

/* A NumericDate claim: PH_OK with *t (clamped), PH_NOT_FOUND, or PH_INVALID
 * when it is not a number. */
static enum ph_err
claim_time(json_object *claims, const char *name, long long *t)
{
	json_object *o;
	double d;

	if (!json_object_object_get_ex(claims, name, &o))
		return PH_NOT_FOUND;
	if (json_object_is_type(o, json_type_int))
		d = (double)json_object_get_int64(o);
	else if (json_object_is_type(o, json_type_double))
		d = json_object_get_double(o);
	else
		return PH_INVALID;
	*t = d > (double)TIME_MAX ? TIME_MAX : d < -(double)TIME_MAX ? -TIME_MAX : (long long)d;
	return PH_OK;
}

/* 1 if aud (a string or an array of strings) names want. */
static int
audience_has(json_object *claims, const char *want)
{
	json_object *aud, *one;
	size_t n;

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return 0;
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), want) == 0;
	if (!json_object_is_type(aud, json_type_array))
		return 0;
	n = json_object_array_length(aud);
	for (size_t i = 0; i < n; i++) {
		one = json_object_array_get_idx(aud, i);
		if (json_object_is_type(one, json_type_string) &&
		    strcmp(json_object_get_string(one), want) == 0)
			return 1;
	}
	return 0;
}

static enum ph_err
claims_times(const struct jwtcheck *j, json_object *claims, long long *exp, struct outcome *o)
{
	long long now = (long long)time(NULL), nbf;
	enum ph_err e;

	if ((e = claim_time(claims, "exp", exp)) == PH_NOT_FOUND)
		return fail(o, "the token has no exp");
	if (e != PH_OK)
		return fail(o, "the token's exp is not a number");
	if (now > *exp + j->policy.leeway)
		return fail(o, "the token expired %lld s ago", now - *exp);
	if ((e = claim_time(claims, "nbf", &nbf)) == PH_INVALID)
		return fail(o, "the token's nbf is not a number");
	if (e == PH_OK && now + j->policy.leeway < nbf)
		return fail(o, "the token is not valid for another %lld s",
		    nbf - now);
	return PH_OK;
}

/* The verified token's claims: times, iss, aud, then the user. PH_OK with
 * o->user and *exp, or a refusal. */
static enum ph_err
claims_check(const struct jwtcheck *j, jwt_t *jwt, long long *exp, struct outcome *o)
{
	char *text = jwt_get_grants_json(jwt, NULL);
	json_object *claims, *iss, *user;
	const char *name = j->policy.user_claim;
	enum ph_err e;
	size_t len;

	claims = text != NULL ? json_parse_object(text, strlen(text), 64) : NULL;
	free(text);
	if (claims == NULL)
		return fail(o, "the token's claims are not a JSON object");
	if ((e = claims_times(j, claims, exp, o)) != PH_OK)
		goto done;
	if (j->policy.issuer != NULL && (!json_object_object_get_ex(claims, "iss", &iss) ||
	    !json_object_is_type(iss, json_type_string) ||
	    strcmp(json_object_get_string(iss), j->policy.issuer) != 0)) {
		e = fail(o, "the token's iss is not POLLHUB_JWT_ISSUER");
		goto done;
	}
	if (j->policy.audience != NULL && !audience_has(claims, j->policy.audience)) {
		e = fail(o, "the token's aud does not name POLLHUB_JWT_AUDIENCE");
		goto done;
	}
	if (!json_object_object_get_ex(claims, name, &user))
		e = fail(o, "the token has no %s claim", name);
	else if (!json_object_is_type(user, json_type_string))
		e = fail(o, "the token's %s claim is not a string", name);
	else if ((len = (size_t)json_object_get_string_len(user)) >= JWTCHECK_USER_SIZE ||
	    !j->policy.user_valid(json_object_get_string(user), len))
		e = fail(o, "the token's %s claim is not a valid user name", name);
	else
		memcpy(o->user, json_object_get_string(user), len + 1);
done:
	json_object_put(claims);
	return e;
}

/* The first configured key of alg's kind that verifies token, through libjwt.
 * NULL when none does. */
static jwt_t *
signature_verify(const struct jwtcheck *j, const char *token, jwt_alg_t alg)
{
	jwt_t *jwt = NULL;

	if (alg == JWT_ALG_HS256) {
		if (jwt_decode(&jwt, token, j->secret, j->secretlen) != 0)
			jwt = NULL;
	} else {
		for (size_t i = 0; i < j->nkeys && jwt == NULL; i++) {
			if ((alg == JWT_ALG_RS256) != (j->keys[i].kind == KEY_RSA))
				continue;
			if (jwt_decode(&jwt, token, (const unsigned char *)j->keys[i].pem,
			    j->keys[i].pemlen) != 0)
				jwt = NULL;
		}
	}
	/* A failed verification leaves errors on this thread's OpenSSL queue,
	 * where libpq would find them. */
	ERR_clear_error();
	return jwt;
}

static enum ph_err
token_verify(const struct jwtcheck *j, const char *token, long long *until, struct outcome *o)
{
	size_t n = strlen(token);
	const char *dot1 = memchr(token, '.', n), *dot2, *sig;
	long long exp;
	jwt_alg_t alg = JWT_ALG_INVAL;
	jwt_t *jwt;
	enum ph_err e;

	if (dot1 == NULL)
		return fail(o, "the token is not a JWT (header.payload.signature)");
	if ((e = header_check(j, token, (size_t)(dot1 - token), &alg, o)) != PH_OK)
		return e;
	dot2 = memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token));
	if (dot2 == NULL || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - token)) != NULL)
		return fail(o, "the token is not a JWS of three parts");
	sig = dot2 + 1;
	if (!b64url_valid(dot1 + 1, (size_t)(dot2 - dot1 - 1)) ||
	    !b64url_valid(sig, n - (size_t)(sig - token)))
		return fail(o, "the token's payload or signature is not base64url");
	if ((jwt = signature_verify(j, token, alg)) == NULL)
		return fail(o, "the %s signature does not verify with any"
		    " configured key", jwt_alg_str(alg));
	/* Both parsers must have read the same alg from the header. */
	if (jwt_get_alg(jwt) != alg) {
		jwt_free(jwt);
		return fail(o, "the token's header is ambiguous");
	}
	if ((e = claims_check(j, jwt, &exp, o)) == PH_OK)
		*until = exp + j->policy.leeway;
	jwt_free(jwt);
	return e;
}

int
jwtcheck_verify(const struct jwtcheck *j, const char *token, char *user, long long *until,
    char *why, size_t whylen)
{
	struct outcome o = { user, why, whylen };

	user[0] = '\0';
	if (whylen > 0)
		why[0] = '\0';
	return token_verify(j, token, until, &o) == PH_OK ? 0 : -1;
}

