#include "kendoquery.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "meeting.h"
#include "utf8.h"

/* Filter nodes (leaves and groups) in all: leaves without a value (isnull)
 * and empty groups bind nothing, yet each one lengthens the SQL. */
#define KQ_MAX_NODES	(4 * KQ_MAX_PARAMS)
/* Bytes of a client's string quoted in a message (escaped, then cut). */
#define QUOTE_MAX	60
#define QUOTE_SIZE	(QUOTE_MAX + UTF8_ESCAPE_MARK)

#define T(t)		(1u << (t))
#define ALL_TYPES	(T(KQ_TEXT) | T(KQ_INT) | T(KQ_NUMBER) | T(KQ_BOOL) | T(KQ_TIME) | T(KQ_UUID))
#define ORDERED		(ALL_TYPES & ~T(KQ_BOOL))

enum op {
	OP_EQ, OP_NEQ, OP_LT, OP_LTE, OP_GT, OP_GTE, OP_CONTAINS, OP_DOESNOTCONTAIN,
	OP_STARTSWITH, OP_ENDSWITH, OP_ISNULL, OP_ISNOTNULL, OP_ISEMPTY, OP_ISNOTEMPTY
};

enum needs { VALUE_NONE, VALUE_REQUIRED, VALUE_OR_NULL };

static const struct {
	const char	*name;
	unsigned	 types;
	enum needs	 needs;
	const char	*cmp;		/* lt..gte: the SQL operator */
} ops[] = {
	[OP_EQ] =		{ "eq", ALL_TYPES, VALUE_OR_NULL, NULL },
	[OP_NEQ] =		{ "neq", ALL_TYPES, VALUE_OR_NULL, NULL },
	[OP_LT] =		{ "lt", ORDERED, VALUE_REQUIRED, "<" },
	[OP_LTE] =		{ "lte", ORDERED, VALUE_REQUIRED, "<=" },
	[OP_GT] =		{ "gt", ORDERED, VALUE_REQUIRED, ">" },
	[OP_GTE] =		{ "gte", ORDERED, VALUE_REQUIRED, ">=" },
	[OP_CONTAINS] =		{ "contains", T(KQ_TEXT), VALUE_REQUIRED, NULL },
	[OP_DOESNOTCONTAIN] =	{ "doesnotcontain", T(KQ_TEXT), VALUE_REQUIRED, NULL },
	[OP_STARTSWITH] =	{ "startswith", T(KQ_TEXT), VALUE_REQUIRED, NULL },
	[OP_ENDSWITH] =		{ "endswith", T(KQ_TEXT), VALUE_REQUIRED, NULL },
	[OP_ISNULL] =		{ "isnull", ALL_TYPES, VALUE_NONE, NULL },
	[OP_ISNOTNULL] =	{ "isnotnull", ALL_TYPES, VALUE_NONE, NULL },
	[OP_ISEMPTY] =		{ "isempty", T(KQ_TEXT), VALUE_NONE, NULL },
	[OP_ISNOTEMPTY] =	{ "isnotempty", T(KQ_TEXT), VALUE_NONE, NULL },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static const struct {
	const char	*name;		/* in messages: "(integer)" */
	const char	*needs;		/* "'RoomID' needs an integer" */
	const char	*cast;
} types[] = {
	[KQ_TEXT] =	{ "text", "a string", "text" },
	[KQ_INT] =	{ "integer", "an integer", "integer" },
	[KQ_NUMBER] =	{ "number", "a number", "numeric" },
	[KQ_BOOL] =	{ "boolean", "true or false", "boolean" },
	[KQ_TIME] =	{ "time", "an ISO 8601 date and time with a zone", "timestamptz" },
	[KQ_UUID] =	{ "uuid", "a UUID", "uuid" },
	[KQ_OPAQUE] =	{ "opaque", "nothing", "text" },
};

struct kq_ctx {
	const struct kq_schema	*schema;
	struct kq_sql		*out;
	char			*why;
	size_t			 whylen;
	int			 nodes;
	int			 nomem;		/* an append failed: PH_NOMEM at the end */
};

/* A client's string made safe to quote: escaped, at most QUOTE_MAX bytes. */
static const char *
quote(char out[QUOTE_SIZE], const char *s, size_t n)
{
	utf8_escape(out, QUOTE_MAX, s, n);
	return out;
}

/* A message cut by a small why must not end inside a character. */
static void
cut_partial_char(char *s)
{
	size_t len = strlen(s), lead = len;

	while (lead > 0 && len - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead > 0 && (unsigned char)s[lead - 1] >= 0xC0) {
		lead--;
		if (utf8_char_len((const unsigned char *)s + lead, len - lead) == 0)
			s[lead] = '\0';
	}
}

static enum ph_err
refuse(struct kq_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->why == NULL || c->whylen == 0)
		return PH_INVALID;
	n = snprintf(c->why, c->whylen, "Invalid read query: ");
	if (n < 0 || (size_t)n >= c->whylen)
		return PH_INVALID;
	va_start(ap, fmt);
	vsnprintf(c->why + n, c->whylen - (size_t)n, fmt, ap);
	va_end(ap);
	cut_partial_char(c->why);
	return PH_INVALID;
}

