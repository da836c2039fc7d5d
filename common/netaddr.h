/*
 * netaddr: numeric IP addresses and networks (CIDR), IPv4 and IPv6, for the
 * trusted proxies of X-Forwarded-For. A v4-mapped IPv6 address
 * (::ffff:a.b.c.d) is held as the IPv4 address it maps, so that a peer the
 * web server reports through a dual-stack socket matches an IPv4 entry.
 * Pure; no allocation except netaddr_parse_nets' list.
 */
#ifndef POLLHUB_NETADDR_H
#define POLLHUB_NETADDR_H

#include <stddef.h>

struct netaddr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 bytes[16];	/* network order; 4 bytes for AF_INET */
};

struct netaddr_net {
	struct netaddr	 addr;		/* its host bits are zero */
	int		 prefix;	/* 0..32 or 0..128 */
};

/* Room for an address as text (INET6_ADDRSTRLEN), NUL included. */
#define NETADDR_TEXT	46

/* Parse s[0..n), a numeric address (IPv6 also in brackets; no zone, no
 * port). 0, or -1 when it is none. */
int	netaddr_parse(const char *s, size_t n, struct netaddr *out);
/* The canonical text of a (inet_ntop's) into out, always NUL-terminated. */
void	netaddr_format(const struct netaddr *a, char *out, size_t outlen);

/* Parse a list of addresses and networks ("10.0.0.0/8", "::1", ...)
 * separated by commas or blanks. 0 with *out (the caller frees it; NULL for
 * an empty list) and *count; or -1 with err naming the bad entry (a prefix
 * too long for its family, host bits set, not an address). */
int	netaddr_parse_nets(const char *s, struct netaddr_net **out, size_t *count,
	    char *err, size_t errlen);
/* 1 if a is inside one of nets[0..count), else 0. */
int	netaddr_in_nets(const struct netaddr *a, const struct netaddr_net *nets, size_t count);

#endif
