/*
 * Fuzz the Kendo read-query translator: the input as read's argument (through
 * the hub protocol's parser, as the hub receives it), for a schema with a
 * range and one without. Asserts what makes the SQL safe: the text holds only
 * what the whitelist and the fixed operator list write (no client byte), every
 * placeholder is one of the bound parameters, every parameter is valid UTF-8
 * within the bounds; and that a refusal holds nothing and says why, briefly.
 */
#include <string.h>

#include "fuzz.h"
#include "hubproto.h"
#include "kendoquery.h"
#include "utf8.h"

static const struct kq_field fields[] = {
	{ "ID", "m.id", KQ_UUID },
	{ "Title", "m.title", KQ_TEXT },
	{ "Description", "m.description", KQ_TEXT },
	{ "Start", "m.start_at", KQ_TIME },
	{ "End", "m.end_at", KQ_TIME },
	{ "IsAllDay", "m.is_all_day", KQ_BOOL },
	{ "RoomID", "m.room_id", KQ_INT },
	{ "Score", "m.score", KQ_NUMBER },
	{ "RecurrenceID", "m.recurrence_id", KQ_UUID },
	{ "Attendees", "m.attendees", KQ_OPAQUE },
};
static const struct kq_schema with_range = {
	fields, sizeof(fields) / sizeof(fields[0]), "m.start_at, m.id", "m.id", 1
};
static const struct kq_schema without_range = {
	fields, sizeof(fields) / sizeof(fields[0]), "m.start_at, m.id", "m.id", 0
};

/* The SQL's alphabet: identifiers, the operators, placeholders and casts, '' of
 * isempty. A quote a client could open, a semicolon, a comment: never. */
static void
check_sql_text(const char *s, size_t len, const struct kq_sql *q, int *used)
{
	REQUIRE(s != NULL && len > 0 && strlen(s) == len);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		REQUIRE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_.(), =<>$:'", c) != NULL);
		if (c == '\'') {
			REQUIRE(s[i + 1] == '\'');
			i++;
		}
		if (c == '$') {
			int n = 0;
			size_t k = i + 1;
			for (; s[k] >= '0' && s[k] <= '9'; k++)
				n = n * 10 + (s[k] - '0');
			REQUIRE(k > i + 1 && n >= q->first_param && n < q->first_param + q->nparams);
			REQUIRE(strncmp(s + k, "::", 2) == 0);
			if (used != NULL)
				used[n - q->first_param] = 1;
		}
	}
}

static void
check(const struct kq_schema *schema, json_object *obj, int first)
{
	struct kq_sql q;
	static const struct kq_sql zero;
	char why[320];
	int used[KQ_MAX_PARAMS] = { 0 };
	enum ph_err e;

	memset(why, 'x', sizeof(why));
	e = kendoquery_translate(schema, obj, first, &q, why, sizeof(why));
	if (e != PH_OK) {
		REQUIRE(e == PH_INVALID);
		REQUIRE(memcmp(&q, &zero, sizeof(q)) == 0);
		REQUIRE(memchr(why, '\0', sizeof(why)) != NULL);
		REQUIRE(strncmp(why, "Invalid read query: ", 20) == 0);
		REQUIRE(utf8_valid(why, strlen(why)));
		for (const unsigned char *p = (const unsigned char *)why; *p; p++)
			REQUIRE(*p >= 0x20 && *p != 0x7f);
		kendoquery_free(&q);
		return;
	}
	REQUIRE(q.first_param == first);
	REQUIRE(q.nparams >= 0 && q.nparams <= KQ_MAX_PARAMS);
	check_sql_text(q.where.data, q.where.len, &q, used);
	check_sql_text(q.order.data, q.order.len, &q, NULL);
	REQUIRE(strchr(q.order.data, '$') == NULL && strchr(q.order.data, '\'') == NULL);
	REQUIRE(q.take >= -1 && q.take <= KQ_MAX_TAKE);
	REQUIRE(q.skip >= 0);
	if (!schema->range)
		REQUIRE(q.range_start == 0 && q.range_end == 0);
	/* The range's parameters come first; every other one is used by the text. */
	if (q.range_start)
		used[q.range_start - first] = 1;
	if (q.range_end)
		used[q.range_end - first] = 1;
	REQUIRE(q.range_start == 0 || q.range_start == first);
	REQUIRE(q.range_end == 0 || q.range_end == first + (q.range_start != 0));
	for (int i = 0; i < q.nparams; i++) {
		size_t n;
		REQUIRE(q.params[i] != NULL);
		n = strlen(q.params[i]);
		REQUIRE(utf8_valid(q.params[i], n) && utf8_count(q.params[i], n) <= KQ_MAX_VALUE);
		REQUIRE(used[i]);
	}
	kendoquery_free(&q);
	REQUIRE(memcmp(&q, &zero, sizeof(q)) == 0);
	kendoquery_free(&q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *obj = hubproto_json_parse((const char *)data, size);

	if (obj == NULL && !(size == 4 && memcmp(data, "null", 4) == 0))
		return 0;
	check(&with_range, obj, 3);
	check(&without_range, obj, 1);
	json_object_put(obj);
	return 0;
}
