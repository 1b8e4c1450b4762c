-- 0010: what the staff pages read beyond the case routes: the organisation's units (for the forms that
-- name one), the names of the people on a case's record, and the dashboard's figures (the situation map,
-- counts by category, sector and month, trends, and the regional evaluation), with small counts
-- suppressed. Operations and their answers: docs/formats/staff-api.md.

-- ---- units and people ----

-- Every unit (id, parent, kind, region, province, name): unit names are no secret inside the
-- organisation, and the assignment forms need them.
CREATE FUNCTION op_units(args jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	RETURN jsonb_build_object('units', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id,
		'parent', u.parent_id, 'kind', u.kind, 'region', u.region, 'province', u.province, 'name', u.name)
		ORDER BY u.id), '[]') FROM org_units u));
END
$$;

-- The names and units of the users on a case's record (timeline, results, reviews, contacts), for a case
-- the actor sees. Users' rows are visible only to themselves and administrators, hence the owner's rights
-- in case_people, which op_people calls only once the case has been found under the actor's policies.
CREATE FUNCTION case_people(case_id bigint) RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
	SELECT coalesce(jsonb_object_agg(u.id, jsonb_build_object('name', coalesce(nullif(u.display_name, ''), u.username),
	                                                          'unit', u.unit_id)), '{}')
	FROM users u
	WHERE u.id IN (SELECT actor FROM case_events WHERE case_events.case_id = case_people.case_id
	               UNION SELECT actor FROM case_contacts WHERE case_contacts.case_id = case_people.case_id
	               UNION SELECT submitted_by FROM case_results WHERE case_results.case_id = case_people.case_id
	               UNION SELECT v.reviewer FROM case_reviews v JOIN case_results r ON r.id = v.result_id
	                     WHERE r.case_id = case_people.case_id) $$;
REVOKE ALL ON FUNCTION case_people(bigint) FROM PUBLIC;

