-- Identity and grants (sql/migrations/015_auth.sql): token keys, who may
-- open which calendar with what permission, opening a connection under those
-- rules, administering grants, revocation on live connections, and the
-- author and audit of every change of a meeting.

-- A connection's key, the form its token is stored and looked up in:
-- base64url without padding of SHA-256(user, a NUL byte, token); user ''
-- without an identity. The same function as id_token_key in C
-- (common/ids.h): a stolen table gives no usable token, and a token presented
-- under another user's identity finds no row. 32 bytes are 44 base64
-- characters, one line (encode() breaks lines after 76).
CREATE OR REPLACE FUNCTION pollhub.token_key(p_user text, p_token text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT translate(rtrim(encode(sha256(convert_to(p_user, 'UTF8') || '\x00'::bytea
	    || convert_to(p_token, 'UTF8')), 'base64'), '='), '+/', '-_')
$$;

-- Permissions in order: the highest of several grants wins.
CREATE OR REPLACE FUNCTION pollhub.permission_rank(p_permission text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT array_position(ARRAY['read', 'write', 'admin'], p_permission)
$$;

-- The grants that apply to user p_user: its own (principal = the user) and
-- its roles'. One row per grant, with the principal that gives it.
CREATE OR REPLACE FUNCTION pollhub.grants_of(p_user text)
RETURNS TABLE (group_name text, permission text, principal text)
LANGUAGE sql STABLE AS $$
	SELECT g.group_name, g.permission, g.principal FROM pollhub.grants g
	 WHERE g.principal = p_user
	UNION ALL
	SELECT g.group_name, g.permission, g.principal
	  FROM pollhub.role_members rm JOIN pollhub.grants g ON g.principal = rm.role
	 WHERE rm.user_name = p_user
$$;

-- The permission of user p_user on calendar p_group: the highest of its own
-- grants and its roles' ('read' < 'write' < 'admin'); NULL: no access.
CREATE OR REPLACE FUNCTION pollhub.permission_of(p_user text, p_group text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT (ARRAY['read', 'write', 'admin'])[max(pollhub.permission_rank(a.permission))]
	  FROM pollhub.grants_of(p_user) a WHERE a.group_name = p_group
$$;

-- The calendar user p_user opens without ?group=: its users.default_group
-- when set and granted; else the one calendar it holds a grant on, when
-- there is exactly one; else NULL (none granted, or several to choose from).
CREATE OR REPLACE FUNCTION pollhub.default_group(p_user text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		(SELECT u.default_group FROM pollhub.users u
		  WHERE u.name = p_user AND pollhub.permission_of(p_user, u.default_group) IS NOT NULL),
		(SELECT min(a.group_name) FROM pollhub.grants_of(p_user) a
		 HAVING count(DISTINCT a.group_name) = 1))
$$;

-- Create a connection at negotiate, Core (p_transport NULL until its first
-- poll or stream) or classic ('ClassicLongPolling'). p_key is the token's
-- key (token_key), never the token.
--
-- p_user NULL (or ''): no identity (POLLHUB_AUTH=none): the row is made as
-- before this release, in group p_group, without user or permission.
-- With a user: the calendar is p_group, or without one the user's default
-- (default_group). verdict: 'ok' (the row is made with the user and its
-- permission); 'no-default' (no p_group, and the user holds grants on
-- several calendars and has no granted default: it must choose with
-- ?group=); 'no-grant' (the user holds no grant on that calendar; group_name
-- is NULL when it was not named and the user holds no grant at all). No row
-- unless 'ok'.
--
-- Serialised with revocations: this takes the user's access lock shared,
-- access_changed takes it exclusive. A revocation committed first is seen
-- (the lock waits for it, and every statement after it reads anew); one that
-- comes later waits for this row to commit, so its re-evaluation sees the new
-- connection and closes it. No window in which a connection opens on a
-- grant already revoked. An advisory lock writes nothing: locking the grant
-- rows FOR SHARE tripled what a negotiate costs.
-- The statements are written out, not calls of permission_of and
-- default_group: a LANGUAGE sql function is planned again at every call, and
-- these plans are cached with the function's. 0.1 ms against 0.9 with them.
-- SECURITY DEFINER: the responder has no rights on the grants.
CREATE OR REPLACE FUNCTION pollhub.connection_open(p_id text, p_key text, p_user text,
	p_group text, p_remote text, p_ua text, p_transport text, p_hub text,
	OUT verdict text, OUT group_name text, OUT permission text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	usr text := nullif(p_user, '');
	g text := p_group;
	rank integer;
	n bigint;
BEGIN
	IF usr IS NULL THEN
		INSERT INTO pollhub.connections (id, token, group_name, transport, remote_addr, user_agent,
			hub)
		VALUES (p_id, p_key, pollhub.hub_group(p_hub, p_group), p_transport, p_remote, p_ua, p_hub);
		verdict := 'ok';
		group_name := p_group;
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock_shared(28777, hashtext(usr));
	IF g IS NULL THEN
		SELECT u.default_group INTO g FROM pollhub.users u WHERE u.name = usr;
	END IF;
	IF g IS NOT NULL THEN
		SELECT max(pollhub.permission_rank(x.permission)) INTO rank FROM pollhub.grants x
		 WHERE x.group_name = g AND (x.principal = usr OR x.principal IN
			(SELECT rm.role FROM pollhub.role_members rm WHERE rm.user_name = usr));
	END IF;
	IF p_group IS NULL AND rank IS NULL THEN
		-- No default, or one not granted: the one calendar granted, if one.
		SELECT count(DISTINCT x.group_name), min(x.group_name) INTO n, g FROM pollhub.grants x
		 WHERE x.principal = usr OR x.principal IN
			(SELECT rm.role FROM pollhub.role_members rm WHERE rm.user_name = usr);
		IF n <> 1 THEN
			verdict := CASE WHEN n = 0 THEN 'no-grant' ELSE 'no-default' END;
			RETURN;
		END IF;
		SELECT max(pollhub.permission_rank(x.permission)) INTO rank FROM pollhub.grants x
		 WHERE x.group_name = g AND (x.principal = usr OR x.principal IN
			(SELECT rm.role FROM pollhub.role_members rm WHERE rm.user_name = usr));
	END IF;
	group_name := g;
	IF rank IS NULL THEN
		verdict := 'no-grant';
		RETURN;
	END IF;
	permission := (ARRAY['read', 'write', 'admin'])[rank];
	INSERT INTO pollhub.connections (id, token, group_name, transport, remote_addr, user_agent,
		user_name, permission, hub)
	VALUES (p_id, p_key, pollhub.hub_group(p_hub, g), p_transport, p_remote, p_ua, usr, permission,
		p_hub);
	verdict := 'ok';
END
$$;

-- A Core connection at negotiate (fcgi/negotiate.c) of the hub at p_path
-- (pollhub.hubs, case-insensitively); see connection_open. verdict 'no-hub':
-- no hub is there.
CREATE OR REPLACE FUNCTION pollhub.connection_create(p_id text, p_key text, p_user text,
	p_group text, p_remote text, p_ua text, p_path text,
	OUT verdict text, OUT group_name text, OUT permission text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	h text;
BEGIN
	SELECT x.name INTO h FROM pollhub.hubs x WHERE lower(x.path) = lower(p_path);
	IF NOT FOUND THEN
		verdict := 'no-hub';
		RETURN;
	END IF;
	SELECT o.verdict, o.group_name, o.permission INTO verdict, group_name, permission
	  FROM pollhub.connection_open(p_id, p_key, p_user, p_group, p_remote, p_ua, NULL, h) o;
END
$$;

-- The release before hubs (0.14) called this while a restart in place
-- replaced it: MeetingHub's.
CREATE OR REPLACE FUNCTION pollhub.connection_create(p_id text, p_key text, p_user text,
	p_group text, p_remote text, p_ua text,
	OUT verdict text, OUT group_name text, OUT permission text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
	SELECT o.verdict, o.group_name, o.permission
	  FROM pollhub.connection_open(p_id, p_key, p_user, p_group, p_remote, p_ua, NULL,
		'MeetingHub') o
$$;

-- Administration (README "Authentication and calendars"), for the role
-- pollhub_admin. Each change takes effect on live connections at once
-- (the revocation triggers below).

-- Grant calendar p_group to a user or role with permission 'read' (pushes
-- and read()), 'write' (also create, update, destroy) or 'admin'. Replaces
-- an earlier grant of the same principal and calendar, e.g.
--   SELECT pollhub.grant_group('alice', 'team-a', 'write');
CREATE OR REPLACE FUNCTION pollhub.grant_group(p_principal text, p_group text, p_permission text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	IF p_permission IS NULL OR pollhub.permission_rank(p_permission) IS NULL THEN
		RAISE EXCEPTION 'permission must be ''read'', ''write'' or ''admin'', not %',
		    coalesce(quote_literal(p_permission), 'NULL')
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF coalesce(p_principal, '') = '' OR coalesce(p_group, '') = '' THEN
		RAISE EXCEPTION 'a principal (user or role) and a calendar are required'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pollhub.grants AS g (principal, group_name, permission)
	VALUES (p_principal, p_group, p_permission)
	ON CONFLICT (principal, group_name) DO UPDATE
	   SET permission = excluded.permission, granted_at = now(), granted_by = session_user
	 WHERE g.permission IS DISTINCT FROM excluded.permission;
END
$$;

-- Take calendar p_group from a user or role: its open connections that no
-- other grant covers are closed (the client's onclose gets the reason).
-- Returns whether there was such a grant.
CREATE OR REPLACE FUNCTION pollhub.revoke_group(p_principal text, p_group text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	DELETE FROM pollhub.grants WHERE principal = p_principal AND group_name = p_group;
	RETURN FOUND;
END
$$;

-- Make user p_user a member of role p_role (the role is created on first
-- use). Returns whether it was not already one.
CREATE OR REPLACE FUNCTION pollhub.grant_role(p_role text, p_user text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	IF coalesce(p_role, '') = '' OR coalesce(p_user, '') = '' THEN
		RAISE EXCEPTION 'a role and a user are required' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pollhub.roles (name) VALUES (p_role) ON CONFLICT DO NOTHING;
	INSERT INTO pollhub.role_members (role, user_name) VALUES (p_role, p_user)
	ON CONFLICT DO NOTHING;
	RETURN FOUND;
END
$$;

-- Remove user p_user from role p_role; returns whether it was a member.
CREATE OR REPLACE FUNCTION pollhub.revoke_role(p_role text, p_user text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	DELETE FROM pollhub.role_members WHERE role = p_role AND user_name = p_user;
	RETURN FOUND;
END
$$;

-- The calendar user p_user opens without ?group= (NULL: none set). It
-- counts only while the user holds a grant on it (a NOTICE says when it
-- does not yet).
CREATE OR REPLACE FUNCTION pollhub.set_default_group(p_user text, p_group text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	INSERT INTO pollhub.users AS u (name, default_group) VALUES (p_user, p_group)
	ON CONFLICT (name) DO UPDATE SET default_group = excluded.default_group;
	IF p_group IS NOT NULL AND pollhub.permission_of(p_user, p_group) IS NULL THEN
		RAISE NOTICE 'user % holds no grant on calendar %: the default applies once one is granted',
		    quote_literal(p_user), quote_literal(p_group);
	END IF;
END
$$;

-- Revocation. Re-evaluate the open connections, with an identity, of user
-- p_principal and of the members of role p_principal, on calendar p_group
-- (NULL: every calendar): one that lost access is closed (a Close with the
-- reason, state closing, its groups left, NOTIFY c:<id>: the responder that
-- holds its poll or stream answers it); one whose permission changed gets
-- the new one. Rows in id order, as the drains lock them.
CREATE OR REPLACE FUNCTION pollhub.access_changed(p_principal text, p_group text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	c record;
	u text;
	now_permission text;
BEGIN
	-- The access lock of every user concerned, exclusive, in one order (two
	-- revocations never wait for each other in a circle): a negotiate in
	-- flight (connection_open) commits first and is seen below.
	FOR u IN SELECT p_principal UNION SELECT rm.user_name FROM pollhub.role_members rm
		  WHERE rm.role = p_principal ORDER BY 1 LOOP
		PERFORM pg_advisory_xact_lock(28777, hashtext(u));
	END LOOP;
	-- A grant covers the calendar's groups in every hub (hub_group_name).
	FOR c IN SELECT x.id, x.user_name, pollhub.hub_group_name(x.hub, x.group_name) AS group_name,
			x.permission FROM pollhub.connections x
		  WHERE x.state = 'open' AND x.user_name IS NOT NULL
		    AND (p_group IS NULL OR pollhub.hub_group_name(x.hub, x.group_name) = p_group)
		    AND (x.user_name = p_principal OR x.user_name IN
			 (SELECT rm.user_name FROM pollhub.role_members rm WHERE rm.role = p_principal))
		  ORDER BY x.id LOOP
		now_permission := pollhub.permission_of(c.user_name, c.group_name);
		IF now_permission IS NULL THEN
			PERFORM pollhub.disconnect_connection(c.id,
			    'Not allowed: access to calendar ''' || c.group_name || ''' was revoked', false);
		ELSIF now_permission IS DISTINCT FROM c.permission THEN
			UPDATE pollhub.connections SET permission = now_permission
			 WHERE id = c.id AND state = 'open';
		END IF;
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION pollhub.grants_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.principal, OLD.group_name)
	    IS DISTINCT FROM (NEW.principal, NEW.group_name)) THEN
		PERFORM pollhub.access_changed(OLD.principal, OLD.group_name);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		PERFORM pollhub.access_changed(NEW.principal, NEW.group_name);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER grants_changed AFTER INSERT OR UPDATE OR DELETE ON pollhub.grants
	FOR EACH ROW EXECUTE FUNCTION pollhub.grants_changed();

-- A member added or removed (a role dropped or renamed cascades here): that
-- user's connections, on every calendar.
CREATE OR REPLACE FUNCTION pollhub.role_members_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM pollhub.access_changed(OLD.user_name, NULL);
	END IF;
	IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.user_name <> OLD.user_name) THEN
		PERFORM pollhub.access_changed(NEW.user_name, NULL);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER role_members_changed
	AFTER INSERT OR UPDATE OR DELETE ON pollhub.role_members
	FOR EACH ROW EXECUTE FUNCTION pollhub.role_members_changed();

-- A role renamed or dropped: its grants (principal = its old name) no longer
-- reach its members. The cascade to role_members re-evaluates them too; this
-- covers a role whose members are gone from role_members already, and a
-- rename, whose grants name the old role.
CREATE OR REPLACE FUNCTION pollhub.roles_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
BEGIN
	PERFORM pollhub.access_changed(OLD.name, NULL);
	IF TG_OP = 'UPDATE' THEN
		PERFORM pollhub.access_changed(NEW.name, NULL);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER roles_changed AFTER UPDATE OR DELETE ON pollhub.roles
	FOR EACH ROW EXECUTE FUNCTION pollhub.roles_changed();

-- Authors. Who makes the current change of a meeting: the sender
-- connection (the setting pollhub.sender, which the hub sets to its id;
-- enqueue in 10_meetings.sql reads it too): its user (NULL without
-- identity), id, address and permission; without a sender (psql,
-- send_to_group, purge_group) the database role, as 'db:<role>'. One
-- statement the triggers' plans inline; they run it as its owner.
CREATE OR REPLACE FUNCTION pollhub.change_author()
RETURNS TABLE (actor text, connection_id text, remote_addr text, permission text)
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN s.id IS NULL THEN 'db:' || session_user ELSE c.user_name END,
	       s.id, c.remote_addr, c.permission
	  FROM (SELECT nullif(current_setting('pollhub.sender', true), '') AS id) s
	  LEFT JOIN pollhub.connections c ON c.id = s.id
$$;

-- Before a change of a meeting: refuse it when the sender connection may
-- only read (the responder refuses such a write before it runs; this holds
-- whatever the responder does), and set the authors: created_by at a
-- create, updated_by at every create or update. A connection's write gets
-- them whatever it gave. An INSERT without a sender (psql) keeps the
-- authors it gives, so that a restore of a dump keeps who wrote what; the
-- audit still names the role that ran it.
CREATE OR REPLACE FUNCTION pollhub.meetings_author() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	a record;
BEGIN
	SELECT * INTO a FROM pollhub.change_author();
	IF a.permission = 'read' THEN
		RAISE EXCEPTION 'Not allowed: % may only read calendar ''%''',
		    coalesce(a.actor, 'this connection'),
		    CASE WHEN TG_OP = 'DELETE' THEN OLD.group_name ELSE NEW.group_name END
		    USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	IF TG_OP = 'INSERT' AND a.connection_id IS NULL THEN
		NEW.created_by := coalesce(NEW.created_by, a.actor);
		NEW.updated_by := coalesce(NEW.updated_by, a.actor);
		RETURN NEW;
	END IF;
	IF TG_OP = 'INSERT' THEN
		NEW.created_by := a.actor;
	ELSIF a.connection_id IS NOT NULL THEN
		NEW.created_by := OLD.created_by;
	END IF;
	NEW.updated_by := a.actor;
	RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER meetings_author BEFORE INSERT OR UPDATE OR DELETE ON pollhub.meetings
	FOR EACH ROW EXECUTE FUNCTION pollhub.meetings_author();

-- After a change of a meeting (the exceptions a head's destroy cascades to
-- included): one row of pollhub.audit. SECURITY DEFINER: neither the
-- responder nor an administrator may write the audit themselves.
CREATE OR REPLACE FUNCTION pollhub.meetings_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pollhub AS $$
DECLARE
	a record;
BEGIN
	SELECT * INTO a FROM pollhub.change_author();
	INSERT INTO pollhub.audit (action, meeting_id, group_name, actor, connection_id,
		remote_addr, before, after)
	VALUES (CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'destroy' END,
		CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
		CASE WHEN TG_OP = 'DELETE' THEN OLD.group_name ELSE NEW.group_name END,
		a.actor, a.connection_id, a.remote_addr,
		CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
		CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER meetings_audit AFTER INSERT OR UPDATE OR DELETE ON pollhub.meetings
	FOR EACH ROW EXECUTE FUNCTION pollhub.meetings_audit();

-- Who may run what. Functions are executable by everyone unless revoked:
-- opening a connection is the responder's, administering grants the
-- administrator's. The trigger functions run as their owner.
REVOKE EXECUTE ON FUNCTION
	pollhub.connection_open(text, text, text, text, text, text, text, text),
	pollhub.connection_create(text, text, text, text, text, text),
	pollhub.connection_create(text, text, text, text, text, text, text),
	pollhub.grant_group(text, text, text),
	pollhub.revoke_group(text, text),
	pollhub.grant_role(text, text),
	pollhub.revoke_role(text, text),
	pollhub.set_default_group(text, text),
	pollhub.access_changed(text, text),
	pollhub.change_author() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pollhub.connection_create(text, text, text, text, text, text),
	pollhub.connection_create(text, text, text, text, text, text, text) TO pollhub_app;
GRANT EXECUTE ON FUNCTION
	pollhub.grant_group(text, text, text),
	pollhub.revoke_group(text, text),
	pollhub.grant_role(text, text),
	pollhub.revoke_role(text, text),
	pollhub.set_default_group(text, text) TO pollhub_admin;
