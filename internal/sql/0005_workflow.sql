-- 0005: the case workflow's frame. Automatic distribution at ingest, the case timeline, contact
-- records, the working-day calendar functions, the helpers every transition uses (the visible case,
-- the event, the stage move with its status bulletin), argument checks, and one dispatcher that the
-- staff API calls for every operation listed in api_operations. The transitions themselves, who may
-- take each and what each requires: docs/workflow.md.
--
-- Errors that reach the caller carry these SQLSTATEs (the API maps them; docs/formats/staff-api.md):
--   TW400 a bad argument (COLUMN names it)      TW403 not for this user (role, scope, separation of duties)
--   TW404 no such (visible) case or operation   TW405 the operation exists for the other HTTP method
--   TW409 the case's state does not allow it (the message says why)

ALTER TABLE cases
	ADD COLUMN contactable boolean NOT NULL DEFAULT false,
	ADD COLUMN conflict boolean NOT NULL DEFAULT false,
	ADD COLUMN escalation_level smallint NOT NULL DEFAULT 0 CHECK (escalation_level BETWEEN 0 AND 2),
	ADD COLUMN reexamine boolean NOT NULL DEFAULT false,
	ADD COLUMN concluded_at timestamptz,
	ADD COLUMN closed_at timestamptz,
	ADD COLUMN merged_into bigint REFERENCES cases (id),
	ADD CONSTRAINT cases_stage CHECK (stage IN ('received', 'accepted', 'distributed', 'assigned', 'verifying',
	                                            'under_review', 'concluded', 'feedback_given', 'closed',
	                                            'not_accepted')),
	ADD CONSTRAINT cases_not_merged_into_itself CHECK (merged_into <> id);
CREATE INDEX cases_handling_unit ON cases (handling_unit, id);
CREATE INDEX cases_merged_into ON cases (merged_into) WHERE merged_into IS NOT NULL;

-- The timeline: one row per change, with the stages before and after (equal when the stage stayed).
CREATE TABLE case_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	case_id bigint NOT NULL REFERENCES cases (id),
	at timestamptz NOT NULL DEFAULT now(),
	actor bigint REFERENCES users (id),
	action text NOT NULL CHECK (action ~ '^[a-z_]{1,40}$'),
	from_stage text,
	to_stage text NOT NULL,
	detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- Every contact with the reporter: when, how, by whom, what came of it. `closing` marks the one that
-- gave the closing result (a contactable case cannot close without it).
CREATE TABLE case_contacts (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	case_id bigint NOT NULL REFERENCES cases (id),
	contacted_at timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now(),
	actor bigint NOT NULL REFERENCES users (id),
	channel text NOT NULL CHECK (channel IN ('phone', 'sms', 'in_person')),
	outcome text NOT NULL CHECK (outcome IN ('reached', 'not_reached', 'declined')),
	closing boolean NOT NULL DEFAULT false,
	note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
	CHECK (NOT closing OR outcome = 'reached')
);
CREATE INDEX case_contacts_case ON case_contacts (case_id, id);

-- What the staff API may call: a function fn(case_id bigint, args jsonb) for target 'case', fn(args
-- jsonb) for 'global', both returning jsonb, run with the caller's rights.
CREATE TABLE api_operations (
	name text PRIMARY KEY CHECK (name ~ '^[a-z_]{1,40}$'),
	target text NOT NULL CHECK (target IN ('case', 'global')),
	method text NOT NULL CHECK (method IN ('GET', 'POST')),
	roles text[] NOT NULL,
	fn text NOT NULL CHECK (fn ~ '^[a-z_]{1,63}$')
);

-- ---- visibility ----

-- A provincial office sees its province's cases except those routed past it for a conflict of
-- interest, and whatever it handles; the rest as before (0002).
CREATE FUNCTION actor_sees_case(province char(6), handling_unit bigint, assigned_unit bigint, review_unit bigint,
                                conflict boolean) RETURNS boolean
	LANGUAGE sql STABLE
	AS $$ SELECT actor_pledged() AND CASE actor_role()
		WHEN 'national' THEN true
		WHEN 'provincial' THEN (province = actor_province() AND NOT conflict) OR handling_unit = actor_unit()
		WHEN 'unit_officer' THEN assigned_unit = actor_unit()
		WHEN 'reviewer' THEN review_unit = actor_unit()
		ELSE false END IS TRUE $$;

DROP POLICY scoped ON cases;
DROP POLICY scoped_update ON cases;
CREATE POLICY scoped ON cases FOR SELECT TO tip_app
	USING (actor_sees_case(province, handling_unit, assigned_unit, review_unit, conflict));
-- A transition may hand a case out of the actor's scope (assignment to a unit, redistribution), so
-- the new row is not checked against it; the transition functions decide where a case may go.
CREATE POLICY scoped_update ON cases FOR UPDATE TO tip_app
	USING (actor_sees_case(province, handling_unit, assigned_unit, review_unit, conflict)) WITH CHECK (true);
DROP FUNCTION actor_sees_case(char(6), bigint, bigint);

ALTER TABLE case_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY scoped ON case_events FOR SELECT TO tip_app USING (EXISTS (SELECT FROM cases c WHERE c.id = case_id));
CREATE POLICY scoped ON case_contacts FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM cases c WHERE c.id = case_id));
CREATE POLICY append ON case_events FOR INSERT TO tip_app WITH CHECK (true);
CREATE POLICY append ON case_contacts FOR INSERT TO tip_app WITH CHECK (actor = actor_id());

