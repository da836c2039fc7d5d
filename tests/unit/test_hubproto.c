/* Unit tests for common/hubproto.h. */
#include <stdlib.h>

#include "hubproto.h"
#include "unit.h"

#define LIT(s) (s), (sizeof(s) - 1)

#define HS_PREFIX "An unexpected error occurred during connection handshake. InvalidDataException: "

static void
test_record_len(void)
{
	CHECK_INTEQ(hubproto_record_len("", 0), -1);
	CHECK_INTEQ(hubproto_record_len(LIT("{}")), -1);
	CHECK_INTEQ(hubproto_record_len(LIT("\x1e")), 0);
	CHECK_INTEQ(hubproto_record_len(LIT("{}\x1e")), 2);
	CHECK_INTEQ(hubproto_record_len(LIT("{}\x1e{\"type\":6}\x1e")), 2);
	/* NULs before the separator are ordinary bytes. */
	CHECK_INTEQ(hubproto_record_len(LIT("a\0b\x1e")), 3);
	/* Only data[0..len) is searched. */
	CHECK_INTEQ(hubproto_record_len("ab\x1e", 2), -1);
	/* A truncated record followed by nothing. */
	CHECK_INTEQ(hubproto_record_len(LIT("{\"type\":1,\"tar")), -1);
}

/* Handshake: rc and err. */
static int
handshake(const char *rec, size_t n, char *err, size_t errlen)
{
	memset(err, 0, errlen);
	return hubproto_parse_handshake(rec, n, err, errlen);
}

static void
test_handshake(void)
{
	char err[256];

	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\",\"version\":1}"), err, sizeof(err)), 0);
	CHECK_INTEQ(handshake(LIT(" {\"version\":1, \"protocol\":\"json\"}\r\n"), err,
	    sizeof(err)), 0);
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"messagepack\",\"version\":1}"), err,
	    sizeof(err)), -1);
	CHECK_STREQ(err, "The protocol 'messagepack' is not supported.");
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\",\"version\":2}"), err, sizeof(err)), -1);
	CHECK_STREQ(err, "The server does not support version 2 of the 'json' protocol.");
	CHECK_INTEQ(handshake(LIT("{\"version\":1}"), err, sizeof(err)), -1);
	CHECK_STREQ(err, HS_PREFIX "Missing required property 'protocol'.");
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\"}"), err, sizeof(err)), -1);
	CHECK_STREQ(err, HS_PREFIX "Missing required property 'version'.");
	CHECK_INTEQ(handshake(LIT("garbage"), err, sizeof(err)), -1);
	CHECK_STREQ(err, HS_PREFIX "Error reading JSON.");
	CHECK_INTEQ(handshake("", 0, err, sizeof(err)), -1);
	CHECK_STREQ(err, HS_PREFIX "Error reading JSON.");
	CHECK_INTEQ(handshake(LIT("[]"), err, sizeof(err)), -1);
	CHECK_STREQ(err, HS_PREFIX "Error reading JSON.");
	/* Truncated, trailing garbage, a NUL after the object. */
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\",\"version\":1"), err, sizeof(err)), -1);
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\",\"version\":1}x"), err, sizeof(err)), -1);
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\",\"version\":1}\0"), err, sizeof(err)), -1);
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\",\"version\":\"1\"}"), err, sizeof(err)), -1);
	/* The name is compared with its length: an escaped NUL does not end it
	 * (the NUL shows as U+FFFD in the text). */
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\\u0000garbage\",\"version\":1}"), err,
	    sizeof(err)), -1);
	CHECK_STREQ(err, "The protocol 'json\xef\xbf\xbdgarbage' is not supported.");
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\\u0000\",\"version\":1}"), err,
	    sizeof(err)), -1);
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"jso\",\"version\":1}"), err, sizeof(err)), -1);
	CHECK_STREQ(err, "The protocol 'jso' is not supported.");
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"\",\"version\":1}"), err, sizeof(err)), -1);
	CHECK_STREQ(err, "The protocol '' is not supported.");
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"js\\u006fn\",\"version\":1}"), err,
	    sizeof(err)), 0);
	/* Control characters in the name are kept in the answer's text (JSON
	 * escapes them); the log escapes them again (test_log). */
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"json\\r\\nX\",\"version\":1}"), err,
	    sizeof(err)), -1);
	CHECK_STREQ(err, "The protocol 'json\r\nX' is not supported.");
	/* A lone surrogate is no text: invalid JSON. */
	CHECK_INTEQ(handshake(LIT("{\"protocol\":\"\\ud800\",\"version\":1}"), err,
	    sizeof(err)), -1);
	CHECK_STREQ(err, HS_PREFIX "Error reading JSON.");
	/* The cut must not split a UTF-8 character: the error goes back as JSON text. */
	{
		char rec[300];
		struct buf out = BUF_INIT;
		json_object *o;
		int n = snprintf(rec, sizeof(rec), "{\"protocol\":\"%099d\xc3\xa9\",\"version\":1}", 0);
		CHECK_INTEQ(handshake(rec, (size_t)n, err, sizeof(err)), -1);
		CHECK_INTEQ(hubproto_handshake_response(&out, err), 0);
		o = hubproto_json_parse(out.data, out.len);
		CHECK(o != NULL);
		json_object_put(o);
		buf_free(&out);
	}
	/* A long protocol name is cut, and a small err buffer is never overrun. */
	{
		char big[600], small[8];
		int n = snprintf(big, sizeof(big), "{\"protocol\":\"%0500d\",\"version\":1}", 0);
		CHECK_INTEQ(handshake(big, (size_t)n, err, sizeof(err)), -1);
		CHECK(strlen(err) < sizeof(err));
		memset(small, '#', sizeof(small));
		CHECK_INTEQ(hubproto_parse_handshake(LIT("nope"), small, sizeof(small)), -1);
		CHECK_INTEQ(strlen(small), sizeof(small) - 1);
	}
}

