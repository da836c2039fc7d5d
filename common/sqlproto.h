/*
 * sqlproto: the words the C code and the SQL functions (sql/functions/) share,
 * named once. A status a function returns, a transport stored in
 * pollhub.connections, the NOTIFY channel and its payload prefixes: the SQL
 * spells the same strings, and a change here is a change there.
 */
#ifndef POLLHUB_SQLPROTO_H
#define POLLHUB_SQLPROTO_H

/* pollhub.connections.transport */
#define SQL_TRANSPORT_LP		"LongPolling"
#define SQL_TRANSPORT_SSE		"ServerSentEvents"
#define SQL_TRANSPORT_CLASSIC_LP	"ClassicLongPolling"
#define SQL_TRANSPORT_CLASSIC_SSE	"ClassicServerSentEvents"

/* Statuses of poll_drain, stream_begin, classic_connect, classic_drain, ... */
#define SQL_OK		"ok"
#define SQL_MORE	"more"	/* drain_many: served, with records left behind */
#define SQL_GONE	"gone"		/* no such connection (of this protocol) */
#define SQL_SUPERSEDED	"superseded"	/* a newer poll or receive request exists */
#define SQL_CLOSED	"closed"	/* closing and nothing left: removed now */
#define SQL_CLOSING	"closing"	/* the last records of a closing connection */
#define SQL_BUSY	"busy"		/* another session holds the row: try again later */
#define SQL_TRANSPORT	"transport"	/* the connection uses another transport */
#define SQL_SELF	"self"		/* drain_many: not drained; drain yourself */
#define SQL_LATER	"later"		/* drain_many: past the batch's budget; next batch */
#define SQL_QUEUED	"queued"	/* fanout_group: its own queue has records: the
					 * connection ids' turn drains it */

/* A group name: 1 to SQL_GROUP_MAX characters (length(), characters not
 * bytes). Its key in groups.name and connections.group_name is the name, or
 * for a hub other than MeetingHub "Hub/name" (pollhub.hub_group; a hub's
 * name is at most 63 characters): at most SQL_GROUP_KEY_MAX, as their CHECK
 * constraints count. SQL_GROUP_SIZE bytes hold the longest key with its NUL. */
#define SQL_GROUP_MAX		256
#define SQL_GROUP_KEY_MAX	(63 + 1 + SQL_GROUP_MAX)
#define SQL_GROUP_SIZE		(4 * SQL_GROUP_KEY_MAX + 1)

/* LISTEN/NOTIFY: channel, and payload prefixes (group name, connection id). */
#define SQL_CHANNEL		"pollhub"
#define SQL_NOTIFY_GROUP	"g:"
#define SQL_NOTIFY_CONN		"c:"

#endif
