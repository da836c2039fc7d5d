/* Unit tests for common/meeting.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "meeting.h"
#include "unit.h"

#define LIT(s) (s), (sizeof(s) - 1)

#define UUID_UPPER "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
#define UUID_LOWER "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
#define START "\"Start\":\"2026-11-26T10:00:00.000Z\""
#define END "\"End\":\"2026-11-26T11:00:00.000Z\""
#define TIMES START "," END

/* Parse a datetime; returns the canonical form, or "(rejected)". */
static const char *
dt(const char *s, size_t n, long long *usec)
{
	static char out[28];
	long long u;

	memset(out, '#', sizeof(out));
	if (meeting_parse_datetime(s, n, out, usec != NULL ? usec : &u) == -1)
		return "(rejected)";
	return out;
}
#define DT(lit) dt(LIT(lit), NULL)

static void
test_datetime(void)
{
	long long a, b, c;

	CHECK_STREQ(DT("2026-11-26T10:00:00.000Z"), "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(DT("2026-11-26T10:00:00Z"), "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(DT("2026-11-26T10:00Z"), "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(DT("2026-11-26t10:00:00.5z"), "2026-11-26T10:00:00.500000Z");
	CHECK_STREQ(DT("2026-11-26T10:00:00.123456789Z"), "2026-11-26T10:00:00.123456Z");
	/* Offsets are converted to UTC, across day, month and year boundaries. */
	CHECK_STREQ(DT("2026-11-26T12:00:00+02:00"), "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(DT("2026-11-26T04:30:00-0530"), "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(DT("2026-11-26T10:00:00+00:00"), "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(DT("2026-01-01T01:00:00+02:00"), "2025-12-31T23:00:00.000000Z");
	CHECK_STREQ(DT("2024-02-28T23:30:00-01:00"), "2024-02-29T00:30:00.000000Z");
	CHECK_STREQ(DT("2026-02-28T23:30:00-01:00"), "2026-03-01T00:30:00.000000Z");
	CHECK_STREQ(DT("1969-12-31T23:59:59.5Z"), "1969-12-31T23:59:59.500000Z");
	CHECK_STREQ(DT("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00.000000Z");
	CHECK_STREQ(DT("9999-12-31T23:59:59.999999Z"), "9999-12-31T23:59:59.999999Z");
	/* Leap years. */
	CHECK_STREQ(DT("2026-02-29T00:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000000Z");
	CHECK_STREQ(DT("1900-02-29T00:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2000-02-29T00:00:00Z"), "2000-02-29T00:00:00.000000Z");
	/* Out of range fields. */
	CHECK_STREQ(DT("0000-01-01T00:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-00-10T00:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-13-10T00:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-04-31T00:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-04-00T00:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T24:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T23:60:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T23:59:60Z"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00+24:00"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00+02:60"), "(rejected)");
	/* Results outside years 1..9999 after the offset. */
	CHECK_STREQ(DT("0001-01-01T00:30:00+01:00"), "(rejected)");
	CHECK_STREQ(DT("9999-12-31T23:30:00-01:00"), "(rejected)");
	/* No zone: refused rather than guessed. */
	CHECK_STREQ(DT("2026-11-26T10:00:00"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00.000"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26"), "(rejected)");
	/* Fractions: 1..9 digits. */
	CHECK_STREQ(DT("2026-11-26T10:00:00.1234567891Z"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00.Z"), "(rejected)");
	/* Shapes. */
	CHECK_STREQ(DT("2026-11-26 10:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("26-11-26T10:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-1-26T10:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00+2:00"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00+02"), "(rejected)");
	CHECK_STREQ(DT("+2026-11-26T10:00:00Z"), "(rejected)");
	CHECK_STREQ(DT("-026-11-26T10:00:00Z"), "(rejected)");
	/* Empty, truncated, trailing garbage, NUL. */
	CHECK_STREQ(DT(""), "(rejected)");
	CHECK_STREQ(DT("2026-11-2"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00Zx"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00Z "), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00+02:00:00"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00Z\0"), "(rejected)");
	CHECK_STREQ(DT("2026-11-26T10:00:00\0Z"), "(rejected)");
	/* Only s[0..n) is read. */
	CHECK_STREQ(dt("2026-11-26T10:00:00.000Zjunk", 24, NULL), "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(dt("2026-11-26T10:00:00.000Z", 23, NULL), "(rejected)");

	/* usec: the epoch, order, and equality of the same instant. */
	dt(LIT("1970-01-01T00:00:00Z"), &a);
	CHECK_INTEQ(a, 0);
	dt(LIT("1970-01-01T00:00:01.000001Z"), &a);
	CHECK_INTEQ(a, 1000001);
	dt(LIT("1969-12-31T23:59:59.5Z"), &a);
	CHECK_INTEQ(a, -500000);
	dt(LIT("2026-11-26T10:00:00Z"), &a);
	dt(LIT("2026-11-26T10:00:00.000001Z"), &b);
	CHECK_INTEQ(b - a, 1);
	dt(LIT("2026-11-26T12:00:00+02:00"), &c);
	CHECK_INTEQ(c, a);
	CHECK_INTEQ(a, 1795687200LL * 1000000);
	dt(LIT("2026-11-26T09:59:59.999999Z"), &c);
	CHECK(c < a);
	dt(LIT("0001-01-01T00:00:00Z"), &a);
	dt(LIT("9999-12-31T23:59:59.999999Z"), &b);
	CHECK(a < 0 && b > 0);
	CHECK_INTEQ(a, -62135596800LL * 1000000);
}

static const char *
uuid(const char *s, size_t n)
{
	static char out[37];

	memset(out, '#', sizeof(out));
	return meeting_parse_uuid(s, n, out) == 0 ? out : "(rejected)";
}

static void
test_uuid(void)
{
	CHECK_STREQ(uuid(LIT(UUID_UPPER)), UUID_LOWER);
	CHECK_STREQ(uuid(LIT(UUID_LOWER)), UUID_LOWER);
	CHECK_STREQ(uuid(LIT("00000000-0000-0000-0000-000000000000")),
	    "00000000-0000-0000-0000-000000000000");
	CHECK_STREQ(uuid("", 0), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E0-4F89-11D3-9A0C-0305E82C330")), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E0-4F89-11D3-9A0C-0305E82C33011")), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E0-4F89-11D3-9A0C-0305E82C330G")), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E04F8911D39A0C0305E82C3301")), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E0-4F8911D3-9A0C-0305E82C3301")), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E0_4F89-11D3-9A0C-0305E82C3301")), "(rejected)");
	CHECK_STREQ(uuid(LIT("{3F2504E0-4F89-11D3-9A0C-0305E82C33}")), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E0-4F89-11D3-9A0C-0305E82C330\0")), "(rejected)");
	CHECK_STREQ(uuid(LIT("3F2504E0-4F89-11D3-9A0C-0305E82C33\xc3\xa9")), "(rejected)");
	/* Only s[0..n) is read. */
	CHECK_STREQ(uuid(UUID_UPPER "trailing", 36), UUID_LOWER);
}

/* Parse JSON text for a test input (json-c's plain parser, as a test fixture). */
static json_object *
J(const char *text)
{
	json_object *o = json_tokener_parse(text);

	if (o == NULL)
		printf("bad fixture: %s\n", text);
	return o;
}

static int
all_null(const struct meeting *m)
{
	static const struct meeting zero;

	return memcmp(m, &zero, sizeof(zero)) == 0;
}

/* Expect failure; returns the error text (or a marker) for CHECK_CONTAINS. */
static const char *
meeting_err(const char *text, enum meeting_mode mode)
{
	static char err[256];
	json_object *o = J(text);
	struct meeting m;

	strcpy(err, "(no error text)");
	if (meeting_from_json(o, mode, &m, err, sizeof(err)) == 0) {
		meeting_free(&m);
		json_object_put(o);
		return "(accepted)";
	}
	json_object_put(o);
	return all_null(&m) ? err : "(meeting not cleared on error)";
}

static void
test_create_minimal(void)
{
	json_object *o = J("{\"Title\":\"T\"," TIMES "}");
	struct meeting m;
	char err[256] = "";

	CHECK_INTEQ(meeting_from_json(o, MEETING_CREATE, &m, err, sizeof(err)), 0);
	CHECK(m.id == NULL);
	CHECK_STREQ(m.title, "T");
	CHECK(m.description == NULL);
	CHECK_STREQ(m.start, "2026-11-26T10:00:00.000000Z");
	CHECK_STREQ(m.end, "2026-11-26T11:00:00.000000Z");
	CHECK(m.start_timezone == NULL && m.end_timezone == NULL);
	CHECK_STREQ(m.is_all_day, "false");
	CHECK(m.room_id == NULL);
	CHECK(m.recurrence_rule == NULL && m.recurrence_id == NULL);
	CHECK(m.recurrence_exception == NULL);
	CHECK_STREQ(m.attendees, "{}");
	meeting_free(&m);
	CHECK(all_null(&m));
	json_object_put(o);
}

static void
test_kendo_object(void)
{
	/* What Kendo's scheduler DataSource sends for an edited event. */
	json_object *o = J("{\"ID\":\"" UUID_UPPER "\",\"Title\":\"Planning\","
	    "\"Description\":\"Room \\u00e9 \\\"B\\\"\",\"Start\":\"2026-11-26T10:00:00+01:00\","
	    "\"End\":\"2026-11-26T11:30:00+01:00\",\"StartTimezone\":\"Europe/Paris\","
	    "\"EndTimezone\":null,\"IsAllDay\":true,\"RecurrenceRule\":\"FREQ=DAILY;COUNT=3\","
	    "\"RecurrenceID\":\"" UUID_UPPER "\",\"RecurrenceException\":\"\",\"RoomID\":2,"
	    "\"Attendees\":[1,2,3]}");
	struct meeting m;
	char err[256] = "";

	CHECK_INTEQ(meeting_from_json(o, MEETING_CREATE, &m, err, sizeof(err)), 0);
	CHECK(m.id == NULL);	/* a stale ID is ignored on create */
	CHECK_STREQ(m.title, "Planning");
	CHECK_STREQ(m.description, "Room \xc3\xa9 \"B\"");
	CHECK_STREQ(m.start, "2026-11-26T09:00:00.000000Z");
	CHECK_STREQ(m.end, "2026-11-26T10:30:00.000000Z");
	CHECK_STREQ(m.start_timezone, "Europe/Paris");
	CHECK(m.end_timezone == NULL);
	CHECK_STREQ(m.is_all_day, "true");
	CHECK_STREQ(m.recurrence_rule, "FREQ=DAILY;COUNT=3");
	CHECK_STREQ(m.recurrence_id, UUID_LOWER);
	CHECK(m.recurrence_exception == NULL);
	CHECK_STREQ(m.room_id, "2");
	CHECK_STREQ(m.attendees, "{1,2,3}");
	meeting_free(&m);

	CHECK_INTEQ(meeting_from_json(o, MEETING_UPDATE, &m, err, sizeof(err)), 0);
	CHECK_STREQ(m.id, UUID_LOWER);
	CHECK_STREQ(m.title, "Planning");
	meeting_free(&m);

	CHECK_INTEQ(meeting_from_json(o, MEETING_DESTROY, &m, err, sizeof(err)), 0);
	CHECK_STREQ(m.id, UUID_LOWER);
	meeting_free(&m);
	json_object_put(o);
}

/* Expect success and return one field's value (copied) for comparison. */
static char field_value[512];
static const char *
meeting_field(const char *text, enum meeting_mode mode, size_t offset)
{
	json_object *o = J(text);
	struct meeting m;
	char err[256];
	const char *v;

	if (meeting_from_json(o, mode, &m, err, sizeof(err)) == -1) {
		snprintf(field_value, sizeof(field_value), "(rejected: %.200s)", err);
	} else {
		v = *(char **)((char *)&m + offset);
		snprintf(field_value, sizeof(field_value), "%s", v != NULL ? v : "(NULL)");
		meeting_free(&m);
	}
	json_object_put(o);
	return field_value;
}
#define FIELD(text, mode, member) meeting_field((text), (mode), offsetof(struct meeting, member))

static void
test_create_fields(void)
{
	/* ID on create: null, "", 0 or absent all mean "new". */
	CHECK_STREQ(FIELD("{\"ID\":null," TIMES "}", MEETING_CREATE, id), "(NULL)");
	CHECK_STREQ(FIELD("{\"ID\":\"\"," TIMES "}", MEETING_CREATE, id), "(NULL)");
	CHECK_STREQ(FIELD("{\"ID\":0," TIMES "}", MEETING_CREATE, id), "(NULL)");
	CHECK_STREQ(FIELD("{" TIMES "}", MEETING_CREATE, title), "");
	CHECK_STREQ(FIELD("{\"Title\":null," TIMES "}", MEETING_CREATE, title), "");
	CHECK_STREQ(FIELD("{\"Title\":\"\"," TIMES "}", MEETING_CREATE, title), "");
	CHECK_STREQ(FIELD("{\"Description\":\"\"," TIMES "}", MEETING_CREATE, description),
	    "(NULL)");
	CHECK_STREQ(FIELD("{\"Description\":\"d\"," TIMES "}", MEETING_CREATE, description), "d");
	/* End equal to Start is allowed. */
	CHECK_STREQ(FIELD("{" START ",\"End\":\"2026-11-26T10:00:00Z\"}", MEETING_CREATE, end),
	    "2026-11-26T10:00:00.000000Z");
	/* Attendees. */
	CHECK_STREQ(FIELD("{\"Attendees\":[1,2]," TIMES "}", MEETING_CREATE, attendees), "{1,2}");
	CHECK_STREQ(FIELD("{\"Attendees\":[]," TIMES "}", MEETING_CREATE, attendees), "{}");
	CHECK_STREQ(FIELD("{\"Attendees\":null," TIMES "}", MEETING_CREATE, attendees), "{}");
	CHECK_STREQ(FIELD("{\"Attendees\":[-2147483648,2147483647]," TIMES "}", MEETING_CREATE,
	    attendees), "{-2147483648,2147483647}");
	/* RoomID. */
	CHECK_STREQ(FIELD("{\"RoomID\":\"\"," TIMES "}", MEETING_CREATE, room_id), "(NULL)");
	CHECK_STREQ(FIELD("{\"RoomID\":null," TIMES "}", MEETING_CREATE, room_id), "(NULL)");
	CHECK_STREQ(FIELD("{\"RoomID\":3," TIMES "}", MEETING_CREATE, room_id), "3");
	CHECK_STREQ(FIELD("{\"RoomID\":-7," TIMES "}", MEETING_CREATE, room_id), "-7");
	/* IsAllDay and RecurrenceID. */
	CHECK_STREQ(FIELD("{\"IsAllDay\":false," TIMES "}", MEETING_CREATE, is_all_day), "false");
	CHECK_STREQ(FIELD("{\"IsAllDay\":null," TIMES "}", MEETING_CREATE, is_all_day), "false");
	CHECK_STREQ(FIELD("{\"RecurrenceID\":\"\"," TIMES "}", MEETING_CREATE, recurrence_id),
	    "(NULL)");
	CHECK_STREQ(FIELD("{\"RecurrenceID\":null," TIMES "}", MEETING_CREATE, recurrence_id),
	    "(NULL)");
}

static void
test_create_errors(void)
{
	CHECK_CONTAINS(meeting_err("{\"Start\":\"2026-11-26T11:00:00Z\","
	    "\"End\":\"2026-11-26T10:59:59.999999Z\"}", MEETING_CREATE), "End");
	CHECK_CONTAINS(meeting_err("{" END "}", MEETING_CREATE), "Start");
	CHECK_CONTAINS(meeting_err("{\"Start\":null," END "}", MEETING_CREATE), "Start");
	CHECK_CONTAINS(meeting_err("{\"Start\":\"tomorrow\"," END "}", MEETING_CREATE), "Start");
	CHECK_CONTAINS(meeting_err("{\"Start\":1795687200000," END "}", MEETING_CREATE), "Start");
	CHECK_CONTAINS(meeting_err("{\"Start\":\"2026-11-26T10:00:00\"," END "}", MEETING_CREATE),
	    "Start");
	CHECK_CONTAINS(meeting_err("{" START "}", MEETING_CREATE), "End");
	CHECK_CONTAINS(meeting_err("{\"Title\":5," TIMES "}", MEETING_CREATE), "Title");
	CHECK_CONTAINS(meeting_err("{\"Title\":[\"a\"]," TIMES "}", MEETING_CREATE), "Title");
	CHECK_CONTAINS(meeting_err("{\"Description\":{}," TIMES "}", MEETING_CREATE),
	    "Description");
	CHECK_CONTAINS(meeting_err("{\"StartTimezone\":1," TIMES "}", MEETING_CREATE),
	    "StartTimezone");
	CHECK_CONTAINS(meeting_err("{\"RecurrenceRule\":true," TIMES "}", MEETING_CREATE),
	    "RecurrenceRule");
	CHECK_CONTAINS(meeting_err("{\"Attendees\":\"x\"," TIMES "}", MEETING_CREATE), "Attendees");
	CHECK_CONTAINS(meeting_err("{\"Attendees\":[1.5]," TIMES "}", MEETING_CREATE), "Attendees");
	CHECK_CONTAINS(meeting_err("{\"Attendees\":[\"1\"]," TIMES "}", MEETING_CREATE),
	    "Attendees");
	CHECK_CONTAINS(meeting_err("{\"Attendees\":[null]," TIMES "}", MEETING_CREATE),
	    "Attendees");
	CHECK_CONTAINS(meeting_err("{\"Attendees\":[[1]]," TIMES "}", MEETING_CREATE),
	    "Attendees");
	CHECK_CONTAINS(meeting_err("{\"Attendees\":[2147483648]," TIMES "}", MEETING_CREATE),
	    "Attendees");
	CHECK_CONTAINS(meeting_err("{\"Attendees\":{\"0\":1}," TIMES "}", MEETING_CREATE),
	    "Attendees");
	CHECK_CONTAINS(meeting_err("{\"RoomID\":\"abc\"," TIMES "}", MEETING_CREATE), "RoomID");
	CHECK_CONTAINS(meeting_err("{\"RoomID\":\"3\"," TIMES "}", MEETING_CREATE), "RoomID");
	CHECK_CONTAINS(meeting_err("{\"RoomID\":1.5," TIMES "}", MEETING_CREATE), "RoomID");
	CHECK_CONTAINS(meeting_err("{\"RoomID\":4294967296," TIMES "}", MEETING_CREATE), "RoomID");
	CHECK_CONTAINS(meeting_err("{\"RoomID\":true," TIMES "}", MEETING_CREATE), "RoomID");
	CHECK_CONTAINS(meeting_err("{\"IsAllDay\":\"yes\"," TIMES "}", MEETING_CREATE), "IsAllDay");
	CHECK_CONTAINS(meeting_err("{\"IsAllDay\":1," TIMES "}", MEETING_CREATE), "IsAllDay");
	CHECK_CONTAINS(meeting_err("{\"RecurrenceID\":\"not-a-uuid\"," TIMES "}", MEETING_CREATE),
	    "RecurrenceID");
	CHECK_CONTAINS(meeting_err("{\"RecurrenceID\":5," TIMES "}", MEETING_CREATE),
	    "RecurrenceID");
	/* NUL inside a string (sent as \u0000) would be cut by the database. */
	CHECK_CONTAINS(meeting_err("{\"Title\":\"a\\u0000b\"," TIMES "}", MEETING_CREATE), "Title");
	CHECK_CONTAINS(meeting_err("{\"Description\":\"\\u0000\"," TIMES "}", MEETING_CREATE),
	    "Description");
	CHECK_CONTAINS(meeting_err("{\"EndTimezone\":\"UTC\\u0000\"," TIMES "}", MEETING_CREATE),
	    "EndTimezone");
	CHECK_CONTAINS(meeting_err("{\"Start\":\"2026-11-26T10:00:00Z\\u0000\"," END "}",
	    MEETING_CREATE), "Start");
}

static void
test_non_object(void)
{
	static const enum meeting_mode modes[] = { MEETING_CREATE, MEETING_UPDATE, MEETING_DESTROY };
	struct meeting m;
	char err[256];

	for (size_t i = 0; i < 3; i++) {
		CHECK_CONTAINS(meeting_err("[1]", modes[i]), "Invalid meeting");
		CHECK_CONTAINS(meeting_err("\"x\"", modes[i]), "Invalid meeting");
		CHECK_CONTAINS(meeting_err("42", modes[i]), "Invalid meeting");
		err[0] = '\0';
		CHECK_INTEQ(meeting_from_json(NULL, modes[i], &m, err, sizeof(err)), -1);
		CHECK(err[0] != '\0');
		CHECK(all_null(&m));
	}
}

static void
test_update_destroy(void)
{
	CHECK_CONTAINS(meeting_err("{\"Title\":\"x\"," TIMES "}", MEETING_UPDATE), "ID");
	CHECK_CONTAINS(meeting_err("{\"ID\":\"\"," TIMES "}", MEETING_UPDATE), "ID");
	CHECK_CONTAINS(meeting_err("{\"ID\":null," TIMES "}", MEETING_UPDATE), "ID");
	CHECK_CONTAINS(meeting_err("{\"ID\":0," TIMES "}", MEETING_UPDATE), "ID");
	CHECK_CONTAINS(meeting_err("{\"ID\":42," TIMES "}", MEETING_UPDATE), "ID");
	CHECK_CONTAINS(meeting_err("{\"ID\":\"abc\"," TIMES "}", MEETING_UPDATE), "ID");
	/* Update validates everything else too. */
	CHECK_CONTAINS(meeting_err("{\"ID\":\"" UUID_LOWER "\"," END "}", MEETING_UPDATE), "Start");
	CHECK_STREQ(FIELD("{\"ID\":\"" UUID_UPPER "\"," TIMES "}", MEETING_UPDATE, id), UUID_LOWER);

	CHECK_STREQ(FIELD("{\"ID\":\"" UUID_UPPER "\"}", MEETING_DESTROY, id), UUID_LOWER);
	/* Destroy ignores the other fields, valid or not. */
	CHECK_STREQ(FIELD("{\"ID\":\"" UUID_LOWER "\",\"Start\":\"bad\",\"Title\":5}",
	    MEETING_DESTROY, title), "(NULL)");
	CHECK_CONTAINS(meeting_err("{}", MEETING_DESTROY), "ID");
	CHECK_CONTAINS(meeting_err("{\"ID\":\"" UUID_LOWER "x\"}", MEETING_DESTROY), "ID");
}

static void
test_limits(void)
{
	size_t n = MEETING_TEXT_MAX + 1;
	char *text = malloc(n + 128), *arr = malloc(16 * (MEETING_ATTENDEES_MAX + 2) + 128);
	struct meeting m;
	char err[256], small[12];
	json_object *o;
	int len;

	if (text == NULL || arr == NULL) {
		CHECK(0);
		goto done;
	}
	/* A title of exactly MEETING_TEXT_MAX bytes, then one more. */
	len = sprintf(text, "{" TIMES ",\"Title\":\"");
	memset(text + len, 't', MEETING_TEXT_MAX);
	strcpy(text + len + MEETING_TEXT_MAX, "\"}");
	o = J(text);
	CHECK_INTEQ(meeting_from_json(o, MEETING_CREATE, &m, err, sizeof(err)), 0);
	CHECK_INTEQ(m.title ? strlen(m.title) : 0, MEETING_TEXT_MAX);
	meeting_free(&m);
	json_object_put(o);
	memset(text + len, 't', n);
	strcpy(text + len + n, "\"}");
	CHECK_CONTAINS(meeting_err(text, MEETING_CREATE), "Title");

	/* MEETING_ATTENDEES_MAX entries, then one more. */
	len = sprintf(arr, "{" TIMES ",\"Attendees\":[1");
	for (int i = 1; i < MEETING_ATTENDEES_MAX; i++)
		len += sprintf(arr + len, ",%d", i + 1);
	strcpy(arr + len, "]}");
	o = J(arr);
	CHECK_INTEQ(meeting_from_json(o, MEETING_CREATE, &m, err, sizeof(err)), 0);
	CHECK(m.attendees != NULL && strncmp(m.attendees, "{1,2,3,", 7) == 0);
	CHECK(m.attendees != NULL && strstr(m.attendees, ",1000}") != NULL);
	meeting_free(&m);
	json_object_put(o);
	strcpy(arr + len, ",1001]}");
	CHECK_CONTAINS(meeting_err(arr, MEETING_CREATE), "Attendees");

	/* A small error buffer is truncated, never overrun. */
	o = J("{\"Title\":5}");
	memset(small, '#', sizeof(small));
	CHECK_INTEQ(meeting_from_json(o, MEETING_CREATE, &m, small, sizeof(small)), -1);
	CHECK_INTEQ(strlen(small), sizeof(small) - 1);
	json_object_put(o);
done:
	free(text);
	free(arr);
}

int
main(void)
{
	test_datetime();
	test_uuid();
	test_create_minimal();
	test_kendo_object();
	test_create_fields();
	test_create_errors();
	test_non_object();
	test_update_destroy();
	test_limits();
	return unit_done();
}
