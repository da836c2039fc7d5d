#include "isoparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
isoparse_datetime(const char *s, size_t n, char out[28], long long *usec)
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
isoparse_uuid(const char *s, size_t n, char out[37])
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
