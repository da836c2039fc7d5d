#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Written once before threads start, read-only afterwards. */
static enum log_level threshold = LOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level l)
{
	threshold = l;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

const char *
log_text(char *buf, const char *s, size_t len)
{
	if (s == NULL)
		snprintf(buf, LOG_TEXT_SIZE, "(null)");
	else
		utf8_escape(buf, LOG_TEXT_MAX, s, len);
	return buf;
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	char line[1024], stamp[80];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (l > threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* Milliseconds: what happened in which order within a second. */
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(ts.tv_nsec / 1000000));
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Whatever a caller let through, the line stays one line. */
	for (unsigned char *c = (unsigned char *)line; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f)
			*c = ' ';
	/* One fprintf per line so concurrent threads do not interleave. */
	fprintf(stderr, "%s pollhub[%s] %s\n", stamp, names[l], line);
}
