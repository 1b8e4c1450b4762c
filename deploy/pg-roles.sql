-- The cluster-level set-up that migrations cannot do for themselves: the three database roles and
-- the database, created once by a superuser (deploy/pg runs this with psql; it is idempotent).
--   tip_owner   owns the schema; `casemgrd migrate` connects as it. Never used by the daemon's request path.
--   tip_app     the daemon's request path: neither owner nor superuser, cannot bypass row-level security.
--   tip_ingest  the daemon's ingest path: writes reports, cases, quarantine and cursors; nothing else.
--   tip_sms     gammu-smsd (SMS gateway): its own tables in schema sms, nothing else. Its session runs
--               in China's time zone, the zone of the send windows casemgrd writes into the outbox.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tip_owner') THEN
		CREATE ROLE tip_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tip_app') THEN
		CREATE ROLE tip_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tip_ingest') THEN
		CREATE ROLE tip_ingest LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tip_sms') THEN
		CREATE ROLE tip_sms LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
	END IF;
END
$$;
SELECT 'CREATE DATABASE tip OWNER tip_owner ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tip') \gexec
\c tip
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO tip_owner;
GRANT USAGE ON SCHEMA public TO tip_app, tip_ingest;
ALTER ROLE tip_sms IN DATABASE tip SET search_path = sms;
ALTER ROLE tip_sms IN DATABASE tip SET timezone = 'Asia/Shanghai';
