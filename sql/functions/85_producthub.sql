-- ProductHub's methods (migration 019_producthub.sql): Telerik's Grid SignalR
-- demo hub, persisted. pollhub.invoke (12_hubs.sql) calls them: a method is a
-- function of this schema whose first argument is pollhub.hub_call, so the
-- helpers here take none. read is a query method (the responder applies the
-- grid's filter, sort and page over its rows); create, update and destroy
-- write (VOLATILE: a caller who may only read is refused before they run),
-- answer the product as read sends it, and push it to the group's other
-- members, as the demo hub's Clients.OthersInGroup does.

-- The LIKE pattern that a `contains` filter on ProductName in query implies
-- (Kendo's filter, as read gets it): '%value%' lowered, its % _ \ escaped,
-- when the filter is that one condition or one of an "and" of conditions,
-- case ignored (Kendo's default), and the text is 3 characters or more (a
-- shorter one has no trigram: the index would not help); NULL otherwise.
-- What the responder's own filter then checks is the same condition:
-- strpos(lower(ProductName), lower(value)) > 0.
CREATE OR REPLACE FUNCTION producthub.name_pattern(query jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT '%' || replace(replace(replace(lower(f ->> 'value'), '\', '\\'), '%', '\%'), '_', '\_') || '%'
	  FROM (SELECT CASE WHEN jsonb_typeof(query -> 'filter' -> 'filters') = 'array'
			     AND lower(coalesce(query -> 'filter' ->> 'logic', 'and')) = 'and'
			THEN query -> 'filter' -> 'filters'
			ELSE jsonb_build_array(query -> 'filter') END AS leaves) l,
	       jsonb_array_elements(l.leaves) f
	 WHERE jsonb_typeof(f) = 'object' AND lower(f ->> 'field') = 'productname'
	   AND lower(f ->> 'operator') = 'contains' AND jsonb_typeof(f -> 'value') = 'string'
	   AND length(f ->> 'value') >= 3 AND coalesce(f ->> 'ignoreCase', 'true') <> 'false'
	 LIMIT 1
$$;

-- The products of the caller's group. One SELECT, LANGUAGE sql, STABLE, no
-- SET: PostgreSQL inlines it into the responder's query, whose filter, sort
-- and LIMIT then use the table's indexes. The query argument (Kendo's
-- filter/sort/page) is applied by the responder over the columns of
-- producthub.product; read only adds what a `contains` on ProductName
-- implies, which the trigram index products_name_trgm answers. The query is
-- a constant of the responder's statement, so the CASE is decided when it is
-- planned: without such a filter nothing is added.
-- No ORDER BY of its own: a subquery with one is not flattened into the
-- responder's query, so a page sorted otherwise (ProductName, UnitPrice...)
-- first reads the whole group in this order, and the Total's count sorts
-- too (measured on 100,000 products: ProductName asc 33 ms instead of 9,
-- contains + CreatedAt desc 73 instead of 40). The grid page always sends
-- its sort (CreatedAt desc: new rows first, as Telerik's demo); a read
-- without one comes in no particular order.
CREATE OR REPLACE FUNCTION producthub.read(call pollhub.hub_call, query jsonb DEFAULT NULL)
RETURNS SETOF producthub.product
LANGUAGE sql STABLE AS $$
	SELECT p.id, p.product_name, p.unit_price, p.units_in_stock, p.created_at, p.category
	  FROM producthub.products p
	 WHERE p.group_name = call.group_name
	   AND CASE WHEN producthub.name_pattern(query) IS NULL THEN true
		    ELSE lower(p.product_name) LIKE producthub.name_pattern(query) END
$$;

-- A product's JSON object, as the responder renders a row of read (the
-- columns of producthub.product in order, instants through iso_utc): what
-- create, update and destroy answer and push.
CREATE OR REPLACE FUNCTION producthub.product_json(p producthub.products) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'ID', p.id,
		'ProductName', p.product_name,
		'UnitPrice', p.unit_price,
		'UnitsInStock', p.units_in_stock,
		'CreatedAt', pollhub.iso_utc(p.created_at),
		'Category', p.category)
$$;

-- The client's error for field p_field of a product: the invocation's
-- completion error "... HubException: Invalid product: 'UnitPrice' must be a
-- number." (MeetingHub's wording for meetings).
CREATE OR REPLACE FUNCTION producthub.invalid(p_field text, p_why text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE EXCEPTION 'Invalid product: ''%'' %.', p_field, p_why;
END
$$;

-- A text field of p: NULL when absent, null or blank (p_required: an error
-- instead), else the string without its surrounding white space.
CREATE OR REPLACE FUNCTION producthub.text_field(p jsonb, p_field text, p_required boolean,
	p_max integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v jsonb := p -> p_field;
	s text;
BEGIN
	IF v IS NOT NULL AND jsonb_typeof(v) NOT IN ('string', 'null') THEN
		PERFORM producthub.invalid(p_field, 'must be a string');
	END IF;
	s := nullif(btrim(v #>> '{}', E' \t\r\n'), '');
	IF s IS NULL AND p_required THEN
		PERFORM producthub.invalid(p_field, 'is required');
	END IF;
	IF length(s) > p_max THEN
		PERFORM producthub.invalid(p_field, format('is too long (at most %s characters)', p_max));
	END IF;
	RETURN s;
END
$$;

-- A number field of p: NULL when absent or null; else a JSON number (a
-- string is refused, as ASP.NET Core binds a double) from 0 to p_max,
-- a whole one when p_whole.
CREATE OR REPLACE FUNCTION producthub.number_field(p jsonb, p_field text, p_whole boolean,
	p_max numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v jsonb := p -> p_field;
	n numeric;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'number' THEN
		PERFORM producthub.invalid(p_field, CASE WHEN p_whole THEN 'must be a whole number'
		    ELSE 'must be a number' END);
	END IF;
	n := v::numeric;
	IF p_whole AND n <> trunc(n) THEN
		PERFORM producthub.invalid(p_field, 'must be a whole number');
	END IF;
	IF n < 0 THEN
		PERFORM producthub.invalid(p_field, 'must not be negative');
	END IF;
	IF n > p_max THEN
		PERFORM producthub.invalid(p_field, format('must be at most %s', p_max));
	END IF;
	RETURN n;
END
$$;

-- The ID of p, required (update, destroy).
CREATE OR REPLACE FUNCTION producthub.id_field(p jsonb) RETURNS uuid
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p -> 'ID' IS NULL OR jsonb_typeof(p -> 'ID') = 'null' OR p ->> 'ID' = '' THEN
		PERFORM producthub.invalid('ID', 'is required');
	END IF;
	IF jsonb_typeof(p -> 'ID') <> 'string' OR p ->> 'ID' !~
	    '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$' THEN
		PERFORM producthub.invalid('ID', 'must be a product ID (a UUID)');
	END IF;
	RETURN (p ->> 'ID')::uuid;
END
$$;

-- p must be an object (Kendo sends the model's fields, looked up by name).
CREATE OR REPLACE FUNCTION producthub.check_object(p jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p IS NULL OR jsonb_typeof(p) <> 'object' THEN
		RAISE EXCEPTION 'Invalid product: expected an object with the product''s fields.';
	END IF;
END
$$;

-- Limits of the fields, as the table's CHECKs and types hold them.
--   ProductName  1 to 200 characters; Category at most 100
--   UnitPrice    0 to 9999999999.99, kept to the cent (numeric(12,2))
--   UnitsInStock 0 to 2147483647

-- create(product): stores a new product of the caller's group and answers it
-- with its ID and CreatedAt (both the server's: a client's ID is ignored).
CREATE OR REPLACE FUNCTION producthub.create(call pollhub.hub_call, product jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	p producthub.products;
	item json;
BEGIN
	PERFORM producthub.check_object(product);
	INSERT INTO producthub.products (group_name, product_name, unit_price, units_in_stock, category)
	VALUES (call.group_name,
		producthub.text_field(product, 'ProductName', true, 200),
		round(producthub.number_field(product, 'UnitPrice', false, 9999999999.99), 2),
		producthub.number_field(product, 'UnitsInStock', true, 2147483647),
		producthub.text_field(product, 'Category', false, 100))
	RETURNING * INTO p;
	item := producthub.product_json(p);
	PERFORM pollhub.push_others(call, 'create', jsonb_build_array(item));
	RETURN item;
END
$$;

-- update(product): changes the product of the caller's group with product's
-- ID. A field left out keeps its value (Kendo sends them all); null clears
-- it (ProductName: an error). CreatedAt is the server's.
CREATE OR REPLACE FUNCTION producthub.update(call pollhub.hub_call, product jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	v_id uuid;
	v_name text;
	v_price numeric;
	v_stock numeric;
	v_category text;
	p producthub.products;
	item json;
BEGIN
	PERFORM producthub.check_object(product);
	v_id := producthub.id_field(product);
	-- Every field is checked before the row is looked for: a bad value is
	-- named whether or not the product still exists.
	v_name := producthub.text_field(product, 'ProductName', product ? 'ProductName', 200);
	v_price := round(producthub.number_field(product, 'UnitPrice', false, 9999999999.99), 2);
	v_stock := producthub.number_field(product, 'UnitsInStock', true, 2147483647);
	v_category := producthub.text_field(product, 'Category', false, 100);
	UPDATE producthub.products o SET
		product_name = CASE WHEN product ? 'ProductName' THEN v_name ELSE o.product_name END,
		unit_price = CASE WHEN product ? 'UnitPrice' THEN v_price ELSE o.unit_price END,
		units_in_stock = CASE WHEN product ? 'UnitsInStock' THEN v_stock ELSE o.units_in_stock END,
		category = CASE WHEN product ? 'Category' THEN v_category ELSE o.category END
	 WHERE o.id = v_id AND o.group_name = call.group_name
	RETURNING o.* INTO p;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'Product not found: no product with this ''ID'' in this group.';
	END IF;
	item := producthub.product_json(p);
	PERFORM pollhub.push_others(call, 'update', jsonb_build_array(item));
	RETURN item;
END
$$;

-- destroy(product): deletes the product of the caller's group with
-- product's ID (the other fields are not looked at) and answers it as it was.
CREATE OR REPLACE FUNCTION producthub.destroy(call pollhub.hub_call, product jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	v_id uuid;
	p producthub.products;
	item json;
BEGIN
	PERFORM producthub.check_object(product);
	v_id := producthub.id_field(product);
	DELETE FROM producthub.products o
	 WHERE o.id = v_id AND o.group_name = call.group_name
	RETURNING o.* INTO p;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'Product not found: no product with this ''ID'' in this group.';
	END IF;
	item := producthub.product_json(p);
	PERFORM pollhub.push_others(call, 'destroy', jsonb_build_array(item));
	RETURN item;
END
$$;
