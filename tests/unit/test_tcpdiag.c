/* Unit tests for common/tcpdiag.h: parsing, and the kernel's answer about real
 * loopback connections (open, closed by the peer, unknown). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpdiag.h"
#include "unit.h"

static void
test_parse(void)
{
	struct tcpdiag_conn c;
	static const unsigned char lo4[4] = { 127, 0, 0, 1 };
	static const unsigned char mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 };

	CHECK_INTEQ(tcpdiag_parse(&c, "127.0.0.1", "8080", "127.0.0.1", "51234"), PH_OK);
	CHECK_INTEQ(c.family, AF_INET);
	CHECK(memcmp(c.local, lo4, 4) == 0);
	CHECK_INTEQ(c.local_port, 8080);
	CHECK_INTEQ(c.peer_port, 51234);
	CHECK_INTEQ(tcpdiag_parse(&c, "::1", "443", "2001:db8::5", "65535"), PH_OK);
	CHECK_INTEQ(c.family, AF_INET6);
	CHECK_INTEQ(c.peer[15], 5);
	/* One end in each form (a dual-stack listener): both v4-mapped. */
	CHECK_INTEQ(tcpdiag_parse(&c, "::ffff:10.1.2.3", "80", "10.1.2.3", "1000"), PH_OK);
	CHECK_INTEQ(c.family, AF_INET6);
	CHECK(memcmp(c.peer, mapped, 16) == 0 && memcmp(c.local, mapped, 16) == 0);
	CHECK_INTEQ(tcpdiag_parse(&c, "10.1.2.3", "80", "::ffff:10.1.2.3", "1000"), PH_OK);
	CHECK(memcmp(c.local, mapped, 16) == 0);
	CHECK_INTEQ(tcpdiag_parse(&c, "[::1]", "8080", "::1", "5000"), PH_OK);
	CHECK_INTEQ(c.family, AF_INET6);
	CHECK_INTEQ(c.local[15], 1);

	/* Unusable: not numeric, zone, ports out of range or not decimal, missing. */
	static const char *const bad[][4] = {
		{ "localhost", "80", "127.0.0.1", "1" },
		{ "127.0.0.1", "80", "fe80::1%eth0", "1" },
		{ "127.0.0.1", "0", "127.0.0.1", "1" },
		{ "127.0.0.1", "65536", "127.0.0.1", "1" },
		{ "127.0.0.1", "80", "127.0.0.1", "-1" },
		{ "127.0.0.1", "80", "127.0.0.1", "1 " },
		{ "127.0.0.1", "", "127.0.0.1", "1" },
		{ "127.0.0.1", "80", "127.0.0.1", "99999999999999999999" },
		{ " 127.0.0.1", "80", "127.0.0.1", "1" },
		{ "[127.0.0.1]", "80", "127.0.0.1", "1" },
		{ "[::1", "80", "127.0.0.1", "1" },
		{ "[]", "80", "127.0.0.1", "1" },
		{ "127.0.0.1", "80", "", "1" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.family = 99;
		CHECK_INTEQ(tcpdiag_parse(&c, bad[i][0], bad[i][1], bad[i][2], bad[i][3]), PH_INVALID);
		CHECK_INTEQ(c.family, 0);
	}
	CHECK_INTEQ(tcpdiag_parse(&c, NULL, "80", "127.0.0.1", "1"), PH_INVALID);
	CHECK_INTEQ(tcpdiag_parse(&c, "127.0.0.1", "80", "127.0.0.1", NULL), PH_INVALID);
	CHECK_INTEQ(tcpdiag_check(&c), PH_UNKNOWN);	/* unset */
	CHECK_INTEQ(tcpdiag_query(-1, &c), PH_UNKNOWN);
	CHECK_INTEQ(tcpdiag_format(&c, NULL, 0), PH_INVALID);	/* unset */

	/* Written as text (across a restart in place) and read back. */
	static const char *const good[][4] = {
		{ "127.0.0.1", "8080", "10.0.0.7", "51234" },
		{ "2001:db8::1", "443", "2001:db8::5", "65535" },
		{ "::ffff:10.1.2.3", "80", "10.1.2.3", "1000" },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tcpdiag_conn again;
		char text[TCPDIAG_TEXT], a[TCPDIAG_ADDR_TEXT], b[TCPDIAG_ADDR_TEXT], ap[8], bp[8];

		CHECK_INTEQ(tcpdiag_parse(&c, good[i][0], good[i][1], good[i][2], good[i][3]), PH_OK);
		CHECK_INTEQ(tcpdiag_format(&c, text, sizeof(text)), PH_OK);
		CHECK_INTEQ(sscanf(text, "%45s %7s %45s %7s", a, ap, b, bp), 4);
		CHECK_INTEQ(tcpdiag_parse(&again, a, ap, b, bp), PH_OK);
		CHECK(memcmp(&again, &c, sizeof(c)) == 0);
		CHECK_INTEQ(tcpdiag_format(&c, text, 10), PH_TOO_LARGE);	/* too small */
	}
	CHECK_INTEQ(tcpdiag_parse(&c, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "65535",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "65535"), PH_OK);
	{
		char text[TCPDIAG_TEXT];

		CHECK_INTEQ(tcpdiag_format(&c, text, sizeof(text)), PH_OK);	/* the longest fits */
	}
}

