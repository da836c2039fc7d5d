/*
 * kendoquery: what a Kendo DataSource sends as read's argument, translated
 * into parameterised SQL over a whitelist of fields. The client's bytes never
 * reach the SQL text: a field name is looked up in the whitelist and replaced
 * by the column expression the whitelist gives (trusted, written by us), an
 * operator is one of a fixed list, and every value becomes a $n parameter
 * with a cast to the field's type.
 *
 * The argument (after the page's parameterMap) is an object with any of, keys
 * matched case-insensitively (ASP.NET binds them so):
 *   Start, End    the Scheduler's visible range (ISO 8601 with a zone), when the
 *                 schema has a range; the caller builds the range predicate
 *   filter        { logic: "and"|"or", filters: [ filter... ] } or one
 *                 { field, operator, value, ignoreCase }; null: none
 *   sort          [ { field, dir: "asc"|"desc" } ] or one such object; null: none
 *   take, skip    paging (integers); take present = paged (Data/Total answer)
 *   page, pageSize  sent by Kendo beside take/skip: checked, otherwise ignored
 *   group, aggregate  null or empty only (server grouping is not supported)
 * Anything else is refused by name.
 */
#ifndef POLLHUB_KENDOQUERY_H
#define POLLHUB_KENDOQUERY_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "pherr.h"

#define KQ_MAX_PARAMS	64	/* values bound per query (range included) */
#define KQ_MAX_DEPTH	8	/* nesting of and/or groups */
#define KQ_MAX_SORT	8	/* sort entries */
#define KQ_MAX_TAKE	10000	/* rows per page */
#define KQ_MAX_VALUE	1000	/* characters of one filter value */

enum kq_type {
	KQ_TEXT,	/* JSON string; ignoreCase applies */
	KQ_INT,		/* JSON integer (or a string of one), int4 range */
	KQ_NUMBER,	/* JSON number (or a string of one) */
	KQ_BOOL,	/* JSON true/false (or "true"/"false") */
	KQ_TIME,	/* ISO 8601 date-time with a zone, as Kendo sends a Date */
	KQ_UUID,	/* a UUID string */
	KQ_OPAQUE	/* listed so that its name is known, but neither filtered nor sorted */
};

struct kq_field {
	const char	*name;		/* as Kendo sends it; matched case-insensitively */
	const char	*column;	/* trusted SQL expression, e.g. "m.title" */
	enum kq_type	 type;
};

struct kq_schema {
	const struct kq_field	*fields;
	size_t			 nfields;
	const char		*default_order;	/* ORDER BY list without a sort, e.g. "m.start_at, m.id" */
	const char		*tiebreak;	/* appended to every sort (a unique column): pages are stable */
	int			 range;		/* 1: Start/End are accepted */
};

struct kq_sql {
	struct buf	 where;		/* a boolean SQL expression with $n placeholders,
					 * NUL-terminated; "true" without a filter */
	struct buf	 order;		/* the ORDER BY list, NUL-terminated; never empty */
	char		*params[KQ_MAX_PARAMS];	/* text values, owned; params[i] is $(first_param + i) */
	int		 nparams;
	int		 first_param;
	int		 range_start;	/* $n of Start (cast ::timestamptz in the text), or 0: none */
	int		 range_end;	/* $n of End, or 0: none */
	long long	 take;		/* -1: not paged */
	long long	 skip;		/* 0 unless given */
};

/*
 * Translate query (borrowed; NULL, or an object) for schema. Placeholders are
 * numbered from first_param (the caller binds $1..$(first_param - 1) itself).
 * Returns PH_OK with out filled (kendoquery_free it), or PH_INVALID with why
 * set to a message for the client that begins "Invalid read query: " and
 * names the offending key, field, operator or value (out then holds nothing),
 * or PH_NOMEM.
 *
 * The SQL per operator (col: the field's column; $n: the value cast to the
 * field's type; text with ignoreCase, which is the default, compares lower()
 * of both sides):
 *   eq / neq          col = $n / col IS DISTINCT FROM $n; a null value: IS NULL / IS NOT NULL
 *   lt lte gt gte     col < <= > >= $n (not for bool)
 *   contains          strpos(col, $n) > 0; doesnotcontain: = 0 or col IS NULL
 *   startswith        starts_with(col, $n); endswith: right(col, length($n)) = $n
 *   isnull isnotnull  col IS NULL / IS NOT NULL (no value needed)
 *   isempty isnotempty  col = '' / col <> '' (text only)
 * Text comparisons never use LIKE: a client's % and _ are plain characters.
 */
enum ph_err	kendoquery_translate(const struct kq_schema *, json_object *query,
		    int first_param, struct kq_sql *out, char *why, size_t whylen);
void		kendoquery_free(struct kq_sql *);

#endif
