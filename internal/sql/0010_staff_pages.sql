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
