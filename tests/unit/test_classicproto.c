/* Unit tests for common/classicproto.h: the classic SignalR 2.x wire format. */
#include <stdlib.h>

#include "classicproto.h"
#include "unit.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void
test_verb(void)
{
	CHECK_INTEQ(classic_verb(S("/meetings/negotiate")), CLASSIC_NEGOTIATE);
	CHECK_INTEQ(classic_verb(S("/meetings/connect")), CLASSIC_CONNECT);
	CHECK_INTEQ(classic_verb(S("/meetings/reconnect")), CLASSIC_RECONNECT);
	CHECK_INTEQ(classic_verb(S("/meetings/poll")), CLASSIC_POLL);
	CHECK_INTEQ(classic_verb(S("/meetings/start")), CLASSIC_START);
	CHECK_INTEQ(classic_verb(S("/meetings/send")), CLASSIC_SEND);
	CHECK_INTEQ(classic_verb(S("/meetings/abort")), CLASSIC_ABORT);
	CHECK_INTEQ(classic_verb(S("/meetings/ping")), CLASSIC_PING);
	/* ASCII case aside, like the reference server. */
	CHECK_INTEQ(classic_verb(S("/Meetings/POLL")), CLASSIC_POLL);
	CHECK_INTEQ(classic_verb(S("/meetings")), CLASSIC_NONE);
	CHECK_INTEQ(classic_verb(S("/meetings/")), CLASSIC_NONE);
	CHECK_INTEQ(classic_verb(S("/meetings/pollx")), CLASSIC_NONE);
	CHECK_INTEQ(classic_verb(S("/meetings/xpoll")), CLASSIC_NONE);
	CHECK_INTEQ(classic_verb(S("/meetings/poll/")), CLASSIC_NONE);
	CHECK_INTEQ(classic_verb(S("poll")), CLASSIC_NONE);
	CHECK_INTEQ(classic_verb(S("")), CLASSIC_NONE);
	/* The length is the path's: what follows is not looked at. */
	CHECK_INTEQ(classic_verb("/a/send/x", 7), CLASSIC_SEND);
}

static void
test_connection_data(void)
{
	char hub[CLASSIC_HUB_NAME_MAX];

	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"meetings\"}]"), hub), 1);
	CHECK_STREQ(hub, "meetings");
	/* Which hub a name is, pollhub.hubs says (classic_negotiate). */
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"MeetingHub\"}]"), hub), 1);
	CHECK_STREQ(hub, "MeetingHub");
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"Meetings\",\"x\":1}]"), hub), 1);
	CHECK_STREQ(hub, "Meetings");
	CHECK_INTEQ(classic_connection_data(S(" [ ] "), hub), 0);
	CHECK_STREQ(hub, "");
	/* One hub per connection. */
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"meetings\"},{\"name\":\"meetings\"}]"), hub), -2);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"meetings\"},{\"name\":\"productHub\"}]"), hub), -2);
	CHECK_STREQ(hub, "");
	/* Names no hub can have. */
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"meetings\\u0000\"}]"), hub), -2);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"a b\"}]"), hub), -2);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"\"}]"), hub), -2);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\""
	    "a123456789a123456789a123456789a123456789a123456789a123456789abcd\"}]"), hub), -2);
	CHECK_INTEQ(classic_connection_data(S(""), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("{}"), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("[\"meetings\"]"), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":1}]"), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("[{}]"), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"meetings\"}"), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"meetings\"}] x"), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("[{'name':'meetings'}]"), hub), -1);
	CHECK_INTEQ(classic_connection_data(S("[{\"name\":\"\xc3\x28\"}]"), hub), -1);
	/* More hubs than a page has: refused before looking at them. */
	CHECK_INTEQ(classic_connection_data(S("[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]"), hub), -1);
	{
		/* Deep nesting stops at the parser's depth limit. */
		char deep[400];
		size_t n = 0;

		for (int i = 0; i < 150; i++)
			deep[n++] = '[';
		for (int i = 0; i < 150; i++)
			deep[n++] = ']';
		CHECK_INTEQ(classic_connection_data(deep, n, hub), -1);
	}
}

