/*
 * hubproto: the SignalR JSON hub protocol (HubProtocol.md): 0x1E record
 * splitting, handshake and message parsing with ASP.NET Core's error strings,
 * and encoding of the messages the server sends. Knows nothing of HTTP.
 */
#ifndef POLLHUB_HUBPROTO_H
#define POLLHUB_HUBPROTO_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"

#define HUBPROTO_RS '\x1e'
#define HUBPROTO_MAX_DEPTH 32

enum hub_msg_type {
	HUB_INVOCATION = 1,
	HUB_STREAM_ITEM = 2,
	HUB_COMPLETION = 3,
	HUB_STREAM_INVOCATION = 4,
	HUB_CANCEL_INVOCATION = 5,
	HUB_PING = 6,
	HUB_CLOSE = 7,
	HUB_ACK = 8,
	HUB_SEQUENCE = 9
};

struct hub_message {
	int		 type;
	const char	*invocation_id;	/* borrowed from root; NULL when absent */
	const char	*target;	/* borrowed; invocations only */
	size_t		 target_len;	/* may exceed strlen(target): \u0000 */
	json_object	*arguments;	/* borrowed array; invocations only */
	json_object	*root;		/* owned: release with hub_message_free */
};

/* Length of the first complete record in data[0..len) (without its 0x1E), or
 * -1 if no 0x1E is present yet. The record ends at data[result]. */
long	hubproto_record_len(const char *data, size_t len);

/* Parse a handshake request. Returns 0, or -1 with ASP.NET Core's handshake
 * error text in err (sent back as {"error": err}). */
int	hubproto_parse_handshake(const char *rec, size_t len, char *err, size_t errlen);

/* Parse one record. Returns 0 with msg filled (caller frees), or -1 with
 * ASP.NET Core's text for a connection-fatal protocol error in err. */
int	hubproto_parse_message(const char *rec, size_t len, struct hub_message *msg,
	    char *err, size_t errlen);
void	hub_message_free(struct hub_message *msg);

/* Encoders: each appends one JSON record (no 0x1E) and a NUL to out, and
 * returns 0 or -1 when out of memory. result is borrowed (NULL = null). */
int	hubproto_handshake_response(struct buf *out, const char *error);
int	hubproto_completion_result(struct buf *out, const char *invocation_id,
	    json_object *result);
int	hubproto_completion_error(struct buf *out, const char *invocation_id,
	    const char *error);
int	hubproto_close(struct buf *out, const char *error, int allow_reconnect);

/* Whether the records data[0..len) (each ended by 0x1E) hold a Close message;
 * its error ("" without one) copied to error. For the log. */
int	hubproto_find_close(const char *data, size_t len, char *error, size_t errsize);

/* Parse JSON text with the protocol's limits (depth, strict, UTF-8, nothing
 * after the value). Returns a new reference or NULL. */
json_object *hubproto_json_parse(const char *text, size_t len);

#endif
