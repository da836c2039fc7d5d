/* Unit tests for common/isoparse.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "isoparse.h"
#include "unit.h"

#define LIT(s) (s), (sizeof(s) - 1)

#define UUID_UPPER "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
#define UUID_LOWER "3f2504e0-4f89-11d3-9a0c-0305e82c3301"

/* Parse a datetime; returns the canonical form, or "(rejected)". */
static const char *
dt(const char *s, size_t n, long long *usec)
{
	static char out[28];
	long long u;

	memset(out, '#', sizeof(out));
	if (isoparse_datetime(s, n, out, usec != NULL ? usec : &u) == -1)
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
	return isoparse_uuid(s, n, out) == 0 ? out : "(rejected)";
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

int
main(void)
{
	test_datetime();
	test_uuid();
	return unit_done();
}
