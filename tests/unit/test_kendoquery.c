/* Unit tests for common/kendoquery.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "kendoquery.h"
#include "unit.h"
#include "utf8.h"

#define PREFIX "Invalid read query: "

/* MeetingHub's whitelist, plus Score: a number field, for KQ_NUMBER. */
static const struct kq_field fields[] = {
	{ "ID", "m.id", KQ_UUID },
	{ "Title", "m.title", KQ_TEXT },
	{ "Description", "m.description", KQ_TEXT },
	{ "Start", "m.start_at", KQ_TIME },
	{ "End", "m.end_at", KQ_TIME },
	{ "StartTimezone", "m.start_timezone", KQ_TEXT },
	{ "EndTimezone", "m.end_timezone", KQ_TEXT },
	{ "IsAllDay", "m.is_all_day", KQ_BOOL },
	{ "RoomID", "m.room_id", KQ_INT },
	{ "RecurrenceRule", "m.recurrence_rule", KQ_TEXT },
	{ "RecurrenceID", "m.recurrence_id", KQ_UUID },
	{ "RecurrenceException", "m.recurrence_exception", KQ_TEXT },
	{ "CreatedAt", "m.created_at", KQ_TIME },
	{ "Attendees", "m.attendees", KQ_OPAQUE },
	{ "Score", "m.score", KQ_NUMBER },
};
static const struct kq_schema schema = {
	fields, sizeof(fields) / sizeof(fields[0]), "m.start_at, m.id", "m.id", 1
};
static const struct kq_schema no_range = {
	fields, sizeof(fields) / sizeof(fields[0]), "m.start_at, m.id", "m.id", 0
};

static char why[512];

static int
zeroed(const struct kq_sql *q)
{
	static const struct kq_sql zero;

	return memcmp(q, &zero, sizeof(zero)) == 0;
}

/* Translate json (NULL: no argument) for s; q is filled on PH_OK only. */
static enum ph_err
run(const struct kq_schema *s, const char *json, int first, struct kq_sql *q)
{
	json_object *obj = NULL;
	enum ph_err e;

	if (json != NULL && (obj = json_tokener_parse(json)) == NULL &&
	    strcmp(json, "null") != 0) {
		printf("bad test JSON: %s\n", json);
		return PH_ERR__MAX;
	}
	memset(why, 'x', sizeof(why));
	why[sizeof(why) - 1] = '\0';
	e = kendoquery_translate(s, obj, first, q, why, sizeof(why));
	json_object_put(obj);
	return e;
}

/* Accepted with first_param 1: the WHERE text and the parameters (NULL-ended). */
static void
expect_sql(int line, const char *json, const char *where, ...)
{
	struct kq_sql q;
	va_list ap;
	const char *p;
	int n = 0;

	if (run(&schema, json, 1, &q) != PH_OK) {
		printf("line %d: refused: %s\n", line, why);
		CHECK(0);
		return;
	}
	if (!unit_record(strcmp(q.where.data, where) == 0, __FILE__, line, json)) {
		printf(": where %s\n   want %s\n", q.where.data, where);
	}
	va_start(ap, where);
	while ((p = va_arg(ap, const char *)) != NULL) {
		if (n < q.nparams)
			CHECK_STREQ(q.params[n], p);
		n++;
	}
	va_end(ap);
	if (!unit_record(n == q.nparams, __FILE__, line, "nparams"))
		printf(": got %d, want %d\n", q.nparams, n);
	kendoquery_free(&q);
}
#define SQL(json, ...) expect_sql(__LINE__, json, __VA_ARGS__, (const char *)NULL)

/* Refused: PH_INVALID, the prefix, needle in the message, nothing held. */
static void
expect_refused_s(int line, const struct kq_schema *s, const char *json, const char *needle)
{
	struct kq_sql q;
	enum ph_err e = run(s, json, 1, &q);

	if (!unit_record(e == PH_INVALID, __FILE__, line, json)) {
		printf(": accepted or %d (%s)\n", (int)e, e == PH_OK ? q.where.data : why);
		if (e == PH_OK)
			kendoquery_free(&q);
		return;
	}
	if (!unit_record(strncmp(why, PREFIX, strlen(PREFIX)) == 0 && strstr(why, needle) != NULL,
	    __FILE__, line, json))
		printf(": why \"%s\" lacks \"%s\"\n", why, needle);
	if (!unit_record(strlen(why) < 400 && utf8_valid(why, strlen(why)), __FILE__, line,
	    "why bounded and valid UTF-8"))
		printf(": %zu bytes\n", strlen(why));
	CHECK(zeroed(&q));
}
#define REFUSED(json, needle) expect_refused_s(__LINE__, &schema, json, needle)

static void
test_no_query(void)
{
	static const char *const none[] = {
		NULL, "null", "{}", "{\"filter\":null}", "{\"filter\":{}}", "{\"sort\":null}",
		"{\"sort\":[]}", "{\"filter\":{\"logic\":\"and\",\"filters\":[]}}",
		"{\"group\":null,\"aggregate\":[]}", "{\"group\":[],\"aggregate\":null}",
		"{\"Start\":null,\"End\":null,\"take\":null,\"skip\":null,\"page\":null,\"pageSize\":null}",
	};
	struct kq_sql q;

	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		if (run(&schema, none[i], 1, &q) != PH_OK) {
			printf("refused %s: %s\n", none[i] ? none[i] : "(none)", why);
			CHECK(0);
			continue;
		}
		CHECK_STREQ(q.where.data, "true");
		CHECK_STREQ(q.order.data, "m.start_at, m.id");
		CHECK_INTEQ(q.nparams, 0);
		CHECK_INTEQ(q.take, -1);
		CHECK_INTEQ(q.skip, 0);
		CHECK_INTEQ(q.range_start, 0);
		CHECK_INTEQ(q.range_end, 0);
		CHECK_INTEQ(q.first_param, 1);
		CHECK_INTEQ(q.where.len, strlen(q.where.data));
		kendoquery_free(&q);
	}
	/* The no-range schema reads without Start/End too. */
	CHECK_INTEQ(run(&no_range, NULL, 2, &q), PH_OK);
	kendoquery_free(&q);
}

