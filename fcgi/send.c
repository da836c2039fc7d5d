#include "send.h"

#include <stdio.h>
#include <string.h>

#include "heldstreams.h"
#include "hub.h"
#include "hubproto.h"
#include "log.h"

/* Queue one encoded record for the connection; the record buffer is reset.
 * stamp: see corestore_send_queue (-1: none). The statement's status. */
static enum ph_err
queue(PGconn *db, const char *connection_id, struct buf *rec, long long stamp)
{
	enum ph_err st = PH_OK;

	if (rec->len > 0)
		st = corestore_send_queue(db, connection_id, rec->data, stamp);
	buf_reset(rec);
	return st;
}

/* An encoder's -1 (out of memory) as a status. */
static enum ph_err
encoded(int rc)
{
	return rc == -1 ? PH_NOMEM : PH_OK;
}

/* End the connection with a Close message carrying why: the client gets it on
 * its next poll, and the poll after that answers 204. */
static enum ph_err
close_with_error(struct app *app, PGconn *db, struct send_conn *sc, const char *why)
{
	struct buf rec = BUF_INIT;
	char text[512];
	enum ph_err st;

	if (app->cfg.detailed_errors)
		snprintf(text, sizeof(text), "Connection closed with an error. %s", why);
	else
		snprintf(text, sizeof(text), "Connection closed with an error.");
	log_info("connection %s: disconnected: protocol error, closing: %s", sc->id, LOG_TEXT(why));
	if ((st = encoded(hubproto_close(&rec, text, 1))) == PH_OK &&
	    (st = queue(db, sc->id, &rec, -1)) == PH_OK)
		st = corestore_mark_closing(db, sc->id);
	buf_free(&rec);
	sc->closing = 1;
	return st;
}

static enum ph_err
handshake(PGconn *db, struct send_conn *sc, const char *rec, size_t len)
{
	struct buf out = BUF_INIT;
	char err[256];
	enum ph_err st;

	if (hubproto_parse_handshake(rec, len, err, sizeof(err)) == -1) {
		log_info("connection %s: handshake refused: %s", sc->id, LOG_TEXT(err));
		if ((st = encoded(hubproto_handshake_response(&out, err))) == PH_OK &&
		    (st = queue(db, sc->id, &out, -1)) == PH_OK)
			st = corestore_mark_closing(db, sc->id);
		sc->closing = 1;
	} else {
		/* OnConnected: join the group, then answer {} (it must lead the output). */
		if ((st = encoded(hubproto_handshake_response(&out, NULL))) == PH_OK &&
		    (st = queue(db, sc->id, &out, -1)) == PH_OK)
			st = corestore_join_group(db, sc->id, sc->group);
		sc->handshaken = 1;
	}
	buf_free(&out);
	return st;
}

/* invocations: those of this POST so far; past POLLHUB_MAX_INVOCATIONS each
 * is answered with a completion error and not run. */
static enum ph_err
message(struct app *app, PGconn *db, struct send_conn *sc, const char *rec, size_t len,
    int *invocations, int *savepoint)
{
	struct hub_message msg;
	/* Who may run what is pollhub.invoke's to check (the permission in the
	 * connection's row). */
	struct hub_caller caller = { db, sc->id, sc->group, app->cfg.detailed_errors,
	    app->cfg.max_answer, app->cfg.max_pending_bytes, savepoint };
	struct buf out = BUF_INIT;
	char err[256], why[300];
	long long stamp = -1;
	enum ph_err st = PH_OK;

	if (hubproto_parse_message(rec, len, &msg, err, sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "InvalidDataException: %s", err);
		return close_with_error(app, db, sc, why);
	}
	switch (msg.type) {
	case HUB_INVOCATION:
	case HUB_STREAM_INVOCATION:
		if (++*invocations > app->cfg.max_invocations) {
			snprintf(why, sizeof(why), "More than %d invocations in one request"
			    " (POLLHUB_MAX_INVOCATIONS); this one was not run. Invoke it again.",
			    app->cfg.max_invocations);
			if ((st = encoded(hub_refuse(&caller, &msg, why, &out))) == PH_OK)
				st = queue(db, sc->id, &out, -1);
			if (*invocations == app->cfg.max_invocations + 1)
				log_info("connection %s: more than %d invocations in one request:"
				    " the rest refused", sc->id, app->cfg.max_invocations);
		} else if (hub_invoke(&caller, &msg, &out, &stamp) == -1)
			st = PH_DB;
		else
			st = queue(db, sc->id, &out, stamp);
		break;
	case HUB_CLOSE:
		/* The client is stopping: leave the group; its next poll gets 204. */
		/* The DELETE that may follow logs at debug only. */
		log_info("connection %s: disconnected: client (Close message)", sc->id);
		st = corestore_mark_closing(db, sc->id);
		sc->closing = 1;
		break;
	default:
		/* Pings, cancels, acks and unknown types need no answer. */
		break;
	}
	buf_free(&out);
	hub_message_free(&msg);
	return st;
}

