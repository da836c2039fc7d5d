/* Unit tests for fcgi/router.h: the routing decision (no I/O). */
#include "ids.h"
#include "router.h"
#include "unit.h"

#define TOKEN "abcdefghijklmnopqrstuv"	/* 22 characters: a well-formed token */

static char token[64];

static enum route
route(const char *method, const char *path, const char *query, const char *accept,
    enum http_origin origin)
{
	memset(token, '#', sizeof(token));
	return router_route(method, path, query, strlen(query), accept, origin, token,
	    sizeof(token));
}

static void
test_negotiate(void)
{
	CHECK_INTEQ(route("POST", "/meetings/negotiate", "negotiateVersion=1", "",
	    HTTP_ORIGIN_NONE), ROUTE_NEGOTIATE);
	CHECK_INTEQ(route("POST", "/x/negotiate", "", "", HTTP_ORIGIN_SAME), ROUTE_NEGOTIATE);
	CHECK_INTEQ(route("POST", "/meetings/negotiate", "", "", HTTP_ORIGIN_ALLOWED),
	    ROUTE_NEGOTIATE);
	CHECK_INTEQ(route("GET", "/meetings/negotiate", "id=" TOKEN, "", HTTP_ORIGIN_NONE),
	    ROUTE_NOT_ALLOWED);
	CHECK_INTEQ(route("DELETE", "/meetings/negotiate", "", "", HTTP_ORIGIN_NONE),
	    ROUTE_NOT_ALLOWED);
	/* A cross-site form cannot create connections. */
	CHECK_INTEQ(route("POST", "/meetings/negotiate", "", "", HTTP_ORIGIN_REFUSED),
	    ROUTE_FORBIDDEN);
	/* Only the last segment counts. */
	CHECK_INTEQ(route("POST", "/meetings/negotiatex", "", "", HTTP_ORIGIN_NONE), ROUTE_NO_ID);
	CHECK_INTEQ(route("POST", "/meetings/negotiate/", "", "", HTTP_ORIGIN_NONE), ROUTE_NO_ID);
}

static void
test_connection_endpoint(void)
{
	CHECK_INTEQ(route("GET", "/meetings", "id=" TOKEN, "*/*", HTTP_ORIGIN_NONE), ROUTE_POLL);
	CHECK_STREQ(token, TOKEN);
	CHECK_INTEQ(route("GET", "/meetings", "id=" TOKEN "&_=17", "text/event-stream",
	    HTTP_ORIGIN_NONE), ROUTE_STREAM);
	CHECK_STREQ(token, TOKEN);
	CHECK_INTEQ(route("POST", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_SAME), ROUTE_SEND);
	CHECK_STREQ(token, TOKEN);
	CHECK_INTEQ(route("DELETE", "/meetings", "x=1&id=" TOKEN, "", HTTP_ORIGIN_ALLOWED),
	    ROUTE_DELETE);
	CHECK_STREQ(token, TOKEN);
	/* Percent-encoded tokens are decoded first. */
	CHECK_INTEQ(route("GET", "/meetings", "id=abcdefghijklmnopqrstu%76", "", HTTP_ORIGIN_NONE),
	    ROUTE_POLL);
	CHECK_STREQ(token, TOKEN);
	/* A stream is a GET only. */
	CHECK_INTEQ(route("POST", "/meetings", "id=" TOKEN, "text/event-stream",
	    HTTP_ORIGIN_NONE), ROUTE_SEND);
}

