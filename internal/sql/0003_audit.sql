-- 0003: the audit trail. Events are appended by anyone acting (request path and ingest), never
-- changed: no UPDATE, DELETE or TRUNCATE is granted, and a trigger refuses them even to the owner.
-- Each event's hash chains it to the one before (layout in docs/formats/casemgr-schema.md), computed
-- here under a lock so concurrent writers get one total order; signed heads go to audit_heads.

CREATE TABLE audit_events (
	seq bigint PRIMARY KEY CHECK (seq >= 0),
	at timestamptz NOT NULL,
	actor bigint,
	action text NOT NULL CHECK (action ~ '^[a-z_.]{1,64}$'),
	object text NOT NULL CHECK (length(object) <= 200),
	before_hash bytea CHECK (octet_length(before_hash) = 32),
	after_hash bytea CHECK (octet_length(after_hash) = 32),
	prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
	hash bytea NOT NULL CHECK (octet_length(hash) = 32)
);

-- Signed chain heads: a C2SP signed note over (size, hash of the last event).
CREATE TABLE audit_heads (
	size bigint PRIMARY KEY,
	note text NOT NULL,
	signed_at timestamptz NOT NULL DEFAULT now()
);

-- u64/i64 big-endian, then length-prefixed UTF-8 text, then 0 or 32 bytes per optional hash.
CREATE FUNCTION audit_event_hash(prev bytea, seq bigint, at timestamptz, actor bigint, action text,
                                 object text, before_hash bytea, after_hash bytea)
	RETURNS bytea LANGUAGE sql IMMUTABLE
	AS $$ SELECT sha256(prev || int8send(seq) || int8send((extract(epoch FROM at) * 1000000)::bigint)
	             || int8send(coalesce(actor, -1))
	             || int4send(octet_length(convert_to(action, 'UTF8'))) || convert_to(action, 'UTF8')
	             || int4send(octet_length(convert_to(object, 'UTF8'))) || convert_to(object, 'UTF8')
	             || int4send(coalesce(octet_length(before_hash), 0)) || coalesce(before_hash, '')
	             || int4send(coalesce(octet_length(after_hash), 0)) || coalesce(after_hash, '')) $$;

CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
	last audit_events;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('audit_events'));
	SELECT * INTO last FROM audit_events ORDER BY seq DESC LIMIT 1;
	NEW.seq := coalesce(last.seq + 1, 0);
	NEW.at := date_trunc('microseconds', clock_timestamp());
	NEW.prev_hash := coalesce(last.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
	NEW.hash := audit_event_hash(NEW.prev_hash, NEW.seq, NEW.at, NEW.actor, NEW.action, NEW.object,
	                             NEW.before_hash, NEW.after_hash);
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_chain();

CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql
	AS $$ BEGIN RAISE EXCEPTION 'audit events are never changed'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_heads_append_only BEFORE UPDATE OR DELETE ON audit_heads
	FOR EACH ROW EXECUTE FUNCTION audit_refuse();

-- Writers name only what happened; seq, time and hashes are the trigger's.
GRANT INSERT (actor, action, object, before_hash, after_hash) ON audit_events TO tip_app, tip_ingest;
GRANT SELECT ON audit_events, audit_heads TO tip_app;
GRANT INSERT ON audit_heads TO tip_app;
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
CREATE POLICY append ON audit_events FOR INSERT TO tip_app, tip_ingest WITH CHECK (true);
CREATE POLICY readers ON audit_events FOR SELECT TO tip_app USING (actor_role() IN ('national', 'auditor'));
CREATE POLICY readers ON audit_heads FOR SELECT TO tip_app USING (actor_role() IN ('national', 'auditor'));
CREATE POLICY append ON audit_heads FOR INSERT TO tip_app WITH CHECK (true);
