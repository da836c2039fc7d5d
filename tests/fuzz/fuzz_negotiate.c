/*
 * Fuzz the negotiate decision: a query string (after one byte that picks the
 * configured group parameter and the client address) through
 * negotiate_decide, then the body it leads to. Asserts that the decision is
 * consistent with its parts (version, group), that an accepted group is a
 * valid name taken from where it should be, and that every body the client
 * would get parses as strict JSON with the expected members and values.
 */
#include <string.h>

#include "fuzz.h"
#include "hubproto.h"
#include "ids.h"
#include "negotiate.h"
#include "query.h"
#include "utf8.h"

static const char *const params[] = { NULL, "", "group", "g", "negotiateVersion", "id" };
static const char *const remotes[] = { "192.0.2.1", "", "::1", "2001:db8::1" };
static const char *const refusals[] = {
	"The client requested a non-integer protocol version.",
	"The client requested a negative protocol version.",
	"The group name must be 1 to 256 printable characters.",
};

static json_object *
member(json_object *o, const char *key, enum json_type type)
{
	json_object *v = NULL;

	REQUIRE(json_object_object_get_ex(o, key, &v));
	REQUIRE(json_object_is_type(v, type));
	return v;
}

/* The {"error": why} body parses back to exactly why. */
static void
check_refusal_body(const char *why)
{
	struct buf b = BUF_INIT;
	json_object *o;

	REQUIRE(negotiate_refusal_body(&b, why) == 0);
	REQUIRE(b.data != NULL && strlen(b.data) == b.len);
	o = hubproto_json_parse(b.data, b.len);
	REQUIRE(o != NULL && json_object_is_type(o, json_type_object));
	REQUIRE(json_object_object_length(o) == 1);
	REQUIRE(strcmp(json_object_get_string(member(o, "error", json_type_string)), why) == 0);
	json_object_put(o);
	buf_free(&b);
}

static void
check_transport(json_object *t, const char *name, size_t formats)
{
	json_object *f;

	REQUIRE(json_object_is_type(t, json_type_object));
	REQUIRE(strcmp(json_object_get_string(member(t, "transport", json_type_string)),
	    name) == 0);
	f = member(t, "transferFormats", json_type_array);
	REQUIRE(json_object_array_length(f) == formats);
}

static void
check_body(int version, const char *id, const char *token)
{
	struct buf b = BUF_INIT;
	json_object *o, *ts, *tok = NULL;

	REQUIRE(negotiate_body(&b, version, id, token) == 0);
	REQUIRE(b.data != NULL && strlen(b.data) == b.len);
	o = hubproto_json_parse(b.data, b.len);
	REQUIRE(o != NULL && json_object_is_type(o, json_type_object));
	REQUIRE(json_object_get_int(member(o, "negotiateVersion", json_type_int)) == version);
	REQUIRE(strcmp(json_object_get_string(member(o, "connectionId", json_type_string)),
	    id) == 0);
	/* The secret goes to version 1 clients only, and only as itself. */
	if (version == 1)
		REQUIRE(strcmp(json_object_get_string(member(o, "connectionToken",
		    json_type_string)), token) == 0);
	else
		REQUIRE(!json_object_object_get_ex(o, "connectionToken", &tok));
	ts = member(o, "availableTransports", json_type_array);
	REQUIRE(json_object_array_length(ts) == 2);
	check_transport(json_object_array_get_idx(ts, 0), "ServerSentEvents", 1);
	check_transport(json_object_array_get_idx(ts, 1), "LongPolling", 2);
	REQUIRE(json_object_object_length(o) == (version == 1 ? 4 : 3));
	json_object_put(o);
	buf_free(&b);
}

static void
check_accepted_group(const char *qs, size_t len, const char *param, const char *remote,
    const char *group)
{
	char value[SQL_GROUP_SIZE];
	size_t n = strlen(group), count = utf8_count(group, n), k;
	int found = param != NULL && *param != '\0' ?
	    query_get(qs, len, param, value, sizeof(value)) : 0;
	unsigned cp;

	/* 1..256 characters (as PostgreSQL counts them), none a control. */
	REQUIRE(n >= 1 && n < SQL_GROUP_SIZE);
	REQUIRE(utf8_valid(group, n));
	REQUIRE(count >= 1 && count <= SQL_GROUP_MAX);
	for (size_t i = 0; i < n; i += k) {
		REQUIRE((k = utf8_decode((const unsigned char *)group + i, n - i, &cp)) > 0);
		REQUIRE(!utf8_is_control(cp));
	}
	/* The named parameter when it is there and not empty, else the address. */
	REQUIRE(found >= 0);
	if (found == 1 && value[0] != '\0')
		REQUIRE(strcmp(group, value) == 0);
	else
		REQUIRE(strcmp(group, remote) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char id[ID_LEN + 1], token[ID_LEN + 1];
	struct negotiate_plan plan, again;
	const char *param, *remote;
	char *qs, *raw;
	size_t len;
	int v;

	if (size == 0)
		return 0;
	if (id[0] == '\0')
		REQUIRE(id_generate(id) == 0 && id_generate(token) == 0);
	param = params[(data[0] & 0x0f) % (sizeof(params) / sizeof(params[0]))];
	remote = remotes[(data[0] >> 4) % (sizeof(remotes) / sizeof(remotes[0]))];
	/* Cut at the first NUL, as FastCGI hands the query over. */
	len = strnlen((const char *)data + 1, size - 1);
	REQUIRE((qs = malloc(len + 1)) != NULL);
	memcpy(qs, data + 1, len);
	qs[len] = '\0';
	/* The decisions read query[0..len) only: an exact-size copy lets ASan tell. */
	REQUIRE((raw = malloc(len > 0 ? len : 1)) != NULL);
	memcpy(raw, qs, len);

	{
		/* The hub's path of a negotiate at qs taken as a path: "/" and one
		 * segment without a slash, or nothing. */
		char hub[NEGOTIATE_HUB_PATH];

		if (negotiate_hub_path(qs, hub, sizeof(hub)) == 0)
			REQUIRE(hub[0] == '/' && hub[1] != '\0' && strchr(hub + 1, '/') == NULL &&
			    strlen(hub) < sizeof(hub));
	}
	memset(&plan, 0x5a, sizeof(plan));
	negotiate_decide(raw, len, param, remote, &plan);
	negotiate_decide(raw, len, param, remote, &again);
	REQUIRE((plan.refusal == NULL) == (again.refusal == NULL));
	v = negotiate_version(raw, len);
	if (plan.refusal != NULL) {
		size_t k;
		for (k = 0; k < sizeof(refusals) / sizeof(refusals[0]); k++)
			if (strcmp(plan.refusal, refusals[k]) == 0)
				break;
		REQUIRE(k < sizeof(refusals) / sizeof(refusals[0]));
		REQUIRE(plan.refusal == again.refusal);
		/* A version problem is named before a group problem. */
		REQUIRE((v < 0) == (k < 2));
		REQUIRE(v != -1 || k == 0);
		check_refusal_body(plan.refusal);
	} else {
		REQUIRE(v == 0 || v == 1);
		REQUIRE(plan.version == v && again.version == v);
		REQUIRE(strcmp(plan.group, again.group) == 0);
		check_accepted_group(raw, len, param, remote, plan.group);
		check_body(plan.version, id, plan.version == 1 ? token : id);
	}
	/* Any text a refusal could ever carry survives the JSON encoding. */
	if (len > 0 && utf8_valid(qs, len))
		check_refusal_body(qs);
	free(raw);
	free(qs);
	return 0;
}
