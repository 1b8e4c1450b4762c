-- 0012: downloading a verification result's files (0005 stores them with the result). A file of a visible
-- case's result, logged like a report's attachment (attachment_get, 0004); no row when not visible.

CREATE FUNCTION result_file_get(case_id bigint, result_id bigint, index integer, OUT filename text,
                                OUT content_type text, OUT data bytea)
	LANGUAGE plpgsql AS $$
BEGIN
	SELECT f.filename, f.content_type, f.data INTO filename, content_type, data
	FROM cases c JOIN case_results r ON r.case_id = c.id JOIN case_result_files f ON f.result_id = r.id
	WHERE c.id = result_file_get.case_id AND r.id = result_file_get.result_id AND f.idx = index;
	IF FOUND THEN
		INSERT INTO audit_events (actor, action, object)
		VALUES (actor_id(), 'result_file.download',
		        'case:' || case_id || '/result:' || result_id || '/file:' || index);
	ELSE
		filename := NULL;
	END IF;
END
$$;