/* A value as a message shows it: a string quoted, a scalar as JSON, else its kind. */
static const char *
show_value(char out[QUOTE_SIZE + 2], json_object *v)
{
	char q[QUOTE_SIZE];
	const char *s;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		snprintf(out, QUOTE_SIZE + 2, "\"%s\"",
		    quote(q, json_object_get_string(v), (size_t)json_object_get_string_len(v)));
		return out;
	default:
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		return quote(out, s, strlen(s));
	}
}

static void
put(struct kq_ctx *c, struct buf *b, const char *s)
{
	if (buf_puts(b, s) == -1)
		c->nomem = 1;
}

static void
put_param(struct kq_ctx *c, struct buf *b, int n, enum kq_type t, int lower)
{
	char p[64];

	snprintf(p, sizeof(p), lower ? "lower($%d::%s)" : "$%d::%s", n, types[t].cast);
	put(c, b, p);
}

static void
put_column(struct kq_ctx *c, struct buf *b, const char *col, int lower)
{
	if (lower)
		put(c, b, "lower(");
	put(c, b, col);
	if (lower)
		put(c, b, ")");
}

/* The filterable/sortable names, for "unknown field" messages. */
static void
field_list(const struct kq_schema *s, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->nfields; i++) {
		const char *name = s->fields[i].name;
		size_t n = strlen(name);
		if (s->fields[i].type == KQ_OPAQUE)
			continue;
		if (len + n + 2 + 5 >= size) {
			snprintf(out + len, size - len, "%s...", len ? ", " : "");
			return;
		}
		len += (size_t)snprintf(out + len, size - len, "%s%s", len ? ", " : "", name);
	}
}

/* Look a client's field name up in the whitelist (case-insensitively). */
static enum ph_err
lookup_field(struct kq_ctx *c, json_object *v, const char *where, const struct kq_field **f)
{
	char q[QUOTE_SIZE], list[160];
	const char *s;
	size_t n;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return refuse(c, "a %s entry needs 'field' (a string).", where);
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	for (size_t i = 0; i < c->schema->nfields; i++) {
		const char *name = c->schema->fields[i].name;
		/* Equal lengths: a NUL inside s cannot match (names hold none). */
		if (strlen(name) == n && strncasecmp(name, s, n) == 0) {
			*f = &c->schema->fields[i];
			if ((*f)->type == KQ_OPAQUE)
				return refuse(c, "field '%s' cannot be filtered or sorted.", name);
			return PH_OK;
		}
	}
	field_list(c->schema, list, sizeof(list));
	return refuse(c, "unknown field '%s' in %s (fields: %s).", quote(q, s, n), where, list);
}

/*
 * The keys of obj matched case-insensitively against names[0..n): vals[i] is
 * the value of names[i] (NULL: absent or null), has[i] whether it was given.
 * Any other key, or one given twice, is refused by name.
 */
static enum ph_err
match_keys(struct kq_ctx *c, json_object *obj, const char *const *names, size_t n,
    json_object **vals, int *has, const char *unknown_tail)
{
	char q[QUOTE_SIZE];

	for (size_t i = 0; i < n; i++) {
		vals[i] = NULL;
		has[i] = 0;
	}
	json_object_object_foreach(obj, key, val) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcasecmp(key, names[i]) == 0)
				break;
		if (i == n)
			return refuse(c, "unknown key '%s' %s.", quote(q, key, strlen(key)),
			    unknown_tail);
		if (has[i])
			return refuse(c, "key '%s' is given twice.", quote(q, key, strlen(key)));
		has[i] = 1;
		vals[i] = val;
	}
	return PH_OK;
}