/* The server's end of a loopback connection, as a web server would describe it. */
static void
describe(int server_fd, struct tcpdiag_conn *c)
{
	struct sockaddr_in l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	char la[INET_ADDRSTRLEN], pa[INET_ADDRSTRLEN], lp[8], pp[8];

	CHECK(getsockname(server_fd, (struct sockaddr *)&l, &ll) == 0);
	CHECK(getpeername(server_fd, (struct sockaddr *)&p, &pl) == 0);
	inet_ntop(AF_INET, &l.sin_addr, la, sizeof(la));
	inet_ntop(AF_INET, &p.sin_addr, pa, sizeof(pa));
	snprintf(lp, sizeof(lp), "%u", ntohs(l.sin_port));
	snprintf(pp, sizeof(pp), "%u", ntohs(p.sin_port));
	CHECK_INTEQ(tcpdiag_parse(c, la, lp, pa, pp), PH_OK);
}

static void
test_kernel(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct tcpdiag_conn c, other;
	int ls, cl, sv, cl2, sv2, fd;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(ls, 4) == 0);
	CHECK(getsockname(ls, (struct sockaddr *)&a, &al) == 0);
	cl = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cl, (struct sockaddr *)&a, sizeof(a)) == 0);
	sv = accept(ls, NULL, NULL);
	cl2 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cl2, (struct sockaddr *)&a, sizeof(a)) == 0);
	sv2 = accept(ls, NULL, NULL);
	CHECK(sv >= 0 && sv2 >= 0);
	describe(sv, &c);
	describe(sv2, &other);

	fd = tcpdiag_open();
	CHECK(fd >= 0);
	CHECK_INTEQ(tcpdiag_query(fd, &c), PH_OK);
	CHECK_INTEQ(tcpdiag_check(&c), PH_OK);
	{
		/* An IPv4 socket asked about in the v4-mapped form. */
		struct tcpdiag_conn m;
		char l6[64], p6[64], lp[8], pp[8], l4[16], p4[16];

		inet_ntop(AF_INET, c.local, l4, sizeof(l4));
		inet_ntop(AF_INET, c.peer, p4, sizeof(p4));
		snprintf(l6, sizeof(l6), "::ffff:%s", l4);
		snprintf(p6, sizeof(p6), "::ffff:%s", p4);
		snprintf(lp, sizeof(lp), "%u", c.local_port);
		snprintf(pp, sizeof(pp), "%u", c.peer_port);
		CHECK_INTEQ(tcpdiag_parse(&m, l6, lp, p6, pp), PH_OK);
		CHECK_INTEQ(m.family, AF_INET6);
		CHECK_INTEQ(tcpdiag_query(fd, &m), PH_OK);
	}
	/* The client closes: the server's end is in CLOSE_WAIT; the other is not. */
	close(cl);
	usleep(20000);
	CHECK_INTEQ(tcpdiag_query(fd, &c), PH_LEFT);
	CHECK_INTEQ(tcpdiag_query(fd, &other), PH_OK);
	/* A half-close looks the same (documented). */
	shutdown(cl2, SHUT_WR);
	usleep(20000);
	CHECK_INTEQ(tcpdiag_query(fd, &other), PH_LEFT);
	/* A connection that does not exist here: the lookup falls back to the
	 * listener, which is not it. */
	c.peer_port = c.peer_port == 65535 ? 1 : (uint16_t)(c.peer_port + 1);
	if (c.peer_port == other.peer_port)
		c.peer_port = (uint16_t)(c.peer_port + 1);
	CHECK_INTEQ(tcpdiag_query(fd, &c), PH_UNKNOWN);
	/* Nobody listens there at all. */
	c.local_port = 1;
	CHECK_INTEQ(tcpdiag_query(fd, &c), PH_UNKNOWN);
	/* Many questions on one descriptor stay in step. */
	for (int i = 0; i < 1000; i++)
		if (tcpdiag_query(fd, &other) != PH_LEFT)
			break;
	CHECK_INTEQ(tcpdiag_query(fd, &other), PH_LEFT);
	close(fd);
	close(sv);
	close(sv2);
	close(cl2);
	close(ls);
}