/* Parse a message expecting failure; returns err. */
static const char *
bad_message(const char *rec, size_t n)
{
	static char err[256];
	struct hub_message msg;

	strcpy(err, "(no error)");
	if (hubproto_parse_message(rec, n, &msg, err, sizeof(err)) == 0) {
		hub_message_free(&msg);
		return "(parsed)";
	}
	/* On failure msg holds nothing. */
	if (msg.root != NULL || msg.target != NULL || msg.arguments != NULL)
		return "(msg not cleared)";
	return err;
}

static void
test_invocation(void)
{
	struct hub_message msg;
	char err[256];

	CHECK_INTEQ(hubproto_parse_message(LIT("{\"type\":1,\"target\":\"Send\","
	    "\"arguments\":[\"a\",1]}"), &msg, err, sizeof(err)), 0);
	CHECK_INTEQ(msg.type, HUB_INVOCATION);
	CHECK_STREQ(msg.target, "Send");
	CHECK(msg.invocation_id == NULL);
	CHECK(msg.arguments != NULL && json_object_is_type(msg.arguments, json_type_array));
	CHECK_INTEQ(json_object_array_length(msg.arguments), 2);
	hub_message_free(&msg);
	CHECK(msg.root == NULL);

	CHECK_INTEQ(hubproto_parse_message(LIT("{\"type\":1,\"invocationId\":\"0\","
	    "\"target\":\"create\",\"arguments\":[{\"Title\":\"x\"}]}\n"), &msg, err, sizeof(err)), 0);
	CHECK_STREQ(msg.invocation_id, "0");
	CHECK_STREQ(msg.target, "create");
	hub_message_free(&msg);

	/* A null invocationId is a non-blocking invocation. */
	CHECK_INTEQ(hubproto_parse_message(LIT("{\"type\":1,\"invocationId\":null,"
	    "\"target\":\"x\",\"arguments\":[]}"), &msg, err, sizeof(err)), 0);
	CHECK(msg.invocation_id == NULL);
	hub_message_free(&msg);

	CHECK_INTEQ(hubproto_parse_message(LIT("{\"type\":6}"), &msg, err, sizeof(err)), 0);
	CHECK_INTEQ(msg.type, HUB_PING);
	CHECK(msg.target == NULL);
	CHECK(msg.arguments == NULL);
	hub_message_free(&msg);

	/* A large argument. */
	{
		size_t n = 1 << 20;
		char *rec = malloc(n + 64);
		int len;
		if (rec != NULL) {
			len = sprintf(rec, "{\"type\":1,\"target\":\"x\",\"arguments\":[\"");
			memset(rec + len, 'a', n);
			memcpy(rec + len + n, "\"]}", 3);
			CHECK_INTEQ(hubproto_parse_message(rec, (size_t)len + n + 3, &msg, err,
			    sizeof(err)), 0);
			CHECK_INTEQ(json_object_get_string_len(
			    json_object_array_get_idx(msg.arguments, 0)), n);
			hub_message_free(&msg);
			free(rec);
		}
	}
}