static int
is_null(json_object *v)
{
	return v == NULL || json_object_is_type(v, json_type_null);
}

static char *
dup_text(struct kq_ctx *c, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		c->nomem = 1;
	return d;
}

/* An integer in a string: -?[0-9]+ only (no spaces, no '+'), int4 range. */
static int
int_text(const char *s, size_t n, long long *x)
{
	size_t i = s[0] == '-';
	char *end;

	if (n == i || n > 12)
		return -1;
	for (size_t k = i; k < n; k++)
		if (s[k] < '0' || s[k] > '9')
			return -1;
	*x = strtoll(s, &end, 10);
	return end == s + n ? 0 : -1;
}

/* A number in a string, as JSON writes one (leading zeros allowed); the
 * exponent has at most 3 digits so that numeric never overflows. */
static int
number_text(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d)
		return -1;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return -1;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d || i - d > 3)
			return -1;
	}
	return i == n ? 0 : -1;
}

/*
 * The parameter text of a value for field f: the canonical form the type's
 * parser gives (a date in UTC, a UUID in lower case), or a text verbatim.
 * Returns PH_OK with *param owned (NULL only when out of memory), or PH_INVALID.
 */
static enum ph_err
value_text(struct kq_ctx *c, const struct kq_field *f, json_object *v, char **param)
{
	char shown[QUOTE_SIZE + 2], canon[40];
	const char *s = NULL;
	size_t n = 0;
	long long x;

	*param = NULL;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		/* Bounded before counting: a character is at most 4 bytes. */
		if (n > 4 * (size_t)KQ_MAX_VALUE ||
		    (utf8_valid(s, n) && utf8_count(s, n) > KQ_MAX_VALUE))
			return refuse(c, "the value for '%s' is longer than %d characters.",
			    f->name, KQ_MAX_VALUE);
		if (!utf8_valid(s, n))
			return refuse(c, "the value for '%s' is not valid UTF-8 or holds a NUL.",
			    f->name);
	}
	switch (f->type) {
	case KQ_TEXT:
		if (s == NULL)
			break;
		*param = dup_text(c, s);
		return PH_OK;
	case KQ_INT:
		if (json_object_is_type(v, json_type_int)) {
			x = json_object_get_int64(v);
		} else if (s == NULL || int_text(s, n, &x) == -1) {
			break;
		}
		if (x < INT32_MIN || x > INT32_MAX)
			break;
		snprintf(canon, sizeof(canon), "%lld", x);
		*param = dup_text(c, canon);
		return PH_OK;
	case KQ_NUMBER:
		if (json_object_is_type(v, json_type_int)) {
			*param = dup_text(c, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
			return PH_OK;
		}
		if (json_object_is_type(v, json_type_double)) {
			double d = json_object_get_double(v);
			if (!isfinite(d))
				break;
			snprintf(canon, sizeof(canon), "%.17g", d);
			*param = dup_text(c, canon);
			return PH_OK;
		}
		if (s == NULL || number_text(s, n) == -1)
			break;
		*param = dup_text(c, s);
		return PH_OK;
	case KQ_BOOL:
		if (json_object_is_type(v, json_type_boolean))
			x = json_object_get_boolean(v);
		else if (s != NULL && strcasecmp(s, "true") == 0 && n == 4)
			x = 1;
		else if (s != NULL && strcasecmp(s, "false") == 0 && n == 5)
			x = 0;
		else
			break;
		*param = dup_text(c, x ? "true" : "false");
		return PH_OK;
	case KQ_TIME:
		if (s == NULL || meeting_parse_datetime(s, n, canon, &x) == -1)
			break;
		*param = dup_text(c, canon);
		return PH_OK;
	case KQ_UUID:
		if (s == NULL || meeting_parse_uuid(s, n, canon) == -1)
			break;
		canon[36] = '\0';
		*param = dup_text(c, canon);
		return PH_OK;
	case KQ_OPAQUE:
		break;
	}
	return refuse(c, "'%s' needs %s, not %s.", f->name, types[f->type].needs,
	    show_value(shown, v));
}

