-- 0014: one working-day walk in both directions; the timeline, a read, takes no row lock.

-- The n-th working day after d (n > 0) or before it (n < 0), d itself for n = 0.
CREATE OR REPLACE FUNCTION add_working_days(d date, n integer) RETURNS date LANGUAGE plpgsql STABLE AS $$
DECLARE
	left_ integer := abs(n);
	step integer := sign(n)::integer;
BEGIN
	IF abs(n) > 3650 THEN
		RAISE EXCEPTION 'add_working_days: n out of range';
	END IF;
	WHILE left_ > 0 LOOP
		d := d + step;
		IF is_working_day(d) THEN
			left_ := left_ - 1;
		END IF;
	END LOOP;
	RETURN d;
END
$$;

CREATE OR REPLACE FUNCTION working_days_before(d date, n integer) RETURNS date LANGUAGE sql STABLE
	AS $$ SELECT add_working_days(d, -n) $$;

-- Visibility (the row policy) without the lock wf_case takes for transitions.
CREATE OR REPLACE FUNCTION op_timeline(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	IF NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = op_timeline.case_id) THEN
		PERFORM wf_fail('TW404', 'no such case');
	END IF;
	RETURN jsonb_build_object('events', (SELECT coalesce(jsonb_agg(jsonb_build_object(
		'at', e.at, 'actor', e.actor, 'action', e.action, 'from', e.from_stage, 'to', e.to_stage,
		'detail', e.detail) ORDER BY e.id), '[]') FROM case_events e WHERE e.case_id = op_timeline.case_id));
END
$$;