#define LEAF(f, op, v) "{\"filter\":{\"field\":\"" f "\",\"operator\":\"" op "\",\"value\":" v "}}"
#define LEAF_CS(f, op, v) "{\"filter\":{\"field\":\"" f "\",\"operator\":\"" op "\",\"value\":" \
	v ",\"ignoreCase\":false}}"

static void
test_text_operators(void)
{
	/* ignoreCase (the default): lower() of both sides. */
	SQL(LEAF("Title", "eq", "\"Standup\""), "(lower(m.title) = lower($1::text))", "Standup");
	SQL(LEAF("Title", "neq", "\"a\""), "(lower(m.title) IS DISTINCT FROM lower($1::text))", "a");
	SQL(LEAF("Title", "lt", "\"a\""), "(lower(m.title) < lower($1::text))", "a");
	SQL(LEAF("Title", "lte", "\"a\""), "(lower(m.title) <= lower($1::text))", "a");
	SQL(LEAF("Title", "gt", "\"a\""), "(lower(m.title) > lower($1::text))", "a");
	SQL(LEAF("Title", "gte", "\"a\""), "(lower(m.title) >= lower($1::text))", "a");
	SQL(LEAF("Title", "contains", "\"a\""), "(strpos(lower(m.title), lower($1::text)) > 0)", "a");
	SQL(LEAF("Title", "doesnotcontain", "\"a\""),
	    "(m.title IS NULL OR strpos(lower(m.title), lower($1::text)) = 0)", "a");
	SQL(LEAF("Title", "startswith", "\"a\""),
	    "(starts_with(lower(m.title), lower($1::text)))", "a");
	SQL(LEAF("Title", "endswith", "\"a\""),
	    "(right(lower(m.title), length(lower($1::text))) = lower($1::text))", "a");
	SQL(LEAF("Title", "isnull", "null"), "(m.title IS NULL)");
	SQL(LEAF("Title", "isnotnull", "null"), "(m.title IS NOT NULL)");
	SQL(LEAF("Title", "isempty", "\"ignored\""), "(m.title = '')");
	SQL(LEAF("Title", "isnotempty", "3"), "(m.title <> '')");
	SQL("{\"filter\":{\"field\":\"Title\",\"operator\":\"isnull\"}}", "(m.title IS NULL)");
	SQL("{\"filter\":{\"field\":\"Title\",\"operator\":\"contains\",\"value\":\"a\","
	    "\"ignoreCase\":true}}", "(strpos(lower(m.title), lower($1::text)) > 0)", "a");
	SQL("{\"filter\":{\"field\":\"Title\",\"operator\":\"contains\",\"value\":\"a\","
	    "\"ignoreCase\":null}}", "(strpos(lower(m.title), lower($1::text)) > 0)", "a");

	/* ignoreCase: false compares verbatim. */
	SQL(LEAF_CS("Title", "eq", "\"Standup\""), "(m.title = $1::text)", "Standup");
	SQL(LEAF_CS("Title", "neq", "\"a\""), "(m.title IS DISTINCT FROM $1::text)", "a");
	SQL(LEAF_CS("Title", "lt", "\"a\""), "(m.title < $1::text)", "a");
	SQL(LEAF_CS("Title", "lte", "\"a\""), "(m.title <= $1::text)", "a");
	SQL(LEAF_CS("Title", "gt", "\"a\""), "(m.title > $1::text)", "a");
	SQL(LEAF_CS("Title", "gte", "\"a\""), "(m.title >= $1::text)", "a");
	SQL(LEAF_CS("Title", "contains", "\"a\""), "(strpos(m.title, $1::text) > 0)", "a");
	SQL(LEAF_CS("Title", "doesnotcontain", "\"a\""),
	    "(m.title IS NULL OR strpos(m.title, $1::text) = 0)", "a");
	SQL(LEAF_CS("Title", "startswith", "\"a\""), "(starts_with(m.title, $1::text))", "a");
	SQL(LEAF_CS("Title", "endswith", "\"a\""),
	    "(right(m.title, length($1::text)) = $1::text)", "a");
	SQL(LEAF_CS("Description", "isempty", "null"), "(m.description = '')");

	/* Names of fields, operators and keys are matched case-insensitively. */
	SQL("{\"FILTER\":{\"FIELD\":\"title\",\"Operator\":\"EQ\",\"VALUE\":\"x\","
	    "\"IgnoreCase\":false}}", "(m.title = $1::text)", "x");
	SQL(LEAF("recurrencerule", "StartsWith", "\"FREQ\""),
	    "(starts_with(lower(m.recurrence_rule), lower($1::text)))", "FREQ");
	/* Text is any valid UTF-8, kept verbatim (an empty string too). */
	SQL(LEAF("Title", "eq", "\"Caf\\u00e9 \\ud83d\\ude00\""), "(lower(m.title) = lower($1::text))",
	    "Caf\xc3\xa9 \xf0\x9f\x98\x80");
	SQL(LEAF_CS("Title", "eq", "\"\""), "(m.title = $1::text)", "");
}

