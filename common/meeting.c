#include "meeting.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void
civil_from_days(long long z, int *y, unsigned *m, unsigned *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((long long)yoe + era * 400 + (*m <= 2));
}

/* Read exactly n decimal digits at s[*i]. */
static int
digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;

	if (*i + (size_t)n > len)
		return -1;
	for (int k = 0; k < n; k++) {
		char c = s[*i + (size_t)k];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)n;
	*out = v;
	return 0;
}

static int
expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

int
meeting_parse_datetime(const char *s, size_t n, char out[28], long long *usec)
{
	int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 0;
	long long frac = 0, days, total;
	size_t i = 0;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned cm, cd;
	int cy;

	if (digits(s, n, &i, 4, &y) || expect(s, n, &i, '-') ||
	    digits(s, n, &i, 2, &mo) || expect(s, n, &i, '-') ||
	    digits(s, n, &i, 2, &d))
		return -1;
	if (i >= n || (s[i] != 'T' && s[i] != 't'))
		return -1;
	i++;
	if (digits(s, n, &i, 2, &h) || expect(s, n, &i, ':') || digits(s, n, &i, 2, &mi))
		return -1;
	if (i < n && s[i] == ':') {
		i++;
		if (digits(s, n, &i, 2, &sec))
			return -1;
		if (i < n && s[i] == '.') {
			int nd = 0;
			i++;
			while (i < n && s[i] >= '0' && s[i] <= '9') {
				if (nd < 6)
					frac = frac * 10 + (s[i] - '0');
				else if (nd >= 9)
					return -1;
				nd++;
				i++;
			}
			if (nd == 0)
				return -1;
			for (; nd < 6; nd++)
				frac *= 10;
		}
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		i++;
		if (digits(s, n, &i, 2, &oh))
			return -1;
		if (i < n && s[i] == ':')
			i++;
		if (digits(s, n, &i, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else {
		/* No zone: browsers would read it as local time, so refuse it. */
		return -1;
	}
	if (i != n)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 59)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	total = days * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	civil_from_days(total >= 0 ? total / 86400 : (total - 86399) / 86400, &cy, &cm, &cd);
	if (cy < 1 || cy > 9999)
		return -1;
	{
		/* Seconds into the UTC day: 0..86399, so every field has 2 digits. */
		unsigned rem = (unsigned)(total - (total >= 0 ? total / 86400 :
		    (total - 86399) / 86400) * 86400) % 86400u;
		snprintf(out, 28, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", (unsigned)cy % 10000u,
		    cm % 100u, cd % 100u, rem / 3600u, rem / 60u % 60u, rem % 60u,
		    (unsigned)frac % 1000000u);
	}
	*usec = total * 1000000 + frac;
	return 0;
}

int
meeting_parse_uuid(const char *s, size_t n, char out[37])
{
	if (n != 36)
		return -1;
	for (size_t i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return -1;
			out[i] = c;
			continue;
		}
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[36] = '\0';
	return 0;
}

/* Kendo sends "", null, 0 or nothing for "no value", depending on the schema. */
static int
is_none(json_object *v)
{
	if (v == NULL)
		return 1;
	switch (json_object_get_type(v)) {
	case json_type_null:
		return 1;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_int:
		return json_object_get_int64(v) == 0;
	default:
		return 0;
	}
}

static int
fail(char *err, size_t errlen, const char *field, const char *why)
{
	snprintf(err, errlen, "Invalid meeting: '%s' %s.", field, why);
	return -1;
}

static int
dup_into(char **dst, const char *s, size_t n)
{
	if ((*dst = malloc(n + 1)) == NULL)
		return -1;
	memcpy(*dst, s, n);
	(*dst)[n] = '\0';
	return 0;
}

/* An optional string: none → NULL; a string → copied; else an error. */
static int
opt_string(json_object *obj, const char *field, int empty_is_null, char **dst,
    char *err, size_t errlen)
{
	json_object *v = NULL;
	size_t n;

	json_object_object_get_ex(obj, field, &v);
	if (v == NULL || json_object_is_type(v, json_type_null)) {
		*dst = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, field, "must be a string");
	n = (size_t)json_object_get_string_len(v);
	if (n > MEETING_TEXT_MAX)
		return fail(err, errlen, field, "is too long");
	if (n == 0 && empty_is_null) {
		*dst = NULL;
		return 0;
	}
	if (memchr(json_object_get_string(v), '\0', n) != NULL)
		return fail(err, errlen, field, "must not contain NUL characters");
	if (dup_into(dst, json_object_get_string(v), n) == -1)
		return fail(err, errlen, field, "could not be stored (out of memory)");
	return 0;
}

static int
required_date(json_object *obj, const char *field, char **dst, long long *usec,
    char *err, size_t errlen)
{
	json_object *v = NULL;
	char canon[28];

	if (!json_object_object_get_ex(obj, field, &v) || v == NULL ||
	    json_object_is_type(v, json_type_null))
		return fail(err, errlen, field, "is required");
	if (!json_object_is_type(v, json_type_string) ||
	    meeting_parse_datetime(json_object_get_string(v),
		(size_t)json_object_get_string_len(v), canon, usec) == -1)
		return fail(err, errlen, field,
		    "must be an ISO 8601 date and time with a zone, like 2026-11-26T10:00:00.000Z");
	return dup_into(dst, canon, strlen(canon)) == -1 ?
	    fail(err, errlen, field, "could not be stored (out of memory)") : 0;
}

static int
uuid_field(json_object *v, const char *field, char **dst, char *err, size_t errlen)
{
	char canon[37];

	if (!json_object_is_type(v, json_type_string) ||
	    meeting_parse_uuid(json_object_get_string(v),
		(size_t)json_object_get_string_len(v), canon) == -1)
		return fail(err, errlen, field, "must be a meeting ID (a UUID)");
	return dup_into(dst, canon, 36);
}

static int
attendees(json_object *obj, char **dst, char *err, size_t errlen)
{
	json_object *v = NULL;
	struct buf b = BUF_INIT;
	size_t n;
	char num[24];

	json_object_object_get_ex(obj, "Attendees", &v);
	if (v == NULL || json_object_is_type(v, json_type_null))
		return dup_into(dst, "{}", 2);
	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "Attendees", "must be an array of integers");
	n = json_object_array_length(v);
	if (n > MEETING_ATTENDEES_MAX)
		return fail(err, errlen, "Attendees", "has too many entries");
	buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		int64_t x;
		if (!json_object_is_type(e, json_type_int) ||
		    (x = json_object_get_int64(e)) < -2147483647 - 1 || x > 2147483647) {
			buf_free(&b);
			return fail(err, errlen, "Attendees", "must be an array of integers");
		}
		snprintf(num, sizeof(num), "%s%lld", i ? "," : "", (long long)x);
		buf_puts(&b, num);
	}
	if (buf_putc(&b, '}') == -1) {
		buf_free(&b);
		return fail(err, errlen, "Attendees", "could not be stored (out of memory)");
	}
	*dst = b.data;
	return 0;
}