CREATE FUNCTION op_people(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	IF NOT EXISTS (SELECT FROM cases c WHERE c.id = case_id) THEN
		PERFORM wf_fail('TW404', 'no such case');
	END IF;
	RETURN jsonb_build_object('people', case_people(case_id));
END
$$;
GRANT EXECUTE ON FUNCTION case_people(bigint) TO tip_app;

INSERT INTO api_operations VALUES
	('units', 'global', 'GET', '{national,provincial,unit_officer,reviewer,auditor,administrator}', 'op_units'),
	('people', 'case', 'GET', '{national,provincial,unit_officer,reviewer}', 'op_people');

-- ---- the case list at scale ----
--
-- case_list (0004) as one static statement gets a generic plan: every filter "x IS NULL OR ...", so
-- PostgreSQL reads and sorts every visible case (a second at 20,000 cases). Here the statement is built
-- for the filters given and for the acting user's scope, so each part walks an index in id order and
-- stops after one page: the scope as plain predicates on indexed columns (row-level security still
-- applies on top of them), a provincial office's two kinds of visible case as two index walks merged.
-- The cases policies of 0005, the same rule written so that the actor's standing is looked up once per
-- statement (each (SELECT actor_...()) is an init plan) rather than once per row: the function calls were
-- most of a page's cost when a scope's cases are sparse among the newest (a small province, a filter).
DROP POLICY scoped ON cases;
DROP POLICY scoped_update ON cases;
CREATE POLICY scoped ON cases FOR SELECT TO tip_app USING (
	(SELECT actor_pledged()) AND CASE (SELECT actor_role())
		WHEN 'national' THEN true
		WHEN 'provincial' THEN (province = (SELECT actor_province()) AND NOT conflict) OR handling_unit = (SELECT actor_unit())
		WHEN 'unit_officer' THEN assigned_unit = (SELECT actor_unit())
		WHEN 'reviewer' THEN review_unit = (SELECT actor_unit())
		ELSE false END IS TRUE);
CREATE POLICY scoped_update ON cases FOR UPDATE TO tip_app USING (
	(SELECT actor_pledged()) AND CASE (SELECT actor_role())
		WHEN 'national' THEN true
		WHEN 'provincial' THEN (province = (SELECT actor_province()) AND NOT conflict) OR handling_unit = (SELECT actor_unit())
		WHEN 'unit_officer' THEN assigned_unit = (SELECT actor_unit())
		WHEN 'reviewer' THEN review_unit = (SELECT actor_unit())
		ELSE false END IS TRUE) WITH CHECK (true);

CREATE INDEX cases_region ON cases (region, id);
CREATE INDEX cases_province_stage ON cases (province, stage, id);

CREATE OR REPLACE FUNCTION case_list(stage_is text, province_is text, region_is text, category_is text,
                                     before bigint, page integer) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	scopes text[] := CASE actor_role()
		WHEN 'national' THEN ARRAY['true']
		WHEN 'provincial' THEN ARRAY['c.province = $7 AND NOT c.conflict', 'c.handling_unit = $8']
		WHEN 'unit_officer' THEN ARRAY['c.assigned_unit = $8']
		WHEN 'reviewer' THEN ARRAY['c.review_unit = $8']
		ELSE ARRAY['false'] END;
	filters text := '';
	ids text;
	doc jsonb;
BEGIN
	IF stage_is IS NOT NULL THEN filters := filters || ' AND c.stage = $1'; END IF;
	IF province_is IS NOT NULL THEN filters := filters || ' AND c.province = $2::char(6)'; END IF;
	IF region_is IS NOT NULL THEN filters := filters || ' AND c.region = $3::char(6)'; END IF;
	IF category_is IS NOT NULL THEN
		filters := filters || ' AND EXISTS (SELECT FROM reports r WHERE r.id = c.report_id AND r.categories @> ARRAY[$4])';
	END IF;
	IF before IS NOT NULL THEN filters := filters || ' AND c.id < $5'; END IF;
	SELECT string_agg(format('(SELECT c.id FROM cases c WHERE %s%s ORDER BY c.id DESC LIMIT $6)', sc, filters), ' UNION ')
	INTO ids FROM unnest(scopes) AS sc;
	EXECUTE format($q$
		SELECT jsonb_build_object('cases', coalesce(jsonb_agg(x ORDER BY id DESC), '[]'),
		                          'next', CASE WHEN count(*) = $6 THEN min(id) END)
		FROM (SELECT c.id, jsonb_build_object('id', c.id, 'stage', c.stage, 'result', c.result, 'province', c.province,
		                                      'region', c.region, 'categories', r.categories, 'sector', r.sector,
		                                      'received_at', c.received_at, 'deadline', c.deadline) AS x
		      FROM (SELECT id FROM (%s) u ORDER BY id DESC LIMIT $6) p
		      JOIN cases c ON c.id = p.id JOIN reports r ON r.id = c.report_id) l $q$, ids)
	INTO doc USING stage_is, province_is, region_is, category_is, before, page, actor_province(), actor_unit();
	RETURN doc;
END
$$;

-- ---- the dashboard ----
--
-- What the situation map and the regional evaluation show comes from two small summary tables kept by
-- statement-level triggers, so the figures cost the same at a million reports as at a hundred:
--   dash_counts (province, conflict, month, measure, n): per province, whether the case was routed past the
--     province for a conflict of interest, and calendar month (China time) of the event:
--     received, contactable (received and contactable), merged (received, later merged into another case),
--     concluded, concluded_due (concluded, with a deadline), on_time (concluded by the deadline),
--     contactable_concluded, closed, contacted_30 (received, first reached within 30 days of receipt),
--     feedback (the case's first closing contact recorded that month).
--   dash_dims (province, conflict, month, dim, code, n): reports received by crime category and by sector.
-- A case's contribution is a function of its row (dash_case_measures), so an update adds the new rows'
-- contributions and takes away the old ones'; contacts count once per case. Open and overdue cases are
-- counted live, from a partial index over the open cases only. dash_rebuild() recomputes both tables from
-- the base tables (the migration uses it; the tests compare it with what the triggers kept).

CREATE TABLE dash_counts (
	province char(6) NOT NULL,
	conflict boolean NOT NULL,
	month date NOT NULL,
	measure text NOT NULL,
	n bigint NOT NULL,
	PRIMARY KEY (province, conflict, month, measure)
);
CREATE TABLE dash_dims (
	province char(6) NOT NULL,
	conflict boolean NOT NULL,
	month date NOT NULL,
	dim text NOT NULL CHECK (dim IN ('category', 'sector')),
	code text NOT NULL,
	n bigint NOT NULL,
	PRIMARY KEY (province, conflict, month, dim, code)
);
CREATE INDEX cases_open ON cases (province, deadline) WHERE closed_at IS NULL AND merged_into IS NULL;

CREATE FUNCTION dash_month(at timestamptz) RETURNS date LANGUAGE sql IMMUTABLE
	AS $$ SELECT date_trunc('month', wf_date(at))::date $$;

-- A case's contributions, from the columns that decide them (dash_case_measures(c.*) would be neater, but
-- a whole-row argument inlined under LATERAL trips PostgreSQL 15's planner).
CREATE FUNCTION dash_case_measures(province char(6), conflict boolean, received_at timestamptz, contactable boolean,
                                   merged_into bigint, concluded_at timestamptz, deadline date, closed_at timestamptz)
	RETURNS TABLE (province char(6), conflict boolean, month date, measure text) LANGUAGE sql IMMUTABLE AS $$
	SELECT $1, $2, dash_month($3), m FROM unnest(ARRAY['received']
		|| CASE WHEN $4 THEN ARRAY['contactable'] ELSE '{}' END
		|| CASE WHEN $5 IS NOT NULL THEN ARRAY['merged'] ELSE '{}' END) AS m
	UNION ALL
	SELECT $1, $2, dash_month($6), m FROM unnest(ARRAY['concluded']
		|| CASE WHEN $7 IS NOT NULL THEN ARRAY['concluded_due'] ELSE '{}' END
		|| CASE WHEN wf_date($6) <= $7 THEN ARRAY['on_time'] ELSE '{}' END
		|| CASE WHEN $4 THEN ARRAY['contactable_concluded'] ELSE '{}' END) AS m
	WHERE $6 IS NOT NULL
	UNION ALL
	SELECT $1, $2, dash_month($8), 'closed' WHERE $8 IS NOT NULL $$;

-- Adds signed counts [{province, conflict, month, measure, n}] in key order (two transactions touching the
-- same rows then lock them in the same order).
CREATE FUNCTION dash_add(delta jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO dash_counts AS d (province, conflict, month, measure, n)
	SELECT province, conflict, month, measure, n
	FROM jsonb_to_recordset(coalesce(delta, '[]')) AS x(province char(6), conflict boolean, month date, measure text, n bigint)
	WHERE n <> 0 ORDER BY province, conflict, month, measure
	ON CONFLICT (province, conflict, month, measure) DO UPDATE SET n = d.n + EXCLUDED.n $$;

-- The same for the categories and sectors of reports: [{province, conflict, month, dim, code, n}].
CREATE FUNCTION dash_add_dims(delta jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO dash_dims AS d (province, conflict, month, dim, code, n)
	SELECT province, conflict, month, dim, code, n
	FROM jsonb_to_recordset(coalesce(delta, '[]'))
	     AS x(province char(6), conflict boolean, month date, dim text, code text, n bigint)
	WHERE n <> 0 ORDER BY province, conflict, month, dim, code
	ON CONFLICT (province, conflict, month, dim, code) DO UPDATE SET n = d.n + EXCLUDED.n $$;

CREATE FUNCTION dash_cases_inserted() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
BEGIN
	PERFORM dash_add((SELECT jsonb_agg(x) FROM (
		SELECT m.province, m.conflict, m.month, m.measure, count(*) AS n
		FROM new_rows r, LATERAL dash_case_measures(r.province, r.conflict, r.received_at, r.contactable, r.merged_into, r.concluded_at, r.deadline, r.closed_at) m GROUP BY 1, 2, 3, 4) x));
	PERFORM dash_add_dims((SELECT jsonb_agg(x) FROM (
		SELECT c.province, c.conflict, dash_month(c.received_at) AS month, 'sector' AS dim, r.sector AS code,
		       count(*) AS n
		FROM new_rows c JOIN reports r ON r.id = c.report_id GROUP BY 1, 2, 3, 5
		UNION ALL
		SELECT c.province, c.conflict, dash_month(c.received_at), 'category', k, count(*)
		FROM new_rows c JOIN reports r ON r.id = c.report_id, unnest(r.categories) AS k GROUP BY 1, 2, 3, 5) x));
	RETURN NULL;
END
$$;

-- New contributions in, old ones out; a case whose province or conflict flag changed moves its
-- categories and sector too.
CREATE FUNCTION dash_cases_updated() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
BEGIN
	PERFORM dash_add((SELECT jsonb_agg(x) FROM (
		SELECT province, conflict, month, measure, sum(n) AS n FROM (
			SELECT m.*, 1 AS n FROM new_rows r, LATERAL dash_case_measures(r.province, r.conflict, r.received_at, r.contactable, r.merged_into, r.concluded_at, r.deadline, r.closed_at) m
			UNION ALL
			SELECT m.*, -1 FROM old_rows r, LATERAL dash_case_measures(r.province, r.conflict, r.received_at, r.contactable, r.merged_into, r.concluded_at, r.deadline, r.closed_at) m) d
		GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0) x));
	PERFORM dash_add_dims((SELECT jsonb_agg(x) FROM (
		SELECT province, conflict, month, dim, code, sum(n) AS n FROM (
			SELECT c.province, c.conflict, dash_month(c.received_at) AS month, d.dim, d.code, d.sign AS n
			FROM (SELECT n.*, 1 AS sign FROM new_rows n JOIN old_rows o ON o.id = n.id
			      WHERE (n.province, n.conflict, n.received_at) IS DISTINCT FROM (o.province, o.conflict, o.received_at)
			      UNION ALL
			      SELECT o.*, -1 FROM new_rows n JOIN old_rows o ON o.id = n.id
			      WHERE (n.province, n.conflict, n.received_at) IS DISTINCT FROM (o.province, o.conflict, o.received_at)) c
			JOIN reports r ON r.id = c.report_id,
			LATERAL (SELECT 'sector' AS dim, r.sector AS code, c.sign
			         UNION ALL SELECT 'category', k, c.sign FROM unnest(r.categories) AS k) d) y
		GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0) x));
	RETURN NULL;
END
$$;

-- A case counts once for contacted_30 (a reached contact within 30 days of receipt) and once for feedback
-- (its first closing contact), whatever is recorded later: it counts when all its qualifying contacts are
-- among the new rows (set operations only, so a bulk load of contacts stays linear).
CREATE FUNCTION dash_contacts_inserted() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
BEGIN
	PERFORM dash_add((SELECT jsonb_agg(x) FROM (
		WITH reached AS (
			SELECT k.case_id, count(*) AS n FROM new_rows k JOIN cases c ON c.id = k.case_id
			WHERE k.outcome = 'reached' AND k.contacted_at <= c.received_at + interval '30 days' GROUP BY 1
		), reached_all AS (
			SELECT o.case_id, count(*) AS n FROM case_contacts o JOIN reached USING (case_id) JOIN cases c ON c.id = o.case_id
			WHERE o.outcome = 'reached' AND o.contacted_at <= c.received_at + interval '30 days' GROUP BY 1
		), closing AS (
			SELECT k.case_id, count(*) AS n, min(k.recorded_at) AS first_at FROM new_rows k WHERE k.closing GROUP BY 1
		), closing_all AS (
			SELECT o.case_id, count(*) AS n FROM case_contacts o JOIN closing USING (case_id) WHERE o.closing GROUP BY 1
		)
		SELECT c.province, c.conflict, dash_month(c.received_at) AS month, 'contacted_30' AS measure, count(*) AS n
		FROM reached r JOIN reached_all a ON a.case_id = r.case_id AND a.n = r.n JOIN cases c ON c.id = r.case_id
		GROUP BY 1, 2, 3
		UNION ALL
		SELECT c.province, c.conflict, dash_month(f.first_at), 'feedback', count(*)
		FROM closing f JOIN closing_all a ON a.case_id = f.case_id AND a.n = f.n JOIN cases c ON c.id = f.case_id
		GROUP BY 1, 2, 3) x));
	RETURN NULL;
END
$$;

CREATE TRIGGER dash_cases_inserted AFTER INSERT ON cases REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dash_cases_inserted();
CREATE TRIGGER dash_cases_updated AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dash_cases_updated();
CREATE TRIGGER dash_contacts_inserted AFTER INSERT ON case_contacts REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dash_contacts_inserted();

-- Both summaries from the base tables, replacing what is there (run by the owner).
CREATE FUNCTION dash_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	LOCK TABLE dash_counts, dash_dims IN EXCLUSIVE MODE;
	DELETE FROM dash_counts;
	DELETE FROM dash_dims;
	INSERT INTO dash_counts
	SELECT m.province, m.conflict, m.month, m.measure, count(*) FROM cases c, LATERAL dash_case_measures(c.province, c.conflict, c.received_at, c.contactable, c.merged_into,
	                                     c.concluded_at, c.deadline, c.closed_at) m
	GROUP BY 1, 2, 3, 4;
	INSERT INTO dash_counts
	SELECT c.province, c.conflict, dash_month(c.received_at), 'contacted_30', count(*) FROM cases c
	WHERE EXISTS (SELECT FROM case_contacts k WHERE k.case_id = c.id AND k.outcome = 'reached'
	              AND k.contacted_at <= c.received_at + interval '30 days')
	GROUP BY 1, 2, 3;
	INSERT INTO dash_counts
	SELECT c.province, c.conflict, dash_month(f.first_at), 'feedback', count(*)
	FROM (SELECT case_id, min(recorded_at) AS first_at FROM case_contacts WHERE closing GROUP BY 1) f
	JOIN cases c ON c.id = f.case_id GROUP BY 1, 2, 3;
	INSERT INTO dash_dims
	SELECT c.province, c.conflict, dash_month(c.received_at), 'sector', r.sector, count(*)
	FROM cases c JOIN reports r ON r.id = c.report_id GROUP BY 1, 2, 3, 5;
	INSERT INTO dash_dims
	SELECT c.province, c.conflict, dash_month(c.received_at), 'category', k, count(*)
	FROM cases c JOIN reports r ON r.id = c.report_id, unnest(r.categories) AS k GROUP BY 1, 2, 3, 5;
END
$$;
REVOKE ALL ON FUNCTION dash_rebuild() FROM PUBLIC;
SELECT dash_rebuild();

-- Small counts are withheld: 1 to 4 become NULL (0 and 5 or more are shown).
CREATE FUNCTION dash_n(n bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
	AS $$ SELECT CASE WHEN n BETWEEN 1 AND 4 THEN NULL ELSE n END $$;
-- A rate num / den, shown only when it reveals no small count: den at least 5, and num and den - num
-- each 0 or at least 5.
CREATE FUNCTION dash_rate(num bigint, den bigint) RETURNS numeric LANGUAGE sql IMMUTABLE
	AS $$ SELECT CASE WHEN den >= 5 AND dash_n(num) IS NOT NULL AND dash_n(den - num) IS NOT NULL
	             THEN round(num::numeric / den, 4) END $$;

-- The dashboard for the acting user: the whole country for the national office; for a provincial office
-- its own province without the cases routed past it for a conflict of interest (what it sees). Arguments:
-- from and to (dates; the months containing them; default the twelve months up to this one). Reports and
-- every flow figure are for those months; open and overdue are as of now. Counts of 1 to 4 are null, and so
-- is a rate that would reveal one. With the owner's rights: the summaries are no table of the request
-- path's, and the scope is decided here from the actor.
CREATE FUNCTION op_dashboard(args jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
DECLARE
	role_ text := actor_role();
	scope char(6);
	today date := wf_today();
	m_from date;
	m_to date;
	contact_until date := date_trunc('month', wf_today() - 30)::date; -- months before it: 30 days have passed
BEGIN
	PERFORM arg_only(args, '{from,to}');
	m_to := date_trunc('month', coalesce(arg_date(args, 'to', false), today))::date;
	m_from := date_trunc('month', coalesce(arg_date(args, 'from', false), (m_to - interval '11 months')::date))::date;
	IF m_from > m_to OR m_to - m_from > 3700 THEN
		PERFORM wf_fail('TW400', 'from must not be after to, and at most ten years before it', 'from');
	END IF;
	IF role_ = 'provincial' THEN
		scope := actor_province();
	ELSIF role_ IS DISTINCT FROM 'national' THEN
		PERFORM wf_fail('TW403', 'the national office and provincial offices only');
	END IF;
	RETURN (
	WITH counts AS (
		SELECT province, measure, sum(n)::bigint AS n FROM dash_counts
		WHERE month BETWEEN m_from AND m_to AND (scope IS NULL OR (province = scope AND NOT conflict))
		GROUP BY 1, 2
	), contact AS (
		SELECT province, coalesce(sum(n) FILTER (WHERE measure = 'contactable'), 0)::bigint AS due,
		       coalesce(sum(n) FILTER (WHERE measure = 'contacted_30'), 0)::bigint AS done
		FROM dash_counts WHERE month BETWEEN m_from AND least(m_to, contact_until - 1)
		                   AND (scope IS NULL OR (province = scope AND NOT conflict)) GROUP BY 1
	), cb AS (
		-- Callback answers (0007) of the draws of the period: satisfied or basically satisfied, of those
		-- that gave a verdict.
		SELECT k.province,
		       count(*) FILTER (WHERE k.satisfaction IN ('satisfied', 'basically_satisfied')) AS ok,
		       count(*) FILTER (WHERE k.satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied')) AS answered
		FROM callbacks k JOIN callback_draws d ON d.id = k.draw_id JOIN cases c ON c.id = k.case_id
		WHERE d.month BETWEEN m_from AND m_to AND (scope IS NULL OR (k.province = scope AND NOT c.conflict))
		GROUP BY 1
	), live AS (
		SELECT c.province, count(*) AS open,
		       count(*) FILTER (WHERE c.deadline < today AND c.concluded_at IS NULL) AS overdue
		FROM cases c
		WHERE c.closed_at IS NULL AND c.merged_into IS NULL
		      AND (scope IS NULL OR (c.province = scope AND NOT c.conflict))
		GROUP BY 1
	), per AS (
		SELECT p.province, jsonb_object_agg(m, coalesce(k.n, 0)) AS v
		FROM (SELECT province FROM counts UNION SELECT province FROM live) p
		CROSS JOIN unnest(ARRAY['received', 'concluded', 'concluded_due', 'on_time', 'contactable_concluded',
		                        'feedback', 'merged']) AS m
		LEFT JOIN counts k ON k.province = p.province AND k.measure = m
		GROUP BY 1
	), months AS (
		SELECT g.mo::date AS mo,
		       coalesce(sum(d.n) FILTER (WHERE d.measure = 'received'), 0)::bigint AS received,
		       coalesce(sum(d.n) FILTER (WHERE d.measure = 'concluded'), 0)::bigint AS concluded,
		       coalesce(sum(d.n) FILTER (WHERE d.measure = 'closed'), 0)::bigint AS closed
		FROM generate_series(m_from, m_to, interval '1 month') AS g(mo)
		LEFT JOIN dash_counts d ON d.month = g.mo::date AND d.measure IN ('received', 'concluded', 'closed')
		     AND (scope IS NULL OR (d.province = scope AND NOT d.conflict))
		GROUP BY 1
	), dims AS (
		SELECT dim, code, sum(n)::bigint AS n FROM dash_dims
		WHERE month BETWEEN m_from AND m_to AND (scope IS NULL OR (province = scope AND NOT conflict))
		GROUP BY 1, 2
	)
	SELECT jsonb_build_object(
		'scope', scope, 'from', m_from, 'to', (m_to + interval '1 month' - interval '1 day')::date, 'today', today,
		'threshold', 5,
		'totals', jsonb_build_object(
			'reports', dash_n((SELECT coalesce(sum(n), 0) FROM counts WHERE measure = 'received')::bigint),
			'open', dash_n((SELECT coalesce(sum(open), 0) FROM live)::bigint),
			'overdue', dash_n((SELECT coalesce(sum(overdue), 0) FROM live)::bigint)),
		'provinces', (SELECT coalesce(jsonb_agg(jsonb_build_object('province', per.province,
			'reports', dash_n((per.v ->> 'received')::bigint),
			'open', dash_n(coalesce(l.open, 0)), 'overdue', dash_n(coalesce(l.overdue, 0))) ORDER BY per.province), '[]')
			FROM per LEFT JOIN live l ON l.province = per.province),
		'evaluation', (SELECT coalesce(jsonb_agg(jsonb_build_object('province', per.province,
			'received', dash_n((per.v ->> 'received')::bigint),
			'concluded', dash_n((per.v ->> 'concluded')::bigint),
			'on_time_rate', dash_rate((per.v ->> 'on_time')::bigint, (per.v ->> 'concluded_due')::bigint),
			'contact_30_rate', dash_rate(coalesce(k.done, 0), coalesce(k.due, 0)),
			'feedback_rate', dash_rate(least((per.v ->> 'feedback')::bigint, (per.v ->> 'contactable_concluded')::bigint),
			                           (per.v ->> 'contactable_concluded')::bigint),
			'callback_satisfaction', dash_rate(coalesce(b.ok, 0), coalesce(b.answered, 0)),
			'duplicate_share', dash_rate((per.v ->> 'merged')::bigint, (per.v ->> 'received')::bigint))
			ORDER BY per.province), '[]')
			FROM per LEFT JOIN contact k ON k.province = per.province LEFT JOIN cb b ON b.province = per.province),
		'categories', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', code, 'n', dash_n(n)) ORDER BY n DESC, code), '[]')
			FROM dims WHERE dim = 'category'),
		'sectors', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', code, 'n', dash_n(n)) ORDER BY n DESC, code), '[]')
			FROM dims WHERE dim = 'sector'),
		'months', (SELECT jsonb_agg(jsonb_build_object('month', to_char(mo, 'YYYY-MM'), 'received', dash_n(received),
			'concluded', dash_n(concluded), 'closed', dash_n(closed)) ORDER BY mo) FROM months)));
END
$$;
REVOKE ALL ON FUNCTION op_dashboard(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION op_dashboard(jsonb) TO tip_app;

INSERT INTO api_operations VALUES ('dashboard', 'global', 'GET', '{national,provincial}', 'op_dashboard');
