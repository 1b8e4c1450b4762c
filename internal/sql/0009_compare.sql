-- 0009: comparison inside a province. Ingest stores keyed digests of each case's normalised ID
-- number, phones, names, officials and place in case_keys (HMAC-SHA256 under the index key, computed
-- by casemgrd: the key never reaches the database). compare_pending proposes links between each new
-- case and the cases of its own province that share a digest or have a similar place or person's
-- name (pg_trgm), with a score and the matching fields. Staff confirm or reject a link, or merge a
-- case into another (operations similar, link, merge). Why and how: docs/internals/casemgr.md,
-- "Comparison"; tables and weights: docs/formats/casemgr-schema.md.

-- Both are trusted extensions: the database's owner may create them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- One row per distinct (kind, digest) of a case. The province is the case's, so that a lookup never
-- leaves it (and a province's index could be given to another without the rest).
CREATE TABLE case_keys (
	case_id bigint NOT NULL REFERENCES cases (id),
	province char(6) NOT NULL,
	kind text NOT NULL CHECK (kind IN ('id_number', 'phone', 'name', 'official', 'place')),
	digest bytea NOT NULL CHECK (octet_length(digest) = 32),
	PRIMARY KEY (case_id, kind, digest)
);
CREATE INDEX case_keys_lookup ON case_keys (province, kind, digest, case_id);

-- When the case was compared with its province's cases; NULL: not yet (compare_pending's queue).
ALTER TABLE cases ADD COLUMN compared_at timestamptz;
CREATE INDEX cases_compare_pending ON cases (id) WHERE compared_at IS NULL;

-- What two cases share (field names below), and who decided on a proposal and when.
ALTER TABLE case_links ADD COLUMN fields text[] NOT NULL DEFAULT '{}',
	ADD COLUMN decided_by bigint REFERENCES users (id),
	ADD COLUMN decided_at timestamptz;
CREATE INDEX case_links_b ON case_links (case_b);

-- The persons' province (their report's), so that the trigram index can search one province only.
ALTER TABLE report_persons ADD COLUMN province char(6);
UPDATE report_persons p SET province = r.province FROM reports r WHERE r.id = p.report_id;
ALTER TABLE report_persons ALTER COLUMN province SET NOT NULL;

