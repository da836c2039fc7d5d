-- 019_producthub: ProductHub, the second hub written in SQL (issue 21): the
-- products of Telerik's Grid SignalR demo (ID, ProductName, UnitPrice,
-- UnitsInStock, CreatedAt, Category), at /products, persisted per group. Its
-- methods are in sql/functions/85_producthub.sql; the demo page is
-- deploy/www/products.html.
CREATE SCHEMA producthub;
GRANT USAGE ON SCHEMA producthub TO pollhub_app;

CREATE TABLE producthub.products (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- The group as its clients name it (pollhub.hub_call.group_name), as
	-- pollhub.meetings keeps the calendar's name.
	group_name	text NOT NULL CHECK (length(group_name) BETWEEN 1 AND 256),
	product_name	text NOT NULL CHECK (length(product_name) BETWEEN 1 AND 200
				AND product_name = btrim(product_name)),
	unit_price	numeric(12,2) CHECK (unit_price >= 0),
	units_in_stock	integer CHECK (units_in_stock >= 0),
	category	text CHECK (length(category) BETWEEN 1 AND 100),
	created_at	timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);

-- A grid reads one group a page at a time: the rows of its sort, from an
-- index, stop at the page's end (LIMIT) instead of sorting the group. Every
-- sort ends with ID, the tie-breaker (pollhub.invoke: a query's sort, then
-- the row's first column), so each index ends with id.
--   CreatedAt desc   the demo's default sort: new rows first (read()'s order)
--   ProductName      sorted by its column; its ignoreCase compares (eq,
--                    startswith, ...) are over lower(product_name)
--   UnitPrice, UnitsInStock, Category  the grid's other sortable columns
-- A `contains` filter (strpos over lower(): common/kendoquery.c) is answered
-- by no index; read() adds what it implies, lower(product_name) LIKE
-- '%value%', which the trigram index below answers (85_producthub.sql).
CREATE INDEX products_group_created ON producthub.products (group_name, created_at DESC, id);
CREATE INDEX products_group_name ON producthub.products (group_name, product_name, id);
CREATE INDEX products_group_name_ci ON producthub.products (group_name, lower(product_name));
CREATE INDEX products_group_price ON producthub.products (group_name, unit_price, id);
CREATE INDEX products_group_stock ON producthub.products (group_name, units_in_stock, id);
CREATE INDEX products_group_category ON producthub.products (group_name, category, id);

-- The grid's filter box: ProductName contains a text. pg_trgm is a trusted
-- extension (PostgreSQL 13+), as btree_gist (016_read_range.sql), kept in the
-- pollhub schema unless the database has it already elsewhere.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA pollhub;
DO $$
BEGIN
	EXECUTE format('CREATE INDEX products_name_trgm ON producthub.products'
	    ' USING gin (lower(product_name) %I.gin_trgm_ops)',
	    (SELECT n.nspname FROM pg_catalog.pg_extension e
	       JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'));
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON producthub.products TO pollhub_app;

-- A product as the hub sends it: the columns are the fields a grid may
-- filter and sort on, named as Kendo sends them, in the order of the JSON
-- object of each row. UnitPrice has the column's typmod: as plain numeric,
-- read's rows would be casts of the column, which a sort by UnitPrice
-- cannot take from products_group_price.
CREATE TYPE producthub.product AS (
	"ID"		uuid,
	"ProductName"	text,
	"UnitPrice"	numeric(12,2),
	"UnitsInStock"	integer,
	"CreatedAt"	timestamptz,
	"Category"	text
);

INSERT INTO pollhub.hubs (name, path, schema_name) VALUES ('ProductHub', '/products', 'producthub');