/* Consume every complete record of sc->inbound; what remains is a partial
 * record to carry over. Not PH_OK: the database failed (or memory ran out):
 * the caller rolls back. */
static enum ph_err
process(struct app *app, PGconn *db, struct send_conn *sc, size_t *consumed)
{
	size_t off = 0, max = app->cfg.max_message_size;
	char why[200];
	int invocations = 0, savepoint = 0;
	long n;

	while (!sc->closing && off < sc->inbound.len &&
	    (n = hubproto_record_len(sc->inbound.data + off, sc->inbound.len - off)) >= 0) {
		const char *rec = sc->inbound.data + off;
		enum ph_err st;

		if ((size_t)n > max) {
			snprintf(why, sizeof(why), "InvalidDataException: The maximum message size"
			    " of %zuB was exceeded. The message size can be configured in"
			    " AddHubOptions.", max);
			st = close_with_error(app, db, sc, why);
		} else if (!sc->handshaken) {
			st = handshake(db, sc, rec, (size_t)n);
		} else {
			st = message(app, db, sc, rec, (size_t)n, &invocations, &savepoint);
		}
		if (st != PH_OK)
			return st;
		off += (size_t)n + 1;
	}
	if (!sc->closing && sc->inbound.len - off > max) {
		snprintf(why, sizeof(why), "InvalidDataException: The maximum message size of"
		    " %zuB was exceeded. The message size can be configured in AddHubOptions.", max);
		enum ph_err st = close_with_error(app, db, sc, why);

		if (st != PH_OK)
			return st;
	}
	*consumed = sc->closing ? sc->inbound.len : off;
	return PH_OK;
}

/* What the POST's body holds, read in one pass (a create's record is
 * parsed here and once more in process(), not twice here). *writes: 1 when
 * a record may write meetings (hub_writes), or cannot be told apart (it
 * completes a record begun in an earlier POST): the POST then counts
 * against its group's share of the pool. *pings: 1 when the body is
 * nothing but whole Ping records (every client sends one every 15 s): they
 * need no transaction. */
static void
body_kinds(const struct buf *body, int *writes, int *pings)
{
	size_t off = 0;
	long n;

	*writes = 0;
	*pings = body->len > 0 && body->data[body->len - 1] == 0x1e;
	while (off < body->len && (n = hubproto_record_len(body->data + off, body->len - off)) >= 0) {
		struct hub_message msg;
		char err[64];

		if (hubproto_parse_message(body->data + off, (size_t)n, &msg, err, sizeof(err)) == -1) {
			*pings = 0;
			/* A handshake is no hub message; anything else may be half of one. */
			if (hubproto_parse_handshake(body->data + off, (size_t)n, err, sizeof(err)) == -1) {
				*writes = 1;
				return;
			}
		} else {
			if (msg.type != HUB_PING)
				*pings = 0;
			*writes = hub_writes(&msg);
			hub_message_free(&msg);
			if (*writes)
				return;
		}
		off += (size_t)n + 1;
	}
	if (off != body->len)
		*pings = 0;
}