static void
test_typed_operators(void)
{
	/* Integers: a JSON integer or a string of one, in int4's range. */
	SQL(LEAF("RoomID", "eq", "3"), "(m.room_id = $1::integer)", "3");
	SQL(LEAF("RoomID", "neq", "\"-7\""), "(m.room_id IS DISTINCT FROM $1::integer)", "-7");
	SQL(LEAF("RoomID", "lt", "2147483647"), "(m.room_id < $1::integer)", "2147483647");
	SQL(LEAF("RoomID", "lte", "-2147483648"), "(m.room_id <= $1::integer)", "-2147483648");
	SQL(LEAF("RoomID", "gt", "\"007\""), "(m.room_id > $1::integer)", "7");
	SQL(LEAF("RoomID", "gte", "0"), "(m.room_id >= $1::integer)", "0");
	SQL(LEAF("RoomID", "isnull", "null"), "(m.room_id IS NULL)");
	SQL(LEAF("RoomID", "isnotnull", "null"), "(m.room_id IS NOT NULL)");
	/* ignoreCase means nothing but for text. */
	SQL(LEAF_CS("RoomID", "eq", "1"), "(m.room_id = $1::integer)", "1");
	SQL("{\"filter\":{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":1,\"ignoreCase\":true}}",
	    "(m.room_id = $1::integer)", "1");
	REFUSED(LEAF("RoomID", "eq", "\"abc\""), "'RoomID' needs an integer, not \"abc\".");
	REFUSED(LEAF("RoomID", "eq", "2147483648"), "'RoomID' needs an integer, not 2147483648.");
	REFUSED(LEAF("RoomID", "eq", "\"-2147483649\""), "needs an integer");
	REFUSED(LEAF("RoomID", "eq", "1.5"), "'RoomID' needs an integer, not 1.5");
	REFUSED(LEAF("RoomID", "eq", "\" 1\""), "needs an integer");
	REFUSED(LEAF("RoomID", "eq", "\"+1\""), "needs an integer");
	REFUSED(LEAF("RoomID", "eq", "\"-\""), "needs an integer");
	REFUSED(LEAF("RoomID", "eq", "true"), "'RoomID' needs an integer, not true.");
	REFUSED(LEAF("RoomID", "eq", "[1]"), "'RoomID' needs an integer, not an array.");
	REFUSED(LEAF("RoomID", "eq", "{}"), "'RoomID' needs an integer, not an object.");

	/* Numbers: a JSON number, or a string of one. */
	SQL(LEAF("Score", "eq", "3"), "(m.score = $1::numeric)", "3");
	SQL(LEAF("Score", "gt", "1.5"), "(m.score > $1::numeric)", "1.5");
	SQL(LEAF("Score", "lt", "\"-2.50e+10\""), "(m.score < $1::numeric)", "-2.50e+10");
	SQL(LEAF("Score", "lte", "\"12345678901234567890.5\""), "(m.score <= $1::numeric)",
	    "12345678901234567890.5");
	SQL(LEAF("Score", "gte", "-0.25"), "(m.score >= $1::numeric)", "-0.25");
	SQL(LEAF("Score", "neq", "null"), "(m.score IS NOT NULL)");
	REFUSED(LEAF("Score", "eq", "\"1e1000\""), "'Score' needs a number, not \"1e1000\".");
	REFUSED(LEAF("Score", "eq", "\"NaN\""), "needs a number");
	REFUSED(LEAF("Score", "eq", "\"1.\""), "needs a number");
	REFUSED(LEAF("Score", "eq", "\".5\""), "needs a number");
	REFUSED(LEAF("Score", "eq", "\"1e\""), "needs a number");
	REFUSED(LEAF("Score", "eq", "\"0x10\""), "needs a number");
	REFUSED(LEAF("Score", "eq", "false"), "needs a number");

	/* Booleans: true/false, or the strings. */
	SQL(LEAF("IsAllDay", "eq", "true"), "(m.is_all_day = $1::boolean)", "true");
	SQL(LEAF("IsAllDay", "neq", "\"FALSE\""), "(m.is_all_day IS DISTINCT FROM $1::boolean)",
	    "false");
	SQL(LEAF("IsAllDay", "isnull", "null"), "(m.is_all_day IS NULL)");
	SQL(LEAF("IsAllDay", "isnotnull", "null"), "(m.is_all_day IS NOT NULL)");
	REFUSED(LEAF("IsAllDay", "eq", "1"), "'IsAllDay' needs true or false, not 1.");
	REFUSED(LEAF("IsAllDay", "eq", "\"yes\""), "needs true or false");
	REFUSED(LEAF("IsAllDay", "eq", "\"truex\""), "needs true or false");

	/* Times: ISO 8601 with a zone, bound in canonical UTC. */
	SQL(LEAF("Start", "gte", "\"2026-11-22T02:00:00+02:00\""),
	    "(m.start_at >= $1::timestamptz)", "2026-11-22T00:00:00.000000Z");
	SQL(LEAF("End", "lt", "\"2026-11-22T00:00:00.000Z\""), "(m.end_at < $1::timestamptz)",
	    "2026-11-22T00:00:00.000000Z");
	SQL(LEAF("CreatedAt", "eq", "\"2026-11-22T00:00Z\""), "(m.created_at = $1::timestamptz)",
	    "2026-11-22T00:00:00.000000Z");
	SQL(LEAF("Start", "lte", "\"2026-11-22T00:00:00Z\""), "(m.start_at <= $1::timestamptz)",
	    "2026-11-22T00:00:00.000000Z");
	SQL(LEAF("Start", "gt", "\"2026-11-22T00:00:00Z\""), "(m.start_at > $1::timestamptz)",
	    "2026-11-22T00:00:00.000000Z");
	SQL(LEAF("Start", "neq", "\"2026-11-22T00:00:00Z\""),
	    "(m.start_at IS DISTINCT FROM $1::timestamptz)", "2026-11-22T00:00:00.000000Z");
	SQL(LEAF("Start", "isnotnull", "null"), "(m.start_at IS NOT NULL)");
	REFUSED(LEAF("Start", "eq", "\"2026-11-22T00:00:00\""),
	    "'Start' needs an ISO 8601 date and time with a zone, not \"2026-11-22T00:00:00\".");
	REFUSED(LEAF("Start", "eq", "1700000000000"), "'Start' needs an ISO 8601");
	REFUSED(LEAF("Start", "eq", "\"now()\""), "'Start' needs an ISO 8601");

	/* UUIDs: any case, bound in lower case. */
	SQL(LEAF("ID", "eq", "\"3F2504E0-4F89-11D3-9A0C-0305E82C3301\""), "(m.id = $1::uuid)",
	    "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	SQL(LEAF("RecurrenceID", "neq", "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\""),
	    "(m.recurrence_id IS DISTINCT FROM $1::uuid)", "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	SQL(LEAF("ID", "lt", "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\""), "(m.id < $1::uuid)",
	    "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	SQL(LEAF("ID", "lte", "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\""), "(m.id <= $1::uuid)",
	    "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	SQL(LEAF("ID", "gt", "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\""), "(m.id > $1::uuid)",
	    "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	SQL(LEAF("ID", "gte", "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\""), "(m.id >= $1::uuid)",
	    "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	SQL(LEAF("RecurrenceID", "isnull", "null"), "(m.recurrence_id IS NULL)");
	REFUSED(LEAF("ID", "eq", "\"3f2504e04f8911d39a0c0305e82c3301\""), "'ID' needs a UUID");
	REFUSED(LEAF("ID", "eq", "\"not-a-uuid\""), "'ID' needs a UUID, not \"not-a-uuid\".");
	REFUSED(LEAF("ID", "eq", "7"), "'ID' needs a UUID, not 7.");

	/* Text needs a string. */
	REFUSED(LEAF("Title", "eq", "5"), "'Title' needs a string, not 5.");
	REFUSED(LEAF("Title", "contains", "true"), "'Title' needs a string, not true.");
}

