-- 015_auth: who may open which calendar (issue 20). A connection carries the
-- user it was opened by and the permission it holds on its calendar; grants
-- of calendars to users and roles; users' default calendars; the author of
-- every meeting and an audit of every change. The functions (token_key,
-- permission_of, connection_create, the grant functions, the revocation and
-- author triggers, the views) are in sql/functions/15_auth.sql and the files
-- it names.

-- A connection's identity: the user (NULL without one: POLLHUB_AUTH=none)
-- and its permission on group_name (NULL: unrestricted, no identity), fixed
-- at negotiate and kept current by the revocation triggers.
ALTER TABLE pollhub.connections
	ADD COLUMN user_name text CHECK (length(user_name) BETWEEN 1 AND 256),
	ADD COLUMN permission text CHECK (permission IN ('read', 'write', 'admin'));
-- Revocation looks for the open connections of a user.
CREATE INDEX connections_user ON pollhub.connections (user_name) WHERE user_name IS NOT NULL;

-- Tokens are no longer stored: token holds the key, pollhub.token_key('',
-- token) (base64url without padding of SHA-256('' || 0x00 || token)), the
-- form the responder computes from what a client presents. Rows of this
-- release have no user, so their key is over the empty user name. Inline
-- here: the functions are applied after the migrations. A 32-byte digest is
-- 44 base64 characters, one line: encode() breaks lines after 76 only.
UPDATE pollhub.connections
   SET token = translate(rtrim(encode(sha256('\x00'::bytea || convert_to(token, 'UTF8')),
	'base64'), '='), '+/', '-_');

-- A principal is a user name, or the name of a role (pollhub.roles) whose
-- members are in role_members. The effective permission of a user on a
-- calendar is the highest of its own grants and its roles' (admin > write >
-- read); see pollhub.permission_of.
CREATE TABLE pollhub.grants (
	principal	text NOT NULL CHECK (length(principal) BETWEEN 1 AND 256),
	group_name	text NOT NULL CHECK (length(group_name) BETWEEN 1 AND 256),
	permission	text NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
	granted_at	timestamptz NOT NULL DEFAULT now(),
	granted_by	text NOT NULL DEFAULT session_user,
	PRIMARY KEY (principal, group_name)
);
CREATE INDEX grants_group ON pollhub.grants (group_name);

CREATE TABLE pollhub.roles (
	name		text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 256)
);

-- A role renamed keeps its members (ON UPDATE CASCADE); a role dropped loses
-- them, and the revocation trigger of role_members closes what they lose.
CREATE TABLE pollhub.role_members (
	role		text NOT NULL REFERENCES pollhub.roles (name)
				ON DELETE CASCADE ON UPDATE CASCADE,
	user_name	text NOT NULL CHECK (length(user_name) BETWEEN 1 AND 256),
	PRIMARY KEY (role, user_name)
);
CREATE INDEX role_members_user ON pollhub.role_members (user_name);

-- A user's default calendar, the one negotiate opens without ?group= (when
-- the user holds a grant on it; see pollhub.default_group).
CREATE TABLE pollhub.users (
	name		text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 256),
	default_group	text CHECK (length(default_group) BETWEEN 1 AND 256)
);

-- Who made a meeting and who changed it last: a user name, NULL for a
-- connection without identity (and rows older than this migration),
-- 'db:<role>' for a change made outside any connection (psql). Set by the
-- trigger meetings_author, whatever the writer gives.
ALTER TABLE pollhub.meetings
	ADD COLUMN created_by text,
	ADD COLUMN updated_by text;

-- Every change of a meeting, as the trigger meetings_audit records it: the
-- row before (update, destroy) and after (create, update). Never trimmed by
-- pollhub: an administrator deletes what is no longer wanted.
CREATE TABLE pollhub.audit (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT now(),
	action		text NOT NULL CHECK (action IN ('create', 'update', 'destroy')),
	meeting_id	uuid NOT NULL,
	group_name	text NOT NULL,
	actor		text,		-- the user; 'db:<role>' from psql; NULL: no identity
	connection_id	text,		-- the sender connection; NULL from psql
	remote_addr	text,		-- the sender connection's client address
	db_role		text NOT NULL DEFAULT session_user,
	before		jsonb,
	after		jsonb
);
CREATE INDEX audit_meeting ON pollhub.audit (meeting_id, id);
CREATE INDEX audit_group ON pollhub.audit (group_name, id);

-- The responder reads grants, roles and users only through the SECURITY
-- DEFINER functions that open connections (connection_create,
-- classic_negotiate), and writes the audit only through the meetings
-- trigger: no rights on these tables (007's default privileges gave them).
-- An administrator reads all of them and edits grants, roles and users
-- (the functions of 15_auth.sql are the documented way; the triggers keep
-- live connections right either way); the audit is read-only for them.
REVOKE ALL ON pollhub.grants, pollhub.roles, pollhub.role_members, pollhub.users,
	pollhub.audit FROM pollhub_app;
REVOKE ALL ON SEQUENCE pollhub.audit_id_seq FROM pollhub_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON pollhub.grants, pollhub.roles, pollhub.role_members,
	pollhub.users TO pollhub_admin;
GRANT SELECT ON pollhub.audit TO pollhub_admin;

-- Signatures or results that change: sql/functions defines the new ones.
DROP FUNCTION IF EXISTS pollhub.send_begin(text, boolean, boolean);
DROP FUNCTION IF EXISTS pollhub.classic_negotiate(text, text, text, text, text);
