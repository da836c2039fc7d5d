/*
 * negotiate: POST <hub>/negotiate. Creates the connection (its group is
 * decided here) and answers its public id and secret token.
 */
#ifndef POLLHUB_NEGOTIATE_H
#define POLLHUB_NEGOTIATE_H

#include "app.h"
#include "buf.h"
#include "http.h"
#include "sqlproto.h"

void	negotiate_handle(struct app *, struct http_request *);

/* What a negotiate request asks for, decided from its bytes alone. */
struct negotiate_plan {
	int		 version;	/* 0 or 1 */
	char		 group[SQL_GROUP_SIZE];	/* the new connection's group */
	int		 group_named;	/* the group parameter named it (not the address) */
	const char	*refusal;	/* non-NULL: answer {"error": refusal}; the rest is unset */
};
/* Decide version and group from query[0..len), the configured group
 * parameter (NULL or "" = by address) and the client address. No I/O. */
void	negotiate_decide(const char *query, size_t len, const char *group_param,
	    const char *remote_addr, struct negotiate_plan *out);
/* Append the refusal body {"error": why}. Returns 0, or -1 when out of memory. */
int	negotiate_refusal_body(struct buf *out, const char *why);

/* The negotiate version asked for in a query string: 0 when absent, 1 for
 * anything above 1 (the highest we speak), -1 when not an integer, -2 when
 * negative. */
int	negotiate_version(const char *query, size_t len);
/* The response body for a new connection (token is left out for version 0). */
int	negotiate_body(struct buf *out, int version, const char *id, const char *token);
/* The group of a new connection: the configured query parameter when set and
 * present, else the client address. PH_OK, or PH_INVALID when the name is
 * not 1..SQL_GROUP_MAX printable characters (negotiate_group_valid). outlen
 * should be SQL_GROUP_SIZE. */
enum ph_err negotiate_group(const char *query, size_t len, const char *param,
	    const char *remote_addr, char *out, size_t outlen);

/* 1 if name is 1..SQL_GROUP_MAX characters of well-formed UTF-8, counted as
 * PostgreSQL's length() does, none of them a control or invisible layout
 * character (utf8_is_control: C0, DEL, C1, U+2028/2029, bidi controls). */
int	negotiate_group_valid(const char *name);

/* The hub's path a negotiate at path names: "/" and the segment before
 * "/negotiate" (/site/meetings/negotiate names /meetings), into out (at most
 * NEGOTIATE_HUB_PATH bytes). Returns 0, or -1 when there is none. */
#define NEGOTIATE_HUB_PATH	72
int	negotiate_hub_path(const char *path, char *out, size_t outlen);

#endif