static void
test_cursor(void)
{
	long long c = -1;
	char text[CLASSIC_CURSOR_LEN];

	CHECK_INTEQ(classic_cursor_parse(S("0"), &c), 0);
	CHECK_INTEQ(c, 0);
	CHECK_INTEQ(classic_cursor_parse(S("123456789012345678"), &c), 0);
	CHECK_INTEQ(c, 123456789012345678LL);
	CHECK_INTEQ(classic_cursor_parse(S("1234567890123456789"), &c), -1);
	CHECK_INTEQ(classic_cursor_parse(S(""), &c), -1);
	CHECK_INTEQ(classic_cursor_parse(S("-1"), &c), -1);
	CHECK_INTEQ(classic_cursor_parse(S("+1"), &c), -1);
	CHECK_INTEQ(classic_cursor_parse(S(" 1"), &c), -1);
	CHECK_INTEQ(classic_cursor_parse(S("1 "), &c), -1);
	CHECK_INTEQ(classic_cursor_parse(S("0x10"), &c), -1);
	CHECK_INTEQ(classic_cursor_parse(S("d-1A2B-C,1"), &c), -1);	/* a reference server's */
	CHECK_INTEQ(classic_cursor_parse("12\0" "3", 4, &c), -1);
	classic_cursor_format(42, text);
	CHECK_STREQ(text, "42");
	classic_cursor_format(-5, text);
	CHECK_STREQ(text, "0");
}

static void
test_callback(void)
{
	CHECK(classic_callback_valid(S("jQuery38001234_1700000000000")));
	CHECK(classic_callback_valid(S("a.b.$c._d9")));
	CHECK(classic_callback_valid(S("$")));
	CHECK(!classic_callback_valid(S("")));
	CHECK(!classic_callback_valid(S("9a")));
	CHECK(!classic_callback_valid(S("a..b")));
	CHECK(!classic_callback_valid(S(".a")));
	CHECK(!classic_callback_valid(S("a.")));
	CHECK(!classic_callback_valid(S("alert(1)")));
	CHECK(!classic_callback_valid(S("a;b")));
	CHECK(!classic_callback_valid(S("a b")));
	CHECK(!classic_callback_valid(S("a-b")));
	CHECK(!classic_callback_valid(S("a[0]")));
	CHECK(!classic_callback_valid(S("\xc3\xa9")));
	CHECK(!classic_callback_valid(S("function")));
	CHECK(!classic_callback_valid(S("a.delete")));
	CHECK(!classic_callback_valid(S("this.x")));
	CHECK(classic_callback_valid(S("functions")));
	CHECK(!classic_callback_valid("ab\0c", 4));
	{
		char longname[CLASSIC_MAX_CALLBACK + 2];

		memset(longname, 'a', sizeof(longname));
		CHECK(classic_callback_valid(longname, CLASSIC_MAX_CALLBACK));
		CHECK(!classic_callback_valid(longname, CLASSIC_MAX_CALLBACK + 1));
	}
}

