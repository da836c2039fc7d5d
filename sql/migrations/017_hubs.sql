-- 017_hubs: hubs written in SQL (issue 21). A hub is a row of pollhub.hubs:
-- its name (what classic clients' proxies name), the URL path its Core
-- clients connect to, and the schema whose functions are its methods
-- (sql/functions/12_hubs.sql: pollhub.invoke finds and calls them). Every
-- connection belongs to one hub. MeetingHub, the first, is defined in
-- sql/functions/80_meetinghub.sql.
CREATE TABLE pollhub.hubs (
	name		text PRIMARY KEY CHECK (name ~ '^[A-Za-z][A-Za-z0-9_]{0,62}$'),
	-- One segment: the web servers send every such path that is not a file
	-- to the responder, so a hub added here is served without a restart.
	path		text NOT NULL UNIQUE
			CHECK (path ~ '^/[A-Za-z0-9_-]{1,63}$' AND lower(path) <> '/signalr'),
	schema_name	name NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
-- Classic clients name hubs in any case (jquery.signalR lower-cases them).
CREATE UNIQUE INDEX hubs_name_ci ON pollhub.hubs (lower(name));
CREATE UNIQUE INDEX hubs_path_ci ON pollhub.hubs (lower(path));

CREATE SCHEMA meetinghub;
GRANT USAGE ON SCHEMA meetinghub TO pollhub_app;
INSERT INTO pollhub.hubs (name, path, schema_name) VALUES ('MeetingHub', '/meetings', 'meetinghub');

-- The responder reads the hubs; administrators change them.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON pollhub.hubs FROM pollhub_app;
GRANT SELECT ON pollhub.hubs TO pollhub_app;

-- A connection's hub. Its group_name is the group's key, which for hubs
-- other than MeetingHub is 'Hub/group' (pollhub.hub_group): two hubs'
-- groups of one name never share pushes.
ALTER TABLE pollhub.connections ADD COLUMN hub text NOT NULL DEFAULT 'MeetingHub';
-- A key is at most 63 + 1 + 256 characters (SQL_GROUP_KEY_MAX in sqlproto.h).
ALTER TABLE pollhub.connections DROP CONSTRAINT connections_group_name_check,
	ADD CONSTRAINT connections_group_name_check CHECK (length(group_name) BETWEEN 1 AND 320);
ALTER TABLE pollhub.groups DROP CONSTRAINT groups_name_check,
	ADD CONSTRAINT groups_name_check CHECK (length(name) BETWEEN 1 AND 320);

-- What a hub method is told about its caller (its first argument).
CREATE TYPE pollhub.hub_call AS (
	hub		text,	-- pollhub.hubs.name
	connection_id	text,
	group_name	text,	-- the group as the client named it (no hub prefix)
	user_name	text,	-- NULL without an identity (POLLHUB_AUTH=none)
	permission	text	-- 'read', 'write', 'admin', or NULL without an identity
);

-- connection_open takes the hub now; connection_create and classic_negotiate
-- gain a form that names it, and keep theirs for a responder of 0.14.
DROP FUNCTION IF EXISTS pollhub.connection_open(text, text, text, text, text, text, text);