/* Bind param (owned; freed on failure) as the next $n; returns n, or 0. */
static int
add_param(struct kq_ctx *c, char *param)
{
	struct kq_sql *o = c->out;

	if (param == NULL) {
		c->nomem = 1;
		return 0;
	}
	if (o->nparams >= KQ_MAX_PARAMS) {
		free(param);
		refuse(c, "more than %d values.", KQ_MAX_PARAMS);
		return 0;
	}
	o->params[o->nparams] = param;
	return o->first_param + o->nparams++;
}

static enum ph_err
match_op(struct kq_ctx *c, json_object *v, enum op *op)
{
	char q[QUOTE_SIZE];
	const char *s;
	size_t n;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return refuse(c, "a filter needs 'operator' (a string).");
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	for (size_t i = 0; i < NOPS; i++)
		if (strlen(ops[i].name) == n && strncasecmp(ops[i].name, s, n) == 0) {
			*op = (enum op)i;
			return PH_OK;
		}
	return refuse(c, "operator '%s' is not supported (eq, neq, lt, lte, gt, gte, contains, "
	    "doesnotcontain, startswith, endswith, isnull, isnotnull, isempty, isnotempty).",
	    quote(q, s, n));
}

/* The SQL of one comparison: col, op, and (unless it needs none) $n. */
static void
emit_leaf(struct kq_ctx *c, const struct kq_field *f, enum op op, int n, int lower)
{
	struct buf *b = &c->out->where;
	const char *col = f->column;

	put(c, b, "(");
	switch (op) {
	case OP_EQ:
	case OP_NEQ:
		put_column(c, b, col, n && lower);
		if (n == 0) {
			put(c, b, op == OP_EQ ? " IS NULL" : " IS NOT NULL");
			break;
		}
		put(c, b, op == OP_EQ ? " = " : " IS DISTINCT FROM ");
		put_param(c, b, n, f->type, lower);
		break;
	case OP_LT:
	case OP_LTE:
	case OP_GT:
	case OP_GTE:
		put_column(c, b, col, lower);
		put(c, b, " ");
		put(c, b, ops[op].cmp);
		put(c, b, " ");
		put_param(c, b, n, f->type, lower);
		break;
	case OP_DOESNOTCONTAIN:
		put(c, b, col);
		put(c, b, " IS NULL OR ");
		/* FALLTHROUGH */
	case OP_CONTAINS:
		put(c, b, "strpos(");
		put_column(c, b, col, lower);
		put(c, b, ", ");
		put_param(c, b, n, f->type, lower);
		put(c, b, op == OP_CONTAINS ? ") > 0" : ") = 0");
		break;
	case OP_STARTSWITH:
		put(c, b, "starts_with(");
		put_column(c, b, col, lower);
		put(c, b, ", ");
		put_param(c, b, n, f->type, lower);
		put(c, b, ")");
		break;
	case OP_ENDSWITH:
		/* length() of the lowered value: lower() may change the count. */
		put(c, b, "right(");
		put_column(c, b, col, lower);
		put(c, b, ", length(");
		put_param(c, b, n, f->type, lower);
		put(c, b, ")) = ");
		put_param(c, b, n, f->type, lower);
		break;
	case OP_ISNULL:
	case OP_ISNOTNULL:
		put(c, b, col);
		put(c, b, op == OP_ISNULL ? " IS NULL" : " IS NOT NULL");
		break;
	case OP_ISEMPTY:
	case OP_ISNOTEMPTY:
		put(c, b, col);
		put(c, b, op == OP_ISEMPTY ? " = ''" : " <> ''");
		break;
	}
	put(c, b, ")");
}

enum { L_FIELD, L_OPERATOR, L_VALUE, L_IGNORECASE, L__N };
static const char *const leaf_keys[] = { "field", "operator", "value", "ignoreCase" };