static void
test_invocation(void)
{
	struct classic_invocation inv;
	char err[200];

	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"M\":\"read\",\"A\":[],\"I\":0}"),
	    &inv, err, sizeof(err)), 0);
	CHECK_STREQ(inv.id, "0");
	CHECK_STREQ(inv.msg.invocation_id, "0");
	CHECK_STREQ(inv.msg.target, "read");
	CHECK_INTEQ(inv.msg.target_len, 4);
	CHECK_INTEQ(inv.msg.type, HUB_INVOCATION);
	CHECK_INTEQ(json_object_array_length(inv.msg.arguments), 0);
	classic_invocation_free(&inv);

	/* Hub names in any case; I as a string; S (hub state) ignored; A missing = none. */
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"Meetings\",\"M\":\"Create\",\"I\":\"17\","
	    "\"S\":{\"k\":1}}"), &inv, err, sizeof(err)), 0);
	CHECK_STREQ(inv.id, "17");
	CHECK_INTEQ(json_object_array_length(inv.msg.arguments), 0);
	classic_invocation_free(&inv);

	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"M\":\"update\",\"A\":[{\"ID\":\"x\"}],"
	    "\"I\":5}"), &inv, err, sizeof(err)), 0);
	CHECK_INTEQ(json_object_array_length(inv.msg.arguments), 1);
	classic_invocation_free(&inv);

	/* Errors: with I read, the caller can still answer the invocation. */
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"no such hub\",\"M\":\"read\",\"A\":[],\"I\":3}"),
	    &inv, err, sizeof(err)), -1);
	CHECK_STREQ(inv.id, "3");
	CHECK_CONTAINS(err, "could not be resolved");
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"A\":[],\"I\":4}"),
	    &inv, err, sizeof(err)), -1);
	CHECK_STREQ(inv.id, "4");
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"M\":\"read\",\"A\":{},\"I\":4}"),
	    &inv, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not an array");
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"M\":7,\"A\":[],\"I\":4}"),
	    &inv, err, sizeof(err)), -1);
	/* Without a usable I nobody can be answered. */
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"M\":\"read\",\"A\":[]}"),
	    &inv, err, sizeof(err)), -1);
	CHECK_STREQ(inv.id, "");
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"M\":\"read\",\"I\":-1}"),
	    &inv, err, sizeof(err)), -1);
	CHECK_STREQ(inv.id, "");
	CHECK_INTEQ(classic_invocation_parse(S("{\"M\":\"read\",\"I\":\"a\\u0000b\"}"),
	    &inv, err, sizeof(err)), -1);
	CHECK_STREQ(inv.id, "");
	CHECK_INTEQ(classic_invocation_parse(S("{\"I\":\"0123456789012345678901234567890123\"}"),
	    &inv, err, sizeof(err)), -1);
	CHECK_STREQ(inv.id, "");
	CHECK_INTEQ(classic_invocation_parse(S(""), &inv, err, sizeof(err)), -1);
	CHECK_INTEQ(classic_invocation_parse(S("[]"), &inv, err, sizeof(err)), -1);
	CHECK_INTEQ(classic_invocation_parse(S("{\"I\":0,"), &inv, err, sizeof(err)), -1);
	CHECK_INTEQ(classic_invocation_parse(S("{\"I\":0}{}"), &inv, err, sizeof(err)), -1);
	CHECK_INTEQ(classic_invocation_parse(S("{\"H\":\"meetings\",\"M\":\"\xff\",\"I\":0}"),
	    &inv, err, sizeof(err)), -1);
	{
		/* State over 4096 characters is refused, as the reference refuses it. */
		size_t n = 5000;
		char *big = malloc(n + 100);
		int len;

		CHECK(big != NULL);
		len = snprintf(big, n + 100, "{\"H\":\"meetings\",\"M\":\"read\",\"I\":1,\"S\":{\"k\":\"%0*d\"}}",
		    (int)n, 0);
		CHECK_INTEQ(classic_invocation_parse(big, (size_t)len, &inv, err, sizeof(err)), -1);
		CHECK_CONTAINS(err, "4096");
		CHECK_STREQ(inv.id, "1");
		free(big);
	}
}

static void
test_results(void)
{
	struct buf out = BUF_INIT;

	CHECK_INTEQ(classic_result_from_completion(&out,
	    S("{\"type\":3,\"invocationId\":\"0\",\"result\":[{\"ID\":\"a/b\"}]}")), 0);
	CHECK_STREQ(out.data, "{\"I\":\"0\",\"R\":[{\"ID\":\"a/b\"}]}");
	buf_reset(&out);
	/* A void result has no R. */
	CHECK_INTEQ(classic_result_from_completion(&out,
	    S("{\"type\":3,\"invocationId\":\"7\",\"result\":null}")), 0);
	CHECK_STREQ(out.data, "{\"I\":\"7\"}");
	buf_reset(&out);
	CHECK_INTEQ(classic_result_from_completion(&out, S("{\"type\":3,\"invocationId\":\"7\"}")), 0);
	CHECK_STREQ(out.data, "{\"I\":\"7\"}");
	buf_reset(&out);
	CHECK_INTEQ(classic_result_from_completion(&out,
	    S("{\"type\":3,\"invocationId\":\"2\",\"error\":\"Meeting not found\"}")), 0);
	CHECK_STREQ(out.data, "{\"I\":\"2\",\"E\":\"Meeting not found\"}");
	buf_reset(&out);
	CHECK_INTEQ(classic_result_from_completion(&out, S("{\"type\":3}")), -1);
	CHECK_INTEQ(classic_result_from_completion(&out, S("nonsense")), -1);
	CHECK_INTEQ(out.len, 0);
	CHECK_INTEQ(classic_result_error(&out, "3", "boom \"quoted\""), 0);
	CHECK_STREQ(out.data, "{\"I\":\"3\",\"E\":\"boom \\\"quoted\\\"\"}");
	buf_free(&out);
}

