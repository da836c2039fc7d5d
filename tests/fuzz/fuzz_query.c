/*
 * Fuzz query-string lookup and the negotiate decisions built on it. The first
 * byte picks the output size; the rest is the query string, cut at its first
 * NUL as FastCGI hands it over (raw NULs inside a length are a unit test).
 * Each lookup runs twice, into an exact-size heap buffer (ASan catches any
 * overrun) and into one large enough for anything, and the two must agree.
 */
#include <string.h>

#include "fuzz.h"
#include "negotiate.h"
#include "query.h"
#include "sqlproto.h"
#include "utf8.h"

static const char *const keys[] = { "id", "negotiateVersion", "group", "a", "", "idx", "a b" };

static void
check_key(const char *qs, size_t len, const char *key, size_t outlen)
{
	char *small = malloc(outlen), *big = malloc(len + 1);
	int rs, rb;

	REQUIRE(small != NULL && big != NULL);
	rs = query_get(qs, len, key, small, outlen);
	rb = query_get(qs, len, key, big, len + 1);
	REQUIRE(rs >= -1 && rs <= 1 && rb >= -1 && rb <= 1);
	/* Whether the key is there does not depend on the buffer. */
	REQUIRE((rs == 0) == (rb == 0));
	if (rb == -1)
		REQUIRE(rs == -1);
	if (rs == 1) {
		REQUIRE(strlen(small) < outlen);
		REQUIRE(rb == 1 && strcmp(small, big) == 0);
	}
	if (rb == 1) {
		REQUIRE(strlen(big) <= len);
		if (strlen(big) >= outlen)
			REQUIRE(rs == -1);
		else
			REQUIRE(rs == 1);
	}
	free(small);
	free(big);
}

static void
check_negotiate(const char *qs, size_t len)
{
	char out[SQL_GROUP_SIZE], value[SQL_GROUP_SIZE];
	int v = negotiate_version(qs, len), found;

	REQUIRE(v >= -2 && v <= 1);
	if (query_get(qs, len, "negotiateVersion", value, sizeof(value)) == 0)
		REQUIRE(v == 0);

	REQUIRE(negotiate_group(qs, len, NULL, "192.0.2.1", out, sizeof(out)) == PH_OK);
	REQUIRE(strcmp(out, "192.0.2.1") == 0);
	found = query_get(qs, len, "group", value, sizeof(value));
	if (negotiate_group(qs, len, "group", "192.0.2.1", out, sizeof(out)) == PH_OK) {
		size_t n = strlen(out);
		/* 1..SQL_GROUP_MAX characters, as the database counts them. */
		REQUIRE(n >= 1 && utf8_count(out, n) <= SQL_GROUP_MAX);
		for (size_t i = 0; i < n; i++)
			REQUIRE((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
		if (found == 1 && value[0] != '\0')
			REQUIRE(strcmp(out, value) == 0);
		else
			REQUIRE(strcmp(out, "192.0.2.1") == 0);
	} else {
		/* Refused only for a bad value, never for the (good) address. */
		REQUIRE(found != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *qs;
	size_t len, outlen;

	if (size == 0)
		return 0;
	outlen = 1 + data[0] % 64;
	qs = (const char *)data + 1;
	len = strnlen(qs, size - 1);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		check_key(qs, len, keys[i], outlen);
	check_negotiate(qs, len);
	return 0;
}