static enum ph_err
filter_leaf(struct kq_ctx *c, json_object *obj)
{
	json_object *v[L__N];
	int has[L__N], n = 0, lower = 1;
	const struct kq_field *f = NULL;
	enum op op = OP_EQ;
	enum ph_err e;
	char *param;

	if ((e = match_keys(c, obj, leaf_keys, L__N, v, has,
	    "in a filter (a filter takes field, operator, value, ignoreCase)")) != PH_OK ||
	    (e = lookup_field(c, v[L_FIELD], "filter", &f)) != PH_OK ||
	    (e = match_op(c, v[L_OPERATOR], &op)) != PH_OK)
		return e;
	if (!(ops[op].types & T(f->type)))
		return refuse(c, "operator '%s' does not apply to field '%s' (%s).",
		    ops[op].name, f->name, types[f->type].name);
	if (!is_null(v[L_IGNORECASE])) {
		if (!json_object_is_type(v[L_IGNORECASE], json_type_boolean))
			return refuse(c, "'ignoreCase' must be true or false.");
		lower = json_object_get_boolean(v[L_IGNORECASE]);
	}
	lower = lower && f->type == KQ_TEXT;
	/* Kendo drops an undefined value from the JSON: absent is null. */
	if (ops[op].needs != VALUE_NONE && !is_null(v[L_VALUE])) {
		if ((e = value_text(c, f, v[L_VALUE], &param)) != PH_OK)
			return e;
		if ((n = add_param(c, param)) == 0)
			return c->nomem ? PH_NOMEM : PH_INVALID;
	} else if (ops[op].needs == VALUE_REQUIRED) {
		return refuse(c, "operator '%s' on '%s' needs a value, not null.",
		    ops[op].name, f->name);
	}
	emit_leaf(c, f, op, n, lower);
	return PH_OK;
}

enum { G_LOGIC, G_FILTERS, G__N };
static const char *const group_keys[] = { "logic", "filters" };

static enum ph_err filter_node(struct kq_ctx *, json_object *, int);

static enum ph_err
filter_group(struct kq_ctx *c, json_object *obj, int depth)
{
	json_object *v[G__N];
	int has[G__N];
	const char *logic = " AND ";
	char q[QUOTE_SIZE];
	enum ph_err e;
	size_t n;

	if (depth > KQ_MAX_DEPTH)
		return refuse(c, "the filter nests deeper than %d.", KQ_MAX_DEPTH);
	if ((e = match_keys(c, obj, group_keys, G__N, v, has,
	    "in a filter group (a group takes logic, filters)")) != PH_OK)
		return e;
	if (!is_null(v[G_LOGIC])) {
		const char *s = json_object_get_string(v[G_LOGIC]);
		size_t len = (size_t)json_object_get_string_len(v[G_LOGIC]);
		if (!json_object_is_type(v[G_LOGIC], json_type_string))
			return refuse(c, "'logic' must be \"and\" or \"or\".");
		if (len == 2 && strncasecmp(s, "or", 2) == 0)
			logic = " OR ";
		else if (len != 3 || strncasecmp(s, "and", 3) != 0)
			return refuse(c, "logic '%s' is not supported (and, or).", quote(q, s, len));
	}
	if (is_null(v[G_FILTERS]) || !json_object_is_type(v[G_FILTERS], json_type_array))
		return refuse(c, "a filter group needs 'filters' (an array).");
	n = json_object_array_length(v[G_FILTERS]);
	if (n == 0) {
		put(c, &c->out->where, "true");
		return PH_OK;
	}
	put(c, &c->out->where, "(");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put(c, &c->out->where, logic);
		if ((e = filter_node(c, json_object_array_get_idx(v[G_FILTERS], i), depth)) != PH_OK)
			return e;
	}
	put(c, &c->out->where, ")");
	return PH_OK;
}

/* A group (it has 'logic' or 'filters') or a leaf; depth counts the groups above. */
static enum ph_err
filter_node(struct kq_ctx *c, json_object *obj, int depth)
{
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return refuse(c, "a filter must be an object ({field, operator, value} or "
		    "{logic, filters}).");
	if (++c->nodes > KQ_MAX_NODES)
		return refuse(c, "the filter has more than %d conditions.", KQ_MAX_NODES);
	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (strcasecmp(key, "logic") == 0 || strcasecmp(key, "filters") == 0)
			return filter_group(c, obj, depth + 1);
	}
	return filter_leaf(c, obj);
}