static void
test_push(void)
{
	struct buf out = BUF_INIT;

	CHECK_INTEQ(classic_push_from_record(&out,
	    S("{\"type\":1,\"target\":\"create\",\"arguments\":[{\"ID\":\"x\",\"Title\":\"T\"}]}"), "meetings"), 1);
	CHECK_STREQ(out.data, "{\"H\":\"meetings\",\"M\":\"create\",\"A\":[{\"ID\":\"x\",\"Title\":\"T\"}]}");
	buf_reset(&out);
	/* H: the name the page gave its proxy. */
	CHECK_INTEQ(classic_push_from_record(&out,
	    S("{\"type\":1,\"target\":\"update\",\"arguments\":[1]}"), "productHub"), 1);
	CHECK_STREQ(out.data, "{\"H\":\"productHub\",\"M\":\"update\",\"A\":[1]}");
	buf_reset(&out);
	/* Not invocations: nothing appended. */
	CHECK_INTEQ(classic_push_from_record(&out, S("{\"type\":6}"), "meetings"), 0);
	CHECK_INTEQ(classic_push_from_record(&out, S("{\"type\":7,\"error\":\"x\"}"), "meetings"), 0);
	CHECK_INTEQ(classic_push_from_record(&out, S("{\"type\":1,\"target\":\"x\"}"), "meetings"), 0);
	CHECK_INTEQ(classic_push_from_record(&out, S("{\"type\":\"1\",\"target\":\"x\",\"arguments\":[]}"), "meetings"), 0);
	CHECK_INTEQ(classic_push_from_record(&out, S("[1]"), "meetings"), 0);
	CHECK_INTEQ(out.len, 0);
	CHECK_INTEQ(classic_push_from_record(&out, S("{"), "meetings"), -1);
	buf_free(&out);
}

static void
test_persistent(void)
{
	struct buf out = BUF_INIT;

	CHECK_INTEQ(classic_persistent(&out, 12, 1, NULL, "", 0), 0);
	CHECK_STREQ(out.data, "{\"C\":\"12\",\"S\":1,\"M\":[]}");
	buf_reset(&out);
	CHECK_INTEQ(classic_persistent(&out, 13, 0, NULL, S("{\"H\":\"meetings\"},{}")), 0);
	CHECK_STREQ(out.data, "{\"C\":\"13\",\"M\":[{\"H\":\"meetings\"},{}]}");
	buf_reset(&out);
	CHECK_INTEQ(classic_persistent(&out, 0, 0, "gone \"now\"", NULL, 0), 0);
	CHECK_STREQ(out.data, "{\"C\":\"0\",\"E\":\"gone \\\"now\\\"\",\"M\":[]}");
	buf_free(&out);
}

static void
test_jsonp(void)
{
	struct buf out = BUF_INIT;

	CHECK_INTEQ(classic_jsonp(&out, "cb", S("{\"a\":1}")), 0);
	CHECK_STREQ(out.data, "cb({\"a\":1});");
	buf_reset(&out);
	/* U+2028 and U+2029 end a JavaScript line: escaped. Other UTF-8 stays. */
	CHECK_INTEQ(classic_jsonp(&out, "cb", S("[\"a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xe2\x80\xaa\xc3\xa9\"]")), 0);
	CHECK_STREQ(out.data, "cb([\"a\\u2028b\\u2029c\xe2\x80\xaa\xc3\xa9\"]);");
	buf_reset(&out);
	CHECK_INTEQ(classic_jsonp(&out, "x.y", S("")), 0);
	CHECK_STREQ(out.data, "x.y();");
	buf_reset(&out);
	CHECK_INTEQ(classic_jsonp(&out, "cb", S("\xe2\x80")), 0);	/* a cut sequence passes as it is */
	CHECK_MEMEQ(out.data, out.len, "cb(\xe2\x80);", 7);
	buf_free(&out);
}

int
main(void)
{
	test_verb();
	test_connection_data();
	test_cursor();
	test_callback();
	test_invocation();
	test_results();
	test_push();
	test_persistent();
	test_jsonp();
	return unit_done();
}