static void
test_refusals(void)
{
	CHECK_INTEQ(route("GET", "/meetings", "", "", HTTP_ORIGIN_NONE), ROUTE_NO_ID);
	CHECK_INTEQ(route("GET", "/meetings", "id=", "", HTTP_ORIGIN_NONE), ROUTE_NO_ID);
	CHECK_INTEQ(route("GET", "/meetings", "id", "", HTTP_ORIGIN_NONE), ROUTE_NO_ID);
	CHECK_INTEQ(route("POST", "/meetings", "idx=" TOKEN, "", HTTP_ORIGIN_NONE), ROUTE_NO_ID);
	/* Truncated, too long, badly encoded or with foreign characters: unknown. */
	CHECK_INTEQ(route("GET", "/meetings", "id=abcdefghijklmnopqrstu", "", HTTP_ORIGIN_NONE),
	    ROUTE_UNKNOWN_ID);
	CHECK_INTEQ(route("GET", "/meetings", "id=" TOKEN "w", "", HTTP_ORIGIN_NONE),
	    ROUTE_UNKNOWN_ID);
	CHECK_INTEQ(route("DELETE", "/meetings", "id=abcdefghijklmnopqrstu%", "",
	    HTTP_ORIGIN_NONE), ROUTE_UNKNOWN_ID);
	CHECK_INTEQ(route("POST", "/meetings", "id=abcdefghijklmnopqrstu%00", "",
	    HTTP_ORIGIN_NONE), ROUTE_UNKNOWN_ID);
	CHECK_INTEQ(route("GET", "/meetings", "id=abcdefghijklmnopqrst%3D%3D", "",
	    HTTP_ORIGIN_NONE), ROUTE_UNKNOWN_ID);
	CHECK_INTEQ(route("GET", "/meetings",
	    "id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "",
	    HTTP_ORIGIN_NONE), ROUTE_UNKNOWN_ID);
	/* Other methods. */
	CHECK_INTEQ(route("PUT", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_NONE),
	    ROUTE_NOT_ALLOWED);
	CHECK_INTEQ(route("HEAD", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_NONE),
	    ROUTE_NOT_ALLOWED);
	CHECK_INTEQ(route("get", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_NONE),
	    ROUTE_NOT_ALLOWED);
	CHECK_INTEQ(route("", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_NONE), ROUTE_NOT_ALLOWED);
}

static void
test_origins(void)
{
	/* Preflights are answered whatever the origin (without CORS headers when refused). */
	CHECK_INTEQ(route("OPTIONS", "/meetings", "", "", HTTP_ORIGIN_REFUSED), ROUTE_PREFLIGHT);
	CHECK_INTEQ(route("OPTIONS", "/meetings/negotiate", "", "", HTTP_ORIGIN_ALLOWED),
	    ROUTE_PREFLIGHT);
	CHECK_INTEQ(route("OPTIONS", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_NONE),
	    ROUTE_PREFLIGHT);
	/* State changes from a refused origin: 403 before anything else is looked at. */
	CHECK_INTEQ(route("POST", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_REFUSED),
	    ROUTE_FORBIDDEN);
	CHECK_INTEQ(route("DELETE", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_REFUSED),
	    ROUTE_FORBIDDEN);
	CHECK_INTEQ(route("POST", "/meetings", "", "", HTTP_ORIGIN_REFUSED), ROUTE_FORBIDDEN);
	CHECK_INTEQ(route("PUT", "/meetings", "", "", HTTP_ORIGIN_REFUSED), ROUTE_FORBIDDEN);
	/* Reads are served; without CORS headers the page cannot see them. */
	CHECK_INTEQ(route("GET", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_REFUSED), ROUTE_POLL);
	CHECK_INTEQ(route("GET", "/meetings", "id=" TOKEN, "text/event-stream",
	    HTTP_ORIGIN_REFUSED), ROUTE_STREAM);
	CHECK_INTEQ(route("HEAD", "/meetings", "", "", HTTP_ORIGIN_REFUSED), ROUTE_NOT_ALLOWED);
}

/* Classic SignalR 2.x (jquery.signalR): its negotiate is a GET with
 * clientProtocol, its other endpoints are paths below the hub. */
