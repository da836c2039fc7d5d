/* Unit tests for fcgi/negotiate.h (the parts that need no request or database). */
#include <stdlib.h>

#include "negotiate.h"
#include "unit.h"

#define LIT(s) (s), (sizeof(s) - 1)
#define REMOTE "192.0.2.7"

static void
test_version(void)
{
	CHECK_INTEQ(negotiate_version("", 0), 0);
	CHECK_INTEQ(negotiate_version(LIT("id=abc")), 0);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=1")), 1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=0")), 0);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=5")), 1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=2147483648")), 1);
	CHECK_INTEQ(negotiate_version(LIT("x=1&negotiateVersion=1&y=2")), 1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=%31")), 1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=abc")), -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=1x")), -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=1.0")), -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=")), -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion")), -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=%")), -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=%00")), -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=99999999999999999999")), -1);
	/* Longer than any integer: not one we can read. */
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=0000000000000000000000000000000000001")),
	    -1);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=-1")), -2);
	CHECK_INTEQ(negotiate_version(LIT("negotiateVersion=-99")), -2);
	/* Only query[0..len) is read. */
	CHECK_INTEQ(negotiate_version("negotiateVersion=1", 17), -1);
	CHECK_INTEQ(negotiate_version("negotiateVersion=-1", 18), -1);
}

static void
test_body(void)
{
	struct buf b = BUF_INIT;

	CHECK_INTEQ(negotiate_body(&b, 1, "ID", "TOK"), 0);
	CHECK_STREQ(b.data, "{\"negotiateVersion\":1,\"connectionId\":\"ID\","
	    "\"connectionToken\":\"TOK\",\"availableTransports\":["
	    "{\"transport\":\"ServerSentEvents\",\"transferFormats\":[\"Text\"]},{\"transport\":\"LongPolling\","
	    "\"transferFormats\":[\"Text\",\"Binary\"]}]}");
	CHECK_INTEQ(strlen(b.data), b.len);
	buf_free(&b);
	CHECK_INTEQ(negotiate_body(&b, 0, "ID", "TOK"), 0);
	CHECK_STREQ(b.data, "{\"negotiateVersion\":0,\"connectionId\":\"ID\","
	    "\"availableTransports\":[{\"transport\":\"ServerSentEvents\",\"transferFormats\":[\"Text\"]},"
	    "{\"transport\":\"LongPolling\","
	    "\"transferFormats\":[\"Text\",\"Binary\"]}]}");
	CHECK(strstr(b.data, "TOK") == NULL);
	buf_free(&b);
	/* Real ids contain '-' and '_', which JSON leaves alone. */
	CHECK_INTEQ(negotiate_body(&b, 1, "abc-_DEF0123456789xyzA", "Q-_q"), 0);
	CHECK_CONTAINS(b.data, "\"connectionId\":\"abc-_DEF0123456789xyzA\"");
	CHECK_CONTAINS(b.data, "\"connectionToken\":\"Q-_q\"");
	buf_free(&b);
	/* It appends. */
	buf_puts(&b, "x");
	CHECK_INTEQ(negotiate_body(&b, 1, "I", "T"), 0);
	CHECK(b.data != NULL && strncmp(b.data, "x{\"negotiateVersion\":1,", 23) == 0);
	buf_free(&b);
}

/* Group lookup; returns the group or "(refused)". */
static const char *
group(const char *query, size_t len, const char *param, const char *remote)
{
	static char out[SQL_GROUP_SIZE];

	memset(out, '#', sizeof(out));
	out[sizeof(out) - 1] = '\0';
	if (negotiate_group(query, len, param, remote, out, sizeof(out)) != PH_OK)
		return "(refused)";
	return out;
}

