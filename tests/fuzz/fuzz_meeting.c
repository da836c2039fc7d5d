/*
 * Fuzz meeting validation: the input as a JSON argument (through the hub
 * protocol's parser, as the hub receives it) in every mode, and the raw bytes
 * as a date-time and as a UUID. Asserts the shape of what reaches the store.
 */
#include <string.h>

#include "fuzz.h"
#include "hubproto.h"
#include "meeting.h"

static void
check_canonical_datetime(const char *canon, long long usec)
{
	char again[28];
	long long usec2;

	REQUIRE(strlen(canon) == 27);
	REQUIRE(canon[4] == '-' && canon[7] == '-' && canon[10] == 'T' && canon[13] == ':' &&
	    canon[16] == ':' && canon[19] == '.' && canon[26] == 'Z');
	REQUIRE(meeting_parse_datetime(canon, 27, again, &usec2) == 0);
	REQUIRE(strcmp(again, canon) == 0);
	REQUIRE(usec2 == usec);
}

static void
check_uuid(const char *u)
{
	char again[37];

	REQUIRE(u != NULL && strlen(u) == 36);
	for (size_t i = 0; i < 36; i++)
		REQUIRE((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f') ||
		    (u[i] == '-' && (i == 8 || i == 13 || i == 18 || i == 23)));
	REQUIRE(meeting_parse_uuid(u, 36, again) == 0 && strcmp(again, u) == 0);
}

static int
all_null(const struct meeting *m)
{
	static const struct meeting zero;

	return memcmp(m, &zero, sizeof(zero)) == 0;
}

static void
check_meeting(json_object *obj, enum meeting_mode mode)
{
	struct meeting m;
	char err[256];
	long long s_us, e_us;
	char canon[28];

	memset(err, 'x', sizeof(err));
	if (meeting_from_json(obj, mode, &m, err, sizeof(err)) == -1) {
		REQUIRE(all_null(&m));
		REQUIRE(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		return;
	}
	if (mode == MEETING_CREATE)
		REQUIRE(m.id == NULL);
	else
		check_uuid(m.id);
	if (mode == MEETING_DESTROY) {
		struct meeting rest = m;
		rest.id = NULL;
		REQUIRE(all_null(&rest));
		meeting_free(&m);
		return;
	}
	REQUIRE(m.title != NULL && strlen(m.title) <= MEETING_TEXT_MAX);
	REQUIRE(m.start != NULL && m.end != NULL);
	REQUIRE(meeting_parse_datetime(m.start, strlen(m.start), canon, &s_us) == 0);
	check_canonical_datetime(m.start, s_us);
	REQUIRE(meeting_parse_datetime(m.end, strlen(m.end), canon, &e_us) == 0);
	check_canonical_datetime(m.end, e_us);
	REQUIRE(s_us <= e_us);
	REQUIRE(m.is_all_day != NULL &&
	    (strcmp(m.is_all_day, "true") == 0 || strcmp(m.is_all_day, "false") == 0));
	if (m.room_id != NULL) {
		char *end;
		long long r = strtoll(m.room_id, &end, 10);
		REQUIRE(*end == '\0' && end != m.room_id && r >= -2147483648LL && r <= 2147483647LL);
	}
	if (m.recurrence_id != NULL)
		check_uuid(m.recurrence_id);
	REQUIRE(m.attendees != NULL && m.attendees[0] == '{' &&
	    m.attendees[strlen(m.attendees) - 1] == '}');
	REQUIRE(strspn(m.attendees + 1, "-0123456789,") == strlen(m.attendees) - 2);
	/* "" is stored as NULL for the optional texts. */
	REQUIRE(m.description == NULL || m.description[0] != '\0');
	REQUIRE(m.recurrence_rule == NULL || m.recurrence_rule[0] != '\0');
	meeting_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	json_object *obj = hubproto_json_parse(s, size);
	char canon[28], uuid[37];
	long long usec;

	if (obj != NULL) {
		check_meeting(obj, MEETING_CREATE);
		check_meeting(obj, MEETING_UPDATE);
		check_meeting(obj, MEETING_DESTROY);
		json_object_put(obj);
	}
	memset(canon, 'x', sizeof(canon));
	if (meeting_parse_datetime(s, size, canon, &usec) == 0)
		check_canonical_datetime(canon, usec);
	if (meeting_parse_uuid(s, size, uuid) == 0)
		check_uuid(uuid);
	return 0;
}
