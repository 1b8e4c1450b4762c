-- 0016: a disabled unit takes no new case. Whatever moves a case to a unit (assign, reassign, redistribute)
-- is refused with 409 naming the field when that unit is disabled; the first routing of a new case is not
-- (ingest never fails), and cases already with the unit stay there: an administrator disables only a unit
-- that holds no open case (0015).

CREATE FUNCTION wf_refuse_disabled_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.assigned_unit IS DISTINCT FROM OLD.assigned_unit
	   AND EXISTS (SELECT FROM org_units WHERE id = NEW.assigned_unit AND disabled) THEN
		PERFORM wf_fail('TW409', 'the unit is disabled', 'unit');
	END IF;
	IF NEW.review_unit IS DISTINCT FROM OLD.review_unit
	   AND EXISTS (SELECT FROM org_units WHERE id = NEW.review_unit AND disabled) THEN
		PERFORM wf_fail('TW409', 'the unit is disabled', 'review_unit');
	END IF;
	IF OLD.handling_unit IS NOT NULL AND NEW.handling_unit IS DISTINCT FROM OLD.handling_unit
	   AND EXISTS (SELECT FROM org_units WHERE id = NEW.handling_unit AND disabled) THEN
		PERFORM wf_fail('TW409', 'the unit is disabled', 'unit');
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER wf_refuse_disabled_unit BEFORE UPDATE OF assigned_unit, review_unit, handling_unit ON cases
	FOR EACH ROW EXECUTE FUNCTION wf_refuse_disabled_unit();
