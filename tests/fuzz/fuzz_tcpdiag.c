/*
 * Fuzz tcpdiag_parse, which reads the web server's SERVER_ADDR, SERVER_PORT,
 * REMOTE_ADDR and REMOTE_PORT (REMOTE_ADDR may come from a client's
 * X-Forwarded-For through mod_remoteip): the input is four NUL-separated
 * strings. Whatever they are, the result is either refused with the
 * connection unset, or a connection whose family and ports are valid, and
 * parsing the numeric forms it stands for gives it again.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "fuzz.h"
#include "tcpdiag.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 4), *f[4];
	struct tcpdiag_conn c, again;
	size_t at = 0;

	REQUIRE(copy != NULL);
	memcpy(copy, data, size);
	memset(copy + size, 0, 4);
	for (int i = 0; i < 4; i++) {
		f[i] = copy + at;
		at += strlen(copy + at);
		if (at < size + 3)
			at++;
	}
	if (tcpdiag_parse(&c, f[0], f[1], f[2], f[3]) != PH_OK) {
		REQUIRE(c.family == 0);
	} else {
		char la[INET6_ADDRSTRLEN], pa[INET6_ADDRSTRLEN], lp[8], pp[8];

		REQUIRE(c.family == AF_INET || c.family == AF_INET6);
		REQUIRE(c.local_port > 0 && c.peer_port > 0);
		REQUIRE(inet_ntop(c.family, c.local, la, sizeof(la)) != NULL);
		REQUIRE(inet_ntop(c.family, c.peer, pa, sizeof(pa)) != NULL);
		snprintf(lp, sizeof(lp), "%u", c.local_port);
		snprintf(pp, sizeof(pp), "%u", c.peer_port);
		REQUIRE(tcpdiag_parse(&again, la, lp, pa, pp) == PH_OK);
		REQUIRE(memcmp(&again, &c, sizeof(c)) == 0);
	}
	free(copy);
	return 0;
}