static void
test_operator_applies(void)
{
	static const char *const text_only[] = {
		"contains", "doesnotcontain", "startswith", "endswith", "isempty", "isnotempty"
	};
	static const struct { const char *field, *type; } others[] = {
		{ "RoomID", "integer" }, { "Score", "number" }, { "IsAllDay", "boolean" },
		{ "Start", "time" }, { "ID", "uuid" },
	};
	char json[256], want[160];

	for (size_t o = 0; o < sizeof(text_only) / sizeof(text_only[0]); o++)
		for (size_t f = 0; f < sizeof(others) / sizeof(others[0]); f++) {
			snprintf(json, sizeof(json), LEAF("%s", "%s", "\"x\""), others[f].field,
			    text_only[o]);
			snprintf(want, sizeof(want), "operator '%s' does not apply to field '%s' (%s).",
			    text_only[o], others[f].field, others[f].type);
			REFUSED(json, want);
		}
	REFUSED(LEAF("IsAllDay", "lt", "true"),
	    "operator 'lt' does not apply to field 'IsAllDay' (boolean).");
	REFUSED(LEAF("IsAllDay", "gte", "true"), "operator 'gte' does not apply");
	REFUSED(LEAF("Title", "like", "\"%\""), "operator 'like' is not supported (eq, neq, ");
	REFUSED(LEAF("Title", "isnullorempty", "null"), "operator 'isnullorempty' is not supported");
	REFUSED(LEAF("Title", "==", "\"a\""), "operator '==' is not supported");
	REFUSED("{\"filter\":{\"field\":\"Title\",\"value\":\"a\"}}",
	    "a filter needs 'operator' (a string).");
	REFUSED("{\"filter\":{\"field\":\"Title\",\"operator\":1,\"value\":\"a\"}}",
	    "a filter needs 'operator'");
	REFUSED("{\"filter\":{\"operator\":\"eq\",\"value\":\"a\"}}",
	    "a filter entry needs 'field' (a string).");
	REFUSED("{\"filter\":{\"field\":null,\"operator\":\"eq\",\"value\":\"a\"}}",
	    "needs 'field'");
	REFUSED("{\"filter\":{\"field\":\"Title\",\"operator\":\"eq\",\"value\":\"a\","
	    "\"ignoreCase\":\"no\"}}", "'ignoreCase' must be true or false.");
	/* Attendees is known by name, and refused by name. */
	REFUSED(LEAF("Attendees", "eq", "1"),
	    "field 'Attendees' cannot be filtered or sorted.");
	REFUSED(LEAF("attendees", "isnull", "null"), "field 'Attendees' cannot be filtered");
	REFUSED("{\"sort\":[{\"field\":\"Attendees\"}]}",
	    "field 'Attendees' cannot be filtered or sorted.");
}

static void
test_null_values(void)
{
	SQL(LEAF("Title", "eq", "null"), "(m.title IS NULL)");
	SQL(LEAF("Title", "neq", "null"), "(m.title IS NOT NULL)");
	SQL(LEAF("RecurrenceID", "eq", "null"), "(m.recurrence_id IS NULL)");
	SQL(LEAF("RoomID", "neq", "null"), "(m.room_id IS NOT NULL)");
	/* Kendo leaves an undefined value out of the JSON: absent is null. */
	SQL("{\"filter\":{\"field\":\"RecurrenceID\",\"operator\":\"eq\"}}",
	    "(m.recurrence_id IS NULL)");
	REFUSED(LEAF("Title", "lt", "null"), "operator 'lt' on 'Title' needs a value, not null.");
	REFUSED(LEAF("Title", "contains", "null"), "operator 'contains' on 'Title' needs a value");
	REFUSED(LEAF("Start", "gte", "null"), "operator 'gte' on 'Start' needs a value");
	REFUSED("{\"filter\":{\"field\":\"Title\",\"operator\":\"endswith\"}}",
	    "operator 'endswith' on 'Title' needs a value");
}

