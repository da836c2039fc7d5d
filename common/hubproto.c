#include "hubproto.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

long
hubproto_record_len(const char *data, size_t len)
{
	const char *rs = memchr(data, HUBPROTO_RS, len);

	return rs == NULL ? -1 : (long)(rs - data);
}

/*
 * RFC 8259 grammar check, run before json-c: even in strict mode json-c
 * takes single-quoted strings, NaN, Infinity, "1." and raw control
 * characters, and its UTF-8 check lets overlong forms and surrogates
 * through. ASP.NET's reader refuses all of them, so we do too.
 */
struct jscan {
	const unsigned char	*p, *end;
	int			 depth;
};

static void
js_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int
js_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The four hex digits of a \u escape at s->p (checked), consumed. */
static int
js_u4(struct jscan *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++, s->p++) {
		unsigned char c;

		if (s->p >= s->end || !js_hex(c = *s->p))
			return -1;
		v = v << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	*out = v;
	return 0;
}

/* A string. A \u escape of a surrogate must be a high one followed at once by
 * an escaped low one: a lone surrogate is no Unicode text (json-c would store
 * U+FFFD for it; System.Text.Json refuses it). */
static int
js_string(struct jscan *s)
{
	size_t n;
	unsigned u, lo;

	s->p++;	/* opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (++s->p >= s->end)
				return -1;
			c = *s->p++;
			if (c == 'u') {
				if (js_u4(s, &u) == -1 || (u >= 0xDC00 && u <= 0xDFFF))
					return -1;
				if (u >= 0xD800 && u <= 0xDBFF &&
				    (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u' ||
				    (s->p += 2, js_u4(s, &lo)) == -1 || lo < 0xDC00 || lo > 0xDFFF))
					return -1;
			} else if (strchr("\"\\/bfnrt", c) == NULL || c == 0)
				return -1;
			continue;
		}
		if ((n = utf8_char_len(s->p, (size_t)(s->end - s->p))) == 0)
			return -1;
		s->p += n;
	}
	return -1;
}

static int
js_digits(struct jscan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

static int
js_number(struct jscan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (js_digits(s) == -1)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (js_digits(s) == -1)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (js_digits(s) == -1)
			return -1;
	}
	return 0;
}

static int
js_literal(struct jscan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int js_value(struct jscan *s);

/* An object or array: members separated by commas, depth-limited. */
static int
js_container(struct jscan *s, unsigned char close)
{
	if (++s->depth > HUBPROTO_MAX_DEPTH)
		return -1;
	s->p++;
	js_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			js_ws(s);
			if (s->p >= s->end || *s->p != '"' || js_string(s) == -1)
				return -1;
			js_ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return -1;
		}
		if (js_value(s) == -1)
			return -1;
		js_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == close) {
			s->p++;
			s->depth--;
			return 0;
		}
		if (*s->p++ != ',')
			return -1;
	}
}

static int
js_value(struct jscan *s)
{
	js_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
		return js_container(s, '}');
	case '[':
		return js_container(s, ']');
	case '"':
		return js_string(s);
	case 't':
		return js_literal(s, "true");
	case 'f':
		return js_literal(s, "false");
	case 'n':
		return js_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return js_number(s);
		return -1;
	}
}

/* 1 if text[0..len) is exactly one RFC 8259 value, optionally padded. */
static int
json_wellformed(const char *text, size_t len)
{
	struct jscan s = { (const unsigned char *)text, (const unsigned char *)text + len, 0 };

	if (js_value(&s) == -1)
		return 0;
	js_ws(&s);
	return s.p == s.end;
}