static void
test_message_errors(void)
{
	CHECK_STREQ(bad_message(LIT("{\"target\":\"x\",\"arguments\":[]}")),
	    "Missing required property 'type'.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"arguments\":[]}")),
	    "Missing required property 'target'.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\"}")),
	    "Missing required property 'arguments'.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":{}}")),
	    "Expected 'arguments' to be of type Array.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":7,\"arguments\":[]}")),
	    "Expected 'target' to be of type String.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"invocationId\":7,\"target\":\"x\","
	    "\"arguments\":[]}")), "Expected 'invocationId' to be of type String.");
	CHECK_STREQ(bad_message(LIT("{\"type\":\"1\"}")), "Expected 'type' to be of type Integer.");
	CHECK_STREQ(bad_message(LIT("{\"type\":4,\"target\":\"x\",\"arguments\":[]}")),
	    "Missing required property 'invocationId'.");
	CHECK_STREQ(bad_message(LIT("[1]")),
	    "Unexpected JSON Token Type 'array'. Expected a JSON Object.");
	/* Malformed, empty, truncated. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,")), "Error reading JSON.");
	CHECK_STREQ(bad_message("", 0), "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":6")), "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{'type':6}")), "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":6,}")), "Error reading JSON.");
	/* Trailing garbage after the object, a second object, a NUL. */
	CHECK_STREQ(bad_message(LIT("{\"type\":6}x")), "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":6}{\"type\":6}")), "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":6}\0")), "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":6}\x1e")), "Error reading JSON.");
	/* NULs and control characters may only appear escaped inside strings (RFC 8259). */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"a\0b\",\"arguments\":[]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"a\x01" "b\",\"arguments\":[]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"a\x1e" "b\",\"arguments\":[]}")),
	    "Error reading JSON.");
}

static void
test_invalid_utf8(void)
{
	/* A byte that never occurs in UTF-8, in a value and in a key. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\xff\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"\xff\":1,\"type\":6}")), "Error reading JSON.");
	/* A sequence cut short by the closing quote. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\xe2\x82\"]}")),
	    "Error reading JSON.");
	/* A sequence cut short by the end of the record. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\xe2")),
	    "Error reading JSON.");
	/* Overlong '/', an encoded UTF-16 surrogate, a code point above U+10FFFF. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\xc0\xaf\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\xed\xa0\x80\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\xf5\x80\x80\x80\"]}")),
	    "Error reading JSON.");
	/* Lone surrogate escapes: a high one alone, at the end, before something
	 * else or before another high one; a low one alone or first. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\ud800\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"a\\uDBFFb\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\ud800\\n\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\ud800\\ud800\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\udc00\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\udfff\\ud800\"]}")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\ud800\\u")),
	    "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"\\ud800\":1,\"type\":6}")), "Error reading JSON.");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"\\udc00\",\"arguments\":[]}")),
	    "Error reading JSON.");
	/* A pair is one character; other \u escapes are fine. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\ud83d\\ude00\"]}")),
	    "(parsed)");
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\\uDBFF\\uDFFF\\ud7ff\\ue000\\u0041\"]}")),
	    "(parsed)");
	{
		json_object *o = hubproto_json_parse(LIT("\"\\ud83d\\ude00\""));

		CHECK(o != NULL);
		if (o != NULL)
			CHECK_STREQ(json_object_get_string(o), "\xf0\x9f\x98\x80");
		json_object_put(o);
		o = hubproto_json_parse(LIT("\"\\ud800\""));
		CHECK(o == NULL);
		json_object_put(o);		/* Scalars whole: a number at the very end included (json-c would
		 * wait for more digits); a number cut short is still refused. */
		o = hubproto_json_parse(LIT("12"));
		CHECK(o != NULL && json_object_get_int(o) == 12);
		json_object_put(o);
		o = hubproto_json_parse(LIT(" -1.5e3 "));
		CHECK(o != NULL && json_object_get_double(o) == -1500.0);
		json_object_put(o);
		CHECK(hubproto_json_parse(LIT("1.")) == NULL);
		CHECK(hubproto_json_parse(LIT("-")) == NULL);
		CHECK(hubproto_json_parse(LIT("1 2")) == NULL);
	}
	/* Valid multi-byte text is fine. */
	CHECK_STREQ(bad_message(LIT("{\"type\":1,\"target\":\"x\",\"arguments\":[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]}")),
	    "(parsed)");
}

