/* Unit tests for common/query.h. */
#include <stdlib.h>

#include "query.h"
#include "unit.h"

/* query_get on a string literal with its exact length (NULs included). */
#define Q(lit, key, out, outlen) query_get((lit), sizeof(lit) - 1, (key), (out), (outlen))

static void
test_found_absent_empty(void)
{
	char out[64];

	CHECK_INTEQ(Q("a=1&b=2", "b", out, sizeof(out)), 1);
	CHECK_STREQ(out, "2");
	CHECK_INTEQ(Q("a=1&b=2", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "1");
	CHECK_INTEQ(Q("a=1&b=2", "c", out, sizeof(out)), 0);
	CHECK_INTEQ(Q("", "a", out, sizeof(out)), 0);
	CHECK_INTEQ(Q("&&&", "a", out, sizeof(out)), 0);
	CHECK_INTEQ(Q("a=&b=2", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "");
	/* A name without '=' is present with an empty value. */
	CHECK_INTEQ(Q("a&b=2", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "");
	CHECK_INTEQ(Q("b=2&a", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "");
	/* Only the first '=' separates. */
	CHECK_INTEQ(Q("a=b=c", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "b=c");
	/* Case-sensitive names; the first occurrence wins. */
	CHECK_INTEQ(Q("ID=1", "id", out, sizeof(out)), 0);
	CHECK_INTEQ(Q("id=1&id=2", "id", out, sizeof(out)), 1);
	CHECK_STREQ(out, "1");
}

static void
test_decoding(void)
{
	char out[64];

	CHECK_INTEQ(Q("a=%41%42%2f%2F", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "AB//");
	CHECK_INTEQ(Q("a=x+y", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "x y");
	CHECK_INTEQ(Q("a=%2B", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "+");
	CHECK_INTEQ(Q("a=%26%3D", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "&=");
	/* Names are compared after decoding. */
	CHECK_INTEQ(Q("%61=1", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "1");
	CHECK_INTEQ(Q("a+b=1", "a b", out, sizeof(out)), 1);
	/* Bytes are not checked for UTF-8: that is the caller's business. */
	CHECK_INTEQ(Q("a=%C3%A9%FF", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "\xc3\xa9\xff");
}

static void
test_bad_encoding(void)
{
	char out[64];

	CHECK_INTEQ(Q("a=%", "a", out, sizeof(out)), -1);
	CHECK_INTEQ(Q("a=%4", "a", out, sizeof(out)), -1);
	CHECK_INTEQ(Q("a=%G1", "a", out, sizeof(out)), -1);
	CHECK_INTEQ(Q("a=%4G", "a", out, sizeof(out)), -1);
	CHECK_INTEQ(Q("a=x%", "a", out, sizeof(out)), -1);
	CHECK_INTEQ(Q("a=%%41", "a", out, sizeof(out)), -1);
	/* %00 would end the C string early: refused. */
	CHECK_INTEQ(Q("a=%00", "a", out, sizeof(out)), -1);
	CHECK_INTEQ(Q("a=x%00y", "a", out, sizeof(out)), -1);
	/* A raw NUL inside the given length also decodes to a NUL byte. */
	CHECK_INTEQ(Q("a=x\0y", "a", out, sizeof(out)), -1);
	/* A badly encoded value of another key does not matter... */
	CHECK_INTEQ(Q("b=%ZZ&a=1", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "1");
	/* ...nor a badly encoded name. */
	CHECK_INTEQ(Q("%ZZ=1&a=2", "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "2");
}

static void
test_explicit_length(void)
{
	char out[64];

	/* The string goes on past len: only qs[0..len) counts. */
	CHECK_INTEQ(query_get("a=12345", 4, "a", out, sizeof(out)), 1);
	CHECK_STREQ(out, "12");
	CHECK_INTEQ(query_get("a=%41", 4, "a", out, sizeof(out)), -1);
	CHECK_INTEQ(query_get("a=1&b=2", 5, "b", out, sizeof(out)), 1);
	CHECK_STREQ(out, "");
	CHECK_INTEQ(query_get("a=1&b=2", 3, "b", out, sizeof(out)), 0);
	CHECK_INTEQ(query_get("a=1", 0, "a", out, sizeof(out)), 0);
}

static void
test_output_bounds(void)
{
	char out[16];

	CHECK_INTEQ(Q("a=1", "a", out, 0), -1);
	memset(out, '#', sizeof(out));
	CHECK_INTEQ(Q("a=", "a", out, 1), 1);
	CHECK_STREQ(out, "");
	memset(out, '#', sizeof(out));
	CHECK_INTEQ(Q("a=abc", "a", out, 4), 1);
	CHECK_STREQ(out, "abc");
	CHECK_INTEQ(out[4], '#');
	memset(out, '#', sizeof(out));
	CHECK_INTEQ(Q("a=abcd", "a", out, 4), -1);
	CHECK_INTEQ(out[4], '#');
	/* The limit applies to the decoded length. */
	CHECK_INTEQ(Q("a=%41%41%41", "a", out, 4), 1);
	CHECK_STREQ(out, "AAA");
	CHECK_INTEQ(Q("a=%41%41%41%41", "a", out, 4), -1);
	CHECK_INTEQ(out[4], '#');
}

static void
test_key_positions(void)
{
	char out[64];

	CHECK_INTEQ(Q("x=1&y=2&id=abc", "id", out, sizeof(out)), 1);
	CHECK_STREQ(out, "abc");
	/* A key that is a prefix of another key, either way round. */
	CHECK_INTEQ(Q("idx=1&id=2", "id", out, sizeof(out)), 1);
	CHECK_STREQ(out, "2");
	CHECK_INTEQ(Q("id=2&idx=1", "idx", out, sizeof(out)), 1);
	CHECK_STREQ(out, "1");
	CHECK_INTEQ(Q("i=0&id=2", "id", out, sizeof(out)), 1);
	CHECK_STREQ(out, "2");
	CHECK_INTEQ(Q("idx=1", "id", out, sizeof(out)), 0);
	CHECK_INTEQ(Q("xid=1", "id", out, sizeof(out)), 0);
	/* The value of one key is never taken for a key. */
	CHECK_INTEQ(Q("a=id&b=2", "id", out, sizeof(out)), 0);
}

static void
test_huge(void)
{
	size_t n = 400000, vlen = 10000, i;
	char *qs = malloc(n + 32), *out = malloc(vlen + 1);

	if (qs == NULL || out == NULL) {
		CHECK(0);
		goto done;
	}
	/* 100000 other parameters before the one wanted. */
	for (i = 0; i < n; i += 4)
		memcpy(qs + i, "x=1&", 4);
	memcpy(qs + n, "id=ok", 5);
	CHECK_INTEQ(query_get(qs, n + 5, "id", out, vlen + 1), 1);
	CHECK_STREQ(out, "ok");
	CHECK_INTEQ(query_get(qs, n, "id", out, vlen + 1), 0);

	/* A long value: fits with outlen = vlen + 1, not with vlen. */
	memcpy(qs, "id=", 3);
	memset(qs + 3, 'v', vlen);
	CHECK_INTEQ(query_get(qs, 3 + vlen, "id", out, vlen + 1), 1);
	CHECK_INTEQ(strlen(out), vlen);
	CHECK_INTEQ(query_get(qs, 3 + vlen, "id", out, vlen), -1);
done:
	free(qs);
	free(out);
}

int
main(void)
{
	test_found_absent_empty();
	test_decoding();
	test_bad_encoding();
	test_explicit_length();
	test_output_bounds();
	test_key_positions();
	test_huge();
	return unit_done();
}
