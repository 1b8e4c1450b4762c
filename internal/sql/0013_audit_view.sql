-- 0013: the auditors' view of the audit trail: the chain's state recomputed in SQL, a page of events,
-- the signed heads for export. Every view is itself an audit event (`audit.view`). The heads' signatures
-- are checked by `casemgrd audit verify` (C, with the public key), not here. Operations and their
-- answers: docs/formats/staff-api.md.

-- Keyset paging with an action or object prefix walks these in seq order.
CREATE INDEX audit_events_action ON audit_events (action text_pattern_ops, seq);
CREATE INDEX audit_events_object ON audit_events (object text_pattern_ops, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);

-- The first event from seq `start` on whose link is broken: a gap in seq (the event before is missing), a
-- prev_hash that does not name the event before, or a hash that is not that of the row. Each row carries its
-- predecessor's hash, so one pass comparing neighbours is the same as recomputing the chain from `start`.
-- The event before `start` is trusted (the newest head's check vouches for it). Owner's rights, so that the
-- row policy is not evaluated per event (it answers only where the chain breaks; api_call checked the role).
-- About 7 s for 1,000,000 events from event 0; from the newest head, the events since it.
CREATE FUNCTION audit_chain_check(start bigint) RETURNS TABLE (seq bigint, reason text, checked bigint)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	WITH e AS (
		SELECT a.seq, a.prev_hash, a.hash,
		       audit_event_hash(a.prev_hash, a.seq, a.at, a.actor, a.action, a.object, a.before_hash,
		                        a.after_hash) AS computed,
		       lag(a.seq) OVER w AS prev_seq, lag(a.hash) OVER w AS prev_stored
		FROM audit_events a
		WHERE a.seq >= greatest(start - 1, 0)
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
	       (SELECT count(*) FROM bad) $$;
REVOKE ALL ON FUNCTION audit_chain_check(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_chain_check(bigint) TO tip_app;

-- Records that the actor looked at the audit trail (what: status, events, heads).
CREATE FUNCTION audit_viewed(what text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO audit_events (actor, action, object) VALUES (actor_id(), 'audit.view', 'audit:' || what) $$;

-- The size and hash a head's note names (its text: "tipline audit v1", size, base64 hash).
CREATE FUNCTION audit_note_size(note text) RETURNS bigint LANGUAGE sql IMMUTABLE
	AS $$ SELECT CASE WHEN split_part(note, E'\n', 2) ~ '^[0-9]{1,18}$' THEN split_part(note, E'\n', 2)::bigint END $$;
CREATE FUNCTION audit_note_hash(note text) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN decode(split_part(note, E'\n', 3), 'base64');
EXCEPTION WHEN others THEN
	RETURN NULL;
END
$$;

-- `full`: recompute from event 0; otherwise from the newest head's last event (what the head vouches for
-- is checked against it), so the work is the events since that head. Heads: each head's hash and size
-- against the chain at its size (all heads: one index lookup each).
CREATE FUNCTION op_audit_status(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	full_ boolean;
	events bigint;
	head audit_heads;
	start bigint;
	chk record;
	heads jsonb;
BEGIN
	PERFORM arg_only(args, '{full}');
	full_ := arg_bool(args, 'full', false);
	SELECT coalesce(max(a.seq) + 1, 0) INTO events FROM audit_events a;
	SELECT * INTO head FROM audit_heads h ORDER BY h.size DESC LIMIT 1;
	start := CASE WHEN full_ OR head.size IS NULL THEN 0 ELSE head.size END;
	SELECT * INTO chk FROM audit_chain_check(start);
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
		'chain', jsonb_build_object('full', full_, 'from', start, 'checked', chk.checked,
			'ok', chk.seq IS NULL, 'bad_seq', chk.seq, 'reason', chk.reason),
		'heads', heads,
		'heads_ok', NOT EXISTS (SELECT FROM jsonb_array_elements(heads) x WHERE (x ->> 'matches')::boolean IS NOT TRUE),
		'signatures', 'not checked here: casemgrd audit verify checks each note''s signature with the public key');
END
$$;

-- A page of events, newest first: `before` a seq, `limit` 1..200 (default 50), `action` and `object` prefixes,
-- `actor` a user id. `next` is the `before` of the next page.
CREATE FUNCTION op_audit_events(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	before_ bigint;
	lim bigint;
	action_ text;
	object_ text;
	actor_ bigint;
	doc jsonb;
BEGIN
	PERFORM arg_only(args, '{before,limit,action,object,actor}');
	before_ := arg_int(args, 'before', false, 0, 999999999999999999);
	lim := coalesce(arg_int(args, 'limit', false, 1, 200), 50);
	action_ := arg_text(args, 'action', false, 64);
	IF action_ !~ '^[a-z_.]+$' THEN
		PERFORM wf_fail('TW400', 'letters a-z, _ and .', 'action');
	END IF;
	object_ := arg_text(args, 'object', false, 200);
	actor_ := arg_int(args, 'actor', false, 0, 999999999999999999);
	EXECUTE format($q$
		SELECT jsonb_build_object('events', coalesce(jsonb_agg(jsonb_build_object('seq', e.seq, 'at', e.at,
			'actor', e.actor, 'action', e.action, 'object', e.object,
			'before_hash', encode(e.before_hash, 'hex'), 'after_hash', encode(e.after_hash, 'hex'),
			'hash', encode(e.hash, 'hex')) ORDER BY e.seq DESC), '[]'),
			'next', CASE WHEN count(*) = $2 THEN min(e.seq) END)
		FROM (SELECT * FROM audit_events a WHERE true%s%s%s%s ORDER BY a.seq DESC LIMIT $2) e $q$,
		CASE WHEN before_ IS NOT NULL THEN ' AND a.seq < $1' ELSE '' END,
		CASE WHEN action_ IS NOT NULL THEN ' AND a.action LIKE $3' ELSE '' END,
		CASE WHEN object_ IS NOT NULL THEN ' AND a.object LIKE $4' ELSE '' END,
		CASE WHEN actor_ IS NOT NULL THEN ' AND a.actor = $5' ELSE '' END)
	INTO doc USING before_, lim, replace(replace(replace(action_, '\', '\\'), '%', '\%'), '_', '\_') || '%',
		replace(replace(replace(object_, '\', '\\'), '%', '\%'), '_', '\_') || '%', actor_;
	PERFORM audit_viewed('events');
	RETURN doc;
END
$$;

-- Every signed head, oldest first, with its note for export.
CREATE FUNCTION op_audit_heads(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	doc jsonb;
BEGIN
	PERFORM arg_only(args, '{}');
	SELECT jsonb_build_object('heads', coalesce(jsonb_agg(jsonb_build_object('size', h.size, 'signed_at', h.signed_at,
		'note', h.note) ORDER BY h.size), '[]'))
	INTO doc FROM audit_heads h;
	PERFORM audit_viewed('heads');
	RETURN doc;
END
$$;

INSERT INTO api_operations VALUES
	('audit_status', 'global', 'GET', '{auditor,national}', 'op_audit_status'),
	('audit_events', 'global', 'GET', '{auditor,national}', 'op_audit_events'),
	('audit_heads', 'global', 'GET', '{auditor,national}', 'op_audit_heads');
