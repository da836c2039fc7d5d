/* Unit tests for common/ids.h. */
#include "ids.h"
#include "unit.h"

/* Encode and compare, checking that nothing is written past the documented size. */
static void
vector(const char *in, size_t n, const char *want)
{
	char out[64];
	size_t need = 4 * ((n + 2) / 3) + 1, got;

	memset(out, '#', sizeof(out));
	got = base64url_encode((const unsigned char *)in, n, out);
	CHECK_STREQ(out, want);
	CHECK_INTEQ(got, strlen(want));
	CHECK_INTEQ(out[need], '#');
}

static void
test_base64url(void)
{
	/* RFC 4648 section 10, without padding. */
	vector("", 0, "");
	vector("f", 1, "Zg");
	vector("fo", 2, "Zm8");
	vector("foo", 3, "Zm9v");
	vector("foob", 4, "Zm9vYg");
	vector("fooba", 5, "Zm9vYmE");
	vector("foobar", 6, "Zm9vYmFy");
	/* The URL-safe alphabet: 62 is '-', 63 is '_'. */
	vector("\xfb\xff", 2, "-_8");
	vector("\xfb\xef\xbe", 3, "----");
	vector("\xff\xff\xff", 3, "____");
	vector("\0", 1, "AA");
	vector("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, "AAAAAAAAAAAAAAAAAAAAAA");
}

static int
all_url_safe(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

static void
test_generate(void)
{
	char a[ID_LEN + 1], b[ID_LEN + 1];
	int ok = 1, tail_ok = 1;

	CHECK_INTEQ(id_generate(a), 0);
	CHECK_INTEQ(id_generate(b), 0);
	CHECK_INTEQ(strlen(a), ID_LEN);
	CHECK_INTEQ(strlen(b), ID_LEN);
	CHECK(all_url_safe(a));
	CHECK(id_is_wellformed(a, strlen(a)));
	CHECK(strcmp(a, b) != 0);
	for (int i = 0; i < 1000; i++) {
		if (id_generate(a) != 0 || strlen(a) != ID_LEN || !all_url_safe(a))
			ok = 0;
		/* 128 bits in 22 characters: the last holds 2 bits and 4 zero bits. */
		if (strchr("AQgw", a[ID_LEN - 1]) == NULL)
			tail_ok = 0;
	}
	CHECK(ok);
	CHECK(tail_ok);
}

static void
test_wellformed(void)
{
	CHECK_INTEQ(id_is_wellformed("abcdefghijklmnopqrstuv", 22), 1);
	CHECK_INTEQ(id_is_wellformed("ABCDEFGHIJ0123456789-_", 22), 1);
	CHECK_INTEQ(id_is_wellformed("", 0), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghijklmnopqrstu", 21), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghijklmnopqrstuvw", 23), 0);
	/* Standard base64 characters and padding are not URL-safe. */
	CHECK_INTEQ(id_is_wellformed("abcdefghijklmnopqrstu+", 22), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghijklmnopqrstu/", 22), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghijklmnopqrst==", 22), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghij klmnopqrstu", 22), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghij.klmnopqrstu", 22), 0);
	/* Length is explicit: a NUL or high byte inside is just a bad character. */
	CHECK_INTEQ(id_is_wellformed("abcdefghij\0klmnopqrstu", 22), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghij\xc3\xa9lmnopqrstu", 22), 0);
	CHECK_INTEQ(id_is_wellformed("abcdefghijklmnopqrstuvEXTRA", 22), 1);
}

/* The brief's vectors, shared with pollhub.token_key in SQL. */
static void
test_token_key(void)
{
	char key[ID_KEY_LEN + 1], other[ID_KEY_LEN + 1];

	memset(key, '#', sizeof(key));
	CHECK_INTEQ(id_token_key("alice", "abc", key), 0);
	CHECK_STREQ(key, "izvVd3xzLdgL6RWIRICaabRGxJ6Nk24AKZw7du3PatU");
	CHECK_INTEQ(strlen(key), ID_KEY_LEN);
	CHECK_INTEQ(id_token_key("", "abc", key), 0);
	CHECK_STREQ(key, "YJ9uNtJAVYUYjVz9dh9AfHzEan0_MUyIJwRp3eMV_NE");
	/* SHA-256 of the single NUL byte: the separator is always hashed. */
	CHECK_INTEQ(id_token_key("", "", key), 0);
	CHECK_STREQ(key, "bjQLnP-zepicpUTmu3gKLHiQHT-zNzh2hRGjBhevoB0");
	/* The separator keeps user and token apart. */
	CHECK_INTEQ(id_token_key("ab", "c", key), 0);
	CHECK_INTEQ(id_token_key("a", "bc", other), 0);
	CHECK(strcmp(key, other) != 0);
	/* Another user's identity gives another key for the same token. */
	CHECK_INTEQ(id_token_key("bob", "abc", other), 0);
	CHECK(strcmp(other, "izvVd3xzLdgL6RWIRICaabRGxJ6Nk24AKZw7du3PatU") != 0);
	CHECK(all_url_safe(other));
	CHECK_INTEQ(strlen(other), ID_KEY_LEN);
}

int
main(void)
{
	test_base64url();
	test_generate();
	test_wellformed();
	test_token_key();
	return unit_done();
}
