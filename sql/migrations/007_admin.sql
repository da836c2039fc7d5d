-- 007_admin: administering pollhub with psql. Views of who is connected and
-- what is pending, functions to message, close and clean up, and two roles:
-- pollhub_app (what the responder needs, nothing more) and pollhub_admin
-- (the views and functions below, and the meetings). README "Administering
-- with psql" shows each in use.

-- Roles are cluster-wide: created once, by whoever runs the first migration
-- with the CREATEROLE right; a migrator without it needs them made for it.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pollhub_app') THEN
		IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			RAISE EXCEPTION 'role pollhub_app does not exist and % may not create it',
			    current_user
			    USING HINT = 'As a superuser: CREATE ROLE pollhub_app LOGIN; '
				'CREATE ROLE pollhub_admin NOLOGIN; then migrate again.';
		END IF;
		-- LOGIN without a password: give it one, or map it in pg_hba.conf.
		-- Two databases of one cluster migrating at once race here.
		BEGIN
			CREATE ROLE pollhub_app LOGIN;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;	-- the other one made it
		END;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pollhub_admin') THEN
		BEGIN
			CREATE ROLE pollhub_admin NOLOGIN;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;
		END;
	END IF;
END
$$;

-- The responder: read and write the tables, use the sequences, run the
-- functions; no DDL (it owns nothing), and not the migrations' record.
GRANT USAGE ON SCHEMA pollhub TO pollhub_app, pollhub_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pollhub TO pollhub_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA pollhub TO pollhub_app;
REVOKE ALL ON pollhub.schema_migrations FROM pollhub_app;
-- Tables of later migrations (made by the same migrating role) likewise.
ALTER DEFAULT PRIVILEGES IN SCHEMA pollhub
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pollhub_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA pollhub GRANT USAGE, SELECT ON SEQUENCES TO pollhub_app;

-- An administrator edits meetings directly (the trigger pushes each change).
-- The trigger's queueing then runs with its owner's rights, so the admin
-- needs no rights on the outbox.
GRANT SELECT, INSERT, UPDATE, DELETE ON pollhub.meetings TO pollhub_admin;