static enum ph_err
filter(struct kq_ctx *c, json_object *v)
{
	if (is_null(v) || (json_object_is_type(v, json_type_object) &&
	    json_object_object_length(v) == 0)) {
		put(c, &c->out->where, "true");
		return PH_OK;
	}
	return filter_node(c, v, 0);
}

enum { S_FIELD, S_DIR, S__N };
static const char *const sort_keys[] = { "field", "dir" };

static enum ph_err
sort_entry(struct kq_ctx *c, json_object *obj)
{
	json_object *v[S__N];
	int has[S__N];
	const struct kq_field *f = NULL;
	const char *dir = " ASC";
	char q[QUOTE_SIZE];
	enum ph_err e;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return refuse(c, "a sort entry must be an object ({field, dir}).");
	if ((e = match_keys(c, obj, sort_keys, S__N, v, has,
	    "in a sort entry (a sort entry takes field, dir)")) != PH_OK ||
	    (e = lookup_field(c, v[S_FIELD], "sort", &f)) != PH_OK)
		return e;
	if (!is_null(v[S_DIR])) {
		const char *s = json_object_get_string(v[S_DIR]);
		size_t n = (size_t)json_object_get_string_len(v[S_DIR]);
		if (!json_object_is_type(v[S_DIR], json_type_string))
			return refuse(c, "'dir' must be \"asc\" or \"desc\".");
		if (n == 4 && strncasecmp(s, "desc", 4) == 0)
			dir = " DESC";
		else if (n != 3 || strncasecmp(s, "asc", 3) != 0)
			return refuse(c, "dir '%s' is not supported (asc, desc).", quote(q, s, n));
	}
	if (c->out->order.len > 0)
		put(c, &c->out->order, ", ");
	put(c, &c->out->order, f->column);
	put(c, &c->out->order, dir);
	return PH_OK;
}

static enum ph_err
sort(struct kq_ctx *c, json_object *v)
{
	const struct kq_schema *s = c->schema;
	struct buf *order = &c->out->order;
	enum ph_err e;
	size_t n;

	if (!is_null(v) && json_object_is_type(v, json_type_object)) {
		if ((e = sort_entry(c, v)) != PH_OK)
			return e;
	} else if (!is_null(v)) {
		if (!json_object_is_type(v, json_type_array))
			return refuse(c, "'sort' must be an array of {field, dir}.");
		if ((n = json_object_array_length(v)) > KQ_MAX_SORT)
			return refuse(c, "more than %d sort entries.", KQ_MAX_SORT);
		for (size_t i = 0; i < n; i++)
			if ((e = sort_entry(c, json_object_array_get_idx(v, i))) != PH_OK)
				return e;
	}
	if (order->len == 0) {
		put(c, order, s->default_order != NULL ? s->default_order :
		    s->tiebreak != NULL ? s->tiebreak : "true");
	} else if (s->tiebreak != NULL) {
		put(c, order, ", ");
		put(c, order, s->tiebreak);
	}
	return PH_OK;
}

/* Start or End: a date with a zone, bound (canonical) as the next $n. */
static enum ph_err
range_bound(struct kq_ctx *c, const char *key, json_object *v, long long *usec, int *n)
{
	char canon[28], shown[QUOTE_SIZE + 2];

	if (!json_object_is_type(v, json_type_string) ||
	    meeting_parse_datetime(json_object_get_string(v),
		(size_t)json_object_get_string_len(v), canon, usec) == -1)
		return refuse(c, "'%s' needs an ISO 8601 date and time with a zone, not %s.",
		    key, show_value(shown, v));
	if ((*n = add_param(c, dup_text(c, canon))) == 0)
		return c->nomem ? PH_NOMEM : PH_INVALID;
	return PH_OK;
}

static enum ph_err
range(struct kq_ctx *c, json_object *start, json_object *end)
{
	long long s_us = 0, e_us = 0;
	enum ph_err e;

	if (is_null(start) && is_null(end))
		return PH_OK;
	if (!c->schema->range)
		return refuse(c, "Start/End need a range-reading hub; this one reads no range.");
	if (!is_null(start) && (e = range_bound(c, "Start", start, &s_us,
	    &c->out->range_start)) != PH_OK)
		return e;
	if (!is_null(end) && (e = range_bound(c, "End", end, &e_us,
	    &c->out->range_end)) != PH_OK)
		return e;
	if (c->out->range_start && c->out->range_end && s_us > e_us)
		return refuse(c, "'Start' is after 'End'.");
	return PH_OK;
}