static void
test_groups(void)
{
	SQL("{\"filter\":{\"logic\":\"and\",\"filters\":["
	    "{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":1},"
	    "{\"logic\":\"or\",\"filters\":["
	    "{\"field\":\"Title\",\"operator\":\"contains\",\"value\":\"plan\"},"
	    "{\"field\":\"Description\",\"operator\":\"isnull\"}]},"
	    "{\"field\":\"IsAllDay\",\"operator\":\"eq\",\"value\":false}]}}",
	    "((m.room_id = $1::integer) AND ((strpos(lower(m.title), lower($2::text)) > 0) OR "
	    "(m.description IS NULL)) AND (m.is_all_day = $3::boolean))",
	    "1", "plan", "false");
	/* logic defaults to and; its case does not matter. */
	SQL("{\"filter\":{\"filters\":[{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":1},"
	    "{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":2}]}}",
	    "((m.room_id = $1::integer) AND (m.room_id = $2::integer))", "1", "2");
	SQL("{\"filter\":{\"logic\":\"Or\",\"filters\":[{\"field\":\"RoomID\",\"operator\":\"eq\","
	    "\"value\":1},{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":2}]}}",
	    "((m.room_id = $1::integer) OR (m.room_id = $2::integer))", "1", "2");
	SQL("{\"filter\":{\"logic\":\"AND\",\"filters\":[{\"field\":\"RoomID\",\"operator\":\"eq\","
	    "\"value\":1}]}}", "((m.room_id = $1::integer))", "1");
	SQL("{\"filter\":{\"logic\":null,\"filters\":[{\"logic\":\"or\",\"filters\":[]}]}}",
	    "(true)");
	REFUSED("{\"filter\":{\"logic\":\"xor\",\"filters\":[]}}",
	    "logic 'xor' is not supported (and, or).");
	REFUSED("{\"filter\":{\"logic\":1,\"filters\":[]}}", "'logic' must be \"and\" or \"or\".");
	REFUSED("{\"filter\":{\"logic\":\"and\"}}", "a filter group needs 'filters' (an array).");
	REFUSED("{\"filter\":{\"logic\":\"and\",\"filters\":{}}}", "needs 'filters' (an array)");
	REFUSED("{\"filter\":{\"logic\":\"and\",\"filters\":[null]}}", "a filter must be an object");
	REFUSED("{\"filter\":{\"logic\":\"and\",\"filters\":[1]}}", "a filter must be an object");
	REFUSED("{\"filter\":[]}", "a filter must be an object");
	REFUSED("{\"filter\":\"Title eq 'a'\"}", "a filter must be an object");
	/* Only Kendo's keys, each once. */
	REFUSED("{\"filter\":{\"logic\":\"and\",\"filters\":[],\"field\":\"Title\"}}",
	    "unknown key 'field' in a filter group (a group takes logic, filters).");
	REFUSED("{\"filter\":{\"field\":\"Title\",\"operator\":\"eq\",\"value\":\"a\",\"x\":null}}",
	    "unknown key 'x' in a filter (a filter takes field, operator, value, ignoreCase).");
	REFUSED("{\"filter\":{\"field\":\"Title\",\"Field\":\"ID\",\"operator\":\"isnull\"}}",
	    "key 'Field' is given twice.");
}

static void
test_hostile(void)
{
	struct kq_sql q;
	static const char *const names[] = {
		"Title; DROP TABLE x", "m.title", "title'", "\\\"Title\\\"", "Title--", "Title ",
		"Title\\u0000", "(m.title)", "", "lower(m.title)",
	};
	static const char *const values[] = {
		"'; DROP TABLE meetings --", "%", "_", "a%b_c", "$1", "\\\\", "')) OR true --",
	};
	static const char *const bound[] = {
		"'; DROP TABLE meetings --", "%", "_", "a%b_c", "$1", "\\", "')) OR true --",
	};
	char json[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(json, sizeof(json), LEAF("%s", "eq", "\"a\""), names[i]);
		REFUSED(json, "unknown field '");
		REFUSED(json, "' in filter (fields: ID, Title, Description, Start, End, ");
		snprintf(json, sizeof(json), "{\"sort\":{\"field\":\"%s\"}}", names[i]);
		REFUSED(json, "' in sort (fields: ID, ");
	}
	REFUSED(LEAF("Title; DROP TABLE x", "eq", "\"a\""),
	    "unknown field 'Title; DROP TABLE x' in filter (fields: ID, Title, Description, Start, "
	    "End, StartTimezone, EndTimezone, IsAllDay, RoomID, RecurrenceRule, RecurrenceID, "
	    "RecurrenceException, CreatedAt, Score).");
	/* A NUL or a control is escaped in the message. */
	REFUSED(LEAF("Title\\u0000x", "eq", "\"a\""), "unknown field 'Title\\x00x'");
	REFUSED(LEAF("a\\nb\\u202e", "eq", "\"a\""), "unknown field 'a\\x0ab\\u202e'");

	/* Values are parameters, verbatim; the SQL text never changes. */
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(json, sizeof(json), LEAF("Title", "contains", "\"%s\""), values[i]);
		if (run(&schema, json, 1, &q) != PH_OK) {
			CHECK(0);
			continue;
		}
		CHECK_STREQ(q.where.data, "(strpos(lower(m.title), lower($1::text)) > 0)");
		CHECK_INTEQ(q.nparams, 1);
		CHECK_STREQ(q.params[0], bound[i]);
		kendoquery_free(&q);
	}
	SQL(LEAF_CS("Description", "startswith", "\"100%_\""),
	    "(starts_with(m.description, $1::text))", "100%_");
	/* A hostile operator or key is named, escaped and cut. */
	REFUSED(LEAF("Title", "eq; DROP TABLE x", "\"a\""),
	    "operator 'eq; DROP TABLE x' is not supported");
	REFUSED("{\"filter; DROP\":null}", "unknown key 'filter; DROP' (read takes");
}

