-- Hubs written in SQL (migration 017_hubs.sql). A hub's methods are the
-- functions of its schema whose first argument is pollhub.hub_call and whose
-- other arguments are json or jsonb, one per argument of the invocation.
-- The responder (common/hub.c) calls pollhub.invoke for every invocation:
-- one statement finds the method, checks the caller may run it and runs it,
-- so a CREATE OR REPLACE FUNCTION in psql is in force at the next call.
--
--   value methods  return json, jsonb, void or any other type (sent as its
--                  JSON): the completion's result.
--   query methods  RETURN SETOF a composite type (a table's row, a view's,
--                  a type's): the responder applies what Kendo's DataSource
--                  sent (filter, sort, take, skip: common/kendoquery.c) over
--                  its columns, which are the fields a client may name, and
--                  sends each row as a JSON object of its columns.
--
-- A method's RAISE EXCEPTION is the invocation's completion error, with its
-- message. A VOLATILE method writes: a caller whose grant is 'read' may not
-- run it. Pushes are made with the push_* functions below, inside the
-- method's transaction: they are sent if it commits, never otherwise.

-- The key of group p_group of hub p_hub in connections, memberships and the
-- outbox: MeetingHub's groups keep their names (the calendars of the
-- releases before hubs); another hub's are 'Hub/group'.
CREATE OR REPLACE FUNCTION pollhub.hub_group(p_hub text, p_group text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_hub = 'MeetingHub' THEN p_group ELSE p_hub || '/' || p_group END
$$;

-- The group as its clients name it, from its key (hub_group's inverse).
CREATE OR REPLACE FUNCTION pollhub.hub_group_name(p_hub text, p_key text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_hub = 'MeetingHub' THEN p_key ELSE substr(p_key, length(p_hub) + 2) END
$$;

-- The caller of an invocation on connection p_connection, as a method sees it.
CREATE OR REPLACE FUNCTION pollhub.hub_call_of(p_connection text) RETURNS pollhub.hub_call
LANGUAGE sql STABLE AS $$
	SELECT ROW(c.hub, c.id, pollhub.hub_group_name(c.hub, c.group_name), c.user_name,
		c.permission)::pollhub.hub_call
	  FROM pollhub.connections c WHERE c.id = p_connection
$$;

-- One column of a query method's row in its JSON object: its name, and its
-- value over "r"; instants as the hub sends every instant (iso_utc: UTC, 'Z').
CREATE OR REPLACE FUNCTION pollhub.hub_item_pair(p_name name, p_type oid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT format('%L, %s', p_name, CASE WHEN p_type = 'timestamptz'::regtype
		THEN format('pollhub.iso_utc(r.%I)', p_name) ELSE format('r.%I', p_name) END)
$$;

-- Run method p_method (matched case-insensitively, as ASP.NET Core does) of
-- the hub of connection p_connection with the invocation's arguments p_args
-- (a JSON array, as json: jsonb cannot hold a \u0000, which the methods that
-- take jsonb refuse with SQLSTATE 22P05). kind 'value': result is the completion's result as JSON
-- text (NULL: none). kind 'query': the method was not run; fn names it
-- (quoted, schema-qualified), result lists its row's columns as the fields a
-- query may name, [{"name", "type", "sql"}] ("sql": the column in a query
-- over "r"), item is the expression of one row's JSON object over "r", and
-- call_* the pollhub.hub_call to run it with, field by field: the query binds
-- them as parameters of ROW(...), so the method is inlined with the group a
-- constant the planner sees (its estimates, its indexes).
--
-- Its own refusals carry SQLSTATEs of class PH, which common/hub.c words as
-- ASP.NET Core does: PHM01 no such method, PHA01 a wrong number of
-- arguments (the message is ASP.NET Core's), PHQ01 a query method whose rows
-- are not of a composite type; 42501 a read-only caller and a method that
-- writes.
CREATE OR REPLACE FUNCTION pollhub.invoke(p_connection text, p_method text, p_args json,
	OUT kind text, OUT result text, OUT fn text, OUT item text,
	OUT call_hub text, OUT call_group text, OUT call_user text, OUT call_permission text)
LANGUAGE plpgsql AS $$
DECLARE
	call pollhub.hub_call := pollhub.hub_call_of(p_connection);
	sch name;
	f record;
	chosen record;
	n integer := json_array_length(p_args);
	expects text[] := '{}';
	args text := '';
	rel oid;
	nsp oid;
	exact boolean := true;
BEGIN
	IF call IS NULL OR call.hub IS NULL THEN
		RAISE EXCEPTION 'connection % is gone', p_connection USING ERRCODE = 'PHC01';
	END IF;
	SELECT h.schema_name INTO sch FROM pollhub.hubs h WHERE h.name = call.hub;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'The hub ''%'' no longer exists.', call.hub USING ERRCODE = 'PHM01';
	END IF;
	-- The name as sent, or in lower case (what CREATE FUNCTION makes of an
	-- unquoted name), is found through pg_proc's name index; another case of
	-- a quoted name only by reading the schema's functions (about 0.35 ms).
	SELECT ns.oid INTO nsp FROM pg_catalog.pg_namespace ns WHERE ns.nspname = sch;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.pronamespace = nsp
			AND p.proname IN (p_method, lower(p_method))) THEN
		exact := false;
	END IF;
	FOR f IN SELECT p.oid, p.proname, p.pronargs, p.pronargdefaults, p.proretset,
			p.provolatile, p.prorettype, p.proargtypes
		   FROM pg_catalog.pg_proc p
		  WHERE p.pronamespace = nsp
		    AND (CASE WHEN exact THEN p.proname IN (p_method, lower(p_method))
			 ELSE lower(p.proname) = lower(p_method) END)
		    AND p.prokind = 'f' AND p.pronargs >= 1
		    AND p.proargtypes[0] = 'pollhub.hub_call'::regtype
		    AND NOT EXISTS (SELECT FROM unnest(p.proargtypes[1:]) t
				    WHERE t NOT IN ('json'::regtype, 'jsonb'::regtype))
		  ORDER BY p.pronargs, p.oid LOOP
		IF n BETWEEN f.pronargs - 1 - f.pronargdefaults AND f.pronargs - 1 THEN
			chosen := f;
			EXIT;
		END IF;
		expects := expects || CASE f.pronargdefaults WHEN 0 THEN (f.pronargs - 1)::text
			WHEN 1 THEN format('%s or %s', f.pronargs - 2, f.pronargs - 1)
			ELSE format('%s to %s', f.pronargs - 1 - f.pronargdefaults, f.pronargs - 1) END;
	END LOOP;
	IF chosen IS NULL THEN
		IF cardinality(expects) = 0 THEN
			RAISE EXCEPTION 'Method does not exist.' USING ERRCODE = 'PHM01';
		END IF;
		RAISE EXCEPTION 'Invocation provides % argument(s) but target expects %.', n,
		    array_to_string(expects, ' or ') USING ERRCODE = 'PHA01';
	END IF;
	IF chosen.provolatile = 'v' AND call.permission = 'read' THEN
		RAISE EXCEPTION 'Not allowed: user ''%'' may only read calendar ''%''.',
		    call.user_name, call.group_name USING ERRCODE = 'insufficient_privilege';
	END IF;
	fn := format('%I.%I', sch, chosen.proname);
	IF chosen.proretset THEN
		SELECT t.typrelid INTO rel FROM pg_catalog.pg_type t WHERE t.oid = chosen.prorettype;
		IF rel IS NULL OR rel = 0 THEN
			RAISE EXCEPTION 'the query method % must return SETOF a composite type', fn
			    USING ERRCODE = 'PHQ01';
		END IF;
		kind := 'query';
		call_hub := call.hub;
		call_group := call.group_name;
		call_user := call.user_name;
		call_permission := call.permission;
		SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, NULL),
			'sql', format('r.%I', a.attname)) ORDER BY a.attnum)::text,
		       count(*)
		  INTO result, n
		  FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
		-- A row's object keeps the columns' order (json, not jsonb), as far
		-- as one json_build_object goes (100 arguments); wider rows are
		-- jsonb objects of 50 columns each, joined.
		SELECT CASE WHEN n <= 50 THEN 'json_build_object(' || string_agg(c.pair, ', ' ORDER BY c.attnum) || ')'
			ELSE (SELECT string_agg(format('jsonb_build_object(%s)', y.pairs), ' || ')
				FROM (SELECT string_agg(z.pair, ', ' ORDER BY z.attnum) AS pairs
					FROM (SELECT (row_number() OVER (ORDER BY b.attnum) - 1) / 50 AS chunk, b.attnum,
						     pollhub.hub_item_pair(b.attname, b.atttypid) AS pair
						FROM pg_catalog.pg_attribute b
					       WHERE b.attrelid = rel AND b.attnum > 0 AND NOT b.attisdropped) z
				       GROUP BY z.chunk) y) END
		  INTO item
		  FROM (SELECT a.attnum, pollhub.hub_item_pair(a.attname, a.atttypid) AS pair
			  FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped) c;
		RETURN;
	END IF;
	kind := 'value';
	FOR i IN 1 .. n LOOP
		-- p_args is json, text as the client sent it: a query method's
		-- argument reaches the Kendo translation whole, and only a method
		-- that takes jsonb has it converted (where a \u0000 cannot go).
		args := args || format(', ($2->%s)%s', i - 1,
		    CASE WHEN chosen.proargtypes[i] = 'jsonb'::regtype THEN '::jsonb' ELSE '' END);
	END LOOP;
	IF chosen.prorettype = 'void'::regtype THEN
		EXECUTE format('SELECT %s($1%s)', fn, args) USING call, p_args;
		result := NULL;
	ELSE
		EXECUTE format('SELECT to_json(%s($1%s))::text', fn, args) INTO result USING call, p_args;
	END IF;
END
$$;

-- Pushes from a method, sent when its transaction commits. p_arguments is
-- the client method's arguments, a JSON array: push_others(call, 'create',
-- jsonb_build_array(item)).

