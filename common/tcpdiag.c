#include "tcpdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A decimal port, 1..65535, nothing else. */
static int
parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* A numeric address; 4 or 16 bytes into out (16 bytes of room). Returns the
 * family, or 0. */
static int
parse_addr(const char *s, unsigned char *out)
{
	char v6[INET6_ADDRSTRLEN];
	size_t n;

	if (s == NULL || (n = strlen(s)) >= INET6_ADDRSTRLEN + 2)
		return 0;
	if (inet_pton(AF_INET, s, out) == 1)
		return AF_INET;
	/* lighttpd writes a listener's IPv6 SERVER_ADDR as in its URL: "[::1]". */
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		memcpy(v6, s + 1, n - 2);
		v6[n - 2] = '\0';
		s = v6;
	} else if (n >= INET6_ADDRSTRLEN)
		return 0;
	if (inet_pton(AF_INET6, s, out) == 1)
		return AF_INET6;
	return 0;
}

/* An IPv4 address in an AF_INET6 connection is the v4-mapped form. */
static void
to_v6(unsigned char *a)
{
	unsigned char v4[4];

	memcpy(v4, a, 4);
	memset(a, 0, 10);
	a[10] = 0xff;
	a[11] = 0xff;
	memcpy(a + 12, v4, 4);
}

enum ph_err
tcpdiag_parse(struct tcpdiag_conn *c, const char *server_addr, const char *server_port,
    const char *remote_addr, const char *remote_port)
{
	struct tcpdiag_conn t;
	int fl, fp;

	memset(c, 0, sizeof(*c));
	memset(&t, 0, sizeof(t));
	fl = parse_addr(server_addr, t.local);
	fp = parse_addr(remote_addr, t.peer);
	if (fl == 0 || fp == 0 || parse_port(server_port, &t.local_port) == -1 ||
	    parse_port(remote_port, &t.peer_port) == -1)
		return PH_INVALID;
	/* A dual-stack listener may report one end in each form. */
	if (fl != fp) {
		if (fl == AF_INET)
			to_v6(t.local);
		else
			to_v6(t.peer);
	}
	t.family = fl == fp ? fl : AF_INET6;
	*c = t;
	return PH_OK;
}

enum ph_err
tcpdiag_format(const struct tcpdiag_conn *c, char *out, size_t outlen)
{
	char la[INET6_ADDRSTRLEN], pa[INET6_ADDRSTRLEN];
	int n;

	if (c->family == 0 || inet_ntop(c->family, c->local, la, sizeof(la)) == NULL ||
	    inet_ntop(c->family, c->peer, pa, sizeof(pa)) == NULL)
		return PH_INVALID;
	n = snprintf(out, outlen, "%s %u %s %u", la, c->local_port, pa, c->peer_port);
	return n < 0 || (size_t)n >= outlen ? PH_TOO_LARGE : PH_OK;
}

int
tcpdiag_open(void)
{
	return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

/* The kernel's address (family fam) is ours (family c->family); an IPv4
 * connection accepted by a dual-stack listener is an AF_INET6 socket with
 * v4-mapped addresses, and web servers report it as plain IPv4. */
static int
same_addr(int fam, const void *kaddr, const struct tcpdiag_conn *c, const unsigned char *a)
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *k = kaddr;

	if (fam == c->family)
		return memcmp(k, a, fam == AF_INET ? 4 : 16) == 0;
	if (fam == AF_INET6 && c->family == AF_INET)
		return memcmp(k, prefix, 12) == 0 && memcmp(k + 12, a, 4) == 0;
	/* And the other way round: asked in the v4-mapped form, an IPv4 socket. */
	return fam == AF_INET && c->family == AF_INET6 && memcmp(a, prefix, 12) == 0 &&
	    memcmp(k, a + 12, 4) == 0;
}

/* The answer is about the connection asked for: a lookup that misses the
 * connection falls back to the listening socket, which is not it. */
static int
same_conn(const struct inet_diag_msg *m, const struct tcpdiag_conn *c)
{
	return ntohs(m->id.idiag_sport) == c->local_port &&
	    ntohs(m->id.idiag_dport) == c->peer_port &&
	    same_addr(m->idiag_family, m->id.idiag_src, c, c->local) &&
	    same_addr(m->idiag_family, m->id.idiag_dst, c, c->peer);
}

enum ph_err
tcpdiag_query(int fd, const struct tcpdiag_conn *c)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	} req;
	/* Room for one inet_diag_msg and its attributes, aligned for nlmsghdr. */
	union {
		struct nlmsghdr	h;
		char		bytes[8192];
	} ans;
	const struct inet_diag_msg *m;
	ssize_t n;

	if (fd < 0 || c == NULL || (c->family != AF_INET && c->family != AF_INET6))
		return PH_UNKNOWN;
	/* No answer can be left from an earlier question: the kernel answers a
	 * single lookup within send(), and each is read right after. */
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;	/* one socket, not a dump */
	req.r.sdiag_family = (uint8_t)c->family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_sport = htons(c->local_port);
	req.r.id.idiag_dport = htons(c->peer_port);
	memcpy(req.r.id.idiag_src, c->local, c->family == AF_INET ? 4 : 16);
	memcpy(req.r.id.idiag_dst, c->peer, c->family == AF_INET ? 4 : 16);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	do
		n = send(fd, &req, sizeof(req), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(req))
		return PH_UNKNOWN;
	/* The kernel answers within send(): never wait for it. */
	do
		n = recv(fd, &ans, sizeof(ans), MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return PH_UNKNOWN;
	/* One message: the socket, or NLMSG_ERROR (ENOENT and the like). */
	if ((size_t)n < NLMSG_LENGTH(sizeof(struct inet_diag_msg)) ||
	    ans.h.nlmsg_type != SOCK_DIAG_BY_FAMILY || ans.h.nlmsg_len > (size_t)n ||
	    ans.h.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		return PH_UNKNOWN;
	m = NLMSG_DATA(&ans.h);
	if (!same_conn(m, c))
		return PH_UNKNOWN;
	return m->idiag_state == TCP_CLOSE_WAIT ? PH_LEFT : PH_OK;
}

enum ph_err
tcpdiag_check(const struct tcpdiag_conn *c)
{
	enum ph_err s;
	int fd;

	if (c == NULL || c->family == 0 || (fd = tcpdiag_open()) == -1)
		return PH_UNKNOWN;
	s = tcpdiag_query(fd, c);
	close(fd);
	return s;
}
