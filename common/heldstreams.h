/*
 * heldstreams: the server-sent events streams this process holds, by their
 * connection's token key (connections.token, what a request names below the
 * router), so that a POST of nothing but Pings can be answered at once, with
 * no pool connection and no statement (send.c).
 *
 * pollhub.ping asks the row: open, handshaken, no partial record (inbound
 * empty), no send running. A listed stream's Pings skip it once that is
 * known here and while nothing this process saw can have changed it:
 * - listed: the event loop holds the connection's stream now. It is
 *   unlisted when the stream ends, before its row is removed, and when a
 *   Close goes out on it (an administrator's close, the cap, a revocation):
 *   a removed connection is never answered from here.
 * - confirmed: pollhub.ping said yes (heldstreams_confirm), or this
 *   process's last send of it left it open, handshaken and without a
 *   partial record; a send here leaving anything else takes it back.
 * - no send of it running in this process.
 * A send another process answered (no sticky sessions) is not seen: a
 * record split across POSTs there with a Ping POSTed in its middle (which no
 * client does: it would corrupt the record) is answered here and the Ping
 * dropped, where the database's path would append it to the record.
 * Thread-safe: one lock.
 */
#ifndef POLLHUB_HELDSTREAMS_H
#define POLLHUB_HELDSTREAMS_H

#include <stddef.h>

/* One listed stream, embedded in its holder's state; fields private to
 * heldstreams.c. */
struct heldstream {
	struct heldstream *next;	/* same bucket */
	const char	*key;		/* borrowed for the listing's life */
	const char	*connection_id;	/* borrowed, likewise */
	int		 listed;
	int		 confirmed;	/* its Pings may skip the database */
	int		 sending;	/* sends of it running in this process */
	unsigned	 gen;		/* moves when a send here begins or ends */
};

struct heldstreams;

/* An empty set; NULL with a message when out of memory. */
struct heldstreams *heldstreams_new(char *err, size_t errlen);
/* Free it; nothing may be listed any more. */
void	heldstreams_free(struct heldstreams *);

/* List a stream held from now on, not confirmed (key and connection_id
 * borrowed until it is unlisted). The entry is zeroed before its first
 * listing. */
void	heldstreams_add(struct heldstreams *, struct heldstream *, const char *key,
	    const char *connection_id);
/* Unlist it (nothing when it is not listed). */
void	heldstreams_remove(struct heldstreams *, struct heldstream *);

/* 1 when a POST of Pings only from connection key may be answered now
 * without the database (its connection id copied into id). 0: ask
 * pollhub.ping; *gen is what to pass to heldstreams_confirm when it says
 * yes. */
int	heldstreams_ping(struct heldstreams *, const char *key, char *id, size_t idlen,
	    unsigned *gen);
/* pollhub.ping, run after heldstreams_ping gave gen, said yes: confirmed,
 * unless a send of it began or ended here meanwhile. */
void	heldstreams_confirm(struct heldstreams *, const char *key, unsigned gen);

/* What a send left (heldstreams_send_end). */
enum held_send {
	HELD_SEND_ROLLED_BACK,	/* nothing changed: what was known before stands */
	HELD_SEND_CLEAN,	/* committed: open, handshaken, no partial record */
	HELD_SEND_UNCLEAN,	/* committed with a partial record left, or the
				 * connection found (or left) closing or gone */
};

/* A send (any other POST) of key runs in this process: begin before it reads
 * the row (returns whether it counted the send: pass that to end), end after
 * it. */
int	heldstreams_send_begin(struct heldstreams *, const char *key);
void	heldstreams_send_end(struct heldstreams *, const char *key, int counted,
	    enum held_send);

#endif
