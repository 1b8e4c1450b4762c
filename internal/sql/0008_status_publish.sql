-- 0008: publishing the status outbox. casemgrd's publisher (internal/publish.c) appends unsent rows to
-- the status spool as signed STATUS records, then records here which sequence number each row went out
-- as. It connects as tip_ingest and does everything through the functions below (owner's rights), which
-- read the outbox and set sent_seq, and nothing else. How it stays exactly-once across crashes:
-- docs/internals/casemgr.md.

-- Where the status chain stands in the database: every record of the spool before next_seq has been
-- matched to its row (or found to match none). The spool may be ahead of it after a crash, never behind.
CREATE TABLE status_cursor (
	origin text PRIMARY KEY,
	next_seq bigint NOT NULL CHECK (next_seq >= 0),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Rows the publisher would not send: a stage or result code the taxonomy does not know, or a date a
-- bulletin cannot carry. They stay unsent; deleting the refusal (as the owner) offers the row again.
CREATE TABLE status_refused (
	outbox_id bigint PRIMARY KEY REFERENCES status_outbox (id),
	reason text NOT NULL CHECK (reason IN ('code', 'date')),
	refused_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE status_outbox ADD CONSTRAINT status_outbox_sent_seq CHECK (sent_seq >= 0);

-- The chain's position for origin (0 before the first record) and how many rows wait.
CREATE FUNCTION status_publish_state(origin_is text, OUT next_seq bigint, OUT pending bigint)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT coalesce((SELECT c.next_seq FROM status_cursor c WHERE c.origin = origin_is), 0),
	       (SELECT count(*) FROM status_outbox o
	        WHERE o.sent_seq IS NULL AND NOT EXISTS (SELECT FROM status_refused r WHERE r.outbox_id = o.id)) $$;

-- Up to lim unsent rows, oldest first, in the form the publisher reads, each with the number waiting.
-- No high-water mark on id: a transaction that took a smaller id may commit after a larger one was sent.
CREATE FUNCTION status_unsent(lim integer)
	RETURNS TABLE (id bigint, query_hash text, stage text, result text, day text, waiting bigint)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT o.id, encode(o.query_hash, 'hex'), o.stage, o.result, to_char(o.day, 'YYYY-MM-DD'), count(*) OVER ()
	FROM status_outbox o
	WHERE o.sent_seq IS NULL AND NOT EXISTS (SELECT FROM status_refused r WHERE r.outbox_id = o.id)
	ORDER BY o.id LIMIT lim $$;

-- Moves the origin's cursor from from_seq to to_seq, which must be where it stands (otherwise the
-- caller's view of the chain is stale: it reconciles again), and writes one audit event naming the range
-- with the chain's hashes before and after it.
CREATE FUNCTION status_cursor_move(origin_is text, from_seq bigint, to_seq bigint, before_hash bytea,
                                   after_hash bytea, action text) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	at_seq bigint;
BEGIN
	INSERT INTO status_cursor (origin, next_seq) VALUES (origin_is, 0) ON CONFLICT (origin) DO NOTHING;
	SELECT c.next_seq INTO at_seq FROM status_cursor c WHERE c.origin = origin_is FOR UPDATE;
	IF at_seq <> from_seq OR to_seq < from_seq THEN
		RAISE EXCEPTION 'status cursor of % is at %, not %', origin_is, at_seq, from_seq;
	END IF;
	UPDATE status_cursor SET next_seq = to_seq, updated_at = now() WHERE origin = origin_is;
	IF to_seq > from_seq THEN
		INSERT INTO audit_events (action, object, before_hash, after_hash)
		VALUES (action, 'status:' || origin_is || '/' || from_seq || '-' || (to_seq - 1), before_hash, after_hash);
	END IF;
END
$$;

-- One published batch, in one transaction: the records [from_seq, to_seq) are durable in the spool;
-- b = {"sent": [{"id", "seq"}], "refused": [{"id", "reason"}]}. A row already sent is an error, so
-- nothing is ever recorded as sent twice. Each refusal is an audit event of its own.
CREATE FUNCTION status_sent(origin_is text, from_seq bigint, to_seq bigint, before_hash bytea, after_hash bytea,
                            b jsonb) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	marked integer;
BEGIN
	PERFORM status_cursor_move(origin_is, from_seq, to_seq, before_hash, after_hash, 'status.publish');
	UPDATE status_outbox o SET sent_seq = s.seq
	FROM jsonb_to_recordset(b -> 'sent') AS s(id bigint, seq bigint)
	WHERE o.id = s.id AND o.sent_seq IS NULL AND s.seq >= from_seq AND s.seq < to_seq;
	GET DIAGNOSTICS marked = ROW_COUNT;
	IF marked <> jsonb_array_length(b -> 'sent') THEN
		RAISE EXCEPTION 'status_sent: % of % rows were unsent', marked, jsonb_array_length(b -> 'sent');
	END IF;
	WITH r AS (
		INSERT INTO status_refused (outbox_id, reason)
		SELECT x.id, x.reason FROM jsonb_to_recordset(b -> 'refused') AS x(id bigint, reason text)
		ON CONFLICT (outbox_id) DO NOTHING
		RETURNING outbox_id, reason
	)
	INSERT INTO audit_events (action, object)
	SELECT 'status.refuse', 'status_outbox:' || r.outbox_id || '/' || r.reason FROM r ORDER BY r.outbox_id;
END
$$;

-- After a crash between the spool and status_sent: the records [from_seq, to_seq) are in the spool and
-- their rows may not be marked. Each record (b = [{"seq", "query_hash" (hex), "stage", "result", "day"}],
-- in seq order) marks the oldest unsent row with the same content; rows with the same content are the
-- same bulletin, so which one it marks makes no difference to anyone. Returns each record's row, or NULL
-- when no unsent row has its content (its row was marked before, or the database is older than the spool).
CREATE FUNCTION status_reconcile(origin_is text, from_seq bigint, to_seq bigint, before_hash bytea,
                                 after_hash bytea, b jsonb) RETURNS TABLE (seq bigint, outbox_id bigint)
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	r record;
BEGIN
	PERFORM status_cursor_move(origin_is, from_seq, to_seq, before_hash, after_hash, 'status.reconcile');
	FOR r IN SELECT * FROM jsonb_to_recordset(b) AS x(seq bigint, query_hash text, stage text, result text,
	                                                    day date) ORDER BY x.seq LOOP
		seq := r.seq;
		UPDATE status_outbox o SET sent_seq = r.seq
		WHERE o.id = (SELECT u.id FROM status_outbox u
		              WHERE u.sent_seq IS NULL AND u.query_hash = decode(r.query_hash, 'hex')
		                    AND u.stage = r.stage AND u.result = r.result AND u.day = r.day
		                    AND NOT EXISTS (SELECT FROM status_refused f WHERE f.outbox_id = u.id)
		              ORDER BY u.id LIMIT 1)
		RETURNING o.id INTO outbox_id;
		RETURN NEXT;
	END LOOP;
END
$$;

REVOKE ALL ON FUNCTION status_publish_state(text), status_unsent(integer),
	status_cursor_move(text, bigint, bigint, bytea, bytea, text),
	status_sent(text, bigint, bigint, bytea, bytea, jsonb),
	status_reconcile(text, bigint, bigint, bytea, bytea, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION status_publish_state(text), status_unsent(integer),
	status_sent(text, bigint, bigint, bytea, bytea, jsonb),
	status_reconcile(text, bigint, bigint, bytea, bytea, jsonb) TO tip_ingest;