static void
test_why_bounded(void)
{
	struct kq_sql q;
	char *json = malloc(20000), small[24];
	json_object *obj;
	size_t n;

	/* A 10000-byte field name: at most ~60 bytes of it are quoted. */
	n = (size_t)snprintf(json, 20000, "{\"filter\":{\"field\":\"");
	memset(json + n, 'A', 10000);
	snprintf(json + n + 10000, 20000 - n - 10000, "\",\"operator\":\"eq\",\"value\":1}}");
	REFUSED(json, "unknown field 'AAAA");
	CHECK(strstr(why, "(10000 bytes)") != NULL);
	CHECK(strlen(why) < 300);
	/* The same for a value shown in a message, and an operator. */
	n = (size_t)snprintf(json, 20000, "{\"filter\":{\"field\":\"ID\",\"operator\":\"eq\","
	    "\"value\":\"");
	memset(json + n, 'z', 900);
	snprintf(json + n + 900, 20000 - n - 900, "\"}}");
	REFUSED(json, "'ID' needs a UUID, not \"zzz");
	CHECK(strlen(why) < 200);
	n = (size_t)snprintf(json, 20000, "{\"filter\":{\"field\":\"ID\",\"operator\":\"");
	memset(json + n, 'o', 3000);
	snprintf(json + n + 3000, 20000 - n - 3000, "\",\"value\":null}}");
	REFUSED(json, "operator 'ooo");
	CHECK(strlen(why) < 300);
	free(json);

	/* A small why is cut, never inside a character. */
	obj = json_tokener_parse(LEAF("\\u00e9\\u00e9\\u00e9\\u00e9", "eq", "1"));
	for (size_t len = 1; len <= sizeof(small); len++) {
		memset(small, 'x', sizeof(small));
		CHECK_INTEQ(kendoquery_translate(&schema, obj, 1, &q, small, len), PH_INVALID);
		CHECK(memchr(small, '\0', len) != NULL && utf8_valid(small, strlen(small)));
	}
	CHECK_INTEQ(kendoquery_translate(&schema, obj, 1, &q, NULL, 0), PH_INVALID);
	CHECK(zeroed(&q));
	json_object_put(obj);
}

/* A filter of n leaves on RoomID (each one value), in one and-group. */
static char *
many_leaves(size_t n, const char *op)
{
	struct buf b = BUF_INIT;
	char leaf[96];

	buf_puts(&b, "{\"filter\":{\"logic\":\"and\",\"filters\":[");
	for (size_t i = 0; i < n; i++) {
		snprintf(leaf, sizeof(leaf), "%s{\"field\":\"RoomID\",\"operator\":\"%s\",\"value\":%zu}",
		    i ? "," : "", op, i);
		buf_puts(&b, leaf);
	}
	buf_puts(&b, "]}}");
	return b.data;
}

/* depth groups nested, a leaf innermost. */
static char *
nested(int depth)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "{\"filter\":");
	for (int i = 0; i < depth; i++)
		buf_puts(&b, "{\"logic\":\"or\",\"filters\":[");
	buf_puts(&b, "{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":1}");
	for (int i = 0; i < depth; i++)
		buf_puts(&b, "]}");
	buf_puts(&b, "}");
	return b.data;
}

static void
test_bounds(void)
{
	struct kq_sql q;
	char *json, *big;
	struct buf b = BUF_INIT;

	/* Depth: 8 nested groups, not 9. */
	json = nested(KQ_MAX_DEPTH);
	CHECK_INTEQ(run(&schema, json, 1, &q), PH_OK);
	CHECK_STREQ(q.where.data, "(((((((((m.room_id = $1::integer)))))))))");
	kendoquery_free(&q);
	free(json);
	json = nested(KQ_MAX_DEPTH + 1);
	REFUSED(json, "the filter nests deeper than 8.");
	free(json);

	/* Values: 64, not 65; the range counts. */
	json = many_leaves(KQ_MAX_PARAMS, "eq");
	CHECK_INTEQ(run(&schema, json, 1, &q), PH_OK);
	CHECK_INTEQ(q.nparams, KQ_MAX_PARAMS);
	CHECK_STREQ(q.params[63], "63");
	CHECK_CONTAINS(q.where.data, " AND (m.room_id = $64::integer))");
	kendoquery_free(&q);
	free(json);
	json = many_leaves(KQ_MAX_PARAMS + 1, "eq");
	REFUSED(json, "more than 64 values.");
	free(json);
	json = many_leaves(KQ_MAX_PARAMS - 1, "eq");
	buf_puts(&b, "{\"Start\":\"2026-11-22T00:00:00Z\",\"End\":\"2026-11-29T00:00:00Z\",");
	buf_puts(&b, json + 1);
	REFUSED(b.data, "more than 64 values.");
	buf_free(&b);
	free(json);
	/* Conditions without values are bounded too. */
	json = many_leaves(4 * KQ_MAX_PARAMS - 1, "isnull");
	CHECK_INTEQ(run(&schema, json, 1, &q), PH_OK);
	CHECK_INTEQ(q.nparams, 0);
	kendoquery_free(&q);
	free(json);
	json = many_leaves(4 * KQ_MAX_PARAMS, "isnull");
	REFUSED(json, "the filter has more than 256 conditions.");
	free(json);

	/* Sort entries: 8, not 9. */
	buf_puts(&b, "{\"sort\":[");
	for (int i = 0; i < KQ_MAX_SORT; i++)
		buf_puts(&b, i ? ",{\"field\":\"Title\"}" : "{\"field\":\"Title\"}");
	buf_puts(&b, "]}");
	CHECK_INTEQ(run(&schema, b.data, 1, &q), PH_OK);
	CHECK_STREQ(q.order.data, "m.title ASC, m.title ASC, m.title ASC, m.title ASC, "
	    "m.title ASC, m.title ASC, m.title ASC, m.title ASC, m.id");
	kendoquery_free(&q);
	b.len -= 2;
	buf_puts(&b, ",{\"field\":\"Title\"}]}");
	REFUSED(b.data, "more than 8 sort entries.");
	buf_free(&b);

	/* take 0..10000; skip >= 0; both integers. */
	CHECK_INTEQ(run(&schema, "{\"take\":0}", 1, &q), PH_OK);
	CHECK_INTEQ(q.take, 0);
	kendoquery_free(&q);
	CHECK_INTEQ(run(&schema, "{\"take\":10000,\"skip\":9000000000}", 1, &q), PH_OK);
	CHECK_INTEQ(q.take, 10000);
	CHECK_INTEQ(q.skip, 9000000000LL);
	kendoquery_free(&q);
	CHECK_INTEQ(run(&schema, "{\"skip\":20}", 1, &q), PH_OK);
	CHECK_INTEQ(q.take, -1);
	CHECK_INTEQ(q.skip, 20);
	kendoquery_free(&q);
	CHECK_INTEQ(run(&schema, "{\"take\":10,\"skip\":20,\"page\":3,\"pageSize\":10}", 1, &q), PH_OK);
	CHECK_INTEQ(q.take, 10);
	CHECK_INTEQ(q.skip, 20);
	kendoquery_free(&q);
	REFUSED("{\"take\":10001}", "'take' must be an integer from 0 to 10000.");
	REFUSED("{\"take\":-1}", "'take' must be an integer from 0 to 10000.");
	REFUSED("{\"take\":\"10\"}", "'take' must be an integer");
	REFUSED("{\"take\":1.5}", "'take' must be an integer");
	REFUSED("{\"skip\":-1}", "'skip' must be an integer of 0 or more.");
	REFUSED("{\"skip\":true}", "'skip' must be an integer");
	REFUSED("{\"page\":\"1\"}", "'page' must be an integer.");
	REFUSED("{\"pageSize\":[]}", "'pageSize' must be an integer.");

	/* Values: 1000 characters (not bytes), not 1001. */
	big = malloc(8200);
	for (int chars = KQ_MAX_VALUE; chars <= KQ_MAX_VALUE + 1; chars++) {
		size_t n = (size_t)snprintf(big, 8200, LEAF("Title", "eq", "\""));
		n -= 2;		/* drop }} */
		for (int i = 0; i < chars; i++) {
			memcpy(big + n, "\xe2\x82\xac", 3);	/* the euro sign */
			n += 3;
		}
		strcpy(big + n, "\"}}");
		if (chars == KQ_MAX_VALUE) {
			CHECK_INTEQ(run(&schema, big, 1, &q), PH_OK);
			CHECK_INTEQ(q.nparams == 1 ? strlen(q.params[0]) : 0, 3 * KQ_MAX_VALUE);
			kendoquery_free(&q);
		} else {
			REFUSED(big, "the value for 'Title' is longer than 1000 characters.");
		}
	}
	/* Far too many bytes is refused before counting. */
	{
		size_t n = (size_t)snprintf(big, 8200, LEAF("Title", "eq", "\"")) - 2;
		memset(big + n, 'a', 4001);
		strcpy(big + n + 4001, "\"}}");
		REFUSED(big, "longer than 1000 characters");
	}
	free(big);
	/* Invalid UTF-8 and NUL. */
	REFUSED(LEAF("Title", "eq", "\"a\xff\""), "the value for 'Title' is not valid UTF-8");
	REFUSED(LEAF("Title", "eq", "\"\xc0\xaf\""), "not valid UTF-8");
	REFUSED(LEAF("Title", "eq", "\"a\\u0000b\""), "not valid UTF-8 or holds a NUL");
	REFUSED(LEAF("ID", "eq", "\"a\\u0000b\""), "not valid UTF-8 or holds a NUL");
}

