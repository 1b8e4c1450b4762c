-- 0004: what the daemon calls. Ingest stores a batch in one statement. For the staff API, login and
-- session checks happen before there is an acting user, so they run with the owner's rights and give
-- out only what they must; everything else runs with the caller's rights under row-level security,
-- and writes its audit event in the same transaction.

CREATE FUNCTION jsonb_texts(a jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT
	AS $$ SELECT coalesce(array_agg(x ORDER BY n), '{}') FROM jsonb_array_elements_text(a) WITH ORDINALITY AS t(x, n) $$;

-- One ingest batch of one origin, in the caller's transaction: reports (with persons, officials,
-- attachments and a case each; a report already stored is left alone), quarantined records, the
-- cursor moved past all of them, and one audit event naming the range with the chain hashes before
-- and after it. The document's layout: docs/formats/casemgr-schema.md.
CREATE FUNCTION ingest_batch(b jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	inserted integer;
	from_seq bigint := 0;
	from_hash bytea;
BEGIN
	SELECT next_seq, prev_hash INTO from_seq, from_hash FROM ingest_cursors WHERE origin = b ->> 'origin';

	WITH r AS (
		SELECT * FROM jsonb_to_recordset(b -> 'reports') AS x(
			seq bigint, hash text, signed_ms bigint, version integer, taxonomy_version text,
			query_hash text, locale text, anonymous boolean, name text, id_number text, phone text,
			address text, contact_allowed boolean, channel text, categories jsonb, sector text,
			region text, province text, place text, "time" text, narrative text, persons jsonb,
			officials jsonb, attachments jsonb)
	), ins AS (
		INSERT INTO reports (origin, seq, record_hash, signed_at, version, taxonomy_version, query_hash,
		                     locale, reporter_anonymous, reporter_name, reporter_id_number, reporter_phone,
		                     reporter_address, reporter_contact_allowed, reporter_channel, categories,
		                     sector, region, province, place, time_text, narrative)
		SELECT b ->> 'origin', seq, decode(hash, 'hex'), to_timestamp(signed_ms / 1000.0), version,
		       taxonomy_version, decode(query_hash, 'hex'), locale, anonymous, name, id_number, phone,
		       address, contact_allowed, channel, jsonb_texts(categories), sector, region, province,
		       place, "time", narrative
		FROM r
		ON CONFLICT (origin, seq) DO NOTHING
		RETURNING id, seq, region, province, signed_at
	), p AS (
		INSERT INTO report_persons
		SELECT ins.id, e.n - 1, e.v ->> 'name', jsonb_texts(e.v -> 'aliases'), e.v ->> 'description',
		       jsonb_texts(e.v -> 'phones'), e.v ->> 'region'
		FROM ins JOIN r USING (seq), jsonb_array_elements(r.persons) WITH ORDINALITY AS e(v, n)
	), o AS (
		INSERT INTO report_officials
		SELECT ins.id, e.n - 1, e.v ->> 'name', e.v ->> 'position', e.v ->> 'unit', e.v ->> 'region',
		       e.v ->> 'description'
		FROM ins JOIN r USING (seq), jsonb_array_elements(r.officials) WITH ORDINALITY AS e(v, n)
	), a AS (
		INSERT INTO report_attachments
		SELECT ins.id, e.n - 1, e.v ->> 'filename', e.v ->> 'content_type', decode(e.v ->> 'sha256', 'hex'),
		       decode(e.v ->> 'data', 'base64')
		FROM ins JOIN r USING (seq), jsonb_array_elements(r.attachments) WITH ORDINALITY AS e(v, n)
	), c AS (
		INSERT INTO cases (report_id, province, region, received_at)
		SELECT id, province, region, signed_at FROM ins
	)
	SELECT count(*) INTO inserted FROM ins;

	INSERT INTO quarantine (origin, seq, reason, detail, record)
	SELECT b ->> 'origin', q.seq, q.reason, q.detail, decode(q.record, 'base64')
	FROM jsonb_to_recordset(b -> 'quarantine') AS q(seq bigint, reason text, detail text, record text)
	ON CONFLICT (origin, seq) DO NOTHING;

	INSERT INTO ingest_cursors (origin, next_seq, prev_hash, prev_trusted)
	VALUES (b ->> 'origin', (b ->> 'next_seq')::bigint, decode(b ->> 'prev_hash', 'hex'),
	        (b ->> 'prev_trusted')::boolean)
	ON CONFLICT (origin) DO UPDATE SET next_seq = EXCLUDED.next_seq, prev_hash = EXCLUDED.prev_hash,
	                                   prev_trusted = EXCLUDED.prev_trusted, updated_at = now();
	INSERT INTO audit_events (action, object, before_hash, after_hash)
	VALUES ('ingest.batch', 'inbox:' || (b ->> 'origin') || '/' || coalesce(from_seq, 0) || '-' ||
	                        ((b ->> 'next_seq')::bigint - 1), from_hash, decode(b ->> 'prev_hash', 'hex'));
	RETURN inserted;
END
$$;

REVOKE ALL ON FUNCTION ingest_batch(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_batch(jsonb) TO tip_ingest;

-- Login, step 1: what checking a password needs. No row for an unknown or disabled user.
CREATE FUNCTION login_lookup(name text, OUT user_id bigint, OUT password_hash text, OUT totp_secret bytea,
                             OUT locked boolean)
	LANGUAGE sql STABLE SECURITY DEFINER
	AS $$ SELECT id, password_hash, totp_secret, coalesce(locked_until > now(), false)
	      FROM public.users WHERE username = name AND NOT disabled $$;

-- Login, step 2 on failure: count it, lock the account after max_failures in a row.
CREATE FUNCTION login_failed(uid bigint, max_failures integer, lock_for interval) RETURNS void
	LANGUAGE sql SECURITY DEFINER
	AS $$
	UPDATE public.users SET failed_logins = failed_logins + 1,
	       locked_until = CASE WHEN failed_logins + 1 >= max_failures THEN now() + lock_for ELSE locked_until END
	WHERE id = uid;
	INSERT INTO public.audit_events (actor, action, object) VALUES (uid, 'login.failed', 'user:' || uid);
	$$;

-- Login, step 2 on success: a new session.
CREATE FUNCTION login_succeeded(uid bigint, token bytea, csrf bytea, ttl interval) RETURNS void
	LANGUAGE sql SECURITY DEFINER
	AS $$
	UPDATE public.users SET failed_logins = 0, locked_until = NULL WHERE id = uid;
	INSERT INTO public.sessions (token_hash, user_id, csrf_hash, expires_at) VALUES (token, uid, csrf, now() + ttl);
	INSERT INTO public.audit_events (actor, action, object) VALUES (uid, 'login', 'user:' || uid);
	$$;

-- Every other request starts here: the session's user becomes the transaction's acting user.
-- Raises 28000 for no such (live) session.
CREATE FUNCTION session_begin(token bytea, OUT user_id bigint, OUT role text, OUT csrf_hash bytea,
                              OUT pledged boolean)
	LANGUAGE plpgsql SECURITY DEFINER
	AS $$
BEGIN
	SELECT s.user_id, u.role, s.csrf_hash INTO user_id, role, csrf_hash
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

CREATE FUNCTION session_end(token bytea) RETURNS void LANGUAGE sql AS $$
	UPDATE sessions SET ended_at = now() WHERE token_hash = token AND ended_at IS NULL;
	INSERT INTO audit_events (actor, action, object) VALUES (actor_id(), 'logout', 'user:' || actor_id());
	$$;

CREATE FUNCTION pledge_accept(version text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO pledges (user_id, version) VALUES (actor_id(), version) ON CONFLICT DO NOTHING;
	INSERT INTO audit_events (actor, action, object) VALUES (actor_id(), 'pledge.accept', 'pledge:' || version);
	$$;

CREATE FUNCTION me() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name, 'role', u.role,
	                          'unit', u.unit_id, 'pledged', actor_pledged())
	FROM users u WHERE u.id = actor_id() $$;

-- Whether the acting user may see the reporter's identity: those who must contact the reporter.
CREATE FUNCTION actor_sees_personal() RETURNS boolean LANGUAGE sql STABLE
	AS $$ SELECT coalesce(actor_role() IN ('national', 'provincial', 'unit_officer'), false) $$;

-- One page of the visible cases, newest first, after the case id `before` (keyset pagination).
CREATE FUNCTION case_list(stage_is text, province_is text, region_is text, category_is text, before bigint,
                          page integer) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('cases', coalesce(jsonb_agg(x ORDER BY (x ->> 'id')::bigint DESC), '[]'),
	                          'next', CASE WHEN count(*) = page THEN min((x ->> 'id')::bigint) END)
	FROM (SELECT jsonb_build_object('id', c.id, 'stage', c.stage, 'result', c.result, 'province', c.province,
	                                'region', c.region, 'categories', r.categories, 'sector', r.sector,
	                                'received_at', c.received_at, 'deadline', c.deadline) AS x
	      FROM cases c JOIN reports r ON r.id = c.report_id
	      WHERE (stage_is IS NULL OR c.stage = stage_is) AND (province_is IS NULL OR c.province = province_is)
	            AND (region_is IS NULL OR c.region = region_is)
	            AND (category_is IS NULL OR r.categories @> ARRAY[category_is])
	            AND (before IS NULL OR c.id < before)
	      ORDER BY c.id DESC LIMIT page) AS l $$;

-- A case with its report; the reporter's identity only for those who may see it. Every view is an
-- audit event (case.view, or case.view_personal when the identity was shown). NULL when not visible.
CREATE FUNCTION case_detail(case_id bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	personal boolean := actor_sees_personal();
	doc jsonb;
BEGIN
	SELECT jsonb_build_object(
		'id', c.id, 'stage', c.stage, 'result', c.result, 'province', c.province, 'region', c.region,
		'received_at', c.received_at, 'deadline', c.deadline,
		'report', jsonb_build_object(
			'origin', r.origin, 'seq', r.seq, 'locale', r.locale, 'taxonomy_version', r.taxonomy_version,
			'reporter', jsonb_build_object('anonymous', r.reporter_anonymous,
				'contact_allowed', r.reporter_contact_allowed, 'channel', r.reporter_channel)
				|| CASE WHEN personal THEN jsonb_build_object('name', r.reporter_name,
					'id_number', r.reporter_id_number, 'phone', r.reporter_phone,
					'address', r.reporter_address) ELSE '{}' END,
			'activity', jsonb_build_object('categories', r.categories, 'sector', r.sector, 'region', r.region,
				'place', r.place, 'time', r.time_text, 'narrative', r.narrative,
				'attachments', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', a.idx,
					'filename', a.filename, 'content_type', a.content_type, 'bytes', octet_length(a.data),
					'sha256', encode(a.sha256, 'hex')) ORDER BY a.idx), '[]')
					FROM report_attachments a WHERE a.report_id = r.id)),
			'persons', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.name, 'aliases', p.aliases,
				'description', p.description, 'phones', p.phones, 'region', p.region) ORDER BY p.idx), '[]')
				FROM report_persons p WHERE p.report_id = r.id),
			'umbrella', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', o.name, 'position', o.position,
				'unit', o.unit, 'region', o.region, 'description', o.description) ORDER BY o.idx), '[]')
				FROM report_officials o WHERE o.report_id = r.id)))
	INTO doc
	FROM cases c JOIN reports r ON r.id = c.report_id WHERE c.id = case_id;
	IF doc IS NOT NULL THEN
		INSERT INTO audit_events (actor, action, object)
		VALUES (actor_id(), CASE WHEN personal THEN 'case.view_personal' ELSE 'case.view' END, 'case:' || case_id);
	END IF;
	RETURN doc;
