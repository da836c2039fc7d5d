#include "classicproto.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char		*suffix;
	enum classic_verb	 verb;
} verbs[] = {
	{ "/negotiate", CLASSIC_NEGOTIATE }, { "/connect", CLASSIC_CONNECT },
	{ "/reconnect", CLASSIC_RECONNECT }, { "/poll", CLASSIC_POLL },
	{ "/start", CLASSIC_START }, { "/send", CLASSIC_SEND },
	{ "/abort", CLASSIC_ABORT }, { "/ping", CLASSIC_PING },
};

enum classic_verb
classic_verb(const char *path, size_t len)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		size_t n = strlen(verbs[i].suffix);

		/* "/reconnect" also ends in "connect", but not in "/connect". */
		if (len >= n && strncasecmp(path + len - n, verbs[i].suffix, n) == 0)
			return verbs[i].verb;
	}
	return CLASSIC_NONE;
}

int
classic_hub_name_valid(const char *s, size_t len)
{
	if (len == 0 || len >= CLASSIC_HUB_NAME_MAX || strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

int
classic_connection_data(const char *s, size_t len, char hub[CLASSIC_HUB_NAME_MAX])
{
	json_object *root = hubproto_json_parse(s, len);
	int rc = -1;
	size_t n;

	hub[0] = '\0';
	if (root == NULL || !json_object_is_type(root, json_type_array))
		goto done;
	n = json_object_array_length(root);
	if (n > CLASSIC_MAX_HUBS)
		goto done;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(root, i), *name;

		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, "name", &name) ||
		    !json_object_is_type(name, json_type_string))
			goto done;
	}
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *name;
		size_t nlen;

		json_object_object_get_ex(json_object_array_get_idx(root, i), "name", &name);
		nlen = (size_t)json_object_get_string_len(name);
		/* One hub per connection: a page with two proxies opens two. */
		if (!classic_hub_name_valid(json_object_get_string(name), nlen) || i > 0) {
			rc = -2;	/* "'x' Hub could not be resolved." */
			goto done;
		}
		memcpy(hub, json_object_get_string(name), nlen + 1);
		rc = 1;
	}
done:
	if (rc != 1)
		hub[0] = '\0';
	json_object_put(root);
	return rc;
}

int
classic_cursor_parse(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

void
classic_cursor_format(long long cursor, char out[CLASSIC_CURSOR_LEN])
{
	snprintf(out, CLASSIC_CURSOR_LEN, "%lld", cursor < 0 ? 0 : cursor);
}

static const char *const reserved[] = {
	"break", "case", "catch", "class", "const", "continue", "debugger", "default",
	"delete", "do", "else", "enum", "export", "extends", "false", "finally", "for",
	"function", "if", "implements", "import", "in", "instanceof", "interface", "let",
	"new", "null", "package", "private", "protected", "public", "return", "static",
	"super", "switch", "this", "throw", "true", "try", "typeof", "var", "void",
	"while", "with", "yield", "await",
};

static int
identifier_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
	    (!first && c >= '0' && c <= '9');
}

int
classic_callback_valid(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > CLASSIC_MAX_CALLBACK)
		return 0;
	while (start <= len) {
		const char *dot = memchr(s + start, '.', len - start);
		size_t end = dot != NULL ? (size_t)(dot - s) : len;

		if (end == start)
			return 0;	/* empty part: "a..b", ".a", "a." */
		for (size_t i = start; i < end; i++)
			if (!identifier_char(s[i], i == start))
				return 0;
		for (size_t r = 0; r < sizeof(reserved) / sizeof(reserved[0]); r++)
			if (strlen(reserved[r]) == end - start &&
			    memcmp(reserved[r], s + start, end - start) == 0)
				return 0;
		if (dot == NULL)
			break;
		start = end + 1;
	}
	return 1;
}

static void
set_err(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
}

