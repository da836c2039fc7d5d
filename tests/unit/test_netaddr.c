/* Unit tests for common/netaddr.h. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "netaddr.h"
#include "unit.h"

/* The canonical text of s, or "(none)". */
static const char *
canon(const char *s)
{
	static char out[NETADDR_TEXT];
	struct netaddr a;

	if (netaddr_parse(s, strlen(s), &a) == -1)
		return "(none)";
	netaddr_format(&a, out, sizeof(out));
	return out;
}

static void
test_parse(void)
{
	struct netaddr a;

	CHECK_STREQ(canon("192.0.2.1"), "192.0.2.1");
	CHECK_STREQ(canon("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
	CHECK_STREQ(canon("[::1]"), "::1");
	CHECK_STREQ(canon("::ffff:192.0.2.1"), "192.0.2.1");
	CHECK_STREQ(canon("::ffff:c000:201"), "192.0.2.1");
	CHECK_STREQ(canon("::192.0.2.1"), "::192.0.2.1");
	CHECK_STREQ(canon(""), "(none)");
	CHECK_STREQ(canon("[]"), "(none)");
	CHECK_STREQ(canon("[192.0.2.1"), "(none)");
	CHECK_STREQ(canon("192.0.2"), "(none)");
	CHECK_STREQ(canon("192.0.2.256"), "(none)");
	CHECK_STREQ(canon("192.0.2.1:80"), "(none)");
	CHECK_STREQ(canon(" 192.0.2.1"), "(none)");
	CHECK_STREQ(canon("fe80::1%eth0"), "(none)");
	CHECK_STREQ(canon("1111:2222:3333:4444:5555:6666:7777:8888:9999"), "(none)");
	/* The length is explicit. */
	CHECK_INTEQ(netaddr_parse("10.0.0.1junk", 8, &a), 0);
	CHECK_INTEQ(a.family, AF_INET);
	CHECK_INTEQ(netaddr_parse("10.0.0.1", 4, &a), -1);
}

/* nets parsed from list: count, or -1 (err checked to contain needle). */
static long
nets(const char *list, const char *needle, struct netaddr_net **out)
{
	char err[200] = "";
	size_t n;

	if (netaddr_parse_nets(list, out, &n, err, sizeof(err)) == -1) {
		CHECK(*out == NULL);
		CHECK_CONTAINS(err, needle);
		return -1;
	}
	return (long)n;
}

static int
inside(const char *addr, const struct netaddr_net *list, long n)
{
	struct netaddr a;

	if (netaddr_parse(addr, strlen(addr), &a) == -1)
		return -1;
	return netaddr_in_nets(&a, list, (size_t)n);
}

static void
test_nets(void)
{
	struct netaddr_net *l = NULL;
	long n;

	CHECK_INTEQ(nets("", "", &l), 0);
	CHECK(l == NULL);
	CHECK_INTEQ(nets(" ,, \t", "", &l), 0);
	n = nets("10.0.0.0/8, 192.0.2.7 2001:db8::/32,::1 0.0.0.0/0", "", &l);
	CHECK_INTEQ(n, 5);
	CHECK_INTEQ(inside("10.255.0.1", l, n), 1);
	CHECK_INTEQ(inside("11.0.0.1", l, n), 1);	/* 0.0.0.0/0 */
	CHECK_INTEQ(inside("2001:db8:ffff::1", l, n), 1);
	CHECK_INTEQ(inside("2001:db9::1", l, n), 0);
	CHECK_INTEQ(inside("::1", l, n), 1);
	CHECK_INTEQ(inside("::2", l, n), 0);
	free(l);
	n = nets("10.1.0.0/17 ::ffff:172.16.0.0/108", "", &l);
	CHECK_INTEQ(n, 2);
	CHECK_INTEQ(inside("10.1.127.255", l, n), 1);
	CHECK_INTEQ(inside("10.1.128.0", l, n), 0);
	CHECK_INTEQ(inside("::ffff:10.1.0.9", l, n), 1);
	CHECK_INTEQ(inside("172.31.255.255", l, n), 1);
	CHECK_INTEQ(inside("172.32.0.0", l, n), 0);
	free(l);
	CHECK_INTEQ(nets("10.0.0.0/33", "must be 0 to 32", &l), -1);
	CHECK_INTEQ(nets("::/129", "must be 0 to 128", &l), -1);
	CHECK_INTEQ(nets("::ffff:10.0.0.0/95", "must be 96 to 128", &l), -1);
	CHECK_INTEQ(nets("10.0.0.1/8", "host bits set (10.0.0.0/8?)", &l), -1);
	CHECK_INTEQ(nets("2001:db8::1/32", "host bits set (2001:db8::/32?)", &l), -1);
	CHECK_INTEQ(nets("10.0.0.0/-8", "prefix", &l), -1);
	CHECK_INTEQ(nets("10.0.0.0/0008", "prefix", &l), -1);
	CHECK_INTEQ(nets("10.0.0.0/8/8", "prefix", &l), -1);
	CHECK_INTEQ(nets("1.2.3.4, example.org", "'example.org' is not", &l), -1);
}

int
main(void)
{
	test_parse();
	test_nets();
	return unit_done();
}