GRANT UPDATE (contactable, conflict, escalation_level, reexamine, concluded_at, closed_at, merged_into) ON cases
	TO tip_app;
GRANT SELECT, INSERT ON case_events, case_contacts TO tip_app;
GRANT SELECT ON api_operations TO tip_app;

-- ---- errors and arguments ----

CREATE FUNCTION wf_fail(code text, message text, field text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message, COLUMN = coalesce(field, '');
END
$$;

-- Refuses any key of args not in keys (TW400 naming it), and a document that is not an object.
CREATE FUNCTION arg_only(args jsonb, keys text[]) RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	k text;
BEGIN
	IF jsonb_typeof(args) IS DISTINCT FROM 'object' THEN
		PERFORM wf_fail('TW400', 'the arguments must be a JSON object');
	END IF;
	FOR k IN SELECT jsonb_object_keys(args) LOOP
		IF NOT k = ANY (keys) THEN
			PERFORM wf_fail('TW400', 'unknown argument', k);
		END IF;
	END LOOP;
END
$$;

-- A string of 1..max characters (NULL when absent and not required).
CREATE FUNCTION arg_text(args jsonb, key text, required boolean, max integer) RETURNS text LANGUAGE plpgsql
	IMMUTABLE AS $$
DECLARE
	v jsonb := args -> key;
BEGIN
	IF v IS NULL OR v = 'null' THEN
		IF required THEN
			PERFORM wf_fail('TW400', 'required', key);
		END IF;
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'string' OR length(v #>> '{}') NOT BETWEEN 1 AND max THEN
		PERFORM wf_fail('TW400', format('a string of 1 to %s characters', max), key);
	END IF;
	RETURN v #>> '{}';
END
$$;

-- One of the codes allowed.
CREATE FUNCTION arg_code(args jsonb, key text, required boolean, allowed text[]) RETURNS text LANGUAGE plpgsql
	IMMUTABLE AS $$
DECLARE
	v text := arg_text(args, key, required, 64);
BEGIN
	IF v IS NOT NULL AND NOT v = ANY (allowed) THEN
		PERFORM wf_fail('TW400', 'one of: ' || array_to_string(allowed, ', '), key);
	END IF;
	RETURN v;
END
$$;

-- An integer in [lo, hi], as a JSON number or (from a query string) a decimal string.
CREATE FUNCTION arg_int(args jsonb, key text, required boolean, lo bigint, hi bigint) RETURNS bigint
	LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v jsonb := args -> key;
	s text;
BEGIN
	IF v IS NULL OR v = 'null' THEN
		IF required THEN
			PERFORM wf_fail('TW400', 'required', key);
		END IF;
		RETURN NULL;
	END IF;
	s := v #>> '{}';
	IF jsonb_typeof(v) NOT IN ('number', 'string') OR s !~ '^-?[0-9]{1,18}$' OR s::bigint NOT BETWEEN lo AND hi THEN
		PERFORM wf_fail('TW400', format('an integer from %s to %s', lo, hi), key);
	END IF;
	RETURN s::bigint;
END
$$;

-- A string matching pattern that PostgreSQL reads as a value of type_ (a date, a time with its offset),
-- as text for the caller to cast; hint says what is wanted.
CREATE FUNCTION arg_typed(args jsonb, key text, required boolean, pattern text, type_ regtype, hint text)
	RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
	v text := arg_text(args, key, required, 40);
BEGIN
	IF v IS NOT NULL THEN
		IF v !~ pattern THEN
			PERFORM wf_fail('TW400', hint, key);
		END IF;
		EXECUTE format('SELECT %L::%s', v, type_);
	END IF;
	RETURN v;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
	PERFORM wf_fail('TW400', hint, key);
	RETURN NULL;
END
$$;

CREATE FUNCTION arg_date(args jsonb, key text, required boolean) RETURNS date LANGUAGE sql STABLE
	AS $$ SELECT arg_typed(args, key, required, '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', 'date', 'a date YYYY-MM-DD')::date $$;

CREATE FUNCTION arg_time(args jsonb, key text, required boolean) RETURNS timestamptz LANGUAGE sql STABLE
	AS $$ SELECT arg_typed(args, key, required,
	                       '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})$',
	                       'timestamptz', 'a time like 2026-12-05T09:30:00+08:00')::timestamptz $$;

CREATE FUNCTION arg_bool(args jsonb, key text, dflt boolean) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v jsonb := args -> key;
BEGIN
	IF v IS NULL OR v = 'null' THEN
		RETURN dflt;
	END IF;
	IF jsonb_typeof(v) = 'boolean' THEN
		RETURN v::boolean;
	END IF;
	IF v IN ('"true"', '"false"') THEN
		RETURN (v #>> '{}')::boolean;
	END IF;
	PERFORM wf_fail('TW400', 'true or false', key);
	RETURN NULL;
END
$$;

-- ---- the calendar ----

-- Dates are China Standard Time dates: a deadline is a day there, whatever the server's zone.
CREATE FUNCTION wf_date(at timestamptz) RETURNS date LANGUAGE sql IMMUTABLE
	AS $$ SELECT (at AT TIME ZONE 'Asia/Shanghai')::date $$;
CREATE FUNCTION wf_today() RETURNS date LANGUAGE sql STABLE AS $$ SELECT wf_date(now()) $$;

-- Monday to Friday, unless the calendar makes it a holiday; any day the calendar makes a working day.
CREATE FUNCTION is_working_day(d date) RETURNS boolean LANGUAGE sql STABLE
	AS $$ SELECT coalesce((SELECT kind = 'workday' FROM holidays WHERE day = d), extract(isodow FROM d) < 6) $$;

-- The n-th working day after d (n >= 1), or d itself for n = 0.
CREATE FUNCTION add_working_days(d date, n integer) RETURNS date LANGUAGE plpgsql STABLE AS $$
DECLARE
	left_ integer := n;
BEGIN
	IF n < 0 OR n > 3650 THEN
		RAISE EXCEPTION 'add_working_days: n out of range';
	END IF;
	WHILE left_ > 0 LOOP
		d := d + 1;
		IF is_working_day(d) THEN
			left_ := left_ - 1;
		END IF;
	END LOOP;
	RETURN d;
END
$$;

-- ---- the helpers every transition uses ----

-- The case, if the acting user may see it, locked for the transition.
CREATE FUNCTION wf_case(case_id bigint) RETURNS cases LANGUAGE plpgsql AS $$
DECLARE
	c cases;
BEGIN
	SELECT * INTO c FROM cases WHERE id = case_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM wf_fail('TW404', 'no such case');
	END IF;
	RETURN c;
END
$$;

CREATE FUNCTION wf_row_hash(c cases) RETURNS bytea LANGUAGE sql IMMUTABLE
	AS $$ SELECT sha256(convert_to(to_jsonb(c)::text, 'UTF8')) $$;

-- One timeline entry and one audit event (case.<action>, the row's hashes before and after).
CREATE FUNCTION wf_event(before cases, after cases, action text, detail jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO case_events (case_id, actor, action, from_stage, to_stage, detail)
	VALUES (after.id, actor_id(), action, before.stage, after.stage, coalesce(detail, '{}'));
	INSERT INTO audit_events (actor, action, object, before_hash, after_hash)
	VALUES (actor_id(), 'case.' || action, 'case:' || after.id, wf_row_hash(before), wf_row_hash(after));
END
$$;

-- Queues the case's public status for the outward link: for its own reporter and for the reporter
-- of every case merged into it. Fixed codes and a date only. Owner's rights: a merged case may lie
-- outside the actor's view, and tip_app cannot read the outbox; the request path may queue only for a
-- case it sees (the daemon's background roles act for no user).
CREATE FUNCTION wf_bulletin(case_id bigint) RETURNS void LANGUAGE sql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
	INSERT INTO status_outbox (query_hash, stage, result, day)
	SELECT r.query_hash, c.stage, c.result, wf_today()
	FROM cases c JOIN cases m ON m.id = c.id OR m.merged_into = c.id JOIN reports r ON r.id = m.report_id
	WHERE c.id = case_id
	      AND (session_user <> 'tip_app'
	           OR actor_sees_case(c.province, c.handling_unit, c.assigned_unit, c.review_unit, c.conflict)) $$;
REVOKE ALL ON FUNCTION wf_bulletin(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_bulletin(bigint) TO tip_app;

-- Moves the case to a stage (and result, when not NULL), logs it, queues its bulletin.
CREATE FUNCTION wf_move(case_id bigint, stage_to text, result_to text, action text, detail jsonb) RETURNS cases
	LANGUAGE plpgsql AS $$
DECLARE
	before cases := wf_case(case_id);
	after cases;
BEGIN
	UPDATE cases SET stage = stage_to, result = coalesce(result_to, result), updated_at = now()
	WHERE id = case_id RETURNING * INTO after;
	PERFORM wf_event(before, after, action, detail);
	PERFORM wf_bulletin(case_id);
	RETURN after;
END
$$;

-- ---- the dispatcher ----

CREATE FUNCTION api_call(op text, method text, case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	o api_operations;
	r jsonb;
BEGIN
	SELECT * INTO o FROM api_operations WHERE name = op;
	IF NOT FOUND OR (o.target = 'case') <> (case_id IS NOT NULL) THEN
		PERFORM wf_fail('TW404', 'no such operation');
	END IF;
	IF o.method <> method THEN
		PERFORM wf_fail('TW405', 'use ' || o.method);
	END IF;
	IF NOT coalesce(actor_role() = ANY (o.roles), false) THEN
		PERFORM wf_fail('TW403', 'not for your role');
	END IF;
	IF o.target = 'case' THEN
		EXECUTE format('SELECT %I($1, $2)', o.fn) INTO r USING case_id, args;
	ELSE
		EXECUTE format('SELECT %I($1)', o.fn) INTO r USING args;
	END IF;
	RETURN coalesce(r, '{"status": "ok"}');
END
$$;

-- ---- automatic distribution ----

-- New cases go to their province's office, or one level up to the national office when the umbrella
-- block names an official of the province's own level (region code NN0000: the office would be judging
-- its own) or the province has no office. Officials of a prefecture or county keep the case with the
-- province, which is already above them; their region's units are then refused at assignment
-- (wf_unit). Whether the reporter can be contacted is fixed here too. Runs after the inserting
-- statement, so the report's parts stored by the same statement are visible; owner's rights, since
-- ingest may only insert.
CREATE FUNCTION wf_route_new() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
	WITH n AS (
		SELECT c.id, c.province, r.reporter_anonymous, r.reporter_contact_allowed, r.reporter_phone,
		       EXISTS (SELECT FROM report_officials o WHERE o.report_id = r.id AND o.region = c.province) AS conflict,
		       (SELECT u.id FROM org_units u WHERE u.kind = 'provincial' AND u.province = c.province
		        ORDER BY u.id LIMIT 1) AS office
		FROM new_cases c JOIN reports r ON r.id = c.report_id
		WHERE c.handling_unit IS NULL
	), routed AS (
		UPDATE cases c
		SET conflict = n.conflict,
		    handling_unit = CASE WHEN n.conflict OR n.office IS NULL
		                         THEN (SELECT id FROM org_units WHERE kind = 'national') ELSE n.office END,
		    contactable = NOT n.reporter_anonymous OR (n.reporter_contact_allowed AND n.reporter_phone <> '')
		FROM n WHERE c.id = n.id
		RETURNING c.*
	), ev AS (
		INSERT INTO case_events (case_id, actor, action, from_stage, to_stage, detail)
		SELECT id, NULL, 'route', NULL, stage,
		       jsonb_build_object('handling_unit', handling_unit, 'conflict', conflict)
		FROM routed
	)
	INSERT INTO status_outbox (query_hash, stage, result, day)
	SELECT r.query_hash, c.stage, c.result, wf_date(c.received_at)
	FROM routed c JOIN reports r ON r.id = c.report_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER wf_route_new AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases
	FOR EACH STATEMENT EXECUTE FUNCTION wf_route_new();

-- ---- reading ----

-- The case's timeline, oldest first.
CREATE FUNCTION op_timeline(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	PERFORM wf_case(case_id);
	RETURN jsonb_build_object('events', (SELECT coalesce(jsonb_agg(jsonb_build_object(
		'at', e.at, 'actor', e.actor, 'action', e.action, 'from', e.from_stage, 'to', e.to_stage,
		'detail', e.detail) ORDER BY e.id), '[]') FROM case_events e WHERE e.case_id = op_timeline.case_id));
END
$$;

INSERT INTO api_operations VALUES
	('timeline', 'case', 'GET', '{national,provincial,unit_officer,reviewer}', 'op_timeline');

-- ---- the state machine ----

-- Each transition: the stages it starts from, the stage it leads to (NULL: it stays), and who takes it:
--   office   the office handling the case (a provincial user of handling_unit), or the national office
--   unit     an officer of the verification unit the case is assigned to
--   worker   office or unit
--   review   office (the office's sign-off) or a reviewer of the case's review unit (the security sign-off)
CREATE TABLE workflow_transitions (
	name text PRIMARY KEY CHECK (name ~ '^[a-z_]{1,40}$'),
	from_stages text[] NOT NULL,
	to_stage text,
	actor text NOT NULL CHECK (actor IN ('office', 'unit', 'worker', 'review')),
	description text NOT NULL
);
INSERT INTO workflow_transitions VALUES
	('accept', '{received}', 'accepted', 'office', 'accept the report for handling'),
	('decline', '{received,accepted}', 'not_accepted', 'office',
	 'decline it (insufficient information, or referred elsewhere), with the reason'),
	('redistribute', '{received,accepted,distributed}', NULL, 'office',
	 'hand it to another office (national: any; provincial: up to the national office), with the reason'),
	('distribute', '{accepted}', 'distributed', 'office', 'confirm the handling office after comparison'),
	('assign', '{distributed}', 'assigned', 'office',
	 'assign a verification unit and a review unit, with a deadline in working days'),
	('reassign', '{assigned,verifying}', 'assigned', 'office', 'assign another verification unit, with the reason'),
	('start', '{assigned}', 'verifying', 'unit', 'the unit starts verification'),
	('submit_result', '{verifying}', 'under_review', 'unit',
	 'findings, result code, actions taken and attachments, for review'),
	('review', '{under_review}', NULL, 'review',
	 'approve or reject the result; both sign-offs conclude the case, a rejection returns it to the unit'),
	('record_contact', '{received,accepted,distributed,assigned,verifying,under_review,concluded,feedback_given}',
	 NULL, 'worker', 'a contact with the reporter; the closing one gives feedback on a concluded case'),
	('close', '{concluded,feedback_given}', 'closed', 'office',
	 'close (a contactable report only after its closing feedback)'),
	('reopen', '{closed}', 'verifying', 'office', 're-examine a closed case, with the reason and a new deadline'),
	('supervise', '{received,accepted,distributed,assigned,verifying,under_review,concluded,feedback_given}',
	 NULL, 'office', 'a supervision instruction on the case''s timeline');
GRANT SELECT ON workflow_transitions TO tip_app;

-- Why the acting user may not take this transition on this case now: {SQLSTATE, reason}, or NULL.
CREATE FUNCTION wf_refusal(c cases, action text) RETURNS text[] LANGUAGE plpgsql STABLE AS $$
DECLARE
	t workflow_transitions;
	role_ text := actor_role();
	office boolean := role_ = 'national' OR (role_ = 'provincial' AND actor_unit() = c.handling_unit);
	unit boolean := role_ = 'unit_officer' AND actor_unit() = c.assigned_unit;
	reviewer boolean := role_ = 'reviewer' AND actor_unit() = c.review_unit;
BEGIN
	SELECT * INTO t FROM workflow_transitions WHERE name = action;
	IF NOT FOUND THEN
		RETURN ARRAY['TW404', 'no such action'];
	END IF;
	IF NOT (CASE t.actor WHEN 'office' THEN office WHEN 'unit' THEN unit WHEN 'worker' THEN office OR unit
	                     ELSE office OR reviewer END) THEN
		RETURN ARRAY['TW403', CASE t.actor
			WHEN 'office' THEN 'only the office handling the case or the national office'
			WHEN 'unit' THEN 'only the verification unit the case is assigned to'
			WHEN 'worker' THEN 'only the handling office or the assigned verification unit'
			ELSE 'only the handling office or the case''s review unit' END];
	END IF;
	IF c.merged_into IS NOT NULL THEN
		RETURN ARRAY['TW409', format('the case was merged into case %s', c.merged_into)];
	END IF;
	IF NOT c.stage = ANY (t.from_stages) THEN
		RETURN ARRAY['TW409', format('the case is %s; %s needs one of: %s', c.stage, action,
		                             array_to_string(t.from_stages, ', '))];
	END IF;
	RETURN NULL;
END
$$;

-- The visible, locked case, once the acting user may take the transition.
CREATE FUNCTION wf_begin(case_id bigint, action text) RETURNS cases LANGUAGE plpgsql AS $$
DECLARE
	c cases := wf_case(case_id);
	why text[] := wf_refusal(c, action);
BEGIN
	IF why IS NOT NULL THEN
		PERFORM wf_fail(why[1], why[2]);
	END IF;
	RETURN c;
END
$$;

-- A unit of the kind given, where the case may go: in the case's province, unless the national office
-- handles the case (a conflict of interest may need a unit from elsewhere); never a unit of the county
-- or prefecture of an official the report names.
CREATE FUNCTION wf_unit(c cases, args jsonb, key text, kind_ text) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
	u org_units;
BEGIN
	SELECT * INTO u FROM org_units WHERE id = arg_int(args, key, true, 1, 999999999999999999);
	IF NOT FOUND OR u.kind <> kind_ THEN
		PERFORM wf_fail('TW400', format('no %s unit with this id', kind_), key);
	END IF;
	IF u.province <> c.province AND c.handling_unit <> (SELECT id FROM org_units WHERE kind = 'national') THEN
		PERFORM wf_fail('TW400', 'a unit of the case''s province', key);
	END IF;
	IF EXISTS (SELECT FROM report_officials o WHERE o.report_id = c.report_id AND o.region ~ '^[0-9]{6}$'
	           AND (u.region = o.region OR (o.region ~ '00$' AND left(u.region, 4) = left(o.region, 4)))) THEN
		PERFORM wf_fail('TW400', 'a unit of the region of an official the report names (conflict of interest)', key);
	END IF;
	RETURN u.id;
END
$$;

-- The case's stage, unit assignments and deadline, its results and their reviews, its contacts, and
-- the transitions the acting user may take now.
CREATE FUNCTION op_workflow(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
BEGIN
	PERFORM arg_only(args, '{}');
	SELECT * INTO c FROM cases WHERE id = case_id;
	IF NOT FOUND THEN
		PERFORM wf_fail('TW404', 'no such case');
	END IF;
	RETURN jsonb_build_object(
		'id', c.id, 'stage', c.stage, 'result', c.result, 'handling_unit', c.handling_unit,
		'assigned_unit', c.assigned_unit, 'review_unit', c.review_unit, 'deadline', c.deadline,
		'contactable', c.contactable, 'conflict', c.conflict, 'escalation_level', c.escalation_level,
		'reexamine', c.reexamine, 'concluded_at', c.concluded_at, 'closed_at', c.closed_at,
		'merged_into', c.merged_into,
		'results', (SELECT coalesce(jsonb_agg(jsonb_build_object(
			'id', r.id, 'submitted_by', r.submitted_by, 'unit', r.unit_id, 'submitted_at', r.submitted_at,
			'result', r.result, 'findings', r.findings, 'actions', r.actions, 'state', r.state,
			'attachments', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', f.idx, 'filename', f.filename,
				'content_type', f.content_type, 'bytes', octet_length(f.data), 'sha256', encode(f.sha256, 'hex'))
				ORDER BY f.idx), '[]') FROM case_result_files f WHERE f.result_id = r.id),
			'reviews', (SELECT coalesce(jsonb_agg(jsonb_build_object('level', v.level, 'reviewer', v.reviewer,
				'unit', v.unit_id, 'decision', v.decision, 'reasons', v.reasons, 'at', v.at) ORDER BY v.at), '[]')
				FROM case_reviews v WHERE v.result_id = r.id)) ORDER BY r.id), '[]')
			FROM case_results r WHERE r.case_id = c.id),
		'contacts', (SELECT coalesce(jsonb_agg(jsonb_build_object('contacted_at', k.contacted_at,
			'recorded_at', k.recorded_at, 'actor', k.actor, 'channel', k.channel, 'outcome', k.outcome,
			'closing', k.closing, 'note', k.note) ORDER BY k.id), '[]') FROM case_contacts k WHERE k.case_id = c.id),
		'actions', (SELECT coalesce(jsonb_agg(t.name ORDER BY t.name), '[]') FROM workflow_transitions t
		            WHERE wf_refusal(c, t.name) IS NULL));
END
$$;

-- Verification results, each with its files and the two sign-offs of its review.
CREATE TABLE case_results (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	case_id bigint NOT NULL REFERENCES cases (id),
	submitted_by bigint NOT NULL REFERENCES users (id),
	unit_id bigint NOT NULL REFERENCES org_units (id),
	submitted_at timestamptz NOT NULL DEFAULT now(),
	result text NOT NULL CHECK (result IN ('substantiated', 'partially_substantiated', 'not_substantiated',
	                                       'referred', 'insufficient_information')),
	findings text NOT NULL,
	actions text NOT NULL,
	state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected'))
);
CREATE INDEX case_results_case ON case_results (case_id, id);
CREATE TABLE case_result_files (
	result_id bigint NOT NULL REFERENCES case_results (id),
	idx integer NOT NULL,
	filename text NOT NULL,
	content_type text NOT NULL,
	sha256 bytea NOT NULL CHECK (octet_length(sha256) = 32),
	data bytea NOT NULL,
	PRIMARY KEY (result_id, idx)
);
CREATE TABLE case_reviews (
	result_id bigint NOT NULL REFERENCES case_results (id),
	level text NOT NULL CHECK (level IN ('office', 'security')),
	reviewer bigint NOT NULL REFERENCES users (id),
	unit_id bigint NOT NULL REFERENCES org_units (id),
	decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
	reasons text NOT NULL DEFAULT '',
	at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (result_id, level),
	CHECK (decision = 'approve' OR reasons <> '')
);
ALTER TABLE case_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_result_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_reviews ENABLE ROW LEVEL SECURITY;
CREATE POLICY scoped ON case_results FOR SELECT TO tip_app USING (EXISTS (SELECT FROM cases c WHERE c.id = case_id));
CREATE POLICY scoped ON case_result_files FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM case_results r WHERE r.id = result_id));
CREATE POLICY scoped ON case_reviews FOR SELECT TO tip_app
	USING (EXISTS (SELECT FROM case_results r WHERE r.id = result_id));
CREATE POLICY append ON case_results FOR INSERT TO tip_app WITH CHECK (submitted_by = actor_id());
CREATE POLICY append ON case_result_files FOR INSERT TO tip_app
	WITH CHECK (EXISTS (SELECT FROM case_results r WHERE r.id = result_id AND r.submitted_by = actor_id()));
CREATE POLICY append ON case_reviews FOR INSERT TO tip_app WITH CHECK (reviewer = actor_id());
CREATE POLICY review ON case_results FOR UPDATE TO tip_app USING (EXISTS (SELECT FROM cases c WHERE c.id = case_id));
GRANT SELECT, INSERT ON case_results, case_result_files, case_reviews TO tip_app;
GRANT UPDATE (state) ON case_results TO tip_app;

-- ---- the transitions ----

CREATE FUNCTION op_accept(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM arg_only(args, '{note}');
	PERFORM wf_begin(case_id, 'accept');
	PERFORM wf_move(case_id, 'accepted', NULL, 'accept', jsonb_build_object('note', arg_text(args, 'note', false, 2000)));
	RETURN NULL;
END
$$;

CREATE FUNCTION op_decline(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM arg_only(args, '{result,reason}');
	PERFORM wf_begin(case_id, 'decline');
	UPDATE cases SET closed_at = now() WHERE id = case_id;
	PERFORM wf_move(case_id, 'not_accepted', arg_code(args, 'result', true, '{insufficient_information,referred}'),
	                'decline', jsonb_build_object('reason', arg_text(args, 'reason', true, 2000)));
	RETURN NULL;
END
$$;

-- With the owner's rights: a case handed up leaves the province's view, and PostgreSQL checks an updated
-- row against the actor's view. wf_begin's rules (the handling office or the national office) decide
-- who may, as for every transition.
CREATE FUNCTION op_redistribute(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
DECLARE
	before cases;
	after cases;
	target org_units;
	reason text;
BEGIN
	PERFORM arg_only(args, '{unit,reason}');
	before := wf_begin(case_id, 'redistribute');
	SELECT * INTO target FROM org_units WHERE id = arg_int(args, 'unit', true, 1, 999999999999999999)
	                                      AND kind IN ('national', 'provincial');
	IF NOT FOUND THEN
		PERFORM wf_fail('TW400', 'no provincial or national office with this id', 'unit');
	END IF;
	reason := arg_text(args, 'reason', true, 2000);
	IF target.id = before.handling_unit THEN
		PERFORM wf_fail('TW409', 'the case is already with this office');
	END IF;
	IF actor_role() = 'provincial' AND target.kind <> 'national' THEN
		PERFORM wf_fail('TW403', 'a provincial office hands a case only up to the national office');
	END IF;
	-- Handed up, the province no longer sees it (a conflict of interest is the usual reason).
	UPDATE cases SET handling_unit = target.id, conflict = (target.kind = 'national'), updated_at = now()
	WHERE id = case_id RETURNING * INTO after;
	PERFORM wf_event(before, after, 'redistribute', jsonb_build_object('from', before.handling_unit, 'to', target.id,
	                                                                    'reason', reason));
	RETURN NULL;
END
$$;

CREATE FUNCTION op_distribute(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM arg_only(args, '{note}');
	PERFORM wf_begin(case_id, 'distribute');
	PERFORM wf_move(case_id, 'distributed', NULL, 'distribute',
	                jsonb_build_object('note', arg_text(args, 'note', false, 2000)));
	RETURN NULL;
END
$$;

CREATE FUNCTION op_assign(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
	unit bigint;
	review bigint;
	days integer;
BEGIN
	PERFORM arg_only(args, '{unit,review_unit,working_days,note}');
	c := wf_begin(case_id, 'assign');
	unit := wf_unit(c, args, 'unit', 'verification');
	review := wf_unit(c, args, 'review_unit', 'review');
	days := coalesce(arg_int(args, 'working_days', false, 1, 250), 30);
	UPDATE cases SET assigned_unit = unit, review_unit = review, deadline = add_working_days(wf_today(), days)
	WHERE id = case_id;
	PERFORM wf_move(case_id, 'assigned', NULL, 'assign', jsonb_build_object('unit', unit, 'review_unit', review,
		'working_days', days, 'deadline', add_working_days(wf_today(), days), 'note', arg_text(args, 'note', false, 2000)));
	RETURN NULL;
END
$$;

CREATE FUNCTION op_reassign(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
	unit bigint;
	days integer;
BEGIN
	PERFORM arg_only(args, '{unit,reason,working_days}');
	c := wf_begin(case_id, 'reassign');
	unit := wf_unit(c, args, 'unit', 'verification');
	days := arg_int(args, 'working_days', false, 1, 250);
	IF unit = c.assigned_unit THEN
		PERFORM wf_fail('TW400', 'the case is already assigned to this unit', 'unit');
	END IF;
	IF unit = c.review_unit THEN
		PERFORM wf_fail('TW400', 'the review unit cannot verify the case', 'unit');
	END IF;
	-- The deadline keeps running unless a new one is set.
	UPDATE cases SET assigned_unit = unit, deadline = coalesce(add_working_days(wf_today(), days), deadline)
	WHERE id = case_id;
	PERFORM wf_move(case_id, 'assigned', NULL, 'reassign', jsonb_build_object('from', c.assigned_unit, 'to', unit,
		'reason', arg_text(args, 'reason', true, 2000), 'working_days', days));
	RETURN NULL;
END
$$;

CREATE FUNCTION op_start(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	PERFORM wf_begin(case_id, 'start');
	PERFORM wf_move(case_id, 'verifying', NULL, 'start', '{}');
	RETURN NULL;
END
$$;

-- attachments: [{"filename", "content_type", "data" (base64)}], at most 10.
CREATE FUNCTION op_submit_result(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
	rid bigint;
	files jsonb := coalesce(args -> 'attachments', '[]');
	f jsonb;
	n integer := 0;
	data bytea;
BEGIN
	PERFORM arg_only(args, '{result,findings,actions,attachments}');
	c := wf_begin(case_id, 'submit_result');
	INSERT INTO case_results (case_id, submitted_by, unit_id, result, findings, actions)
	VALUES (case_id, actor_id(), actor_unit(),
	        arg_code(args, 'result', true, '{substantiated,partially_substantiated,not_substantiated,referred,insufficient_information}'),
	        arg_text(args, 'findings', true, 20000), coalesce(arg_text(args, 'actions', false, 10000), ''))
	RETURNING id INTO rid;
	IF jsonb_typeof(files) <> 'array' OR jsonb_array_length(files) > 10 THEN
		PERFORM wf_fail('TW400', 'a list of at most 10 files', 'attachments');
	END IF;
	FOR f IN SELECT jsonb_array_elements(files) LOOP
		PERFORM arg_only(f, '{filename,content_type,data}');
		BEGIN
			data := decode(arg_text(f, 'data', true, 20000000), 'base64');
		EXCEPTION WHEN invalid_parameter_value THEN
			PERFORM wf_fail('TW400', 'base64', 'attachments');
		END;
		INSERT INTO case_result_files VALUES (rid, n, arg_text(f, 'filename', true, 255),
			arg_code(f, 'content_type', true, '{application/pdf,image/jpeg,image/png,text/plain}'), sha256(data), data);
		n := n + 1;
	END LOOP;
	PERFORM wf_move(case_id, 'under_review', NULL, 'submit_result', jsonb_build_object('result_id', rid));
	RETURN jsonb_build_object('result_id', rid);
END
$$;

-- The office signs for the office, a reviewer of the review unit for security; nobody reviews a
-- result they submitted. Both approvals conclude the case with the result; a rejection sends it back
-- to the unit with the reasons.
CREATE FUNCTION op_review(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
	r case_results;
	lvl text := CASE actor_role() WHEN 'reviewer' THEN 'security' ELSE 'office' END;
	decision_ text;
	reasons_ text;
BEGIN
	PERFORM arg_only(args, '{decision,reasons}');
	c := wf_begin(case_id, 'review');
	decision_ := arg_code(args, 'decision', true, '{approve,reject}');
	reasons_ := coalesce(arg_text(args, 'reasons', decision_ = 'reject', 5000), '');
	SELECT * INTO r FROM case_results WHERE case_results.case_id = op_review.case_id AND state = 'pending'
	ORDER BY id DESC LIMIT 1;
	IF NOT FOUND THEN
		PERFORM wf_fail('TW409', 'no result is waiting for review');
	END IF;
	IF r.submitted_by = actor_id() OR actor_unit() = c.assigned_unit THEN
		PERFORM wf_fail('TW403', 'the handling unit does not review its own result');
	END IF;
	IF EXISTS (SELECT FROM case_reviews WHERE result_id = r.id AND level = lvl) THEN
		PERFORM wf_fail('TW409', format('the %s sign-off is already given', lvl));
	END IF;
	INSERT INTO case_reviews (result_id, level, reviewer, unit_id, decision, reasons)
	VALUES (r.id, lvl, actor_id(), actor_unit(), decision_, reasons_);
	IF decision_ = 'reject' THEN
		UPDATE case_results SET state = 'rejected' WHERE id = r.id;
		PERFORM wf_move(case_id, 'verifying', NULL, 'review', jsonb_build_object('result_id', r.id, 'level', lvl,
			'decision', decision_, 'reasons', reasons_));
	ELSIF (SELECT count(*) FROM case_reviews WHERE result_id = r.id AND decision = 'approve') = 2 THEN
		UPDATE case_results SET state = 'approved' WHERE id = r.id;
		UPDATE cases SET concluded_at = now() WHERE id = case_id;
		PERFORM wf_move(case_id, 'concluded', r.result, 'review', jsonb_build_object('result_id', r.id, 'level', lvl,
			'decision', decision_));
	ELSE
		PERFORM wf_event(c, c, 'review', jsonb_build_object('result_id', r.id, 'level', lvl, 'decision', decision_));
	END IF;
	RETURN NULL;
END
$$;

-- A closing contact (the result given) on a concluded case is the feedback: the case moves on.
CREATE FUNCTION op_record_contact(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
	k case_contacts;
BEGIN
	PERFORM arg_only(args, '{channel,outcome,contacted_at,closing,note}');
	c := wf_begin(case_id, 'record_contact');
	IF NOT c.contactable THEN
		PERFORM wf_fail('TW409', 'the reporter is anonymous and cannot be contacted');
	END IF;
	k.contacted_at := arg_time(args, 'contacted_at', true);
	k.channel := arg_code(args, 'channel', true, '{phone,sms,in_person}');
	k.outcome := arg_code(args, 'outcome', true, '{reached,not_reached,declined}');
	k.closing := arg_bool(args, 'closing', false);
	k.note := coalesce(arg_text(args, 'note', false, 2000), '');
	IF k.contacted_at > now() + interval '5 minutes' OR k.contacted_at < c.received_at THEN
		PERFORM wf_fail('TW400', 'between the report''s receipt and now', 'contacted_at');
	END IF;
	IF k.closing AND (k.outcome <> 'reached' OR c.stage NOT IN ('concluded', 'feedback_given')) THEN
		PERFORM wf_fail('TW400', 'the closing feedback is a contact that reached the reporter after the case concluded',
		                'closing');
	END IF;
	INSERT INTO case_contacts (case_id, contacted_at, actor, channel, outcome, closing, note)
	VALUES (case_id, k.contacted_at, actor_id(), k.channel, k.outcome, k.closing, k.note)
	RETURNING * INTO k;
	IF k.closing AND c.stage = 'concluded' THEN
		PERFORM wf_move(case_id, 'feedback_given', NULL, 'record_contact', to_jsonb(k) - 'note' - 'case_id');
	ELSE
		PERFORM wf_event(c, c, 'record_contact', to_jsonb(k) - 'note' - 'case_id');
	END IF;
	RETURN jsonb_build_object('contact_id', k.id);
END
$$;

CREATE FUNCTION op_close(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
BEGIN
	PERFORM arg_only(args, '{note}');
	c := wf_begin(case_id, 'close');
	IF c.contactable AND NOT EXISTS (SELECT FROM case_contacts k WHERE k.case_id = c.id AND k.closing) THEN
		PERFORM wf_fail('TW409', 'the reporter can be contacted: record the closing feedback first');
	END IF;
	UPDATE cases SET closed_at = now() WHERE id = case_id;
	PERFORM wf_move(case_id, 'closed', NULL, 'close', jsonb_build_object('note', arg_text(args, 'note', false, 2000)));
	RETURN NULL;
END
$$;

CREATE FUNCTION op_reopen(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	days integer;
BEGIN
	PERFORM arg_only(args, '{reason,working_days}');
	PERFORM wf_begin(case_id, 'reopen');
	days := arg_int(args, 'working_days', true, 1, 250);
	UPDATE cases SET closed_at = NULL, concluded_at = NULL, reexamine = false, result = 'pending',
	                 deadline = add_working_days(wf_today(), days), escalation_level = 0
	WHERE id = case_id;
	PERFORM wf_move(case_id, 'verifying', NULL, 'reopen', jsonb_build_object('reason',
		arg_text(args, 'reason', true, 2000), 'working_days', days));
	RETURN NULL;
END
$$;

CREATE FUNCTION op_supervise(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c cases;
BEGIN
	PERFORM arg_only(args, '{instruction}');
	c := wf_begin(case_id, 'supervise');
	PERFORM wf_event(c, c, 'supervise', jsonb_build_object('instruction', arg_text(args, 'instruction', true, 2000)));
	RETURN NULL;
END
$$;

INSERT INTO api_operations
SELECT name, 'case', 'POST', '{national,provincial,unit_officer,reviewer}', 'op_' || name FROM workflow_transitions;
INSERT INTO api_operations VALUES
	('workflow', 'case', 'GET', '{national,provincial,unit_officer,reviewer}', 'op_workflow');