static void
test_group(void)
{
	char q[1200];
	int n;

	/* No parameter configured: the client address. */
	CHECK_STREQ(group(LIT("group=a"), NULL, REMOTE), REMOTE);
	CHECK_STREQ(group(LIT("group=a"), "", REMOTE), REMOTE);
	CHECK_STREQ(group("", 0, NULL, "::1"), "::1");
	/* Configured and present: the decoded value. */
	CHECK_STREQ(group(LIT("group=a"), "group", REMOTE), "a");
	CHECK_STREQ(group(LIT("id=x&group=room%201+b"), "group", REMOTE), "room 1 b");
	CHECK_STREQ(group(LIT("group=%C3%A9t%C3%A9"), "group", REMOTE), "\xc3\xa9t\xc3\xa9");
	/* Configured but absent or empty: the client address. */
	CHECK_STREQ(group(LIT("id=x"), "group", REMOTE), REMOTE);
	CHECK_STREQ(group(LIT("group="), "group", REMOTE), REMOTE);
	CHECK_STREQ(group(LIT("group"), "group", REMOTE), REMOTE);
	CHECK_STREQ(group(LIT("groupx=a"), "group", REMOTE), REMOTE);
	/* Badly encoded: refused, not silently replaced by the address. */
	CHECK_STREQ(group(LIT("group=%"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%00"), "group", REMOTE), "(refused)");
	/* Control characters. */
	CHECK_STREQ(group(LIT("group=%01"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=a%0Ab"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%1E"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%7F"), "group", REMOTE), "(refused)");
	/* Not a character at all: invalid UTF-8 would fail later in the database. */
	CHECK_STREQ(group(LIT("group=%FF"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=a%C3"), "group", REMOTE), "(refused)");
	/* Length: 256 is fine, 257 is not, nor a value too long for the buffer. */
	n = snprintf(q, sizeof(q), "group=%0256d", 0);
	CHECK_INTEQ(strlen(group(q, (size_t)n, "group", REMOTE)), 256);
	n = snprintf(q, sizeof(q), "group=%0257d", 0);
	CHECK_STREQ(group(q, (size_t)n, "group", REMOTE), "(refused)");
	n = snprintf(q, sizeof(q), "group=%0600d", 0);
	CHECK_STREQ(group(q, (size_t)n, "group", REMOTE), "(refused)");
	/* The limit counts characters, as the database's CHECK (length(name)
	 * BETWEEN 1 AND 256) does: 256 two-byte characters (512 bytes) and 256
	 * four-byte ones (1024 bytes) are fine, 257 are not. */
	{
		char big[SQL_GROUP_SIZE * 3 + 32];
		size_t o;

		o = (size_t)snprintf(big, sizeof(big), "group=");
		for (int i = 0; i < 256; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o, "%%C3%%A9");
		CHECK_INTEQ(strlen(group(big, o, "group", REMOTE)), 512);
		o += (size_t)snprintf(big + o, sizeof(big) - o, "x");
		CHECK_STREQ(group(big, o, "group", REMOTE), "(refused)");
		o = (size_t)snprintf(big, sizeof(big), "group=");
		for (int i = 0; i < 256; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o, "%%F0%%9F%%98%%80");
		CHECK_INTEQ(strlen(group(big, o, "group", REMOTE)), 1024);
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%%C3%%A9");
		CHECK_STREQ(group(big, o, "group", REMOTE), "(refused)");
	}
	/* C1 controls, the line and paragraph separators, bidi controls: not
	 * printable either; other non-ASCII punctuation is. */
	CHECK_STREQ(group(LIT("group=a%C2%85b"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%C2%80"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%C2%9F"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=a%E2%80%A8b"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=a%E2%80%A9b"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%E2%80%AEevil"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%E2%80%AA"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%E2%81%A6x%E2%81%A9"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%E2%80%8F"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%D8%9C"), "group", REMOTE), "(refused)");
	CHECK_STREQ(group(LIT("group=%C2%A0%E2%80%A6%E2%82%AC"), "group", REMOTE),
	    "\xc2\xa0\xe2\x80\xa6\xe2\x82\xac");
	CHECK_INTEQ(negotiate_group_valid("a"), 1);
	CHECK_INTEQ(negotiate_group_valid(""), 0);
	CHECK_INTEQ(negotiate_group_valid("\xe2\x80\xae"), 0);
	CHECK_INTEQ(negotiate_group_valid("a\xed\xa0\x80"), 0);
	/* No address either. */
	CHECK_STREQ(group("", 0, NULL, ""), "(refused)");
	CHECK_STREQ(group(LIT("group="), "group", ""), "(refused)");
	/* An address that does not fit the caller's buffer. */
	{
		char small[10] = "";
		CHECK_INTEQ(negotiate_group("", 0, NULL, "10.0.0.100", small, sizeof(small)), PH_INVALID);
		CHECK_INTEQ(negotiate_group("", 0, NULL, "10.0.0.10", small, sizeof(small)), PH_OK);
		CHECK_STREQ(small, "10.0.0.10");
		/* The value from the query is bounded by the buffer too. */
		CHECK_INTEQ(negotiate_group(LIT("g=0123456789"), "g", REMOTE, small, sizeof(small)),
		    PH_INVALID);
	}
}

static void
test_decide(void)
{
	struct negotiate_plan p;
	struct buf b = BUF_INIT;

	negotiate_decide(LIT("negotiateVersion=1&group=a"), "group", REMOTE, &p);
	CHECK(p.refusal == NULL);
	CHECK_INTEQ(p.version, 1);
	CHECK_STREQ(p.group, "a");
	negotiate_decide("", 0, NULL, REMOTE, &p);
	CHECK(p.refusal == NULL);
	CHECK_INTEQ(p.version, 0);
	CHECK_STREQ(p.group, REMOTE);
	/* The version is judged first, as ASP.NET does. */
	negotiate_decide(LIT("negotiateVersion=x&group=%00"), "group", REMOTE, &p);
	CHECK_STREQ(p.refusal, "The client requested a non-integer protocol version.");
	negotiate_decide(LIT("negotiateVersion=-1&group=%00"), "group", REMOTE, &p);
	CHECK_STREQ(p.refusal, "The client requested a negative protocol version.");
	negotiate_decide(LIT("negotiateVersion=1&group=%00"), "group", REMOTE, &p);
	CHECK_STREQ(p.refusal, "The group name must be 1 to 256 printable characters.");
	/* SQL metacharacters are just characters of a group name. */
	negotiate_decide(LIT("group=a'%3B--%20%22%5C%24%24%25"), "group", REMOTE, &p);
	CHECK(p.refusal == NULL);
	CHECK_STREQ(p.group, "a';-- \"\\$$%");

	CHECK_INTEQ(negotiate_refusal_body(&b, "The client requested a negative protocol version."),
	    0);
	CHECK_STREQ(b.data, "{\"error\":\"The client requested a negative protocol version.\"}");
	buf_free(&b);
	CHECK_INTEQ(negotiate_refusal_body(&b, "quote \" and \\"), 0);
	CHECK_STREQ(b.data, "{\"error\":\"quote \\\" and \\\\\"}");
	buf_free(&b);
}

static void
test_hub_path(void)
{
	char out[NEGOTIATE_HUB_PATH];

	CHECK_INTEQ(negotiate_hub_path("/meetings/negotiate", out, sizeof(out)), 0);
	CHECK_STREQ(out, "/meetings");
	/* Mounted below a prefix: the hub is the segment before /negotiate. */
	CHECK_INTEQ(negotiate_hub_path("/site/products/negotiate", out, sizeof(out)), 0);
	CHECK_STREQ(out, "/products");
	CHECK_INTEQ(negotiate_hub_path("/negotiate", out, sizeof(out)), -1);
	CHECK_INTEQ(negotiate_hub_path("//negotiate", out, sizeof(out)), -1);
	CHECK_INTEQ(negotiate_hub_path("/meetings", out, sizeof(out)), -1);
	CHECK_INTEQ(negotiate_hub_path("meetings/negotiate", out, sizeof(out)), -1);
	CHECK_INTEQ(negotiate_hub_path("", out, sizeof(out)), -1);
	/* Longer than any hub's path may be: none. */
	CHECK_INTEQ(negotiate_hub_path("/a123456789a123456789a123456789a123456789a123456789"
	    "a123456789a123456789a/negotiate", out, sizeof(out)), -1);
}

int
main(void)
{
	test_hub_path();
	test_version();
	test_body();
	test_group();
	test_decide();
	return unit_done();
}
