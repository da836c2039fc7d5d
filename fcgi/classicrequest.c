#include "classicrequest.h"

#include <string.h>

#include "query.h"

static const char json_content_type[] = "application/json; charset=UTF-8";
static const char jsonp_content_type[] = "application/javascript; charset=UTF-8";

enum ph_err
classic_reply(struct classic_request *cr, const char *json, size_t len)
{
	struct buf out = BUF_INIT;
	enum ph_err rc;

	if (cr->callback[0] == '\0')
		return http_respond(cr->h, 200, json_content_type, json, len, HTTP_NO_CACHE);
	if (classic_jsonp(&out, cr->callback, json, len) == -1)
		rc = http_text(cr->h, 500, "Internal Server Error");
	else
		rc = http_respond(cr->h, 200, jsonp_content_type, out.data, out.len, HTTP_NO_CACHE);
	buf_free(&out);
	return rc;
}

enum ph_err
classic_reply_bytes(const struct classic_request *cr, const struct http_held *conn,
    const char *json, size_t len, struct buf *out)
{
	struct buf jsonp = BUF_INIT;
	enum ph_err rc;

	if (cr->callback[0] == '\0')
		return http_response_bytes(conn, 200, json_content_type, json, len, HTTP_NO_CACHE,
		    out);
	if (classic_jsonp(&jsonp, cr->callback, json, len) == -1)
		rc = http_response_bytes(conn, 500, "text/plain", "Internal Server Error", 21,
		    HTTP_NO_CACHE, out);
	else
		rc = http_response_bytes(conn, 200, jsonp_content_type, jsonp.data, jsonp.len,
		    HTTP_NO_CACHE, out);
	buf_free(&jsonp);
	return rc;
}

/* Trap 3: same-origin polls send messageId in the form, cross-origin JSONP
 * in the query. */
int
classic_param(const struct classic_request *cr, const char *key, int form_first, char *out,
    size_t outlen)
{
	const char *q = cr->h->query;
	int found;

	if (form_first && cr->form.len > 0 &&
	    (found = query_get(cr->form.data, cr->form.len, key, out, outlen)) != 0)
		return found;
	if ((found = query_get(q, strlen(q), key, out, outlen)) != 0 || form_first)
		return found;
	return cr->form.len > 0 ? query_get(cr->form.data, cr->form.len, key, out, outlen) : 0;
}