END
$$;

-- An attachment of a visible case, logged. No row when not visible.
CREATE FUNCTION attachment_get(case_id bigint, index integer, OUT filename text, OUT content_type text,
                               OUT data bytea)
	LANGUAGE plpgsql AS $$
BEGIN
	SELECT a.filename, a.content_type, a.data INTO filename, content_type, data
	FROM cases c JOIN report_attachments a ON a.report_id = c.report_id
	WHERE c.id = case_id AND a.idx = index;
	IF FOUND THEN
		INSERT INTO audit_events (actor, action, object)
		VALUES (actor_id(), 'attachment.download', 'case:' || case_id || '/attachment:' || index);
	ELSE
		filename := NULL;
	END IF;
END
$$;

REVOKE ALL ON FUNCTION login_lookup(text), login_failed(bigint, integer, interval),
	login_succeeded(bigint, bytea, bytea, interval), session_begin(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION login_lookup(text), login_failed(bigint, integer, interval),
	login_succeeded(bigint, bytea, bytea, interval), session_begin(bytea) TO tip_app;

-- Signed heads of the audit chain, written by the daemon's background thread (the ingest role): the
-- last event, and the size of the newest head already signed.
CREATE FUNCTION audit_head_due(OUT size bigint, OUT hash bytea, OUT signed_size bigint, OUT signed_at timestamptz)
	LANGUAGE sql STABLE SECURITY DEFINER
	AS $$ SELECT (SELECT max(seq) + 1 FROM public.audit_events),
	             (SELECT e.hash FROM public.audit_events e ORDER BY e.seq DESC LIMIT 1),
	             (SELECT max(h.size) FROM public.audit_heads h),
	             (SELECT max(h.signed_at) FROM public.audit_heads h) $$;

CREATE FUNCTION audit_head_put(size bigint, note text) RETURNS void LANGUAGE sql SECURITY DEFINER
	AS $$ INSERT INTO public.audit_heads (size, note) VALUES (size, note) ON CONFLICT DO NOTHING $$;

REVOKE ALL ON FUNCTION audit_head_due(), audit_head_put(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_head_due(), audit_head_put(bigint, text) TO tip_ingest;