/* A dual-stack listener ([::]) takes an IPv4 client: its socket is AF_INET6
 * with v4-mapped addresses, and web servers report both ends as plain IPv4. */
static void
test_dual_stack(void)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a6);
	struct tcpdiag_conn c;
	char lp[8], pp[8];
	int ls, cl, sv, off = 0;
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);

	ls = socket(AF_INET6, SOCK_STREAM, 0);
	if (ls < 0 || setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0 ||
	    bind(ls, (struct sockaddr *)&a6, sizeof(a6)) != 0 || listen(ls, 4) != 0) {
		printf("no IPv6 here: dual-stack case skipped\n");
		if (ls >= 0)
			close(ls);
		return;
	}
	CHECK(getsockname(ls, (struct sockaddr *)&a6, &al) == 0);
	a4.sin_port = a6.sin6_port;
	cl = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cl, (struct sockaddr *)&a4, sizeof(a4)) == 0);
	sv = accept(ls, NULL, NULL);
	CHECK(sv >= 0 && getsockname(cl, (struct sockaddr *)&me, &ml) == 0);
	snprintf(lp, sizeof(lp), "%u", ntohs(a6.sin6_port));
	snprintf(pp, sizeof(pp), "%u", ntohs(me.sin_port));
	CHECK_INTEQ(tcpdiag_parse(&c, "127.0.0.1", lp, "127.0.0.1", pp), PH_OK);
	CHECK_INTEQ(tcpdiag_check(&c), PH_OK);
	CHECK_INTEQ(tcpdiag_parse(&c, "::ffff:127.0.0.1", lp, "::ffff:127.0.0.1", pp), PH_OK);
	CHECK_INTEQ(tcpdiag_check(&c), PH_OK);
	close(cl);
	usleep(20000);
	CHECK_INTEQ(tcpdiag_check(&c), PH_LEFT);
	CHECK_INTEQ(tcpdiag_parse(&c, "127.0.0.1", lp, "127.0.0.1", pp), PH_OK);
	CHECK_INTEQ(tcpdiag_check(&c), PH_LEFT);
	close(sv);
	close(ls);
}

int
main(void)
{
	test_parse();
	test_kernel();
	test_dual_stack();
	return unit_done();
}