/* An integer in [min, max], or null (absent). */
static int
integer_in(json_object *v, long long min, long long max, long long *x)
{
	if (is_null(v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	*x = json_object_get_int64(v);
	return *x < min || *x > max ? -1 : 0;
}

static enum ph_err
paging(struct kq_ctx *c, json_object *take, json_object *skip, json_object *page,
    json_object *page_size)
{
	long long ignored;

	if (integer_in(take, 0, KQ_MAX_TAKE, &c->out->take) == -1)
		return refuse(c, "'take' must be an integer from 0 to %d.", KQ_MAX_TAKE);
	if (integer_in(skip, 0, INT64_MAX, &c->out->skip) == -1)
		return refuse(c, "'skip' must be an integer of 0 or more.");
	/* take/skip carry the paging; Kendo sends these beside them. */
	if (integer_in(page, INT64_MIN, INT64_MAX, &ignored) == -1)
		return refuse(c, "'page' must be an integer.");
	if (integer_in(page_size, INT64_MIN, INT64_MAX, &ignored) == -1)
		return refuse(c, "'pageSize' must be an integer.");
	return PH_OK;
}

static int
null_or_empty(json_object *v)
{
	return is_null(v) ||
	    (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0);
}

enum {
	K_START, K_END, K_FILTER, K_SORT, K_TAKE, K_SKIP, K_PAGE, K_PAGESIZE, K_GROUP,
	K_AGGREGATE, K__N
};
static const char *const top_keys[] = {
	"Start", "End", "filter", "sort", "take", "skip", "page", "pageSize", "group", "aggregate"
};

static enum ph_err
translate(struct kq_ctx *c, json_object *query)
{
	json_object *v[K__N];
	int has[K__N];
	enum ph_err e;

	for (size_t i = 0; i < K__N; i++)
		v[i] = NULL;
	if (query != NULL) {
		if (!json_object_is_type(query, json_type_object))
			return refuse(c, "the argument must be an object ({Start, End, filter, "
			    "sort, take, skip}).");
		if ((e = match_keys(c, query, top_keys, K__N, v, has, c->schema->range ?
		    "(read takes Start, End, filter, sort, take, skip, page, pageSize)" :
		    "(read takes filter, sort, take, skip, page, pageSize)")) != PH_OK)
			return e;
	}
	if (!null_or_empty(v[K_GROUP]))
		return refuse(c, "'group': server grouping is not supported.");
	if (!null_or_empty(v[K_AGGREGATE]))
		return refuse(c, "'aggregate': server aggregates are not supported.");
	/* The range first: its $n come before the filter's. */
	if ((e = range(c, v[K_START], v[K_END])) != PH_OK ||
	    (e = filter(c, v[K_FILTER])) != PH_OK ||
	    (e = sort(c, v[K_SORT])) != PH_OK ||
	    (e = paging(c, v[K_TAKE], v[K_SKIP], v[K_PAGE], v[K_PAGESIZE])) != PH_OK)
		return e;
	return PH_OK;
}

enum ph_err
kendoquery_translate(const struct kq_schema *schema, json_object *query, int first_param,
    struct kq_sql *out, char *why, size_t whylen)
{
	struct kq_ctx c = { schema, out, why, whylen, 0, 0 };
	enum ph_err e;

	memset(out, 0, sizeof(*out));
	out->first_param = first_param;
	out->take = -1;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	e = translate(&c, query);
	if (e == PH_OK && c.nomem)
		e = PH_NOMEM;
	if (e == PH_NOMEM && why != NULL && whylen > 0)
		snprintf(why, whylen, "out of memory");
	if (e != PH_OK)
		kendoquery_free(out);
	return e;
}

void
kendoquery_free(struct kq_sql *q)
{
	buf_free(&q->where);
	buf_free(&q->order);
	for (int i = 0; i < q->nparams && i < KQ_MAX_PARAMS; i++)
		free(q->params[i]);
	memset(q, 0, sizeof(*q));
}
