/*
 * Fuzz the classic SignalR 2.x parsers (common/classicproto.h) with what a
 * client controls: connectionData, messageId cursors, JSONP callback names,
 * the `data` of a /send, and (as a stored payload would be) outbox records.
 * The first byte picks the parser; the rest is its input. Properties: return
 * codes in range, accepted input really of the accepted form, and what the
 * encoders write parses back as JSON (or as one callback call). ASan and LSan
 * catch overruns and json-c references left behind.
 */
#include <string.h>

#include "classicproto.h"
#include "fuzz.h"

static int
is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void
check_connection_data(const char *s, size_t n)
{
	char hub[CLASSIC_HUB_NAME_MAX];
	int r = classic_connection_data(s, n, hub);
	json_object *o;

	REQUIRE(r >= -2 && r <= 1);
	/* A name is given only with 1, and is one a hub may have. */
	REQUIRE(r == 1 ? classic_hub_name_valid(hub, strlen(hub)) : hub[0] == '\0');
	if (r >= 0) {
		/* Accepted: strict JSON, an array of at most CLASSIC_MAX_HUBS objects. */
		REQUIRE((o = hubproto_json_parse(s, n)) != NULL);
		REQUIRE(json_object_is_type(o, json_type_array));
		REQUIRE(json_object_array_length(o) == (size_t)r);
		json_object_put(o);
	}
}

static void
check_cursor(const char *s, size_t n)
{
	long long c = -1, again = -1;
	char text[CLASSIC_CURSOR_LEN];

	if (classic_cursor_parse(s, n, &c) == 0) {
		REQUIRE(n >= 1 && n <= 18 && is_digits(s, n) && c >= 0);
		classic_cursor_format(c, text);
		REQUIRE(classic_cursor_parse(text, strlen(text), &again) == 0 && again == c);
	} else
		REQUIRE(n == 0 || n > 18 || !is_digits(s, n));
}

static void
check_callback(const char *s, size_t n)
{
	struct buf out = BUF_INIT;
	char *name;

	if (!classic_callback_valid(s, n))
		return;
	REQUIRE(n >= 1 && n <= CLASSIC_MAX_CALLBACK && memchr(s, '\0', n) == NULL);
	REQUIRE(s[0] != '.' && s[n - 1] != '.' && (s[0] < '0' || s[0] > '9'));
	for (size_t i = 0; i < n; i++)
		REQUIRE(s[i] == '.' || s[i] == '_' || s[i] == '$' || (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'));
	REQUIRE(memmem(s, n, "..", 2) == NULL);
	REQUIRE((name = strndup(s, n)) != NULL);
	REQUIRE(classic_jsonp(&out, name, "{}", 2) == 0);
	REQUIRE(out.len == n + 5 && memcmp(out.data, s, n) == 0 &&
	    memcmp(out.data + n, "({});", 5) == 0);
	free(name);
	buf_free(&out);
}

static void
check_invocation(const char *s, size_t n)
{
	struct classic_invocation inv;
	struct buf out = BUF_INIT;
	char err[200];
	json_object *o;

	if (classic_invocation_parse(s, n, &inv, err, sizeof(err)) == 0) {
		REQUIRE(classic_hub_name_valid(inv.hub, strlen(inv.hub)) && inv.id[0] != '\0' &&
		    inv.msg.root != NULL);
		REQUIRE(inv.msg.type == HUB_INVOCATION && inv.msg.invocation_id == inv.id);
		REQUIRE(inv.msg.target != NULL && json_object_is_type(inv.msg.arguments, json_type_array));
		classic_invocation_free(&inv);
		return;
	}
	REQUIRE(err[0] != '\0' && inv.msg.root == NULL);
	/* When I could be read, the error answer for it is JSON. */
	if (inv.id[0] != '\0') {
		REQUIRE(classic_result_error(&out, inv.id, err) == 0);
		REQUIRE((o = hubproto_json_parse(out.data, out.len)) != NULL);
		json_object_put(o);
	}
	buf_free(&out);
}

static void
check_record(const char *s, size_t n)
{
	struct buf out = BUF_INIT, wrapped = BUF_INIT;
	json_object *o, *h;
	int r = classic_push_from_record(&out, s, n, "meetings");

	REQUIRE(r >= -1 && r <= 1);
	REQUIRE(r == 1 || out.len == 0);
	if (r == 1) {
		REQUIRE((o = hubproto_json_parse(out.data, out.len)) != NULL);
		REQUIRE(json_object_object_get_ex(o, "H", &h) &&
		    strcmp(json_object_get_string(h), "meetings") == 0);
		json_object_put(o);
		/* Wrapped for JSONP: no raw U+2028/U+2029 left. */
		REQUIRE(classic_jsonp(&wrapped, "cb", out.data, out.len) == 0);
		REQUIRE(memmem(wrapped.data, wrapped.len, "\xe2\x80\xa8", 3) == NULL);
		REQUIRE(memmem(wrapped.data, wrapped.len, "\xe2\x80\xa9", 3) == NULL);
	}
	buf_reset(&out);
	if (classic_result_from_completion(&out, s, n) == 0) {
		REQUIRE((o = hubproto_json_parse(out.data, out.len)) != NULL);
		REQUIRE(json_object_object_get_ex(o, "I", &h));
		json_object_put(o);
	}
	buf_free(&out);
	buf_free(&wrapped);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t n;

	if (size == 0)
		return 0;
	s = (const char *)data + 1;
	n = size - 1;
	switch (data[0] % 5) {
	case 0:
		check_connection_data(s, n);
		break;
	case 1:
		check_cursor(s, n);
		break;
	case 2:
		check_callback(s, n);
		break;
	case 3:
		check_invocation(s, n);
		break;
	default:
		check_record(s, n);
		break;
	}
	return 0;
}