static void
test_sort(void)
{
	struct kq_sql q;

	CHECK_INTEQ(run(&schema, "{\"sort\":[{\"field\":\"Title\",\"dir\":\"desc\"},"
	    "{\"field\":\"start\"}]}", 1, &q), PH_OK);
	CHECK_STREQ(q.order.data, "m.title DESC, m.start_at ASC, m.id");
	CHECK_STREQ(q.where.data, "true");
	kendoquery_free(&q);
	CHECK_INTEQ(run(&schema, "{\"sort\":{\"field\":\"RoomID\",\"dir\":\"ASC\"}}", 1, &q), PH_OK);
	CHECK_STREQ(q.order.data, "m.room_id ASC, m.id");
	kendoquery_free(&q);
	CHECK_INTEQ(run(&schema, "{\"Sort\":[{\"Field\":\"ID\",\"Dir\":\"Desc\"}]}", 1, &q), PH_OK);
	CHECK_STREQ(q.order.data, "m.id DESC, m.id");
	kendoquery_free(&q);
	CHECK_INTEQ(run(&schema, "{\"sort\":[{\"field\":\"IsAllDay\",\"dir\":null}]}", 1, &q), PH_OK);
	CHECK_STREQ(q.order.data, "m.is_all_day ASC, m.id");
	kendoquery_free(&q);
	REFUSED("{\"sort\":[{\"field\":\"Title\",\"dir\":\"up\"}]}",
	    "dir 'up' is not supported (asc, desc).");
	REFUSED("{\"sort\":[{\"field\":\"Title\",\"dir\":1}]}", "'dir' must be \"asc\" or \"desc\".");
	REFUSED("{\"sort\":[{\"field\":\"Foo\"}]}", "unknown field 'Foo' in sort (fields: ID, ");
	REFUSED("{\"sort\":[{\"dir\":\"asc\"}]}", "a sort entry needs 'field' (a string).");
	REFUSED("{\"sort\":[{\"field\":\"Title\",\"compare\":null}]}",
	    "unknown key 'compare' in a sort entry (a sort entry takes field, dir).");
	REFUSED("{\"sort\":[\"Title\"]}", "a sort entry must be an object ({field, dir}).");
	REFUSED("{\"sort\":\"Title desc\"}", "'sort' must be an array of {field, dir}.");
}

