-- 0015: the administrator's operations on accounts and units, the credentials they hand out (a temporary
-- password to be changed at first login, a TOTP secret pending until its first code), the audit trail's
-- actors by name for its readers, and the chain check in bounded chunks. Operations and answers:
-- docs/formats/staff-api.md; how credentials are made and handed out: docs/internals/accounts.md.

-- totp_pending: a secret handed out and not yet used; the first login with one of its codes makes it the
-- account's secret (and, while it is pending, only its codes are accepted). totp_state for readers that
-- may not read the secrets.
ALTER TABLE users
	ADD COLUMN totp_pending bytea CHECK (totp_pending IS NULL OR octet_length(totp_pending) BETWEEN 16 AND 64),
	ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
	ADD COLUMN last_login_at timestamptz,
	ADD COLUMN totp_state text GENERATED ALWAYS AS (CASE WHEN totp_pending IS NOT NULL THEN 'pending'
	                                                     WHEN totp_secret IS NOT NULL THEN 'active'
	                                                     ELSE 'none' END) STORED;
ALTER TABLE org_units ADD COLUMN disabled boolean NOT NULL DEFAULT false;

GRANT SELECT (must_change_password, last_login_at, totp_state) ON users TO tip_app;
GRANT INSERT (must_change_password, totp_pending), UPDATE (must_change_password, totp_pending) ON users TO tip_app;
GRANT UPDATE (disabled) ON org_units TO tip_app;

-- ---- login ----

-- Login, step 1, as in 0011 with the pending secret and whether the password must be changed.
DROP FUNCTION login_lookup(text);
CREATE FUNCTION login_lookup(name text, OUT user_id bigint, OUT password_hash text, OUT totp_secret bytea,
                             OUT locked boolean, OUT totp_last_step bigint, OUT totp_pending bytea,
                             OUT must_change boolean)
	LANGUAGE sql STABLE SECURITY DEFINER
	AS $$ SELECT id, password_hash, totp_secret, coalesce(locked_until > now(), false), totp_last_step, totp_pending,
	             must_change_password
	      FROM public.users WHERE username = name AND NOT disabled $$;

-- Login, step 2 with a code of the pending secret: it becomes the account's secret, unless another was
-- handed out meanwhile (then false, and the login fails).
CREATE FUNCTION login_totp_activate(uid bigint, step bigint, pending bytea) RETURNS boolean
	LANGUAGE sql SECURITY DEFINER AS $$
	WITH done AS (
		UPDATE public.users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = step
		WHERE id = uid AND totp_pending = pending
		RETURNING id
	), ev AS (
		INSERT INTO public.audit_events (actor, action, object) SELECT id, 'totp.activate', 'user:' || id FROM done
	)
	SELECT EXISTS (SELECT FROM done) $$;

-- Login, step 2 on success, as in 0004, noting the time.
CREATE OR REPLACE FUNCTION login_succeeded(uid bigint, token bytea, csrf bytea, ttl interval) RETURNS void
	LANGUAGE sql SECURITY DEFINER
	AS $$
	UPDATE public.users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = uid;
	INSERT INTO public.sessions (token_hash, user_id, csrf_hash, expires_at) VALUES (token, uid, csrf, now() + ttl);
	INSERT INTO public.audit_events (actor, action, object) VALUES (uid, 'login', 'user:' || uid);
	$$;

-- As in 0004, telling also whether the user must change the password first (nothing else is served then).
DROP FUNCTION session_begin(bytea);
CREATE FUNCTION session_begin(token bytea, OUT user_id bigint, OUT role text, OUT csrf_hash bytea,
                              OUT pledged boolean, OUT must_change boolean)
	LANGUAGE plpgsql SECURITY DEFINER
	AS $$
BEGIN
	SELECT s.user_id, u.role, s.csrf_hash, u.must_change_password INTO user_id, role, csrf_hash, must_change
	FROM public.sessions s JOIN public.users u ON u.id = s.user_id
	WHERE s.token_hash = token AND s.ended_at IS NULL AND s.expires_at > now() AND NOT u.disabled
	      AND (u.locked_until IS NULL OR u.locked_until <= now());
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no session' USING ERRCODE = '28000';
	END IF;
	PERFORM set_config('tip.actor', user_id::text, true);
	pledged := EXISTS (SELECT FROM public.pledges p WHERE p.user_id = session_begin.user_id);
END
$$;