int
meeting_from_json(json_object *obj, enum meeting_mode mode, struct meeting *m,
    char *err, size_t errlen)
{
	json_object *v = NULL;
	long long start_us, end_us;
	char num[24];

	memset(m, 0, sizeof(*m));
	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "Invalid meeting: expected an object with the meeting's fields.");
		return -1;
	}
	if (mode != MEETING_CREATE) {
		if (!json_object_object_get_ex(obj, "ID", &v) || is_none(v)) {
			fail(err, errlen, "ID", "is required");
			goto fail;
		}
		if (uuid_field(v, "ID", &m->id, err, errlen) == -1)
			goto fail;
		if (mode == MEETING_DESTROY)
			return 0;
	}
	if (opt_string(obj, "Title", 0, &m->title, err, errlen) == -1)
		goto fail;
	if (m->title == NULL && dup_into(&m->title, "", 0) == -1)
		goto fail;
	if (opt_string(obj, "Description", 1, &m->description, err, errlen) == -1 ||
	    required_date(obj, "Start", &m->start, &start_us, err, errlen) == -1 ||
	    required_date(obj, "End", &m->end, &end_us, err, errlen) == -1)
		goto fail;
	if (end_us < start_us) {
		fail(err, errlen, "End", "must not be before 'Start'");
		goto fail;
	}
	if (opt_string(obj, "StartTimezone", 1, &m->start_timezone, err, errlen) == -1 ||
	    opt_string(obj, "EndTimezone", 1, &m->end_timezone, err, errlen) == -1 ||
	    opt_string(obj, "RecurrenceRule", 1, &m->recurrence_rule, err, errlen) == -1 ||
	    opt_string(obj, "RecurrenceException", 1, &m->recurrence_exception, err, errlen) == -1)
		goto fail;

	v = NULL;
	json_object_object_get_ex(obj, "IsAllDay", &v);
	if (v != NULL && !json_object_is_type(v, json_type_null) &&
	    !json_object_is_type(v, json_type_boolean)) {
		fail(err, errlen, "IsAllDay", "must be true or false");
		goto fail;
	}
	if (dup_into(&m->is_all_day, v != NULL && json_object_get_boolean(v) ? "true" : "false",
	    v != NULL && json_object_get_boolean(v) ? 4 : 5) == -1)
		goto fail;

	v = NULL;
	json_object_object_get_ex(obj, "RoomID", &v);
	if (!is_none(v) || (v != NULL && json_object_is_type(v, json_type_int))) {
		int64_t x;
		if (!json_object_is_type(v, json_type_int) ||
		    (x = json_object_get_int64(v)) < -2147483647 - 1 || x > 2147483647) {
			fail(err, errlen, "RoomID", "must be an integer");
			goto fail;
		}
		snprintf(num, sizeof(num), "%lld", (long long)x);
		if (dup_into(&m->room_id, num, strlen(num)) == -1)
			goto fail;
	}

	v = NULL;
	json_object_object_get_ex(obj, "RecurrenceID", &v);
	if (!is_none(v) && uuid_field(v, "RecurrenceID", &m->recurrence_id, err, errlen) == -1)
		goto fail;
	if (attendees(obj, &m->attendees, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	meeting_free(m);
	return -1;
}

void
meeting_free(struct meeting *m)
{
	free(m->id);
	free(m->title);
	free(m->description);
	free(m->start);
	free(m->end);
	free(m->start_timezone);
	free(m->end_timezone);
	free(m->is_all_day);
	free(m->room_id);
	free(m->recurrence_rule);
	free(m->recurrence_id);
	free(m->recurrence_exception);
	free(m->attendees);
	memset(m, 0, sizeof(*m));
}