static void
test_range(void)
{
	struct kq_sql q;

	/* Start/End come first, canonical, numbered from first_param. */
	CHECK_INTEQ(run(&schema, "{\"filter\":{\"field\":\"Title\",\"operator\":\"eq\","
	    "\"value\":\"x\"},\"End\":\"2026-11-29T01:00:00+01:00\","
	    "\"Start\":\"2026-11-22T00:00:00.000Z\",\"sort\":[{\"field\":\"End\"}],\"take\":5}",
	    3, &q), PH_OK);
	CHECK_INTEQ(q.first_param, 3);
	CHECK_INTEQ(q.range_start, 3);
	CHECK_INTEQ(q.range_end, 4);
	CHECK_INTEQ(q.nparams, 3);
	CHECK_STREQ(q.params[0], "2026-11-22T00:00:00.000000Z");
	CHECK_STREQ(q.params[1], "2026-11-29T00:00:00.000000Z");
	CHECK_STREQ(q.params[2], "x");
	CHECK_STREQ(q.where.data, "(lower(m.title) = lower($5::text))");
	CHECK_STREQ(q.order.data, "m.end_at ASC, m.id");
	CHECK_INTEQ(q.take, 5);
	kendoquery_free(&q);

	/* Either alone; keys in any case. */
	CHECK_INTEQ(run(&schema, "{\"end\":\"2026-11-29T00:00:00Z\"}", 3, &q), PH_OK);
	CHECK_INTEQ(q.range_start, 0);
	CHECK_INTEQ(q.range_end, 3);
	CHECK_STREQ(q.params[0], "2026-11-29T00:00:00.000000Z");
	kendoquery_free(&q);
	CHECK_INTEQ(run(&schema, "{\"START\":\"2026-11-22T00:00:00Z\",\"End\":null,"
	    "\"filter\":{\"field\":\"RoomID\",\"operator\":\"gt\",\"value\":2}}", 3, &q), PH_OK);
	CHECK_INTEQ(q.range_start, 3);
	CHECK_INTEQ(q.range_end, 0);
	CHECK_STREQ(q.where.data, "(m.room_id > $4::integer)");
	kendoquery_free(&q);
	/* Start equal to End is an empty range, not an error. */
	CHECK_INTEQ(run(&schema, "{\"Start\":\"2026-11-22T01:00:00+01:00\","
	    "\"End\":\"2026-11-22T00:00:00Z\"}", 1, &q), PH_OK);
	kendoquery_free(&q);

	REFUSED("{\"Start\":\"2026-11-22T00:00:00.001Z\",\"End\":\"2026-11-22T00:00:00Z\"}",
	    "'Start' is after 'End'.");
	REFUSED("{\"Start\":\"2026-11-22\"}",
	    "'Start' needs an ISO 8601 date and time with a zone, not \"2026-11-22\".");
	REFUSED("{\"End\":1700000000}", "'End' needs an ISO 8601 date and time with a zone, not 1700000000.");
	REFUSED("{\"Start\":{}}", "'Start' needs an ISO 8601 date and time with a zone, not an object.");
	expect_refused_s(__LINE__, &no_range, "{\"Start\":\"2026-11-22T00:00:00Z\"}",
	    "Start/End need a range-reading hub");
	expect_refused_s(__LINE__, &no_range, "{\"Begin\":1}",
	    "unknown key 'Begin' (read takes filter, sort, take, skip, page, pageSize).");
}

static void
test_top_level(void)
{
	REFUSED("{\"foo\":1}",
	    "unknown key 'foo' (read takes Start, End, filter, sort, take, skip, page, pageSize).");
	REFUSED("{\"filters\":[]}", "unknown key 'filters'");
	REFUSED("{\"Take\":1,\"take\":2}", "key 'take' is given twice.");
	REFUSED("[]", "the argument must be an object");
	REFUSED("\"Start\"", "the argument must be an object");
	REFUSED("42", "the argument must be an object");
	REFUSED("true", "the argument must be an object");
	REFUSED("{\"group\":[{\"field\":\"RoomID\"}]}", "'group': server grouping is not supported.");
	REFUSED("{\"group\":{}}", "server grouping is not supported");
	REFUSED("{\"aggregate\":[{\"field\":\"RoomID\",\"aggregate\":\"count\"}]}",
	    "'aggregate': server aggregates are not supported.");
}

static void
test_exact_sql(void)
{
	struct kq_sql q;

	/* What the demo page sends: range, a room filter, paging. */
	CHECK_INTEQ(run(&schema, "{\"Start\":\"2026-11-22T00:00:00.000Z\","
	    "\"End\":\"2026-11-29T00:00:00.000Z\",\"take\":20,\"skip\":40,\"page\":3,"
	    "\"pageSize\":20,\"sort\":[{\"field\":\"Start\",\"dir\":\"asc\"}],"
	    "\"filter\":{\"logic\":\"and\",\"filters\":[{\"logic\":\"or\",\"filters\":["
	    "{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":1},"
	    "{\"field\":\"RoomID\",\"operator\":\"eq\",\"value\":2}]},"
	    "{\"field\":\"Title\",\"operator\":\"doesnotcontain\",\"value\":\"Lunch\","
	    "\"ignoreCase\":false}]}}", 3, &q), PH_OK);
	CHECK_STREQ(q.where.data, "(((m.room_id = $5::integer) OR (m.room_id = $6::integer)) AND "
	    "(m.title IS NULL OR strpos(m.title, $7::text) = 0))");
	CHECK_STREQ(q.order.data, "m.start_at ASC, m.id");
	CHECK_INTEQ(q.nparams, 5);
	CHECK_STREQ(q.params[0], "2026-11-22T00:00:00.000000Z");
	CHECK_STREQ(q.params[1], "2026-11-29T00:00:00.000000Z");
	CHECK_STREQ(q.params[2], "1");
	CHECK_STREQ(q.params[3], "2");
	CHECK_STREQ(q.params[4], "Lunch");
	CHECK_INTEQ(q.range_start, 3);
	CHECK_INTEQ(q.range_end, 4);
	CHECK_INTEQ(q.take, 20);
	CHECK_INTEQ(q.skip, 40);
	CHECK_INTEQ(q.where.len, strlen(q.where.data));
	CHECK_INTEQ(q.order.len, strlen(q.order.data));
	kendoquery_free(&q);
	/* Freed twice, and a zeroed one: both safe. */
	kendoquery_free(&q);
	CHECK(zeroed(&q));
	memset(&q, 0, sizeof(q));
	kendoquery_free(&q);
	CHECK(zeroed(&q));
}

int
main(void)
{
	test_no_query();
	test_text_operators();
	test_typed_operators();
	test_operator_applies();
	test_null_values();
	test_groups();
	test_hostile();
	test_why_bounded();
	test_bounds();
	test_sort();
	test_range();
	test_top_level();
	test_exact_sql();
	return unit_done();
}
