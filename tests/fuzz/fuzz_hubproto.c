/*
 * Fuzz the hub protocol over arbitrary bytes as a POST body: 0x1E record
 * splitting, the handshake (first record), message parsing, and re-encoding:
 * whatever the server sends back must itself parse, with no raw 0x1E.
 */
#include <string.h>

#include "fuzz.h"
#include "hubproto.h"

/* An encoded record: one JSON object, no 0x1E, len == strlen. */
static json_object *
reparse(const struct buf *out)
{
	json_object *o;

	REQUIRE(out->data != NULL);
	REQUIRE(strlen(out->data) == out->len);
	REQUIRE(memchr(out->data, HUBPROTO_RS, out->len) == NULL);
	o = hubproto_json_parse(out->data, out->len);
	REQUIRE(o != NULL);
	REQUIRE(json_object_is_type(o, json_type_object));
	return o;
}

static const char *
string_member(json_object *o, const char *key)
{
	json_object *v = NULL;

	REQUIRE(json_object_object_get_ex(o, key, &v));
	REQUIRE(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

/* The handshake answer carries err (ASP.NET's text, quoting the client's input). */
static void
check_handshake_error(const char *err, size_t errlen)
{
	struct buf out = BUF_INIT;
	json_object *o;

	REQUIRE(memchr(err, '\0', errlen) != NULL);
	REQUIRE(err[0] != '\0');
	REQUIRE(hubproto_handshake_response(&out, err) == 0);
	o = reparse(&out);
	REQUIRE(strcmp(string_member(o, "error"), err) == 0);
	json_object_put(o);
	buf_free(&out);
}

/* A completion for this message, with an error text and with its arguments as result. */
static void
check_completion(const struct hub_message *msg, const char *text)
{
	const char *id = msg->invocation_id != NULL ? msg->invocation_id : "0";
	struct buf out = BUF_INIT;
	struct hub_message back;
	json_object *o, *v = NULL;
	char err[256];

	REQUIRE(hubproto_completion_error(&out, id, text) == 0);
	json_object_put(reparse(&out));
	REQUIRE(hubproto_parse_message(out.data, out.len, &back, err, sizeof(err)) == 0);
	REQUIRE(back.type == HUB_COMPLETION);
	REQUIRE(back.invocation_id != NULL && strcmp(back.invocation_id, id) == 0);
	REQUIRE(strcmp(string_member(back.root, "error"), text) == 0);
	hub_message_free(&back);
	buf_free(&out);

	if (msg->arguments == NULL)
		return;
	REQUIRE(hubproto_completion_result(&out, id, msg->arguments) == 0);
	o = reparse(&out);
	REQUIRE(json_object_object_get_ex(o, "result", &v));
	/* Same value: compare the serialisations (json_object_equal fails on NaN). */
	REQUIRE(strcmp(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
	    json_object_to_json_string_ext(msg->arguments, JSON_C_TO_STRING_PLAIN)) == 0);
	json_object_put(o);
	buf_free(&out);
}

static void
check_message(const char *rec, size_t len)
{
	struct hub_message msg;
	char err[256];

	memset(err, 'x', sizeof(err));
	if (hubproto_parse_message(rec, len, &msg, err, sizeof(err)) == -1) {
		REQUIRE(msg.root == NULL && msg.target == NULL && msg.arguments == NULL);
		REQUIRE(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		check_handshake_error(err, sizeof(err));	/* sent in a Close message */
		return;
	}
	REQUIRE(msg.root != NULL && json_object_is_type(msg.root, json_type_object));
	if (msg.type == HUB_INVOCATION || msg.type == HUB_STREAM_INVOCATION) {
		REQUIRE(msg.target != NULL);
		REQUIRE(msg.arguments != NULL);
		REQUIRE(json_object_is_type(msg.arguments, json_type_array));
	} else {
		REQUIRE(msg.target == NULL && msg.arguments == NULL);
	}
	if (msg.type == HUB_STREAM_INVOCATION)
		REQUIRE(msg.invocation_id != NULL);
	check_completion(&msg, msg.target != NULL ? msg.target : "error");
	hub_message_free(&msg);
	REQUIRE(msg.root == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;
	long n;
	int first = 1;
	char err[256];

	/* The whole body as one record (0x1E and all). */
	check_message(p, size);
	while ((n = hubproto_record_len(p, left)) >= 0) {
		REQUIRE((size_t)n < left);
		REQUIRE(p[n] == HUBPROTO_RS);
		REQUIRE(memchr(p, HUBPROTO_RS, (size_t)n) == NULL);
		if (first) {
			memset(err, 'x', sizeof(err));
			if (hubproto_parse_handshake(p, (size_t)n, err, sizeof(err)) == -1)
				check_handshake_error(err, sizeof(err));
			first = 0;
		}
		check_message(p, (size_t)n);
		p += n + 1;
		left -= (size_t)n + 1;
	}
	REQUIRE(memchr(p, HUBPROTO_RS, left) == NULL);
	return 0;
}