/* n nested arrays as the single argument. */
static char *
nested(size_t depth, size_t *len)
{
	static const char head[] = "{\"type\":1,\"target\":\"x\",\"arguments\":";
	size_t hl = sizeof(head) - 1;
	char *s = malloc(hl + 2 * depth + 2);

	if (s == NULL)
		return NULL;
	memcpy(s, head, hl);
	memset(s + hl, '[', depth);
	memset(s + hl + depth, ']', depth);
	s[hl + 2 * depth] = '}';
	*len = hl + 2 * depth + 1;
	return s;
}

static void
test_depth(void)
{
	size_t len;
	char *s;

	/* The object and the arguments array use two levels of the limit. */
	if ((s = nested(HUBPROTO_MAX_DEPTH - 1, &len)) != NULL) {
		CHECK_STREQ(bad_message(s, len), "(parsed)");
		free(s);
	}
	if ((s = nested(HUBPROTO_MAX_DEPTH, &len)) != NULL) {
		CHECK_STREQ(bad_message(s, len), "Error reading JSON.");
		free(s);
	}
	/* Far deeper than any stack-based parser could survive. */
	if ((s = nested(1000000, &len)) != NULL) {
		CHECK_STREQ(bad_message(s, len), "Error reading JSON.");
		free(s);
	}
	if ((s = malloc(100000)) != NULL) {
		memset(s, '{', 100000);
		CHECK(hubproto_json_parse(s, 100000) == NULL);
		free(s);
	}
}

/* 1 when hubproto_json_parse refuses text (freeing what it may have accepted). */
static int
json_rejected(const char *text, size_t len)
{
	json_object *o = hubproto_json_parse(text, len);

	json_object_put(o);
	return o == NULL;
}

static void
test_json_parse(void)
{
	json_object *o;

	CHECK((o = hubproto_json_parse(LIT(" {} \t\r\n"))) != NULL);
	json_object_put(o);
	CHECK(hubproto_json_parse("", 0) == NULL);
	CHECK(json_rejected(LIT("   ")));
	CHECK(json_rejected(LIT("{} {}")));
	CHECK(json_rejected(LIT("/* c */ {}")));
	/* Not JSON (RFC 8259), though json-c's "strict" mode lets some through. */
	CHECK(json_rejected(LIT("[NaN]")));
	CHECK(json_rejected(LIT("[-Infinity]")));
	CHECK(json_rejected(LIT("[1.]")));
	CHECK(json_rejected(LIT("[01]")));
	CHECK(json_rejected(LIT("[.5]")));
	CHECK(json_rejected(LIT("[\"\\x41\"]")));
	/* Only text[0..len) is read. */
	CHECK((o = hubproto_json_parse("{}garbage", 2)) != NULL);
	json_object_put(o);
	CHECK((o = hubproto_json_parse(LIT("[1,\"a\\u0000b\",null]"))) != NULL);
	if (o != NULL)
		CHECK_INTEQ(json_object_get_string_len(json_object_array_get_idx(o, 1)), 3);
	json_object_put(o);
}