json_object *
hubproto_json_parse(const char *text, size_t len)
{
	struct json_tokener *tok;
	json_object *obj;
	size_t end;

	if (len > (size_t)2147483647 - 1)
		return NULL;
	if (!json_wellformed(text, len))
		return NULL;
	if ((tok = json_tokener_new_ex(HUBPROTO_MAX_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		/* A number at the very end ("1", a method's scalar result): json-c
		 * waits for more digits. The grammar check saw a whole value, so
		 * a space ends it and there is nothing after it. */
		obj = json_tokener_parse_ex(tok, " ", 1);
		if (json_tokener_get_error(tok) == json_tokener_success) {
			json_tokener_free(tok);
			return obj;
		}
	}
	if (json_tokener_get_error(tok) != json_tokener_success) {
		/* Also "continue": the value was incomplete at the record's end. */
		json_object_put(obj);
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < len; end++)
		if (text[end] != ' ' && text[end] != '\t' && text[end] != '\r' && text[end] != '\n') {
			json_object_put(obj);
			return NULL;
		}
	return obj;
}

/* ASP.NET Core's text for an unknown protocol, naming at most 100 bytes of
 * it; a NUL in the name (which a C string cannot carry) shows as U+FFFD. */
static void
unsupported(char *err, size_t errlen, const char *name, size_t len)
{
	char shown[128];
	size_t i, o = 0, n;

	for (i = 0; i < len && o < 100; i += n) {
		if (name[i] == '\0') {
			memcpy(shown + o, "\xef\xbf\xbd", 3);
			o += 3;
			n = 1;
			continue;
		}
		/* json-c's strings are well-formed UTF-8 (checked before). */
		n = utf8_char_len((const unsigned char *)name + i, len - i);
		if (n == 0 || o + n > 100)
			break;
		memcpy(shown + o, name + i, n);
		o += n;
	}
	shown[o] = '\0';
	snprintf(err, errlen, "The protocol '%s' is not supported.", shown);
}

int
hubproto_parse_handshake(const char *rec, size_t len, char *err, size_t errlen)
{
	json_object *root, *proto = NULL, *version = NULL;
	int rc = -1;

	if ((root = hubproto_json_parse(rec, len)) == NULL ||
	    !json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "An unexpected error occurred during connection handshake."
		    " InvalidDataException: Error reading JSON.");
		goto done;
	}
	if (!json_object_object_get_ex(root, "protocol", &proto) ||
	    !json_object_is_type(proto, json_type_string)) {
		snprintf(err, errlen, "An unexpected error occurred during connection handshake."
		    " InvalidDataException: Missing required property 'protocol'.");
		goto done;
	}
	if (!json_object_object_get_ex(root, "version", &version) ||
	    !json_object_is_type(version, json_type_int)) {
		snprintf(err, errlen, "An unexpected error occurred during connection handshake."
		    " InvalidDataException: Missing required property 'version'.");
		goto done;
	}
	/* Compared with its length: "json\u0000garbage" is not "json". */
	if (json_object_get_string_len(proto) != 4 ||
	    memcmp(json_object_get_string(proto), "json", 4) != 0) {
		unsupported(err, errlen, json_object_get_string(proto),
		    (size_t)json_object_get_string_len(proto));
		goto done;
	}
	if (json_object_get_int64(version) != 1) {
		snprintf(err, errlen, "The server does not support version %lld of the 'json' protocol.",
		    (long long)json_object_get_int64(version));
		goto done;
	}
	rc = 0;
done:
	json_object_put(root);
	return rc;
}

static int
missing(char *err, size_t errlen, const char *prop)
{
	snprintf(err, errlen, "Missing required property '%s'.", prop);
	return -1;
}

int
hubproto_parse_message(const char *rec, size_t len, struct hub_message *msg,
    char *err, size_t errlen)
{
	json_object *root, *v = NULL;

	memset(msg, 0, sizeof(*msg));
	if ((root = hubproto_json_parse(rec, len)) == NULL) {
		snprintf(err, errlen, "Error reading JSON.");
		return -1;
	}
	msg->root = root;
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "Unexpected JSON Token Type '%s'. Expected a JSON Object.",
		    json_type_to_name(json_object_get_type(root)));
		goto fail;
	}
	if (!json_object_object_get_ex(root, "type", &v)) {
		missing(err, errlen, "type");
		goto fail;
	}
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "Expected 'type' to be of type Integer.");
		goto fail;
	}
	msg->type = (int)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "invocationId", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(err, errlen, "Expected 'invocationId' to be of type String.");
			goto fail;
		}
		msg->invocation_id = json_object_get_string(v);
	}
	if (msg->type == HUB_INVOCATION || msg->type == HUB_STREAM_INVOCATION) {
		if (msg->type == HUB_STREAM_INVOCATION && msg->invocation_id == NULL) {
			missing(err, errlen, "invocationId");
			goto fail;
		}
		if (!json_object_object_get_ex(root, "target", &v)) {
			missing(err, errlen, "target");
			goto fail;
		}
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(err, errlen, "Expected 'target' to be of type String.");
			goto fail;
		}
		msg->target = json_object_get_string(v);
		msg->target_len = (size_t)json_object_get_string_len(v);
		if (!json_object_object_get_ex(root, "arguments", &v)) {
			missing(err, errlen, "arguments");
			goto fail;
		}
		if (!json_object_is_type(v, json_type_array)) {
			snprintf(err, errlen, "Expected 'arguments' to be of type Array.");
			goto fail;
		}
		msg->arguments = v;
	}
	return 0;