/* The Ping-only fast path: 1 when it answered. A connection whose stream
 * this process holds is answered from what the process knows (heldstreams.h),
 * without the pool, once pollhub.ping said yes for it; any other in that one
 * statement. A Ping changes nothing in the row: the stream is vouched for by
 * touch() (main.c). */
static int
ping(struct app *app, struct http_request *h, const char *token)
{
	PGconn *db;
	unsigned gen;
	int done = 0;

	if (heldstreams_ping(app->streams, token, h->conn_id, sizeof(h->conn_id), &gen)) {
		log_debug("connection %s: Ping answered without the database (its stream is"
		    " held here)", h->conn_id);
		http_text(h, 200, "");
		return 1;
	}
	if ((db = pool_acquire(app->pool)) == NULL)
		return 0;
	if (corestore_ping(db, token, &done) != PH_OK)
		done = 0;
	pool_release(app->pool, db);
	if (done) {
		heldstreams_confirm(app->streams, token, gen);
		http_text(h, 200, "");
	}
	return done;
}

void
send_handle(struct app *app, struct http_request *h, const char *token)
{
	struct send_conn sc;
	struct buf body = BUF_INIT;
	size_t consumed = 0;
	PGconn *db;
	enum ph_err st;
	int writes, pings;
	enum held_send sent = HELD_SEND_ROLLED_BACK;
	int begun = 0, counted = 0;

	memset(&sc, 0, sizeof(sc));
	if ((st = http_read_body(h, app->cfg.max_message_size, app->cfg.body_timeout,
	    &body)) != PH_OK) {
		/* Slower than POLLHUB_BODY_TIMEOUT: the worker is not held longer. */
		if (st == PH_TIMEOUT)
			log_info("request: body not received within %d ms"
			    " (POLLHUB_BODY_TIMEOUT): 408", app->cfg.body_timeout);
		http_error(h, st);
		goto done;
	}
	body_kinds(&body, &writes, &pings);
	if (pings && ping(app, h, token))
		goto done;
	/* While it runs, this connection's Pings take the database's path; what
	 * it leaves decides whether they may skip it after. */
	counted = heldstreams_send_begin(app->streams, token);
	begun = 1;
	/* Counted against the group's share of the pool: a send may wait on its
	 * calendar's locks (an open transaction in psql) and must not take the
	 * pool from the other calendars. */
	st = corestore_send_open(app->pool, token, PROTO_CORE, writes, &sc, &db);
	if (st != PH_OK) {
		if (st == PH_NOT_FOUND)
			sent = HELD_SEND_UNCLEAN;
		http_error(h, st);	/* PH_NOT_FOUND, PH_BUSY or PH_DB */
		goto done;
	}
	snprintf(h->conn_id, sizeof(h->conn_id), "%s", sc.id);
	if (sc.closing) {
		/* Already ending (Close sent or received): nothing more is read. */
		pool_rollback(db);
		pool_release(app->pool, db);
		sent = HELD_SEND_UNCLEAN;
		http_text(h, 200, "");
		goto done;
	}
	if (buf_append(&sc.inbound, body.data, body.len) == -1 ||
	    process(app, db, &sc, &consumed) != PH_OK ||
	    corestore_send_commit(db, &sc, consumed < sc.inbound.len ?
		sc.inbound.data + consumed : "", sc.inbound.len - consumed) != PH_OK) {
		pool_rollback(db);
		pool_release(app->pool, db);
		http_text(h, 503, "Service Unavailable");
		goto done;
	}
	pool_release(app->pool, db);
	sent = sc.handshaken && !sc.closing && consumed == sc.inbound.len ? HELD_SEND_CLEAN :
	    HELD_SEND_UNCLEAN;
	http_text(h, 200, "");
done:
	if (begun)
		heldstreams_send_end(app->streams, token, counted, sent);
	buf_free(&body);
	buf_free(&sc.inbound);
}
