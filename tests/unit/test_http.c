/* Unit tests for fcgi/http.h: what an Origin header means (the pure part). */
#include "http.h"
#include "unit.h"

static char *allowed[] = { "https://cal.example", "http://localhost:3000", NULL };
static char *none[] = { NULL };

#define CHECK_ORIGIN(origin, host, https, list, want) \
	CHECK_INTEQ(http_origin_check((origin), (host), (https), (list)), (want))

static void
test_absent(void)
{
	CHECK_ORIGIN("", "hub.example", 0, allowed, HTTP_ORIGIN_NONE);
	CHECK_ORIGIN("", "", 0, NULL, HTTP_ORIGIN_NONE);
	CHECK_ORIGIN("", "", 1, none, HTTP_ORIGIN_NONE);
}

static void
test_allowed(void)
{
	CHECK_ORIGIN("https://cal.example", "hub.example", 0, allowed, HTTP_ORIGIN_ALLOWED);
	CHECK_ORIGIN("http://localhost:3000", "hub.example", 1, allowed, HTTP_ORIGIN_ALLOWED);
	/* Byte for byte: no prefixes, suffixes, case or port games. */
	CHECK_ORIGIN("https://cal.example.evil.test", "hub.example", 0, allowed,
	    HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("https://cal.exampl", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("https://evil-cal.example", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://cal.example", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("https://cal.example:8443", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("https://cal.example/", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("https://CAL.example", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://localhost:30000", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://localhost", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN(" https://cal.example", "hub.example", 0, allowed, HTTP_ORIGIN_REFUSED);
	/* Nothing is allowed by default. */
	CHECK_ORIGIN("https://cal.example", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("https://cal.example", "hub.example", 0, NULL, HTTP_ORIGIN_REFUSED);
}

static void
test_same_origin(void)
{
	/* The page next to the hub: Origin's host[:port] is the Host header. */
	CHECK_ORIGIN("http://127.0.0.1:8080", "127.0.0.1:8080", 0, none, HTTP_ORIGIN_SAME);
	CHECK_ORIGIN("http://hub.example", "hub.example", 0, none, HTTP_ORIGIN_SAME);
	CHECK_ORIGIN("http://hub.example", "Hub.Example", 0, none, HTTP_ORIGIN_SAME);
	CHECK_ORIGIN("http://[::1]:8080", "[::1]:8080", 0, allowed, HTTP_ORIGIN_SAME);
	/* Default ports, in either. */
	CHECK_ORIGIN("http://hub.example", "hub.example:80", 0, none, HTTP_ORIGIN_SAME);
	CHECK_ORIGIN("https://hub.example", "hub.example:443", 1, none, HTTP_ORIGIN_SAME);
	CHECK_ORIGIN("https://hub.example", "hub.example", 1, none, HTTP_ORIGIN_SAME);
	/* Behind a TLS-terminating proxy we see http, the page says https. */
	CHECK_ORIGIN("https://hub.example", "hub.example", 0, none, HTTP_ORIGIN_SAME);
	/* Over TLS, an http:// page is another origin. */
	CHECK_ORIGIN("http://hub.example", "hub.example", 1, none, HTTP_ORIGIN_REFUSED);
	/* Another port, host or a look-alike. */
	CHECK_ORIGIN("http://127.0.0.1:8081", "127.0.0.1:8080", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://127.0.0.1", "127.0.0.1:8080", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://127.0.0.1:8080", "127.0.0.1", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://hub.example.evil.test", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://evil.test", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://hub.exampl", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://hub.example:443", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("https://hub.example:80", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	/* Not an origin: refused, whatever the Host. */
	CHECK_ORIGIN("null", "null", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("hub.example", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://", "", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://hub.example/", "hub.example/", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://x@hub.example", "x@hub.example", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("http://hub.example", "", 0, none, HTTP_ORIGIN_REFUSED);
	CHECK_ORIGIN("HTTP://hub.example", "hub.example", 0, none, HTTP_ORIGIN_REFUSED);
}

#define CHECK_REQUEST(origin, site, referer, host, want) \
	CHECK_INTEQ(http_request_origin((origin), (site), (referer), (host), 0, allowed), (want))

/* Script, image and navigation requests carry no Origin; the browser still
 * says where they come from (Sec-Fetch-Site) and, usually, from which page. */
static void
test_request_origin(void)
{
	/* An Origin header decides. */
	CHECK_REQUEST("https://cal.example", "cross-site", "https://evil.example/", "hub.example",
	    HTTP_ORIGIN_ALLOWED);
	CHECK_REQUEST("https://evil.example", "same-origin", "", "hub.example", HTTP_ORIGIN_REFUSED);
	/* None, and nothing says another site: not a cross-site request. */
	CHECK_REQUEST("", "", "https://evil.example/page", "hub.example", HTTP_ORIGIN_NONE);
	CHECK_REQUEST("", "same-origin", "http://hub.example/", "hub.example", HTTP_ORIGIN_NONE);
	CHECK_REQUEST("", "none", "", "hub.example", HTTP_ORIGIN_NONE);
	/* From another site: the Referer's origin is judged. */
	CHECK_REQUEST("", "cross-site", "https://evil.example/page?x#y", "hub.example",
	    HTTP_ORIGIN_REFUSED);
	CHECK_REQUEST("", "cross-site", "https://cal.example/week?jsonp=1", "hub.example",
	    HTTP_ORIGIN_ALLOWED);
	CHECK_REQUEST("", "cross-site", "https://cal.example", "hub.example", HTTP_ORIGIN_ALLOWED);
	CHECK_REQUEST("", "same-site", "http://localhost:3000/", "hub.example", HTTP_ORIGIN_ALLOWED);
	CHECK_REQUEST("", "same-site", "http://hub.example/x", "hub.example", HTTP_ORIGIN_SAME);
	CHECK_REQUEST("", "cross-site", "https://cal.example.evil.test/", "hub.example",
	    HTTP_ORIGIN_REFUSED);
	CHECK_REQUEST("", "cross-site", "https://cal.example@evil.test/", "hub.example",
	    HTTP_ORIGIN_REFUSED);
	/* No Referer (referrer policy), or not one we can read: refused. */
	CHECK_REQUEST("", "cross-site", "", "hub.example", HTTP_ORIGIN_REFUSED);
	CHECK_REQUEST("", "cross-site", "about:blank", "hub.example", HTTP_ORIGIN_REFUSED);
	CHECK_REQUEST("", "cross-site", "https:///x", "hub.example", HTTP_ORIGIN_REFUSED);
	CHECK_REQUEST("", "same-site", "null", "hub.example", HTTP_ORIGIN_REFUSED);
}

/* The statuses and texts the handlers answered before http_status_of, kept. */
static void
test_status_of(void)
{
	static const struct { enum ph_err e; int status; const char *text; } t[] = {
		{ PH_OK, 200, "" },
		{ PH_DELIVERED, 200, "" },
		{ PH_CLOSED, 204, "" },
		{ PH_SUPERSEDED, 204, "" },
		{ PH_LEFT, 400, "Bad Request" },
		{ PH_TRANSPORT, 400, "Cannot change transports mid-connection" },
		{ PH_UNAUTHORIZED, 401, "Unauthorized" },
		{ PH_FORBIDDEN, 403, "Forbidden" },
		{ PH_NOT_FOUND, 404, "No Connection with that ID" },
		{ PH_TIMEOUT, 408, "Request Timeout" },
		{ PH_TOO_LARGE, 413, "Payload Too Large" },
		{ PH_DB, 503, "Service Unavailable" },
		{ PH_BUSY, 503, "Service Unavailable" },
		{ PH_NOMEM, 500, "Internal Server Error" },
		{ PH_ERR__MAX, 500, "Internal Server Error" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_INTEQ(http_status_of(t[i].e), t[i].status);
		CHECK_STREQ(http_text_of(t[i].e), t[i].text);
	}
}

int
main(void)
{
	test_status_of();
	test_request_origin();
	test_absent();
	test_allowed();
	test_same_origin();
	return unit_done();
}