fail:
	hub_message_free(msg);
	return -1;
}

void
hub_message_free(struct hub_message *msg)
{
	json_object_put(msg->root);
	memset(msg, 0, sizeof(*msg));
}

/* Serialise obj (consumed) onto out. */
static int
emit(struct buf *out, json_object *obj)
{
	const char *s;
	int rc;

	if (obj == NULL)
		return -1;
	/* Plain, and "/" unescaped like ASP.NET; 0x1E in strings is escaped as \u001e. */
	s = json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = s == NULL ? -1 : buf_puts(out, s);
	json_object_put(obj);
	return rc;
}

/* Add key → val to obj; val is consumed even on failure. */
static int
add(json_object *obj, const char *key, json_object *val)
{
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

int
hubproto_handshake_response(struct buf *out, const char *error)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return -1;
	if (error != NULL && add(o, "error", json_object_new_string(error)) == -1) {
		json_object_put(o);
		return -1;
	}
	return emit(out, o);
}

static json_object *
completion(const char *invocation_id)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	if (add(o, "type", json_object_new_int(HUB_COMPLETION)) == -1 ||
	    add(o, "invocationId", json_object_new_string(invocation_id)) == -1) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
hubproto_completion_result(struct buf *out, const char *invocation_id, json_object *result)
{
	json_object *o = completion(invocation_id);

	if (o == NULL)
		return -1;
	/* The completion takes its own reference; the caller keeps theirs. */
	if (add(o, "result", result != NULL ? json_object_get(result) : NULL) == -1) {
		json_object_put(o);
		return -1;
	}
	return emit(out, o);
}

int
hubproto_completion_error(struct buf *out, const char *invocation_id, const char *error)
{
	json_object *o = completion(invocation_id);

	if (o == NULL)
		return -1;
	if (add(o, "error", json_object_new_string(error)) == -1) {
		json_object_put(o);
		return -1;
	}
	return emit(out, o);
}

int
hubproto_close(struct buf *out, const char *error, int allow_reconnect)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return -1;
	if (add(o, "type", json_object_new_int(HUB_CLOSE)) == -1 ||
	    (error != NULL && add(o, "error", json_object_new_string(error)) == -1) ||
	    (allow_reconnect && add(o, "allowReconnect", json_object_new_boolean(1)) == -1)) {
		json_object_put(o);
		return -1;
	}
	return emit(out, o);
}

/* Whether rec has "type" followed by optional blanks, ':', optional blanks
 * and the number 7: a Close, or a string that looks like one (then parsed). */
static int
maybe_close(const char *rec, size_t n)
{
	const char *p = rec, *end = rec + n;

	while ((p = memmem(p, (size_t)(end - p), "\"type\"", 6)) != NULL) {
		const char *q = p + 6;

		p = q;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		if (q < end && *q == '7' && (q + 1 >= end || *(q + 1) < '0' || *(q + 1) > '9'))
			return 1;
	}
	return 0;
}

int
hubproto_find_close(const char *data, size_t len, char *error, size_t errsize)
{
	size_t off = 0;
	long n;

	if (errsize > 0)
		error[0] = '\0';
	while (off < len && (n = hubproto_record_len(data + off, len - off)) >= 0) {
		const char *rec = data + off;
		json_object *o, *t, *e;
		int found = 0;

		off += (size_t)n + 1;
		/* Only a record that can be a Close is parsed: one with a "type"
		 * key whose value is 7, with any spacing (pushes and completions,
		 * the bulk, are never parsed: this runs for every record sent). */
		if (!maybe_close(rec, (size_t)n))
			continue;
		if ((o = hubproto_json_parse(rec, (size_t)n)) == NULL)
			continue;
		if (json_object_object_get_ex(o, "type", &t) && json_object_is_type(t, json_type_int) &&
		    json_object_get_int(t) == HUB_CLOSE) {
			found = 1;
			if (json_object_object_get_ex(o, "error", &e) &&
			    json_object_is_type(e, json_type_string))
				snprintf(error, errsize, "%s", json_object_get_string(e));
		}
		json_object_put(o);
		if (found)
			return 1;
	}
	return 0;
}
