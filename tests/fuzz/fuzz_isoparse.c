/*
 * Fuzz the strict value parsers (a Kendo query's dates and UUIDs): the raw
 * bytes as a date-time and as a UUID. What is accepted is canonical: it
 * parses again to itself, with the same instant.
 */
#include <string.h>

#include "fuzz.h"
#include "isoparse.h"

static void
check_canonical_datetime(const char *canon, long long usec)
{
	char again[28];
	long long usec2;

	REQUIRE(strlen(canon) == 27);
	REQUIRE(canon[4] == '-' && canon[7] == '-' && canon[10] == 'T' && canon[13] == ':' &&
	    canon[16] == ':' && canon[19] == '.' && canon[26] == 'Z');
	REQUIRE(isoparse_datetime(canon, 27, again, &usec2) == 0);
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
	REQUIRE(isoparse_uuid(u, 36, again) == 0 && strcmp(again, u) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char canon[28], u[37];
	long long usec;

	if (isoparse_datetime((const char *)data, size, canon, &usec) == 0)
		check_canonical_datetime(canon, usec);
	if (isoparse_uuid((const char *)data, size, u) == 0)
		check_uuid(u);
	return 0;
}
