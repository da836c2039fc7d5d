/*
 * log: one line per event on stderr (the web server's error log collects it).
 * Callers log connection ids, never connection tokens.
 */
#ifndef POLLHUB_LOG_H
#define POLLHUB_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set the threshold; messages above it are dropped. Call once at start-up. */
void	log_set_level(enum log_level);
/* Parse "error", "warn", "info", "debug"; returns -1 when unknown. */
int	log_level_parse(const char *, enum log_level *);
void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