static void
test_classic(void)
{
	CHECK_INTEQ(route("GET", "/meetings/negotiate",
	    "clientProtocol=2.1&connectionData=%5B%5D&callback=cb&_=1", "", HTTP_ORIGIN_NONE),
	    ROUTE_CLASSIC);
	CHECK_INTEQ(route("GET", "/meetings/negotiate", "clientProtocol=", "", HTTP_ORIGIN_SAME),
	    ROUTE_CLASSIC);
	/* Core's negotiate stays Core's, whatever else it carries. */
	CHECK_INTEQ(route("POST", "/meetings/negotiate", "clientProtocol=2.1&negotiateVersion=1",
	    "", HTTP_ORIGIN_NONE), ROUTE_NEGOTIATE);
	CHECK_INTEQ(route("GET", "/meetings/negotiate", "negotiateVersion=1", "", HTTP_ORIGIN_NONE),
	    ROUTE_NOT_ALLOWED);
	CHECK_INTEQ(route("POST", "/meetings/connect", "transport=longPolling", "",
	    HTTP_ORIGIN_SAME), ROUTE_CLASSIC);
	CHECK_INTEQ(route("GET", "/meetings/connect", "transport=serverSentEvents", "text/event-stream",
	    HTTP_ORIGIN_NONE), ROUTE_CLASSIC);
	CHECK_INTEQ(route("POST", "/meetings/poll", "", "", HTTP_ORIGIN_NONE), ROUTE_CLASSIC);
	CHECK_INTEQ(route("POST", "/meetings/reconnect", "", "", HTTP_ORIGIN_NONE), ROUTE_CLASSIC);
	CHECK_INTEQ(route("GET", "/meetings/start", "", "", HTTP_ORIGIN_NONE), ROUTE_CLASSIC);
	CHECK_INTEQ(route("GET", "/meetings/send", "data=%7B%7D", "", HTTP_ORIGIN_NONE),
	    ROUTE_CLASSIC);
	CHECK_INTEQ(route("POST", "/meetings/abort", "", "", HTTP_ORIGIN_ALLOWED), ROUTE_CLASSIC);
	CHECK_INTEQ(route("GET", "/meetings/ping", "", "", HTTP_ORIGIN_NONE), ROUTE_CLASSIC);
	/* A cross-site page may not make a classic state change happen either. */
	CHECK_INTEQ(route("POST", "/meetings/send", "", "", HTTP_ORIGIN_REFUSED), ROUTE_FORBIDDEN);
	CHECK_INTEQ(route("POST", "/meetings/abort", "", "", HTTP_ORIGIN_REFUSED), ROUTE_FORBIDDEN);
	/* Nor a classic GET: JSONP negotiates, connects and sends with GETs, and any
	 * page may read a JSONP answer. */
	CHECK_INTEQ(route("GET", "/meetings/negotiate", "clientProtocol=2.1&callback=cb", "",
	    HTTP_ORIGIN_REFUSED), ROUTE_FORBIDDEN);
	CHECK_INTEQ(route("GET", "/meetings/send", "data=%7B%7D&callback=cb", "",
	    HTTP_ORIGIN_REFUSED), ROUTE_FORBIDDEN);
	CHECK_INTEQ(route("GET", "/meetings/connect", "transport=longPolling", "",
	    HTTP_ORIGIN_REFUSED), ROUTE_FORBIDDEN);
	CHECK_INTEQ(route("GET", "/meetings/send", "data=%7B%7D&callback=cb", "",
	    HTTP_ORIGIN_ALLOWED), ROUTE_CLASSIC);
	/* Other methods on those paths are the Core endpoint's business. */
	CHECK_INTEQ(route("DELETE", "/meetings/poll", "id=" TOKEN, "", HTTP_ORIGIN_NONE),
	    ROUTE_DELETE);
	CHECK_INTEQ(route("PUT", "/meetings/send", "", "", HTTP_ORIGIN_NONE), ROUTE_NOT_ALLOWED);
	/* Only the last segment counts. */
	CHECK_INTEQ(route("POST", "/meetings/sendx", "id=" TOKEN, "", HTTP_ORIGIN_NONE),
	    ROUTE_SEND);
	CHECK_INTEQ(route("GET", "/meetings", "id=" TOKEN, "", HTTP_ORIGIN_NONE), ROUTE_POLL);
}

int
main(void)
{
	test_negotiate();
	test_connection_endpoint();
	test_refusals();
	test_origins();
	test_classic();
	return unit_done();
}