int
classic_invocation_parse(const char *data, size_t len, struct classic_invocation *inv,
    char *err, size_t errlen)
{
	json_object *root, *h, *m, *a, *i, *s;

	memset(inv, 0, sizeof(*inv));
	if ((root = hubproto_json_parse(data, len)) == NULL) {
		set_err(err, errlen, "The hub invocation is not valid JSON.");
		return -1;
	}
	inv->msg.root = root;
	if (!json_object_is_type(root, json_type_object)) {
		set_err(err, errlen, "The hub invocation is not a JSON object.");
		goto fail;
	}
	/* I first, so that every later error can be answered to it. Json.NET
	 * reads a number or a string; the client sends a counter from 0. */
	if (json_object_object_get_ex(root, "I", &i)) {
		if (json_object_is_type(i, json_type_int) && json_object_get_int64(i) >= 0)
			snprintf(inv->id, sizeof(inv->id), "%lld",
			    (long long)json_object_get_int64(i));
		else if (json_object_is_type(i, json_type_string) &&
		    json_object_get_string_len(i) > 0 &&
		    (size_t)json_object_get_string_len(i) < sizeof(inv->id) &&
		    strlen(json_object_get_string(i)) == (size_t)json_object_get_string_len(i))
			snprintf(inv->id, sizeof(inv->id), "%s", json_object_get_string(i));
	}
	if (inv->id[0] == '\0') {
		set_err(err, errlen, "The hub invocation has no usable 'I'.");
		goto fail;
	}
	if (!json_object_object_get_ex(root, "H", &h) || !json_object_is_type(h, json_type_string)) {
		set_err(err, errlen, "The hub invocation has no hub name 'H'.");
		goto fail;
	}
	if (!classic_hub_name_valid(json_object_get_string(h),
	    (size_t)json_object_get_string_len(h))) {
		set_err(err, errlen, "The hub named in 'H' could not be resolved.");
		goto fail;
	}
	memcpy(inv->hub, json_object_get_string(h), (size_t)json_object_get_string_len(h) + 1);
	if (!json_object_object_get_ex(root, "M", &m) || !json_object_is_type(m, json_type_string)) {
		set_err(err, errlen, "The hub invocation has no method name 'M'.");
		goto fail;
	}
	/* A missing A is a call without arguments; anything but an array is not. */
	if (!json_object_object_get_ex(root, "A", &a)) {
		if ((a = json_object_new_array()) == NULL ||
		    json_object_object_add(root, "A", a) != 0) {
			json_object_put(a);
			set_err(err, errlen, "out of memory");
			goto fail;
		}
	} else if (!json_object_is_type(a, json_type_array)) {
		set_err(err, errlen, "The arguments 'A' of the hub invocation are not an array.");
		goto fail;
	}
	/* Hub state: the reference refuses more than 4096 characters of it. */
	if (json_object_object_get_ex(root, "S", &s) && s != NULL &&
	    strlen(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN)) > 4096) {
		set_err(err, errlen, "State has exceeded the maximum length of 4096 bytes.");
		goto fail;
	}
	inv->msg.type = HUB_INVOCATION;
	inv->msg.invocation_id = inv->id;
	inv->msg.target = json_object_get_string(m);
	inv->msg.target_len = (size_t)json_object_get_string_len(m);
	inv->msg.arguments = a;
	return 0;
fail:
	inv->msg.root = NULL;
	json_object_put(root);
	return -1;
}

void
classic_invocation_free(struct classic_invocation *inv)
{
	json_object_put(inv->msg.root);
	inv->msg.root = NULL;
}

/* Serialise obj (borrowed) onto out, "/" unescaped like Json.NET. */
static int
emit(struct buf *out, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return s == NULL ? -1 : buf_puts(out, s);
}

