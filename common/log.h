/*
 * log: one line per event on stderr (the web server's error log collects it).
 * Callers log connection ids, never connection tokens.
 *
 * Text from a client (protocol and method names, header values, group names,
 * paths, reasons built from them) and from PostgreSQL's error messages (which
 * quote values) goes into a line only through LOG_TEXT / LOG_TEXTN: escaped
 * by utf8_escape (controls, DEL, C1, U+2028/2029, bidi controls and invalid
 * UTF-8 as \xNN / \uNNNN, a backslash doubled) and cut to LOG_TEXT_MAX bytes
 * with the marker "…(N bytes)", so a client can neither forge a line nor send
 * terminal escapes nor fill the log. As a last guard, log_msg turns any
 * control byte left in a formatted line into a space.
 */
#ifndef POLLHUB_LOG_H
#define POLLHUB_LOG_H

#include <stddef.h>
#include <string.h>

#include "utf8.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set the threshold; messages above it are dropped. Call once at start-up. */
void	log_set_level(enum log_level);
/* Parse "error", "warn", "info", "debug"; returns -1 when unknown. */
int	log_level_parse(const char *, enum log_level *);
void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Bytes of escaped client text one LOG_TEXT shows (the marker aside). */
#define LOG_TEXT_MAX	300
#define LOG_TEXT_SIZE	(LOG_TEXT_MAX + UTF8_ESCAPE_MARK)
/* s[0..len) escaped into buf (LOG_TEXT_SIZE bytes); returns buf. */
const char *log_text(char *buf, const char *s, size_t len);
/* For a "%s" argument: a temporary that lives until the end of the enclosing
 * block (the log call's statement). s NULL shows as "(null)". */
#define LOG_TEXTN(s, len)	log_text((char[LOG_TEXT_SIZE]){ 0 }, (s), (len))
#define LOG_TEXT(s)		LOG_TEXTN((s), (s) != NULL ? strlen(s) : 0)

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
