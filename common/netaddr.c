#include "netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* ::ffff:a.b.c.d becomes a.b.c.d: dual-stack sockets report IPv4 peers so. */
static void
unmap(struct netaddr *a)
{
	if (a->family == AF_INET6 && memcmp(a->bytes, v4_mapped, 12) == 0) {
		memmove(a->bytes, a->bytes + 12, 4);
		memset(a->bytes + 4, 0, 12);
		a->family = AF_INET;
	}
}

int
netaddr_parse(const char *s, size_t n, struct netaddr *out)
{
	char text[NETADDR_TEXT];

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		s++, n -= 2;
	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, text, out->bytes) == 1)
		out->family = AF_INET6;
	else
		return -1;
	unmap(out);
	return 0;
}

void
netaddr_format(const struct netaddr *a, char *out, size_t outlen)
{
	char text[NETADDR_TEXT];

	if (outlen == 0)
		return;
	if (inet_ntop(a->family, a->bytes, text, sizeof(text)) == NULL)
		text[0] = '\0';
	snprintf(out, outlen, "%s", text);
}

/* 1 if the first prefix bits of a and b are equal. */
static int
prefix_equal(const unsigned char *a, const unsigned char *b, int prefix)
{
	int whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

/* One entry s[0..n): "address" or "address/prefix". 0, or -1 with err. */
static int
net_parse(const char *s, size_t n, struct netaddr_net *net, char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash != NULL ? (size_t)(slash - s) : n;
	struct netaddr masked;
	char text[NETADDR_TEXT];
	int max, whole, shown = 0;

	if (netaddr_parse(s, alen, &net->addr) == -1) {
		snprintf(err, errlen, "'%.*s' is not an IPv4 or IPv6 address or network",
		    (int)(n > 100 ? 100 : n), s);
		return -1;
	}
	max = net->addr.family == AF_INET ? 32 : 128;
	net->prefix = max;
	if (slash != NULL) {
		size_t plen = n - alen - 1;
		int p = 0;

		if (plen == 0 || plen > 3)
			goto bad_prefix;
		for (size_t i = 0; i < plen; i++) {
			if (slash[1 + i] < '0' || slash[1 + i] > '9')
				goto bad_prefix;
			p = p * 10 + (slash[1 + i] - '0');
		}
		/* A v4-mapped network (::ffff:10.0.0.0/104) is the IPv4 one. */
		if (net->addr.family == AF_INET && alen > 0 && memchr(s, ':', alen) != NULL) {
			shown = 96;
			if (p < 96)
				goto bad_prefix;
			p -= 96;
		}
		if (p > max)
			goto bad_prefix;
		net->prefix = p;
	}
	/* Host bits set is most likely a typo of the prefix: refused, not masked. */
	masked = net->addr;
	whole = net->prefix / 8;
	if (net->prefix % 8 != 0)
		masked.bytes[whole++] &= (unsigned char)(0xff << (8 - net->prefix % 8));
	memset(masked.bytes + whole, 0, sizeof(masked.bytes) - (size_t)whole);
	if (memcmp(masked.bytes, net->addr.bytes, sizeof(masked.bytes)) != 0) {
		netaddr_format(&masked, text, sizeof(text));
		snprintf(err, errlen, "'%.*s' has host bits set (%s/%d?)",
		    (int)(n > 100 ? 100 : n), s, text, net->prefix);
		return -1;
	}
	return 0;
bad_prefix:
	snprintf(err, errlen, "'%.*s': the prefix must be %d to %d", (int)(n > 100 ? 100 : n), s,
	    shown, shown + max);
	return -1;
}

static int
is_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n';
}

int
netaddr_parse_nets(const char *s, struct netaddr_net **out, size_t *count, char *err,
    size_t errlen)
{
	struct netaddr_net *nets = NULL;
	size_t n = 0, cap = 0;
	const char *p = s, *end;

	*out = NULL;
	*count = 0;
	for (;;) {
		while (is_separator(*p))
			p++;
		if (*p == '\0')
			break;
		for (end = p; *end != '\0' && !is_separator(*end); end++)
			;
		if (n == cap) {
			struct netaddr_net *grown;

			cap = cap == 0 ? 8 : 2 * cap;
			if ((grown = realloc(nets, cap * sizeof(*nets))) == NULL) {
				snprintf(err, errlen, "out of memory");
				free(nets);
				return -1;
			}
			nets = grown;
		}
		if (net_parse(p, (size_t)(end - p), &nets[n], err, errlen) == -1) {
			free(nets);
			return -1;
		}
		n++;
		p = end;
	}
	*out = nets;
	*count = n;
	return 0;
}

int
netaddr_in_nets(const struct netaddr *a, const struct netaddr_net *nets, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (nets[i].addr.family == a->family &&
		    prefix_equal(a->bytes, nets[i].addr.bytes, nets[i].prefix))
			return 1;
	return 0;
}