/* Encode into a fresh buffer; returns its text (static copy). */
static void
check_encoded(struct buf *b, int rc, const char *want, const char *file, int line)
{
	unit_check_int(rc, 0, file, line, "encoder returned 0");
	unit_check_str(b->data, want, file, line, "encoded");
	if (b->data != NULL)
		unit_check_int((long long)strlen(b->data), (long long)b->len, file, line,
		    "len matches the text");
	buf_free(b);
}
#define ENCODED(call, want) do { struct buf b_ = BUF_INIT; struct buf *b = &b_; \
	check_encoded(b, (call), (want), __FILE__, __LINE__); } while (0)

static void
test_encoders(void)
{
	json_object *result = json_tokener_parse("{\"a\":[1,\"x\",true]}");
	struct buf out = BUF_INIT;

	ENCODED(hubproto_completion_result(b, "7", NULL),
	    "{\"type\":3,\"invocationId\":\"7\",\"result\":null}");
	ENCODED(hubproto_completion_result(b, "7", result),
	    "{\"type\":3,\"invocationId\":\"7\",\"result\":{\"a\":[1,\"x\",true]}}");
	/* The caller still owns its reference: this put must be the last one (ASan). */
	CHECK_INTEQ(json_object_put(result), 1);
	ENCODED(hubproto_completion_error(b, "7", "boom"),
	    "{\"type\":3,\"invocationId\":\"7\",\"error\":\"boom\"}");
	ENCODED(hubproto_close(b, "x", 1), "{\"type\":7,\"error\":\"x\",\"allowReconnect\":true}");
	ENCODED(hubproto_close(b, NULL, 0), "{\"type\":7}");
	ENCODED(hubproto_close(b, "x", 0), "{\"type\":7,\"error\":\"x\"}");
	ENCODED(hubproto_close(b, NULL, 1), "{\"type\":7,\"allowReconnect\":true}");
	ENCODED(hubproto_handshake_response(b, NULL), "{}");
	ENCODED(hubproto_handshake_response(b, "e"), "{\"error\":\"e\"}");

	/* Encoders append. */
	CHECK_INTEQ(hubproto_handshake_response(&out, NULL), 0);
	buf_putc(&out, HUBPROTO_RS);
	CHECK_INTEQ(hubproto_close(&out, NULL, 0), 0);
	CHECK_MEMEQ(out.data, out.len, "{}\x1e{\"type\":7}", 13);
	buf_free(&out);

	/* 0x1E never appears raw: it would split the record. "/" stays as is. */
	CHECK_INTEQ(hubproto_completion_error(&out, "i\x1e", "a\x1e" "b/c"), 0);
	CHECK(memchr(out.data, HUBPROTO_RS, out.len) == NULL);
	CHECK_CONTAINS(out.data, "\\u001e");
	CHECK_CONTAINS(out.data, "b/c");
	CHECK(strstr(out.data, "\\/") == NULL);
	buf_free(&out);
	ENCODED(hubproto_completion_error(b, "1", "q\"b\\n\nt\t"),
	    "{\"type\":3,\"invocationId\":\"1\",\"error\":\"q\\\"b\\\\n\\nt\\t\"}");
	ENCODED(hubproto_handshake_response(b, "http://x/y"), "{\"error\":\"http://x/y\"}");
}

static void
test_roundtrip(void)
{
	struct buf out = BUF_INIT;
	struct hub_message msg;
	char err[256];

	CHECK_INTEQ(hubproto_completion_error(&out, "id\x1e\x01\"", "e"), 0);
	CHECK_INTEQ(hubproto_parse_message(out.data, out.len, &msg, err, sizeof(err)), 0);
	CHECK_INTEQ(msg.type, HUB_COMPLETION);
	CHECK_STREQ(msg.invocation_id, "id\x1e\x01\"");
	hub_message_free(&msg);
	buf_free(&out);
}

int
main(void)
{
	test_record_len();
	test_handshake();
	test_invocation();
	test_message_errors();
	test_invalid_utf8();
	test_depth();
	test_json_parse();
	test_encoders();
	test_roundtrip();
	return unit_done();
}