-- To the other connections of the caller's group (ASP.NET Core's
-- Clients.OthersInGroup). Returns the group's sequence number of the push.
CREATE OR REPLACE FUNCTION pollhub.push_others(p_call pollhub.hub_call, p_target text,
	p_arguments jsonb DEFAULT '[]') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	PERFORM set_config('pollhub.sender', p_call.connection_id, true);
	RETURN pollhub.enqueue(pollhub.hub_group(p_call.hub, p_call.group_name),
	    pollhub.invocation(p_target, p_arguments::json));
END
$$;

-- To every connection of the caller's group, the caller's too (Clients.Group).
CREATE OR REPLACE FUNCTION pollhub.push_group(p_call pollhub.hub_call, p_target text,
	p_arguments jsonb DEFAULT '[]') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	s bigint;
	sender text := current_setting('pollhub.sender', true);
BEGIN
	PERFORM set_config('pollhub.sender', '', true);
	s := pollhub.enqueue(pollhub.hub_group(p_call.hub, p_call.group_name),
	    pollhub.invocation(p_target, p_arguments::json));
	-- The hub set the caller as the sender of what its triggers push.
	PERFORM set_config('pollhub.sender', coalesce(sender, ''), true);
	RETURN s;
END
$$;

-- Queue record for every open Core connection of user p_user (of hub
-- p_hub; NULL: of every hub). Returns how many. As send_to_connection: the
-- send lock orders each queue, the row lock keeps the connection open until
-- commit; taken in id order, like drain_many's row locks, so two of these
-- never wait for each other in a cycle. Classic connections cannot receive
-- it (they read only their group's pushes): the callers say so.
CREATE OR REPLACE FUNCTION pollhub.queue_to_user(p_user text, p_hub text, p_record text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	cid text;
	sent integer := 0;
BEGIN
	FOR cid IN SELECT c.id FROM pollhub.connections c
		    WHERE c.user_name = p_user AND (p_hub IS NULL OR c.hub = p_hub)
		      AND c.state = 'open' AND pollhub.is_core(c.transport)
		    ORDER BY c.id LOOP
		PERFORM pollhub.send_lock(cid, true);
		PERFORM 1 FROM pollhub.connections c WHERE c.id = cid AND c.state = 'open'
		   FOR NO KEY UPDATE;
		CONTINUE WHEN NOT FOUND;
		INSERT INTO pollhub.connection_messages (connection_id, payload) VALUES (cid, p_record);
		PERFORM pg_notify('pollhub', 'c:' || cid);
		sent := sent + 1;
	END LOOP;
	RETURN sent;
END
$$;
REVOKE EXECUTE ON FUNCTION pollhub.queue_to_user(text, text, text) FROM PUBLIC;

-- To every open connection of user p_user on the caller's hub (Clients.User).
-- Returns how many connections it was queued for.
CREATE OR REPLACE FUNCTION pollhub.push_user(p_call pollhub.hub_call, p_user text, p_target text,
	p_arguments jsonb DEFAULT '[]') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	-- plpgsql, not sql: pollhub.invocation is defined in a later file.
	RETURN pollhub.queue_to_user(p_user, p_call.hub, pollhub.invocation(p_target, p_arguments::json));
END
$$;

-- To one connection of the caller's hub (Clients.Client). false: no such
-- open connection there. A classic connection cannot receive it (see
-- send_to_connection).
CREATE OR REPLACE FUNCTION pollhub.push_connection(p_call pollhub.hub_call, p_connection text,
	p_target text, p_arguments jsonb DEFAULT '[]') RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pollhub.connections c
			WHERE c.id = p_connection AND c.hub = p_call.hub) THEN
		RETURN false;
	END IF;
	RETURN pollhub.send_to_connection(p_connection, p_target, p_arguments::json);
END
$$;

-- Hubs' methods run as the responder's role, which may push; nobody else
-- needs to (administrators have send_to_*).
REVOKE EXECUTE ON FUNCTION
	pollhub.push_others(pollhub.hub_call, text, jsonb),
	pollhub.push_group(pollhub.hub_call, text, jsonb),
	pollhub.push_user(pollhub.hub_call, text, text, jsonb),
	pollhub.push_connection(pollhub.hub_call, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	pollhub.push_others(pollhub.hub_call, text, jsonb),
	pollhub.push_group(pollhub.hub_call, text, jsonb),
	pollhub.push_user(pollhub.hub_call, text, text, jsonb),
	pollhub.push_connection(pollhub.hub_call, text, text, jsonb) TO pollhub_app;
