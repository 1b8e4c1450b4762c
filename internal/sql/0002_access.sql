-- 0002: staff accounts, sessions, the confidentiality pledge, and row-level security keyed on the
-- acting user. The request path connects as tip_app (not the owner, no BYPASSRLS) and names the
-- acting user for each transaction with set_config('tip.actor', user id, true); without it no case,
-- report or account is visible. What each role sees: docs/internals/casemgr.md.

CREATE TABLE roles (
	name text PRIMARY KEY,
	description text NOT NULL
);
INSERT INTO roles VALUES
	('national', 'national office: every case'),
	('provincial', 'provincial office: the cases of its province'),
	('unit_officer', 'verification unit: the cases assigned to its unit'),
	('reviewer', 'public-security reviewer: the cases sent to its unit for review'),
	('auditor', 'audit trail and quarantine metadata; no personal data'),
	('administrator', 'accounts and units; no reports');

CREATE TABLE users (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
	display_name text NOT NULL DEFAULT '',
	role text NOT NULL REFERENCES roles (name),
	unit_id bigint NOT NULL REFERENCES org_units (id),
	password_hash text NOT NULL,
	totp_secret bytea CHECK (totp_secret IS NULL OR octet_length(totp_secret) BETWEEN 16 AND 64),
	failed_logins integer NOT NULL DEFAULT 0,
	locked_until timestamptz,
	disabled boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- Server-side sessions: the cookie carries a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
	token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
	user_id bigint NOT NULL REFERENCES users (id),
	csrf_hash bytea NOT NULL CHECK (octet_length(csrf_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	ended_at timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);

-- The confidentiality pledge, accepted by each user before any case is shown (one row per version).
CREATE TABLE pledges (
	user_id bigint NOT NULL REFERENCES users (id),
	version text NOT NULL,
	accepted_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, version)
);

-- The acting user's standing, read with the owner's rights (the lookup itself must not depend on
-- the policies it feeds). NULL everywhere when no valid actor is set.
CREATE FUNCTION actor_id() RETURNS bigint LANGUAGE sql STABLE
	AS $$ SELECT nullif(current_setting('tip.actor', true), '')::bigint $$;

CREATE FUNCTION actor_role() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
	AS $$ SELECT role FROM users WHERE id = actor_id() AND NOT disabled $$;

CREATE FUNCTION actor_unit() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
	AS $$ SELECT unit_id FROM users WHERE id = actor_id() AND NOT disabled $$;

CREATE FUNCTION actor_province() RETURNS char(6) LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = public, pg_temp
	AS $$ SELECT u.province FROM users JOIN org_units u ON u.id = users.unit_id
	      WHERE users.id = actor_id() AND NOT users.disabled $$;

CREATE FUNCTION actor_pledged() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = public, pg_temp
	AS $$ SELECT EXISTS (SELECT FROM pledges WHERE user_id = actor_id()) $$;

-- Whether the acting user may see a case with these attributes.
CREATE FUNCTION actor_sees_case(province char(6), assigned_unit bigint, review_unit bigint) RETURNS boolean
	LANGUAGE sql STABLE
	AS $$ SELECT actor_pledged() AND CASE actor_role()
		WHEN 'national' THEN true
		WHEN 'provincial' THEN province = actor_province()
		WHEN 'unit_officer' THEN assigned_unit = actor_unit()
		WHEN 'reviewer' THEN review_unit = actor_unit()
		ELSE false END IS TRUE $$;

ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_persons ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_officials ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_attachments ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE quarantine ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE pledges ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest_cursors ENABLE ROW LEVEL SECURITY;

-- Ingest writes what crosses the diode; it acts for no user.
CREATE POLICY ingest_all ON reports TO tip_ingest USING (true) WITH CHECK (true);
CREATE POLICY ingest_all ON report_persons TO tip_ingest USING (true) WITH CHECK (true);
CREATE POLICY ingest_all ON report_officials TO tip_ingest USING (true) WITH CHECK (true);
CREATE POLICY ingest_all ON report_attachments TO tip_ingest USING (true) WITH CHECK (true);
CREATE POLICY ingest_all ON cases TO tip_ingest USING (true) WITH CHECK (true);
CREATE POLICY ingest_all ON quarantine TO tip_ingest USING (true) WITH CHECK (true);
CREATE POLICY ingest_all ON ingest_cursors TO tip_ingest USING (true) WITH CHECK (true);

CREATE POLICY scoped ON cases FOR SELECT TO tip_app
	USING (actor_sees_case(province, assigned_unit, review_unit));
CREATE POLICY scoped_update ON cases FOR UPDATE TO tip_app
	USING (actor_sees_case(province, assigned_unit, review_unit))
	WITH CHECK (actor_sees_case(province, assigned_unit, review_unit));
-- A report, and each part of it, is visible exactly when its case is (the subquery is itself filtered).
CREATE POLICY scoped ON reports FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM cases c WHERE c.report_id = reports.id));
CREATE POLICY scoped ON report_persons FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM reports r WHERE r.id = report_id));
CREATE POLICY scoped ON report_officials FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM reports r WHERE r.id = report_id));
CREATE POLICY scoped ON report_attachments FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM reports r WHERE r.id = report_id));
CREATE POLICY scoped ON case_links FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM cases WHERE id = case_a) AND EXISTS (SELECT FROM cases WHERE id = case_b));
CREATE POLICY scoped ON quarantine FOR SELECT TO tip_app
	USING (actor_role() IN ('national', 'auditor'));
-- Accounts: administrators manage them; everyone sees their own.
CREATE POLICY scoped ON users FOR SELECT TO tip_app
	USING (id = actor_id() OR actor_role() = 'administrator');
CREATE POLICY admin_write ON users FOR INSERT TO tip_app WITH CHECK (actor_role() = 'administrator');
CREATE POLICY admin_update ON users FOR UPDATE TO tip_app
	USING (actor_role() = 'administrator') WITH CHECK (actor_role() = 'administrator');
CREATE POLICY own ON sessions TO tip_app USING (user_id = actor_id()) WITH CHECK (user_id = actor_id());
CREATE POLICY own ON pledges TO tip_app USING (user_id = actor_id()) WITH CHECK (user_id = actor_id());

GRANT SELECT, UPDATE (stage, result, handling_unit, assigned_unit, review_unit, deadline, updated_at)
	ON cases TO tip_app;
GRANT SELECT ON reports, report_persons, report_officials, report_attachments, case_links, quarantine,
	roles TO tip_app;
GRANT SELECT (id, username, display_name, role, unit_id, disabled, created_at, locked_until) ON users TO tip_app;
GRANT INSERT (username, display_name, role, unit_id, password_hash), UPDATE (display_name, role, unit_id,
	password_hash, totp_secret, disabled, locked_until, failed_logins) ON users TO tip_app;
GRANT SELECT, INSERT, UPDATE (ended_at) ON sessions TO tip_app;
GRANT SELECT, INSERT ON pledges TO tip_app;
GRANT INSERT, UPDATE (name, parent_id) ON org_units TO tip_app;
