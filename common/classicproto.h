/*
 * classicproto: the classic ASP.NET SignalR 2.x wire format as jquery.signalR
 * 2.4.3 speaks it (shared/protocol/classic-signalr-protocol.md): which
 * endpoint a path names, the connectionData hub list, message cursors, the
 * `data` of a /send, JSONP callback names, and the JSON the server writes
 * (persistent responses, hub results, pushes converted from the Core
 * records of the outbox). Knows nothing of HTTP or PostgreSQL; every parser
 * takes explicit lengths and untrusted bytes.
 */
#ifndef POLLHUB_CLASSICPROTO_H
#define POLLHUB_CLASSICPROTO_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "hubproto.h"

/* Bytes of a hub's name as a classic client gives it (its proxy's name),
 * with the NUL. Which hub it names is pollhub.hubs' to say
 * (classic_negotiate): its name or its path's, case-insensitively. */
#define CLASSIC_HUB_NAME_MAX 64
#define CLASSIC_MAX_HUBS 16		/* hubs in connectionData */
#define CLASSIC_MAX_CALLBACK 128	/* bytes of a JSONP callback name */
#define CLASSIC_CURSOR_LEN 24		/* room for a cursor's text and its NUL */

enum classic_verb {
	CLASSIC_NONE,		/* not a classic endpoint */
	CLASSIC_NEGOTIATE,
	CLASSIC_CONNECT,
	CLASSIC_RECONNECT,
	CLASSIC_POLL,
	CLASSIC_START,
	CLASSIC_SEND,
	CLASSIC_ABORT,
	CLASSIC_PING
};
/* The endpoint path[0..len) ends in (/connect, /poll, ...; ASCII case aside,
 * as the reference server matches them), or CLASSIC_NONE. negotiate is
 * reported too: only the caller can tell it from the Core one. */
enum classic_verb classic_verb(const char *path, size_t len);

/* connectionData: a JSON array of at most CLASSIC_MAX_HUBS {"name": "<hub>"}
 * objects. Returns 1 when it lists one hub (its name in hub), 0 when it is
 * well-formed but lists none ([] : the page has no handlers yet), -1 when it
 * is malformed, and -2 when it lists more than one (a connection serves one
 * hub) or a name that no hub can have (classic_hub_name_valid). */
int	classic_connection_data(const char *s, size_t len, char hub[CLASSIC_HUB_NAME_MAX]);
/* A name a hub may have: 1 to CLASSIC_HUB_NAME_MAX - 1 ASCII letters, digits, _ or -. */
int	classic_hub_name_valid(const char *s, size_t len);

/* A message cursor (the C the server wrote, echoed as messageId): 1 to 18
 * decimal digits. Returns 0 with *out set, or -1. */
int	classic_cursor_parse(const char *s, size_t len, long long *out);
/* Write cursor as the C text into out (CLASSIC_CURSOR_LEN bytes). */
void	classic_cursor_format(long long cursor, char out[CLASSIC_CURSOR_LEN]);

/* A JSONP callback name: dotted JavaScript identifiers (ASCII letters,
 * digits, _ and $, not starting with a digit), 1..CLASSIC_MAX_CALLBACK
 * bytes, no reserved word. Returns 1 when fit to reflect into script. */
int	classic_callback_valid(const char *s, size_t len);

/* The `data` of a /send: {"H":hub,"M":method,"A":[...],"I":id[,"S":{...}]}.
 * I may be a number or a string; S (hub state) is accepted and ignored. */
struct classic_invocation {
	char		 id[32];	/* I as text ("0"); "" when it could not be read */
	char		 hub[CLASSIC_HUB_NAME_MAX];	/* H */
	struct hub_message msg;		/* an invocation for hub_invoke; msg.root owned */
};
/* Parse data[0..len). Returns 0 (caller frees with classic_invocation_free),
 * or -1 with why in err; inv->id is set whenever I could be read, so the
 * error can still be answered to its invocation. */
int	classic_invocation_parse(const char *data, size_t len, struct classic_invocation *inv,
	    char *err, size_t errlen);
void	classic_invocation_free(struct classic_invocation *);

/* Encoders: each appends JSON text to out and returns 0, or -1 (no memory,
 * or input that is not what pollhub itself produces). */
/* {"I":id,"R":result} / {"I":id,"E":error} from a Core completion record
 * (hub_invoke's output: {"type":3,"invocationId":...,"result"|"error":...}). */
int	classic_result_from_completion(struct buf *out, const char *rec, size_t len);
/* {"I":id,"E":error}. */
int	classic_result_error(struct buf *out, const char *id, const char *error);
/* A classic push {"H":hub,"M":target,"A":[...]} from a Core invocation
 * record of the outbox; hub: the name the page's connectionData gave (its
 * client finds the proxy by it). Returns 1 when appended, 0 when the record
 * is no invocation (nothing appended), -1 on failure. */
int	classic_push_from_record(struct buf *out, const char *rec, size_t len, const char *hub);
/* A persistent response {"C":"<cursor>"[,"S":1][,"E":error],"M":[messages]}:
 * messages is the comma-separated list of pushes (may be empty). */
int	classic_persistent(struct buf *out, long long cursor, int initializing,
	    const char *error, const char *messages, size_t mlen);
/* JSONP: callback(json); with U+2028 and U+2029 escaped (JSON allows them
 * raw, JavaScript strings before ES2019 do not). */
int	classic_jsonp(struct buf *out, const char *callback, const char *json, size_t len);

#endif