-- Trigram indexes for similar spellings, keyed by province first (btree_gin) so that a search reads
-- one province's entries. A small pending list: every search reads all of it, and comparison searches
-- right after each insert (with the default 4 MB a search took milliseconds instead of a tenth of
-- one; flushing 64 kB at a time costs ingest nothing measurable). Narratives are left out: a trigram
-- index of 300-character texts cost 0.65 ms per row to maintain (a place's, 11 µs), more than the
-- whole of ingest per report, and long free texts share many trigrams by chance anyway.
CREATE INDEX reports_place_trgm ON reports USING gin (province, place gin_trgm_ops)
	WITH (gin_pending_list_limit = 64);
CREATE INDEX report_persons_name_trgm ON report_persons USING gin (province, name gin_trgm_ops)
	WITH (gin_pending_list_limit = 64);

-- The weight of each matching field; a pair's score is 1 - the product of (1 - weight) over its
-- fields, so independent evidence adds up without passing 1. The similar fields count only when
-- the exact one does not, weighted by the trigram similarity (0..1).
CREATE FUNCTION compare_weight(field text) RETURNS real LANGUAGE sql IMMUTABLE
	AS $$ SELECT CASE field WHEN 'id_number' THEN 0.9 WHEN 'phone' THEN 0.7 WHEN 'official' THEN 0.5
	                        WHEN 'name' THEN 0.4 WHEN 'place' THEN 0.3 WHEN 'place_similar' THEN 0.3
	                        WHEN 'name_similar' THEN 0.3 END::real $$;

-- One ingest batch, as in 0004 (same document, same answer), and also: each person's province and
-- each case's comparison keys ("keys": [{"kind", "digest" (hex)}], duplicates allowed).
CREATE OR REPLACE FUNCTION ingest_batch(b jsonb) RETURNS integer LANGUAGE plpgsql AS $$
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
			officials jsonb, attachments jsonb, keys jsonb)
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
		INSERT INTO report_persons (report_id, idx, name, aliases, description, phones, region, province)
		SELECT ins.id, e.n - 1, e.v ->> 'name', jsonb_texts(e.v -> 'aliases'), e.v ->> 'description',
		       jsonb_texts(e.v -> 'phones'), e.v ->> 'region', ins.province
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
		RETURNING id, report_id, province
	), k AS (
		INSERT INTO case_keys (case_id, province, kind, digest)
		SELECT DISTINCT c.id, c.province, e.kind, decode(e.digest, 'hex')
		FROM c JOIN ins ON ins.id = c.report_id JOIN r USING (seq),
		     jsonb_to_recordset(coalesce(r.keys, '[]')) AS e(kind text, digest text)
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

-- Compares up to lim cases not yet compared, oldest first, each with the cases of its own province:
-- candidates are the newest 10 cases sharing each of its digests and, when those are fewer than 10,
-- the cases with a similar place or person's name (trigram similarity at least 0.5); each candidate
-- is then scored on everything the two share, and the 10 best are stored as proposals (a pair
-- already linked, proposed or rejected, is left as it is). The cases are marked compared in the same
-- transaction, so none is compared twice. A failure is caught and raised as a warning: ingest goes
-- on, the cases stay queued. Returns the cases compared, or -1 on failure.
--
-- Each case is compared on its own (LATERAL), so the work per case is a bounded number of index
-- lookups whatever the planner guesses about the batch: a set-based plan built on a guess of one
-- pending case (stale statistics of the partial index) once joined whole intermediate results in
-- nested loops and ran for minutes.
CREATE FUNCTION compare_pending(lim integer) RETURNS integer LANGUAGE plpgsql SET jit = off AS $$
DECLARE
	n integer := 0;
	proposed integer := 0;
	first_id bigint;
	last_id bigint;
BEGIN
	-- The threshold of the % operator, for this transaction. (Not in a SET clause: before pg_trgm is
	-- loaded its setting is a placeholder, which only a superuser may put in a function's SET.)
	PERFORM set_config('pg_trgm.similarity_threshold', '0.5', true);
	BEGIN
		-- Planned afresh each time (EXECUTE): the tables grow fast at ingest, and a plan cached while
		-- they were small would keep scanning them whole.
		EXECUTE $q$
		WITH p AS (
			SELECT c.id, c.province, c.report_id FROM cases c
			WHERE c.compared_at IS NULL ORDER BY c.id LIMIT $1 FOR UPDATE SKIP LOCKED
		), best AS (
			SELECT p.id AS me, b.other, b.fields, b.score
			FROM p JOIN reports mr ON mr.id = p.report_id
			CROSS JOIN LATERAL (
				WITH keys AS (
					SELECT k.kind, k.digest FROM case_keys k WHERE k.case_id = p.id
				), exact AS (
					SELECT DISTINCT o.case_id AS other
					FROM keys k CROSS JOIN LATERAL (
						SELECT x.case_id FROM case_keys x
						WHERE x.province = p.province AND x.kind = k.kind AND x.digest = k.digest
						      AND x.case_id <> p.id
						ORDER BY x.case_id DESC LIMIT 10) o
				), cand AS (
					SELECT other FROM exact
					UNION
					-- Texts of fewer than 3 characters (most Chinese names) have too few
					-- trigrams to be similar to anything but themselves, which the digests find.
					SELECT oc.id
					FROM (SELECT x.id FROM reports x
					      WHERE x.province = p.province AND x.place % mr.place AND x.id <> mr.id
					      LIMIT 10) s JOIN cases oc ON oc.report_id = s.id
					WHERE char_length(mr.place) >= 3 AND (SELECT count(*) FROM exact) < 10
					UNION
					SELECT oc.id
					FROM report_persons rp CROSS JOIN LATERAL (
						SELECT x.report_id FROM report_persons x
						WHERE x.province = p.province AND x.name % rp.name AND x.report_id <> rp.report_id
						LIMIT 10) s JOIN cases oc ON oc.report_id = s.report_id
					WHERE rp.report_id = p.report_id AND char_length(rp.name) >= 3
					      AND (SELECT count(*) FROM exact) < 10
				), kinds AS MATERIALIZED (
					-- The kinds with a digest in common (materialized: computed once per candidate).
					SELECT c.other, ARRAY(SELECT k.kind FROM keys k
					                      WHERE EXISTS (SELECT FROM case_keys y WHERE y.case_id = c.other
					                                    AND y.kind = k.kind AND y.digest = k.digest)
					                      GROUP BY k.kind) AS kinds
					FROM cand c
				), matched AS MATERIALIZED (
					-- The trigram similarity of the places and of the persons' names, where the exact
					-- field did not match.
					SELECT kd.other, kd.kinds,
					       CASE WHEN NOT 'place' = ANY (kd.kinds) THEN similarity(mr.place, orep.place) END
					               AS place_sim,
					       CASE WHEN NOT 'name' = ANY (kd.kinds) THEN
					               (SELECT max(similarity(pa.name, pb.name))
					                FROM report_persons pa, report_persons pb
					                WHERE pa.report_id = mr.id AND pb.report_id = orep.id) END AS name_sim
					FROM kinds kd JOIN cases oc ON oc.id = kd.other JOIN reports orep ON orep.id = oc.report_id
				)
				SELECT m.other, f.fields, f.score
				FROM matched m CROSS JOIN LATERAL (
					SELECT array_agg(field ORDER BY w DESC, field) AS fields,
					       round((1 - exp(sum(ln(1 - w))))::numeric, 3)::real AS score
					FROM (SELECT kind AS field, compare_weight(kind) AS w FROM unnest(m.kinds) AS kind
					      UNION ALL
					      SELECT 'place_similar', compare_weight('place_similar') * m.place_sim
					      WHERE m.place_sim >= 0.5
					      UNION ALL
					      SELECT 'name_similar', compare_weight('name_similar') * m.name_sim
					      WHERE m.name_sim >= 0.5) AS x) f
				WHERE f.fields IS NOT NULL
				ORDER BY f.score DESC, m.other DESC LIMIT 10) b
		), ins AS (
			INSERT INTO case_links (case_a, case_b, state, score, fields)
			SELECT least(me, other), greatest(me, other), 'proposed', score, fields FROM best
			ON CONFLICT (case_a, case_b) DO NOTHING
			RETURNING 1
		), done AS (
			UPDATE cases SET compared_at = now() FROM p WHERE cases.id = p.id RETURNING cases.id
		)
		SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM ins), (SELECT min(id) FROM done),
		       (SELECT max(id) FROM done)
		$q$ INTO n, proposed, first_id, last_id USING lim;
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'comparison failed, cases stay queued: % (SQLSTATE %)', SQLERRM, SQLSTATE;
		RETURN -1;
	END;
	IF n > 0 THEN
		INSERT INTO audit_events (action, object)
		VALUES ('compare.run', 'cases:' || first_id || '-' || last_id || '/compared:' || n || '/proposed:' || proposed);
	END IF;
	RETURN n;
END
$$;

REVOKE ALL ON FUNCTION compare_pending(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION compare_pending(integer) TO tip_ingest;

-- Ingest writes the keys and the proposals; the request path never reads the keys (a proposal
-- carries the names of the fields that matched, which is all staff need).
ALTER TABLE case_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY ingest_all ON case_keys TO tip_ingest USING (true) WITH CHECK (true);
CREATE POLICY ingest_all ON case_links TO tip_ingest USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON case_keys, case_links TO tip_ingest;
GRANT UPDATE (compared_at) ON cases TO tip_ingest;

-- Staff decide on links between cases they both see.
CREATE POLICY scoped_insert ON case_links FOR INSERT TO tip_app
	WITH CHECK (EXISTS (SELECT FROM cases WHERE id = case_a) AND EXISTS (SELECT FROM cases WHERE id = case_b));
CREATE POLICY scoped_update ON case_links FOR UPDATE TO tip_app
	USING (EXISTS (SELECT FROM cases WHERE id = case_a) AND EXISTS (SELECT FROM cases WHERE id = case_b))
	WITH CHECK (EXISTS (SELECT FROM cases WHERE id = case_a) AND EXISTS (SELECT FROM cases WHERE id = case_b));
GRANT INSERT (case_a, case_b, state, score, fields, decided_by, decided_at),
	UPDATE (state, decided_by, decided_at) ON case_links TO tip_app;

-- Both cases of a pair, visible and locked in id order (two requests on one pair never deadlock):
-- {the case, the other}. TW404 for either not visible, TW409 across provinces.
CREATE FUNCTION compare_pair(case_id bigint, other bigint) RETURNS cases[] LANGUAGE plpgsql AS $$
DECLARE
	me cases;
	them cases;
BEGIN
	IF case_id < other THEN
		me := wf_case(case_id);
		them := wf_case(other);
	ELSE
		them := wf_case(other);
		me := wf_case(case_id);
	END IF;
	IF me.province <> them.province THEN
		PERFORM wf_fail('TW409', format('cases %s and %s are in different provinces; links and merges stay inside one',
		                                me.id, them.id));
	END IF;
	RETURN ARRAY[me, them];
END
$$;

-- Only the office handling the case decides on its links and merges: a provincial user of its
-- handling_unit, or the national office (the "office" of workflow_transitions, docs/workflow.md).
CREATE FUNCTION compare_office(c cases) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT coalesce(actor_role() = 'national' OR (actor_role() = 'provincial' AND actor_unit() = c.handling_unit),
	                false) THEN
		PERFORM wf_fail('TW403', 'only the office handling the case or the national office');
	END IF;
END
$$;

-- similar (GET, no arguments): the case's proposed and confirmed links, confirmed first, then best
-- first, each with the other case's stage, result and the case it was merged into. A link to a case
-- the caller does not see is not visible at all (case_links' policy).
CREATE FUNCTION op_similar(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM arg_only(args, '{}');
	IF NOT EXISTS (SELECT FROM cases c WHERE c.id = case_id) THEN
		PERFORM wf_fail('TW404', 'no such case');
	END IF;
	RETURN jsonb_build_object('links', (SELECT coalesce(jsonb_agg(jsonb_build_object(
		'case', o.id, 'state', l.state, 'score', l.score, 'fields', l.fields, 'stage', o.stage,
		'result', o.result, 'merged_into', o.merged_into, 'proposed_at', l.created_at,
		'decided_at', l.decided_at, 'decided_by', l.decided_by)
		ORDER BY l.state = 'confirmed' DESC, l.score DESC NULLS LAST, o.id DESC), '[]')
		FROM case_links l JOIN cases o ON o.id = CASE WHEN l.case_a = case_id THEN l.case_b ELSE l.case_a END
		WHERE (l.case_a = case_id OR l.case_b = case_id) AND l.state IN ('proposed', 'confirmed')));
END
$$;

-- link (POST {"other": id, "decision": "confirm" | "reject"}): the office decides on the link between
-- its case and another visible case of the province, proposed or not (a rejected pair is never
-- proposed again). A `link` event on each of the two cases.
CREATE FUNCTION op_link(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	other bigint;
	state_to text;
	pair cases[];
	me cases;
	them cases;
	l case_links;
BEGIN
	PERFORM arg_only(args, '{other,decision}');
	other := arg_int(args, 'other', true, 1, 999999999999999999);
	state_to := CASE arg_code(args, 'decision', true, '{confirm,reject}') WHEN 'confirm' THEN 'confirmed'
	                                                                         ELSE 'rejected' END;
	IF other = case_id THEN
		PERFORM wf_fail('TW400', 'a case is not linked to itself', 'other');
	END IF;
	pair := compare_pair(case_id, other);
	me := pair[1];
	them := pair[2];
	PERFORM compare_office(me);
	IF state_to = 'rejected' AND (me.merged_into = other OR them.merged_into = case_id) THEN
		PERFORM wf_fail('TW409', format('case %s is merged into case %s; a merged pair stays linked',
		                                CASE WHEN me.merged_into = other THEN case_id ELSE other END,
		                                CASE WHEN me.merged_into = other THEN other ELSE case_id END));
	END IF;
	INSERT INTO case_links AS k (case_a, case_b, state, decided_by, decided_at)
	VALUES (least(case_id, other), greatest(case_id, other), state_to, actor_id(), now())
	ON CONFLICT (case_a, case_b) DO UPDATE SET state = EXCLUDED.state, decided_by = EXCLUDED.decided_by,
	                                            decided_at = EXCLUDED.decided_at
	RETURNING * INTO l;
	PERFORM wf_event(me, me, 'link', jsonb_build_object('other', other, 'state', state_to));
	PERFORM wf_event(them, them, 'link', jsonb_build_object('other', case_id, 'state', state_to));
	RETURN jsonb_build_object('case', case_id, 'other', other, 'state', l.state, 'score', l.score,
	                          'fields', l.fields);
END
$$;

-- The cases merged into a case that has now been merged itself follow it to its surviving case, so
-- that wf_bulletin (one step of merged_into) still reaches their reporters. Owner's rights: such a
-- case may lie outside the actor's view (a conflict-of-interest case the national office merged).
-- It only ever shortens a chain the caller has already made.
CREATE FUNCTION compare_follow(case_id bigint) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$
DECLARE
	lead bigint := (SELECT merged_into FROM cases WHERE id = case_id);
	f cases;
	after cases;
BEGIN
	FOR f IN SELECT * FROM cases WHERE merged_into = case_id AND lead IS NOT NULL ORDER BY id FOR UPDATE LOOP
		UPDATE cases SET merged_into = lead, updated_at = now() WHERE id = f.id RETURNING * INTO after;
		PERFORM wf_event(f, after, 'merge', jsonb_build_object('into', lead, 'via', case_id));
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION compare_follow(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION compare_follow(bigint) TO tip_app;

-- merge (POST {"into": id}): the case joins a surviving case of the same province. It is marked
-- merged_into and moved (wf_move) to the surviving case's stage with the result "merged", so its
-- reporter's status shows it; from then on every move of the surviving case queues a bulletin for
-- its reporter too (wf_bulletin). Cases merged into this one follow it. The pair's link is confirmed.
CREATE FUNCTION op_merge(case_id bigint, args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	into_id bigint;
	pair cases[];
	me cases;
	them cases;
	after cases;
BEGIN
	PERFORM arg_only(args, '{into}');
	into_id := arg_int(args, 'into', true, 1, 999999999999999999);
	IF into_id = case_id THEN
		PERFORM wf_fail('TW400', 'a case cannot be merged into itself', 'into');
	END IF;
	pair := compare_pair(case_id, into_id);
	me := pair[1];
	them := pair[2];
	PERFORM compare_office(me);
	IF me.merged_into IS NOT NULL THEN
		PERFORM wf_fail('TW409', format('case %s is already merged into case %s', case_id, me.merged_into));
	END IF;
	IF them.merged_into = case_id THEN
		PERFORM wf_fail('TW409', format('case %s is merged into case %s: merging back would make a cycle', into_id,
		                                case_id));
	END IF;
	IF them.merged_into IS NOT NULL THEN
		PERFORM wf_fail('TW409', format('case %s is itself merged into case %s; merge into that one', into_id,
		                                them.merged_into));
	END IF;
	IF me.stage IN ('closed', 'not_accepted') THEN
		PERFORM wf_fail('TW409', format('case %s is %s: its reporter has had the final answer', case_id, me.stage));
	END IF;
	IF them.stage = 'not_accepted' THEN
		PERFORM wf_fail('TW409', format('case %s was not accepted; nothing can be merged into it', into_id));
	END IF;
	UPDATE cases SET merged_into = into_id WHERE id = case_id;
	after := wf_move(case_id, them.stage, 'merged', 'merge', jsonb_build_object('into', into_id));
	PERFORM compare_follow(case_id);
	INSERT INTO case_links (case_a, case_b, state, decided_by, decided_at)
	VALUES (least(case_id, into_id), greatest(case_id, into_id), 'confirmed', actor_id(), now())
	ON CONFLICT (case_a, case_b) DO UPDATE SET state = 'confirmed', decided_by = EXCLUDED.decided_by,
	                                            decided_at = EXCLUDED.decided_at;
	RETURN jsonb_build_object('case', case_id, 'merged_into', into_id, 'stage', after.stage,
	                          'result', after.result);
END
$$;

INSERT INTO api_operations VALUES
	('similar', 'case', 'GET', '{national,provincial,unit_officer,reviewer}', 'op_similar'),
	('link', 'case', 'POST', '{national,provincial}', 'op_link'),
	('merge', 'case', 'POST', '{national,provincial}', 'op_merge');
