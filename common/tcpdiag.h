/*
 * tcpdiag: has the client of a held request closed its TCP connection to the
 * web server? Asked of this host's kernel (Linux sock_diag, as `ss` does; no
 * privilege needed), because neither web server says so while a request waits:
 * Apache's mod_proxy_fcgi watches only the backend socket, and lighttpd passes
 * the client's FIN on only with "tcp-fin-propagate". A held long poll asks
 * before it takes records from the database, so an abandoned poll leaves them
 * for the next one.
 *
 * Only an exact match of the connection in CLOSE_WAIT (its peer's FIN has
 * come, the web server still holds it) counts as closed; anything else is
 * UNKNOWN (the web server on another host or in another network namespace,
 * SERVER_PORT not the port the client used, a rewritten REMOTE_ADDR): the
 * answer can stop a drain, never start a wrong one.
 */
#ifndef POLLHUB_TCPDIAG_H
#define POLLHUB_TCPDIAG_H

#include <stddef.h>
#include <stdint.h>

#include "pherr.h"

/* One TCP connection as the web server holds it: its own (server) end and its peer. */
struct tcpdiag_conn {
	int		 family;	/* AF_INET or AF_INET6; 0: not set */
	unsigned char	 local[16], peer[16];	/* network order; 4 bytes for AF_INET */
	uint16_t	 local_port, peer_port;	/* host order */
};

/* The lookups answer PH_OK (found, and its peer has not closed), PH_LEFT
 * (found in CLOSE_WAIT: the client closed, or half-closed) or PH_UNKNOWN (not
 * found, not asked, or the kernel would not say). */

/* Fill *c from the CGI parameters SERVER_ADDR, SERVER_PORT, REMOTE_ADDR and
 * REMOTE_PORT (numeric addresses; IPv6 also in brackets, with or without a
 * v4-mapped form; a zone suffix refused). Any NULL or unusable: PH_INVALID,
 * and *c unset (family 0). PH_OK on success. Pure. */
enum ph_err tcpdiag_parse(struct tcpdiag_conn *c, const char *server_addr, const char *server_port,
	    const char *remote_addr, const char *remote_port);

/* Room for one numeric address as text (INET6_ADDRSTRLEN), and for what
 * tcpdiag_format writes, NUL included. */
#define TCPDIAG_ADDR_TEXT	46
#define TCPDIAG_TEXT		(2 * TCPDIAG_ADDR_TEXT + 14)

/* Write *c as "SERVER_ADDR SERVER_PORT REMOTE_ADDR REMOTE_PORT" (numeric, what
 * tcpdiag_parse reads back) into out. PH_OK; PH_INVALID when unset,
 * PH_TOO_LARGE when out is too small. */
enum ph_err tcpdiag_format(const struct tcpdiag_conn *c, char *out, size_t outlen);

/* A sock_diag socket for tcpdiag_query (close(2) it), or -1 (errno set). */
int	tcpdiag_open(void);

/* What the kernel says of *c, on a descriptor from tcpdiag_open (fd -1: UNKNOWN).
 * One request and one answer; never blocks beyond the kernel's reply. */
enum ph_err tcpdiag_query(int fd, const struct tcpdiag_conn *c);

/* Open, query, close: for a single question. */
enum ph_err tcpdiag_check(const struct tcpdiag_conn *c);

#endif