/* Add key -> val (consumed, also on failure); val NULL means out of memory. */
static int
add(json_object *o, const char *key, json_object *val)
{
	if (val == NULL || json_object_object_add(o, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

int
classic_result_error(struct buf *out, const char *id, const char *error)
{
	json_object *o = json_object_new_object();
	int rc = -1;

	if (o != NULL && add(o, "I", json_object_new_string(id)) == 0 &&
	    add(o, "E", json_object_new_string(error)) == 0)
		rc = emit(out, o);
	json_object_put(o);
	return rc;
}

int
classic_result_from_completion(struct buf *out, const char *rec, size_t len)
{
	json_object *root = hubproto_json_parse(rec, len), *o = NULL, *id, *v;
	int rc = -1;

	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "invocationId", &id) ||
	    !json_object_is_type(id, json_type_string) || (o = json_object_new_object()) == NULL)
		goto done;
	if (add(o, "I", json_object_get(id)) == -1)
		goto done;
	if (json_object_object_get_ex(root, "error", &v)) {
		if (add(o, "E", json_object_get(v)) == -1)
			goto done;
	} else if (json_object_object_get_ex(root, "result", &v) && v != NULL) {
		/* A void result (null) leaves R out, as HubResponse does. */
		if (add(o, "R", json_object_get(v)) == -1)
			goto done;
	}
	rc = emit(out, o);
done:
	json_object_put(o);
	json_object_put(root);
	return rc;
}

int
classic_push_from_record(struct buf *out, const char *rec, size_t len, const char *hub)
{
	json_object *root = hubproto_json_parse(rec, len), *o = NULL, *type, *target, *args;
	int rc = -1;

	if (root == NULL)
		goto done;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "type", &type) ||
	    !json_object_is_type(type, json_type_int) || json_object_get_int64(type) != 1 ||
	    !json_object_object_get_ex(root, "target", &target) ||
	    !json_object_is_type(target, json_type_string) ||
	    !json_object_object_get_ex(root, "arguments", &args) ||
	    !json_object_is_type(args, json_type_array)) {
		rc = 0;		/* not an invocation: pings, closes, anything else */
		goto done;
	}
	if ((o = json_object_new_object()) == NULL ||
	    add(o, "H", json_object_new_string(hub)) == -1 ||
	    add(o, "M", json_object_get(target)) == -1 ||
	    add(o, "A", json_object_get(args)) == -1 ||
	    emit(out, o) == -1)
		goto done;
	rc = 1;
done:
	json_object_put(o);
	json_object_put(root);
	return rc;
}

int
classic_persistent(struct buf *out, long long cursor, int initializing, const char *error,
    const char *messages, size_t mlen)
{
	char c[CLASSIC_CURSOR_LEN];
	json_object *e = NULL;
	int rc;

	/* C first, then S, like PersistentResponse; M always (the client only
	 * honours S inside its "if (M)"). */
	classic_cursor_format(cursor, c);
	if (buf_puts(out, "{\"C\":\"") == -1 || buf_puts(out, c) == -1 ||
	    buf_putc(out, '"') == -1 || (initializing && buf_puts(out, ",\"S\":1") == -1))
		return -1;
	if (error != NULL) {
		if ((e = json_object_new_string(error)) == NULL)
			return -1;
		rc = buf_puts(out, ",\"E\":") == -1 || emit(out, e) == -1 ? -1 : 0;
		json_object_put(e);
		if (rc == -1)
			return -1;
	}
	if (buf_puts(out, ",\"M\":[") == -1 || (mlen > 0 && buf_append(out, messages, mlen) == -1) ||
	    buf_puts(out, "]}") == -1)
		return -1;
	return 0;
}

int
classic_jsonp(struct buf *out, const char *callback, const char *json, size_t len)
{
	size_t start = 0;

	if (buf_puts(out, callback) == -1 || buf_putc(out, '(') == -1)
		return -1;
	for (size_t i = 0; i + 2 < len; i++) {
		/* U+2028 / U+2029 are E2 80 A8 / E2 80 A9 in UTF-8. */
		if ((unsigned char)json[i] == 0xe2 && (unsigned char)json[i + 1] == 0x80 &&
		    ((unsigned char)json[i + 2] == 0xa8 || (unsigned char)json[i + 2] == 0xa9)) {
			if (buf_append(out, json + start, i - start) == -1 ||
			    buf_puts(out, (unsigned char)json[i + 2] == 0xa8 ? "\\u2028" : "\\u2029") == -1)
				return -1;
			start = i + 3;
			i += 2;
		}
	}
	if ((len > start && buf_append(out, json + start, len - start) == -1) ||
	    buf_puts(out, ");") == -1)
		return -1;
	return 0;
}