-- The acting user's login name and password hash, to check the current password before a change.
CREATE FUNCTION password_own(OUT username text, OUT password_hash text) LANGUAGE sql STABLE SECURITY DEFINER
	AS $$ SELECT username, password_hash FROM public.users WHERE id = public.actor_id() AND NOT disabled $$;

-- The acting user's new password (hashed by the daemon); the temporary one's obligation ends.
CREATE FUNCTION password_change(hash text) RETURNS void LANGUAGE sql SECURITY DEFINER AS $$
	UPDATE public.users SET password_hash = hash, must_change_password = false WHERE id = public.actor_id();
	INSERT INTO public.audit_events (actor, action, object)
	VALUES (public.actor_id(), 'user.password_change', 'user:' || public.actor_id());
	$$;

-- As in 0004, and whether the password must be changed first.
CREATE OR REPLACE FUNCTION me() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name, 'role', u.role,
	                          'unit', u.unit_id, 'pledged', actor_pledged(), 'must_change_password', u.must_change_password)
	FROM users u WHERE u.id = actor_id() $$;

REVOKE ALL ON FUNCTION login_lookup(text), login_totp_activate(bigint, bigint, bytea), session_begin(bytea),
	password_own(), password_change(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION login_lookup(text), login_totp_activate(bigint, bigint, bytea), session_begin(bytea),
	password_own(), password_change(text) TO tip_app;

-- ---- accounts ----

-- An account as the administrator sees it (never a secret).
CREATE FUNCTION adm_user(uid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name, 'role', u.role,
	                          'unit', u.unit_id, 'disabled', u.disabled, 'locked', coalesce(u.locked_until > now(), false),
	                          'must_change_password', u.must_change_password, 'totp', u.totp_state,
	                          'last_login_at', u.last_login_at, 'created_at', u.created_at)
	FROM users u WHERE u.id = uid $$;

-- An administrator's change: an audit event with the object's document before and after (their SHA-256).
CREATE FUNCTION adm_event(action text, object text, before jsonb, after jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO audit_events (actor, action, object, before_hash, after_hash)
	VALUES (actor_id(), action, object, sha256(convert_to(before::text, 'UTF8')), sha256(convert_to(after::text, 'UTF8'))) $$;

-- After a change to an account: its audit event (user.<what>) and the operation's answer, the account as it is now.
CREATE FUNCTION adm_user_changed(what text, uid bigint, before jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	after jsonb := adm_user(uid);
BEGIN
	PERFORM adm_event('user.' || what, 'user:' || uid, before, after);
	RETURN jsonb_build_object('user', after);
END
$$;

-- The account named by args.user, locked for the change; 404 when there is none. Changes to accounts take
-- one lock in turn, so two administrators cannot each remove the other as the last one.
CREATE FUNCTION adm_user_arg(args jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	uid bigint := arg_int(args, 'user', true, 1, 999999999999999999);
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('users.administrators'));
	PERFORM FROM users WHERE id = uid FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM wf_fail('TW404', 'no such user', 'user');
	END IF;
	RETURN uid;
END
$$;

-- An enabled unit named by args.key (NULL when absent and not required).
CREATE FUNCTION adm_unit_arg(args jsonb, key text, required boolean) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
	uid bigint := arg_int(args, key, required, 1, 999999999999999999);
BEGIN
	IF uid IS NOT NULL AND NOT EXISTS (SELECT FROM org_units WHERE id = uid AND NOT disabled) THEN
		PERFORM wf_fail('TW400', 'no enabled unit with this id', key);
	END IF;
	RETURN uid;
END
$$;

CREATE FUNCTION adm_role_arg(args jsonb, required boolean) RETURNS text LANGUAGE sql STABLE
	AS $$ SELECT arg_code(args, 'role', required, ARRAY(SELECT name FROM roles ORDER BY name)) $$;

-- After a change: at least one enabled administrator must remain, or nobody could manage accounts. Owner's
-- rights: an administrator who just stepped down no longer sees the other accounts.
CREATE FUNCTION adm_keep_an_administrator() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM users WHERE role = 'administrator' AND NOT disabled) THEN
		PERFORM wf_fail('TW409', 'this would leave no enabled administrator');
	END IF;
END
$$;

-- Ends every session of an account (sessions are otherwise only their own user's to touch).
CREATE FUNCTION adm_sessions_end(uid bigint) RETURNS void LANGUAGE sql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
	UPDATE sessions SET ended_at = now() WHERE user_id = uid AND ended_at IS NULL AND actor_role() = 'administrator' $$;
REVOKE ALL ON FUNCTION adm_sessions_end(bigint), adm_keep_an_administrator() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION adm_sessions_end(bigint), adm_keep_an_administrator() TO tip_app;

CREATE FUNCTION op_users(args jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	RETURN jsonb_build_object('users', (SELECT coalesce(jsonb_agg(adm_user(u.id) ORDER BY u.username), '[]') FROM users u));
END
$$;

-- A new account with a temporary password and a pending TOTP secret, both made by the daemon
-- (password_hash, totp_secret: hex), which adds them to the answer; never from the client.
CREATE FUNCTION op_user_create(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	name_ text;
	display_ text;
	role_ text;
	unit_ bigint;
	uid bigint;
BEGIN
	PERFORM arg_only(args, '{username,display_name,role,unit,password_hash,totp_secret}');
	name_ := arg_text(args, 'username', true, 64);
	IF name_ !~ '^[a-z0-9][a-z0-9._-]{0,63}$' THEN
		PERFORM wf_fail('TW400', 'lower-case letters, digits and . _ - (starting with a letter or digit)', 'username');
	END IF;
	display_ := coalesce(arg_text(args, 'display_name', false, 100), '');
	role_ := adm_role_arg(args, true);
	unit_ := adm_unit_arg(args, 'unit', true);
	PERFORM pg_advisory_xact_lock(hashtext('users.administrators'));
	IF EXISTS (SELECT FROM users WHERE username = name_) THEN
		PERFORM wf_fail('TW409', 'this login name is taken', 'username');
	END IF;
	INSERT INTO users (username, display_name, role, unit_id, password_hash, must_change_password, totp_pending)
	VALUES (name_, display_, role_, unit_, args ->> 'password_hash', true, decode(args ->> 'totp_secret', 'hex'))
	RETURNING id INTO uid;
	RETURN adm_user_changed('create', uid, NULL);
END
$$;

-- Display name, role, unit: those given.
CREATE FUNCTION op_user_update(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	before jsonb;
	display_ text;
	role_ text;
	unit_ bigint;
BEGIN
	PERFORM arg_only(args, '{user,display_name,role,unit}');
	display_ := arg_text(args, 'display_name', false, 100);
	role_ := adm_role_arg(args, false);
	unit_ := adm_unit_arg(args, 'unit', false);
	uid := adm_user_arg(args);
	before := adm_user(uid);
	UPDATE users SET display_name = coalesce(display_, display_name), role = coalesce(role_, role),
	                 unit_id = coalesce(unit_, unit_id)
	WHERE id = uid;
	PERFORM adm_keep_an_administrator();
	RETURN adm_user_changed('update', uid, before);
END
$$;

-- Disabled: no login, every session ended. Never one's own account.
CREATE FUNCTION op_user_disable(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	before jsonb;
BEGIN
	PERFORM arg_only(args, '{user}');
	uid := adm_user_arg(args);
	IF uid = actor_id() THEN
		PERFORM wf_fail('TW409', 'you cannot disable your own account', 'user');
	END IF;
	before := adm_user(uid);
	UPDATE users SET disabled = true WHERE id = uid;
	PERFORM adm_sessions_end(uid);
	PERFORM adm_keep_an_administrator();
	RETURN adm_user_changed('disable', uid, before);
END
$$;

-- Enabled again, and unlocked.
CREATE FUNCTION op_user_enable(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	before jsonb;
BEGIN
	PERFORM arg_only(args, '{user}');
	uid := adm_user_arg(args);
	before := adm_user(uid);
	UPDATE users SET disabled = false, failed_logins = 0, locked_until = NULL WHERE id = uid;
	RETURN adm_user_changed('enable', uid, before);
END
$$;

-- A new temporary password (made and hashed by the daemon): to be changed at the next login; the account
-- is unlocked and its sessions end.
CREATE FUNCTION op_user_password_reset(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	before jsonb;
BEGIN
	PERFORM arg_only(args, '{user,password_hash}');
	uid := adm_user_arg(args);
	before := adm_user(uid);
	UPDATE users SET password_hash = args ->> 'password_hash', must_change_password = true, failed_logins = 0,
	                 locked_until = NULL
	WHERE id = uid;
	PERFORM adm_sessions_end(uid);
	RETURN adm_user_changed('password_reset', uid, before);
END
$$;

-- A new TOTP secret (made by the daemon), pending until the user's first login with one of its codes.
CREATE FUNCTION op_user_totp_enrol(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	before jsonb;
BEGIN
	PERFORM arg_only(args, '{user,totp_secret}');
	uid := adm_user_arg(args);
	before := adm_user(uid);
	UPDATE users SET totp_pending = decode(args ->> 'totp_secret', 'hex') WHERE id = uid;
	RETURN adm_user_changed('totp_enrol', uid, before);
END
$$;

-- ---- units ----

-- Every unit, as in 0010, and whether it is disabled.
CREATE OR REPLACE FUNCTION op_units(args jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	RETURN jsonb_build_object('units', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id,
		'parent', u.parent_id, 'kind', u.kind, 'region', u.region, 'province', u.province, 'name', u.name,
		'disabled', u.disabled) ORDER BY u.id), '[]') FROM org_units u));
END
$$;

CREATE FUNCTION adm_unit(uid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', u.id, 'parent', u.parent_id, 'kind', u.kind, 'region', u.region,
	                          'province', u.province, 'name', u.name, 'disabled', u.disabled)
	FROM org_units u WHERE u.id = uid $$;

-- The cases still open that a unit handles, verifies or reviews (owner's rights: administrators see no case).
CREATE FUNCTION unit_open_cases(unit bigint) RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
	SELECT count(*) FROM cases
	WHERE (handling_unit = unit OR assigned_unit = unit OR review_unit = unit)
	      AND stage NOT IN ('closed', 'not_accepted') AND merged_into IS NULL $$;
REVOKE ALL ON FUNCTION unit_open_cases(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unit_open_cases(bigint) TO tip_app;

-- The unit named by args.unit, locked for the change; 404 when there is none.
CREATE FUNCTION adm_unit_target(args jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	uid bigint := arg_int(args, 'unit', true, 1, 999999999999999999);
BEGIN
	PERFORM FROM org_units WHERE id = uid FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM wf_fail('TW404', 'no such unit', 'unit');
	END IF;
	RETURN uid;
END
$$;

-- A unit below an enabled parent of the same province (any province under the national office). The
-- daemon has checked that region is a code of the taxonomy; its province is the code's first two digits.
CREATE FUNCTION op_unit_create(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	kind_ text;
	parent_ bigint;
	region_ text;
	province_ text;
	name_ text;
	uid bigint;
BEGIN
	PERFORM arg_only(args, '{parent,kind,region,name}');
	parent_ := adm_unit_arg(args, 'parent', true);
	kind_ := arg_code(args, 'kind', true, '{provincial,prefecture,county,verification,review}');
	region_ := arg_text(args, 'region', true, 6);
	IF region_ !~ '^[0-9]{6}$' OR (kind_ = 'provincial' AND region_ !~ '^[0-9]{2}0000$') THEN
		PERFORM wf_fail('TW400', CASE WHEN kind_ = 'provincial' THEN 'a province''s code (NN0000)'
		                              ELSE 'a region code of six digits' END, 'region');
	END IF;
	province_ := left(region_, 2) || '0000';
	IF (SELECT province IS DISTINCT FROM province_ AND kind <> 'national' FROM org_units WHERE id = parent_) THEN
		PERFORM wf_fail('TW400', 'a unit of the same province', 'parent');
	END IF;
	name_ := arg_text(args, 'name', true, 200);
	IF EXISTS (SELECT FROM org_units WHERE parent_id = parent_ AND name = name_) THEN
		PERFORM wf_fail('TW409', 'the parent has a unit of this name', 'name');
	END IF;
	INSERT INTO org_units (parent_id, kind, region, province, name) VALUES (parent_, kind_, region_, province_, name_)
	RETURNING id INTO uid;
	PERFORM adm_event('unit.create', 'unit:' || uid, NULL, adm_unit(uid));
	RETURN jsonb_build_object('unit', adm_unit(uid));
END
$$;

CREATE FUNCTION op_unit_rename(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	name_ text;
	before jsonb;
BEGIN
	PERFORM arg_only(args, '{unit,name}');
	name_ := arg_text(args, 'name', true, 200);
	uid := adm_unit_target(args);
	IF EXISTS (SELECT FROM org_units o JOIN org_units u ON o.parent_id = u.parent_id
	           WHERE u.id = uid AND o.id <> uid AND o.name = name_) THEN
		PERFORM wf_fail('TW409', 'the parent has a unit of this name', 'name');
	END IF;
	before := adm_unit(uid);
	UPDATE org_units SET name = name_ WHERE id = uid;
	PERFORM adm_event('unit.rename', 'unit:' || uid, before, adm_unit(uid));
	RETURN jsonb_build_object('unit', adm_unit(uid));
END
$$;

-- Disabled (no new account or unit in it) only when no open case is with it and no enabled unit is below it.
CREATE FUNCTION op_unit_disable(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	before jsonb;
	open_ bigint;
BEGIN
	PERFORM arg_only(args, '{unit}');
	uid := adm_unit_target(args);
	IF (SELECT kind = 'national' FROM org_units WHERE id = uid) THEN
		PERFORM wf_fail('TW409', 'the national office cannot be disabled', 'unit');
	END IF;
	open_ := unit_open_cases(uid);
	IF open_ > 0 THEN
		PERFORM wf_fail('TW409', format('the unit has %s open cases', open_), 'unit');
	END IF;
	IF EXISTS (SELECT FROM org_units WHERE parent_id = uid AND NOT disabled) THEN
		PERFORM wf_fail('TW409', 'the unit has enabled units below it', 'unit');
	END IF;
	before := adm_unit(uid);
	UPDATE org_units SET disabled = true WHERE id = uid;
	PERFORM adm_event('unit.disable', 'unit:' || uid, before, adm_unit(uid));
	RETURN jsonb_build_object('unit', adm_unit(uid));
END
$$;

CREATE FUNCTION op_unit_enable(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uid bigint;
	before jsonb;
BEGIN
	PERFORM arg_only(args, '{unit}');
	uid := adm_unit_target(args);
	IF (SELECT p.disabled FROM org_units u JOIN org_units p ON p.id = u.parent_id WHERE u.id = uid) THEN
		PERFORM wf_fail('TW409', 'the unit above it is disabled', 'unit');
	END IF;
	before := adm_unit(uid);
	UPDATE org_units SET disabled = false WHERE id = uid;
	PERFORM adm_event('unit.enable', 'unit:' || uid, before, adm_unit(uid));
	RETURN jsonb_build_object('unit', adm_unit(uid));
END
$$;

INSERT INTO api_operations VALUES
	('users', 'global', 'GET', '{administrator}', 'op_users'),
	('user_create', 'global', 'POST', '{administrator}', 'op_user_create'),
	('user_update', 'global', 'POST', '{administrator}', 'op_user_update'),
	('user_disable', 'global', 'POST', '{administrator}', 'op_user_disable'),
	('user_enable', 'global', 'POST', '{administrator}', 'op_user_enable'),
	('user_password_reset', 'global', 'POST', '{administrator}', 'op_user_password_reset'),
	('user_totp_enrol', 'global', 'POST', '{administrator}', 'op_user_totp_enrol'),
	('unit_create', 'global', 'POST', '{administrator}', 'op_unit_create'),
	('unit_rename', 'global', 'POST', '{administrator}', 'op_unit_rename'),
	('unit_disable', 'global', 'POST', '{administrator}', 'op_unit_disable'),
	('unit_enable', 'global', 'POST', '{administrator}', 'op_unit_enable');

-- ---- the audit trail's readers ----

-- The login name, display name and role of the actors of a page of events, for the trail's readers only
-- (owner's rights: auditors may not read accounts).
CREATE FUNCTION audit_actors(ids bigint[]) RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
	SELECT coalesce(jsonb_object_agg(u.id, jsonb_build_object('username', u.username, 'display_name', u.display_name,
	                                                          'role', u.role)), '{}')
	FROM users u WHERE u.id = ANY (ids) AND actor_role() IN ('auditor', 'national') $$;
REVOKE ALL ON FUNCTION audit_actors(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_actors(bigint[]) TO tip_app;

-- A page of events as in 0013, with "actors": {id: {username, display_name, role}}.
ALTER FUNCTION op_audit_events(jsonb) RENAME TO audit_events_page;
CREATE FUNCTION op_audit_events(args jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT d || jsonb_build_object('actors', audit_actors(ARRAY(
		SELECT DISTINCT (e ->> 'actor')::bigint FROM jsonb_array_elements(d -> 'events') e WHERE e ->> 'actor' IS NOT NULL)))
	FROM audit_events_page(args) d $$;

-- The chain check of 0013 over at most lim events from `start` (seq start .. start + lim - 1, with the event
-- before start as the trusted anchor); checked counts the events from start. Chunks one after the other
-- find what one pass would: the first broken link, by the same rules.
CREATE FUNCTION audit_chain_check(start bigint, lim bigint) RETURNS TABLE (seq bigint, reason text, checked bigint)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	WITH e AS (
		SELECT a.seq, a.prev_hash, a.hash,
		       audit_event_hash(a.prev_hash, a.seq, a.at, a.actor, a.action, a.object, a.before_hash,
		                        a.after_hash) AS computed,
		       lag(a.seq) OVER w AS prev_seq, lag(a.hash) OVER w AS prev_stored
		FROM audit_events a
		WHERE a.seq >= greatest(start - 1, 0) AND a.seq < start + lim
		WINDOW w AS (ORDER BY a.seq)),
	bad AS (
		SELECT e.seq, CASE
			WHEN e.prev_seq IS NULL AND e.seq > greatest(start - 1, 0) THEN 'gap'
			WHEN e.prev_seq IS NOT NULL AND e.seq <> e.prev_seq + 1 THEN 'gap'
			WHEN e.prev_seq IS NULL AND e.seq = 0
			     AND e.prev_hash <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
			     THEN 'prev_hash'
			WHEN e.prev_seq IS NOT NULL AND e.prev_hash <> e.prev_stored THEN 'prev_hash'
			WHEN e.hash <> e.computed THEN 'hash'
			END AS reason
		FROM e)
	SELECT (SELECT b.seq FROM bad b WHERE b.reason IS NOT NULL ORDER BY b.seq LIMIT 1),
	       (SELECT b.reason FROM bad b WHERE b.reason IS NOT NULL ORDER BY b.seq LIMIT 1),
	       (SELECT count(*) FROM bad b WHERE b.seq >= start) $$;
REVOKE ALL ON FUNCTION audit_chain_check(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_chain_check(bigint, bigint) TO tip_app;

-- As in 0013, one chunk at a time: `from` (default: 0 with full, else the newest head's size) and `limit`
-- events (1 .. 1,000,000, default 50,000: 1.4 to 1.6 s on a loaded 2-core machine where one pass over a million
-- took 40 s). chain.next is the `from` of the next chunk, null once the chunk reached the last event or found a
-- broken link.
CREATE OR REPLACE FUNCTION op_audit_status(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	full_ boolean;
	from_ bigint;
	lim bigint;
	events bigint;
	head audit_heads;
	start bigint;
	chk record;
	heads jsonb;
BEGIN
	PERFORM arg_only(args, '{full,from,limit}');
	full_ := arg_bool(args, 'full', false);
	from_ := arg_int(args, 'from', false, 0, 999999999999999999);
	lim := coalesce(arg_int(args, 'limit', false, 1, 1000000), 50000);
	SELECT coalesce(max(a.seq) + 1, 0) INTO events FROM audit_events a;
	SELECT * INTO head FROM audit_heads h ORDER BY h.size DESC LIMIT 1;
	start := coalesce(from_, CASE WHEN full_ OR head.size IS NULL THEN 0 ELSE head.size END);
	SELECT * INTO chk FROM audit_chain_check(start, lim);
	SELECT coalesce(jsonb_agg(jsonb_build_object('size', h.size, 'signed_at', h.signed_at, 'matches',
		audit_note_size(h.note) = h.size AND audit_note_hash(h.note) IS NOT DISTINCT FROM
			(SELECT a.hash FROM audit_events a WHERE a.seq = h.size - 1))
		ORDER BY h.size), '[]')
	INTO heads FROM audit_heads h;
	PERFORM audit_viewed('status');
	RETURN jsonb_build_object(
		'events', events,
		'head', CASE WHEN head.size IS NOT NULL THEN
			jsonb_build_object('size', head.size, 'signed_at', head.signed_at, 'note', head.note) END,
		'chain', jsonb_build_object('full', full_, 'from', start, 'limit', lim, 'checked', chk.checked,
			'next', CASE WHEN chk.seq IS NULL AND start + lim < events THEN start + lim END,
			'ok', chk.seq IS NULL, 'bad_seq', chk.seq, 'reason', chk.reason),
		'heads', heads,
		'heads_ok', NOT EXISTS (SELECT FROM jsonb_array_elements(heads) x WHERE (x ->> 'matches')::boolean IS NOT TRUE),
		'signatures', 'not checked here: casemgrd audit verify checks each note''s signature with the public key');
END
$$;
DROP FUNCTION audit_chain_check(bigint);
