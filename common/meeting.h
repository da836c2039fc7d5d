/*
 * meeting: validation of a meeting object sent by a client (Kendo's
 * DataSource serialises the model with the seed's PascalCase names) and its
 * normalisation into the text parameters the store binds.
 */
#ifndef POLLHUB_MEETING_H
#define POLLHUB_MEETING_H

#include <stddef.h>

#include <json-c/json.h>

#define MEETING_TEXT_MAX 65536	/* bytes per string field */
#define MEETING_ATTENDEES_MAX 1000

/* Every member is a NUL-terminated string or NULL (SQL NULL). */
struct meeting {
	char	*id;			/* canonical lower-case UUID; NULL on create */
	char	*title;			/* never NULL ("" allowed) */
	char	*description;
	char	*start;			/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC) */
	char	*end;
	char	*start_timezone;
	char	*end_timezone;
	char	*is_all_day;		/* "true" / "false" */
	char	*room_id;		/* decimal integer */
	char	*recurrence_rule;
	char	*recurrence_id;		/* canonical UUID */
	char	*recurrence_exception;
	char	*attendees;		/* array literal "{1,2}" */
};

enum meeting_mode {
	MEETING_CREATE,		/* ID ignored (null, "", 0 or a stale value) */
	MEETING_UPDATE,		/* ID required; all fields validated */
	MEETING_DESTROY		/* ID required; other fields ignored */
};

/* Validate obj (borrowed) and fill m. Returns 0, or -1 with a message naming
 * the field in err. On -1 m holds nothing to free; on 0 call meeting_free. */
int	meeting_from_json(json_object *obj, enum meeting_mode, struct meeting *m,
	    char *err, size_t errlen);
void	meeting_free(struct meeting *m);

/* Parse an ISO 8601 date-time with a zone ("Z" or +hh:mm) into the canonical
 * UTC form above (out needs 28 bytes) and microseconds since 1970 for
 * comparisons. Returns 0, or -1 when s is not such a date. */
int	meeting_parse_datetime(const char *s, size_t n, char out[28], long long *usec);
/* Canonicalise a UUID (any case, with hyphens) into out[37]; -1 if not one. */
int	meeting_parse_uuid(const char *s, size_t n, char out[37]);

#endif
