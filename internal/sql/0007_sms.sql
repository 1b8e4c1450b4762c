-- 0007: SMS through gammu-smsd's PostgreSQL backend, and the monthly callback sampling.
-- Schema sms holds gammu-smsd's own tables as Debian 12's gammu (1.42, tables version 17) expects
-- them; gammu-smsd connects as tip_sms (deploy/pg-roles.sql), which reaches nothing else. casemgrd
-- queues messages with sms_queue and handles what arrives with sms_tick, both with the owner's
-- rights. Callback draws pick, per province, cases closed in a month from a logged seed, so that
-- anyone can re-run a draw (casemgrd sample). Why: docs/internals/casemgr.md.

CREATE SCHEMA sms;
GRANT USAGE ON SCHEMA sms TO tip_sms;

-- gammu-smsd's values for the "Coding" and "Status" columns.
CREATE DOMAIN sms.coding AS varchar(255)
	CHECK (VALUE IN ('Default_No_Compression', 'Unicode_No_Compression', '8bit', 'Default_Compression',
	                 'Unicode_Compression'));
CREATE DOMAIN sms.status AS varchar(255)
	CHECK (VALUE IN ('SendingOK', 'SendingOKNoReport', 'SendingError', 'DeliveryOK', 'DeliveryFailed',
	                 'DeliveryPending', 'DeliveryUnknown', 'Error', 'Reserved'));

-- gammu-smsd writes timestamps without time zone in its session's zone (tip_sms: Asia/Shanghai).
CREATE FUNCTION sms.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW."UpdatedInDB" := localtimestamp(0);
	RETURN NEW;
END
$$;

-- The schema version gammu-smsd checks at start (it refuses any other).
CREATE TABLE sms.gammu (
	"Version" smallint PRIMARY KEY
);
INSERT INTO sms.gammu VALUES (17);

-- Messages received, one row per part; casemgrd sets "Processed" in the transaction that handles it.
CREATE TABLE sms.inbox (
	"ID" serial PRIMARY KEY,
	"UpdatedInDB" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"ReceivingDateTime" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"Text" text NOT NULL,
	"SenderNumber" varchar(20) NOT NULL DEFAULT '',
	"Coding" sms.coding NOT NULL DEFAULT 'Default_No_Compression',
	"UDH" text NOT NULL,
	"SMSCNumber" varchar(20) NOT NULL DEFAULT '',
	"Class" integer NOT NULL DEFAULT -1,
	"TextDecoded" text NOT NULL DEFAULT '',
	"RecipientID" text NOT NULL,
	"Processed" boolean NOT NULL DEFAULT false,
	"Status" integer NOT NULL DEFAULT -1
);
CREATE INDEX inbox_unprocessed ON sms.inbox ("ID") WHERE NOT "Processed";

-- Messages to send; gammu-smsd deletes a row once sent and writes it to sentitems with the same "ID".
CREATE TABLE sms.outbox (
	"ID" serial PRIMARY KEY,
	"UpdatedInDB" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"InsertIntoDB" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"SendingDateTime" timestamp NOT NULL DEFAULT localtimestamp(0),
	"SendBefore" time NOT NULL DEFAULT '23:59:59',
	"SendAfter" time NOT NULL DEFAULT '00:00:00',
	"Text" text,
	"DestinationNumber" varchar(20) NOT NULL DEFAULT '',
	"Coding" sms.coding NOT NULL DEFAULT 'Default_No_Compression',
	"UDH" text,
	"Class" integer DEFAULT -1,
	"TextDecoded" text NOT NULL DEFAULT '',
	"MultiPart" boolean NOT NULL DEFAULT false,
	"RelativeValidity" integer DEFAULT -1,
	"SenderID" varchar(255),
	"SendingTimeOut" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"DeliveryReport" varchar(10) DEFAULT 'default' CHECK ("DeliveryReport" IN ('default', 'yes', 'no')),
	"CreatorID" text NOT NULL,
	"Retries" integer DEFAULT 0,
	"Priority" integer DEFAULT 0,
	"Status" sms.status NOT NULL DEFAULT 'Reserved',
	"StatusCode" integer NOT NULL DEFAULT -1
);
CREATE INDEX outbox_date ON sms.outbox ("SendingDateTime", "SendingTimeOut");
CREATE INDEX outbox_sender ON sms.outbox ("SenderID");

CREATE TABLE sms.outbox_multipart (
	"ID" serial,
	"SequencePosition" integer NOT NULL DEFAULT 1,
	"Text" text,
	"Coding" sms.coding NOT NULL DEFAULT 'Default_No_Compression',
	"UDH" text,
	"Class" integer DEFAULT -1,
	"TextDecoded" text DEFAULT NULL,
	"Status" sms.status NOT NULL DEFAULT 'Reserved',
	"StatusCode" integer NOT NULL DEFAULT -1,
	PRIMARY KEY ("ID", "SequencePosition")
);

-- The modems gammu-smsd drives, refreshed while it runs.
CREATE TABLE sms.phones (
	"IMEI" varchar(35) PRIMARY KEY,
	"ID" text NOT NULL,
	"UpdatedInDB" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"InsertIntoDB" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"TimeOut" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"Send" boolean NOT NULL DEFAULT false,
	"Receive" boolean NOT NULL DEFAULT false,
	"IMSI" varchar(35) NOT NULL,
	"NetCode" varchar(10) DEFAULT 'ERROR',
	"NetName" varchar(35) DEFAULT 'ERROR',
	"Client" text NOT NULL,
	"Battery" integer NOT NULL DEFAULT -1,
	"Signal" integer NOT NULL DEFAULT -1,
	"Sent" integer NOT NULL DEFAULT 0,
	"Received" integer NOT NULL DEFAULT 0
);

-- Messages sent (or given up on), one row per part.
CREATE TABLE sms.sentitems (
	"ID" serial,
	"SequencePosition" integer NOT NULL DEFAULT 1,
	"UpdatedInDB" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"InsertIntoDB" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"SendingDateTime" timestamp(0) NOT NULL DEFAULT localtimestamp(0),
	"DeliveryDateTime" timestamp(0),
	"Text" text NOT NULL,
	"DestinationNumber" varchar(20) NOT NULL DEFAULT '',
	"Coding" sms.coding NOT NULL DEFAULT 'Default_No_Compression',
	"UDH" text NOT NULL,
	"SMSCNumber" varchar(20) NOT NULL DEFAULT '',
	"Class" integer NOT NULL DEFAULT -1,
	"TextDecoded" text NOT NULL DEFAULT '',
	"SenderID" varchar(255) NOT NULL,
	"Status" sms.status NOT NULL DEFAULT 'SendingOK' CHECK ("Status" <> 'Reserved'),
	"StatusError" integer NOT NULL DEFAULT -1,
	"TPMR" integer NOT NULL DEFAULT -1,
	"RelativeValidity" integer NOT NULL DEFAULT -1,
	"CreatorID" text NOT NULL,
	"StatusCode" integer NOT NULL DEFAULT -1,
	PRIMARY KEY ("ID", "SequencePosition")
);
CREATE INDEX sentitems_date ON sms.sentitems ("DeliveryDateTime");
CREATE INDEX sentitems_tpmr ON sms.sentitems ("TPMR");
CREATE INDEX sentitems_dest ON sms.sentitems ("DestinationNumber");
CREATE INDEX sentitems_sender ON sms.sentitems ("SenderID");

CREATE TRIGGER touch BEFORE UPDATE ON sms.inbox FOR EACH ROW EXECUTE FUNCTION sms.touch();
CREATE TRIGGER touch BEFORE UPDATE ON sms.outbox FOR EACH ROW EXECUTE FUNCTION sms.touch();
CREATE TRIGGER touch BEFORE UPDATE ON sms.phones FOR EACH ROW EXECUTE FUNCTION sms.touch();
CREATE TRIGGER touch BEFORE UPDATE ON sms.sentitems FOR EACH ROW EXECUTE FUNCTION sms.touch();

-- What gammu-smsd does: checks the version, stores what arrives, sends and logs what is queued
-- (outbox INSERT only for gammu-smsd-inject, the operator's test message), keeps its phone row.
GRANT SELECT ON sms.gammu TO tip_sms;
GRANT SELECT, INSERT ON sms.inbox TO tip_sms;
GRANT SELECT, INSERT, UPDATE, DELETE ON sms.outbox, sms.outbox_multipart, sms.phones TO tip_sms;
GRANT SELECT, INSERT, UPDATE ON sms.sentitems TO tip_sms;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA sms TO tip_sms;

-- A phone number in the one form used for sending and matching: full-width digits and plus made
-- ASCII, blanks, brackets, dots and hyphens dropped, China's country code (+86, 0086, or 86 before
-- a mobile number) dropped. NULL unless 3 to 20 digits are left.
CREATE FUNCTION sms_number(raw text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN n ~ '^[0-9]{3,20}$' THEN n END
	FROM (SELECT regexp_replace(regexp_replace(translate(raw, '０１２３４５６７８９＋', '0123456789+'),
	                                           '[[:space:]　()（）.-]', '', 'g'),
	                            '^(\+86|0086|86(?=1[3-9][0-9]{9}$))', '') AS n) AS t $$;

-- A mainland mobile number (the only kind an SMS reaches), normalised, or NULL.
CREATE FUNCTION sms_mobile(raw text) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT n FROM sms_number(raw) AS n WHERE n ~ '^1[3-9][0-9]{9}$' $$;

-- Queues one single-part SMS (Unicode, at most 70 characters) for gammu-smsd, to be sent between
-- send_after and send_before (China time; gammu-smsd's session runs in that zone). purpose names
-- the caller (the message's "CreatorID" is casemgrd:<purpose>). Returns the message's "ID", which
-- gammu-smsd keeps in sentitems. Audit event sms.queue.
CREATE FUNCTION sms_queue(number text, body text, purpose text, send_after time DEFAULT '00:00',
                          send_before time DEFAULT '23:59:59') RETURNS integer
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	dest text := sms_number(number);
	china_now timestamp(0) := now() AT TIME ZONE 'Asia/Shanghai';
	queued integer;
BEGIN
	IF dest IS NULL THEN
		PERFORM wf_fail('TW400', 'not a phone number', 'number');
	END IF;
	IF body IS NULL OR length(body) NOT BETWEEN 1 AND 70 OR body ~ '[\x01-\x1f\x7f\U00010000-\U0010ffff]' THEN
		PERFORM wf_fail('TW400', 'an SMS text is 1 to 70 characters of the basic multilingual plane, '
		                         'without control characters', 'body');
	END IF;
	IF purpose IS NULL OR purpose !~ '^[a-z_]{1,32}$' THEN
		PERFORM wf_fail('TW400', 'purpose is [a-z_]{1,32}', 'purpose');
	END IF;
	IF send_after IS NULL OR send_before IS NULL OR send_after >= send_before THEN
		PERFORM wf_fail('TW400', 'send_after must come before send_before', 'send_after');
	END IF;
	INSERT INTO sms.outbox ("DestinationNumber", "TextDecoded", "Coding", "CreatorID", "InsertIntoDB",
	                        "SendingDateTime", "SendingTimeOut", "SendAfter", "SendBefore")
	VALUES (dest, body, 'Unicode_No_Compression', 'casemgrd:' || purpose, china_now, china_now, china_now, send_after,
	        send_before)
	RETURNING "ID" INTO queued;
	INSERT INTO audit_events (actor, action, object) VALUES (actor_id(), 'sms.queue', 'sms:' || queued || '/' || purpose);
	RETURN queued;
END
$$;

-- A reply to a callback: satisfied, basically_satisfied or unsatisfied, or NULL when it is none of
-- the accepted forms (the digits 1, 2, 3, full-width too, or the words; surrounding blanks ignored).
-- Nothing else is guessed.
CREATE FUNCTION callback_parse(answer text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE btrim(translate(answer, '１２３', '123'), E' \t\r\n　')
		WHEN '1' THEN 'satisfied' WHEN '满意' THEN 'satisfied'
		WHEN '2' THEN 'basically_satisfied' WHEN '基本满意' THEN 'basically_satisfied'
		WHEN '3' THEN 'unsatisfied' WHEN '不满意' THEN 'unsatisfied' END $$;

-- One draw per month, made once: the seed, the rule (a share of each province's eligible cases, or a
-- count), and the digest of what it picked (see callback_digest).
CREATE TABLE callback_draws (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	month date NOT NULL UNIQUE CHECK (month = date_trunc('month', month)),
	seed bytea NOT NULL CHECK (octet_length(seed) BETWEEN 16 AND 64),
	share numeric CHECK (share > 0 AND share <= 1),
	count integer CHECK (count >= 1),
	digest bytea NOT NULL CHECK (octet_length(digest) = 32),
	actor bigint REFERENCES users (id),
	drawn_at timestamptz NOT NULL DEFAULT now(),
	CHECK ((share IS NULL) <> (count IS NULL))
);

-- Each province of a draw: the eligible cases when it was made (ascending ids), and how many it took.
CREATE TABLE callback_strata (
	draw_id bigint NOT NULL REFERENCES callback_draws (id),
	province char(6) NOT NULL,
	eligible bigint[] NOT NULL,
	drawn integer NOT NULL CHECK (drawn BETWEEN 1 AND cardinality(eligible)),
	PRIMARY KEY (draw_id, province)
);

-- One callback per drawn case: where its SMS stands and what came back.
CREATE TABLE callbacks (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	draw_id bigint NOT NULL REFERENCES callback_draws (id),
	province char(6) NOT NULL,
	rank integer NOT NULL CHECK (rank >= 1),
	case_id bigint NOT NULL REFERENCES cases (id),
	phone text NOT NULL,
	sms_id integer,
	sent_at timestamptz,
	send_status text,
	answer text,
	answered_at timestamptz,
	satisfaction text CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied', 'unparsed')),
	UNIQUE (draw_id, case_id),
	UNIQUE (draw_id, province, rank)
);
CREATE INDEX callbacks_phone ON callbacks (phone, id);
CREATE INDEX callbacks_unsent ON callbacks (sms_id) WHERE send_status IS NULL;

-- Every message read from sms.inbox, copied as it was handled (gammu-smsd's role can change its own
-- tables; this copy is the record). outcome: answer (an understood reply to an open callback),
-- unparsed (a reply to an open callback not understood, kept raw), late (from a number whose callbacks
-- are all answered or past their time), unknown (from a number no callback went to).
CREATE TABLE sms_received (
	inbox_id integer PRIMARY KEY,
	phone text,
	received_at timestamptz NOT NULL,
	body text NOT NULL,
	callback_id bigint REFERENCES callbacks (id),
	outcome text NOT NULL CHECK (outcome IN ('answer', 'unparsed', 'late', 'unknown')),
	processed_at timestamptz NOT NULL DEFAULT now()
);

-- The cases a draw for the month chooses from: closed (stage closed, closed_at within the month in
-- China time), real-name, with a mobile number.
CREATE FUNCTION callback_eligible(draw_month date) RETURNS TABLE (case_id bigint, province char(6), phone text)
	LANGUAGE sql STABLE AS $$
	SELECT c.id, c.province, sms_mobile(r.reporter_phone)
	FROM cases c JOIN reports r ON r.id = c.report_id
	WHERE c.stage = 'closed' AND NOT r.reporter_anonymous AND sms_mobile(r.reporter_phone) IS NOT NULL
	      AND c.closed_at >= draw_month::timestamp AT TIME ZONE 'Asia/Shanghai'
	      AND c.closed_at < (draw_month + interval '1 month') AT TIME ZONE 'Asia/Shanghai' $$;

-- The draw itself, a function of the seed and the eligible set only: in each province the eligible
-- cases ordered by SHA-256(seed || case id as 8 bytes big-endian), ties by id, and the first
-- ceil(share * n) or min(quota, n) of them taken.
CREATE FUNCTION callback_pick(draw_month date, seed bytea, share numeric, quota integer)
	RETURNS TABLE (province char(6), rank integer, case_id bigint, phone text)
	LANGUAGE sql STABLE AS $$
	SELECT o.province, o.rank::integer, o.case_id, o.phone
	FROM (SELECT e.province, e.case_id, e.phone,
	             row_number() OVER (PARTITION BY e.province
	                                ORDER BY sha256(seed || int8send(e.case_id)), e.case_id) AS rank,
	             count(*) OVER (PARTITION BY e.province) AS n
	      FROM callback_eligible(draw_month) AS e) AS o
	WHERE o.rank <= CASE WHEN share IS NOT NULL THEN ceil(share * o.n) ELSE least(quota, o.n) END $$;

-- SHA-256 of the lines "case <province> <rank> <case id>\n" of a draw in (province, rank) order:
-- exactly the case lines `casemgrd sample` prints, so a printed draw can be checked with sha256sum.
CREATE FUNCTION callback_digest(draw_month date, seed bytea, share numeric, quota integer) RETURNS bytea
	LANGUAGE sql STABLE AS $$
	SELECT sha256(convert_to(coalesce(string_agg('case ' || p.province || ' ' || p.rank || ' ' || p.case_id
	                                             || E'\n', '' ORDER BY p.province, p.rank), ''), 'UTF8'))
	FROM callback_pick(draw_month, seed, share, quota) AS p $$;

-- Draws a past month once: the draw, its provinces, one callback per picked case with its SMS queued
-- (body, sent between send_after and send_before), and the audit event callback.draw naming month and
-- seed, with the digest as its after hash. A month already drawn is left as it is ("new": false).
CREATE FUNCTION callback_draw(draw_month date, seed bytea, share numeric, quota integer, body text,
                              send_after time, send_before time) RETURNS jsonb
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	d callback_draws;
	cb callbacks;
BEGIN
	IF draw_month IS NULL OR draw_month <> date_trunc('month', draw_month)
	   OR draw_month >= date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') THEN
		PERFORM wf_fail('TW400', 'the first day of a past month', 'month');
	END IF;
	IF seed IS NULL OR octet_length(seed) NOT BETWEEN 16 AND 64 THEN
		PERFORM wf_fail('TW400', 'a seed is 16 to 64 bytes', 'seed');
	END IF;
	IF (share IS NULL) = (quota IS NULL) OR share <= 0 OR share > 1 OR quota < 1 THEN
		PERFORM wf_fail('TW400', 'either a share in (0, 1] or a count of at least 1',
		                CASE WHEN share IS NULL THEN 'count' ELSE 'share' END);
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('callback_draws'));
	SELECT * INTO d FROM callback_draws WHERE month = draw_month;
	IF FOUND THEN
		RETURN jsonb_build_object('month', to_char(d.month, 'YYYY-MM'), 'new', false);
	END IF;
	INSERT INTO callback_draws (month, seed, share, count, digest, actor)
	VALUES (draw_month, seed, share, quota, callback_digest(draw_month, seed, share, quota), actor_id())
	RETURNING * INTO d;
	INSERT INTO callbacks (draw_id, province, rank, case_id, phone)
	SELECT d.id, p.province, p.rank, p.case_id, p.phone FROM callback_pick(draw_month, seed, share, quota) AS p;
	INSERT INTO callback_strata (draw_id, province, eligible, drawn)
	SELECT d.id, e.province, array_agg(e.case_id ORDER BY e.case_id),
	       (SELECT count(*) FROM callbacks c WHERE c.draw_id = d.id AND c.province = e.province)
	FROM callback_eligible(draw_month) AS e GROUP BY e.province;
	FOR cb IN SELECT * FROM callbacks WHERE draw_id = d.id ORDER BY province, rank LOOP
		UPDATE callbacks SET sms_id = sms_queue(cb.phone, body, 'callback', send_after, send_before)
		WHERE id = cb.id;
	END LOOP;
	INSERT INTO audit_events (actor, action, object, after_hash)
	VALUES (actor_id(), 'callback.draw', 'draw:' || to_char(draw_month, 'YYYY-MM') || '/seed:' || encode(seed, 'hex'),
	        d.digest);
	RETURN jsonb_build_object('month', to_char(d.month, 'YYYY-MM'), 'new', true, 'seed', encode(seed, 'hex'),
	                          'digest', encode(d.digest, 'hex'),
	                          'provinces', (SELECT count(*) FROM callback_strata WHERE draw_id = d.id),
	                          'drawn', (SELECT count(*) FROM callbacks WHERE draw_id = d.id));
END
$$;

-- One message from sms.inbox (locked by the caller), handled and marked processed: recorded in
-- sms_received, matched to the newest open callback of its number (drawn within open_for and not yet
-- understood). An understood answer is the callback's; "unsatisfied" also marks the case for
-- re-examination (case event callback_unsatisfied). Returns the outcome.
CREATE FUNCTION sms_receive(m sms.inbox, open_for interval) RETURNS text
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	num text := sms_number(m."SenderNumber");
	verdict text := callback_parse(m."TextDecoded");
	cb callbacks;
	outcome text;
	before cases;
	after cases;
BEGIN
	SELECT c.* INTO cb FROM callbacks c JOIN callback_draws d ON d.id = c.draw_id
	WHERE c.phone = num AND (c.satisfaction IS NULL OR c.satisfaction = 'unparsed')
	      AND d.drawn_at > now() - open_for
	ORDER BY c.id DESC LIMIT 1 FOR UPDATE OF c;
	IF FOUND THEN
		outcome := CASE WHEN verdict IS NULL THEN 'unparsed' ELSE 'answer' END;
		UPDATE callbacks SET answer = m."TextDecoded", answered_at = now(),
		       satisfaction = coalesce(verdict, 'unparsed')
		WHERE id = cb.id;
		INSERT INTO audit_events (action, object) VALUES ('callback.' || outcome, 'callback:' || cb.id);
		IF verdict = 'unsatisfied' THEN
			before := wf_case(cb.case_id);
			UPDATE cases SET reexamine = true, updated_at = now() WHERE id = cb.case_id RETURNING * INTO after;
			PERFORM wf_event(before, after, 'callback_unsatisfied',
			                 jsonb_build_object('callback', cb.id, 'draw', cb.draw_id, 'sms', m."ID"));
		END IF;
	ELSE
		SELECT c.* INTO cb FROM callbacks c WHERE c.phone = num ORDER BY c.id DESC LIMIT 1;
		outcome := CASE WHEN FOUND THEN 'late' ELSE 'unknown' END;
	END IF;
	INSERT INTO sms_received (inbox_id, phone, received_at, body, callback_id, outcome)
	VALUES (m."ID", num, m."ReceivingDateTime" AT TIME ZONE 'Asia/Shanghai', m."TextDecoded", cb.id, outcome);
	UPDATE sms.inbox SET "Processed" = true WHERE "ID" = m."ID";
	RETURN outcome;
END
$$;

-- The daemon's periodic SMS work, in one transaction: last month's draw when there is none yet and a
-- rule is given (share or quota), with this seed from the daemon's CSPRNG (unused otherwise); the
-- callbacks whose SMS gammu-smsd has since sent or given up on; up to batch new messages of the inbox.
CREATE FUNCTION sms_tick(seed bytea, share numeric, quota integer, body text, send_after time, send_before time,
                         open_for interval, batch integer, OUT draw jsonb, OUT sent integer, OUT failed integer,
                         OUT answers integer, OUT unparsed integer, OUT late integer, OUT strangers integer)
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	last_month date := date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') - interval '1 month';
	m sms.inbox;
	outcome text;
BEGIN
	IF (share IS NOT NULL OR quota IS NOT NULL) AND NOT EXISTS (SELECT FROM callback_draws WHERE month = last_month) THEN
		draw := callback_draw(last_month, seed, share, quota, body, send_after, send_before);
	END IF;
	WITH s AS (
		UPDATE callbacks c SET send_status = i."Status",
		       sent_at = CASE WHEN i."Status" NOT IN ('SendingError', 'Error')
		                      THEN i."SendingDateTime" AT TIME ZONE 'Asia/Shanghai' END
		FROM sms.sentitems i
		WHERE c.send_status IS NULL AND i."ID" = c.sms_id AND i."SequencePosition" = 1
		RETURNING c.sent_at
	)
	SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE sent_at IS NULL)
	INTO sent, failed FROM s;
	answers := 0;
	unparsed := 0;
	late := 0;
	strangers := 0;
	FOR m IN SELECT * FROM sms.inbox WHERE NOT "Processed" ORDER BY "ID" LIMIT batch FOR UPDATE SKIP LOCKED LOOP
		outcome := sms_receive(m, open_for);
		CASE outcome
			WHEN 'answer' THEN answers := answers + 1;
			WHEN 'unparsed' THEN unparsed := unparsed + 1;
			WHEN 'late' THEN late := late + 1;
			ELSE strangers := strangers + 1;
		END CASE;
	END LOOP;
END
$$;

-- Whether the acting user may see a province's callbacks: national offices all, provincial their own.
CREATE FUNCTION callback_visible(province char(6)) RETURNS boolean LANGUAGE sql STABLE
	AS $$ SELECT actor_pledged() AND CASE actor_role()
		WHEN 'national' THEN true
		WHEN 'provincial' THEN province = actor_province()
		ELSE false END IS TRUE $$;

ALTER TABLE callback_draws ENABLE ROW LEVEL SECURITY;
ALTER TABLE callback_strata ENABLE ROW LEVEL SECURITY;
ALTER TABLE callbacks ENABLE ROW LEVEL SECURITY;
ALTER TABLE sms_received ENABLE ROW LEVEL SECURITY;
CREATE POLICY scoped ON callback_draws FOR SELECT TO tip_app
	USING (actor_pledged() AND actor_role() IN ('national', 'provincial'));
CREATE POLICY scoped ON callback_strata FOR SELECT TO tip_app USING (callback_visible(province));
CREATE POLICY scoped ON callbacks FOR SELECT TO tip_app USING (callback_visible(province));
-- Replies from numbers without a callback are nobody's province: the national office only.
CREATE POLICY scoped ON sms_received FOR SELECT TO tip_app
	USING (callback_visible(NULL) OR EXISTS (SELECT FROM callbacks c WHERE c.id = callback_id));
GRANT SELECT ON callback_draws, callback_strata, callbacks, sms_received TO tip_app;

-- GET /api/v1/ops/callbacks[?month=YYYY-MM]: a month's draw (the newest without month) with its
-- provinces and callbacks, as far as the caller sees them. Audit event callback.view.
CREATE FUNCTION callbacks_view(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	month_is text;
	d callback_draws;
BEGIN
	PERFORM arg_only(args, '{month}');
	month_is := arg_text(args, 'month', false, 7);
	IF month_is IS NOT NULL THEN
		IF month_is !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
			PERFORM wf_fail('TW400', 'a month YYYY-MM', 'month');
		END IF;
		SELECT * INTO d FROM callback_draws WHERE month = to_date(month_is, 'YYYY-MM');
	ELSE
		SELECT * INTO d FROM callback_draws ORDER BY month DESC LIMIT 1;
	END IF;
	IF d.id IS NULL THEN
		RETURN jsonb_build_object('draw', NULL, 'provinces', '[]'::jsonb, 'callbacks', '[]'::jsonb);
	END IF;
	INSERT INTO audit_events (actor, action, object)
	VALUES (actor_id(), 'callback.view', 'draw:' || to_char(d.month, 'YYYY-MM'));
	RETURN jsonb_build_object(
		'draw', jsonb_build_object('month', to_char(d.month, 'YYYY-MM'), 'seed', encode(d.seed, 'hex'),
		                           'share', d.share, 'count', d.count, 'digest', encode(d.digest, 'hex'),
		                           'drawn_at', d.drawn_at, 'automatic', d.actor IS NULL),
		'provinces', (SELECT coalesce(jsonb_agg(p.x ORDER BY p.province), '[]') FROM (
			SELECT s.province, jsonb_build_object('province', s.province, 'eligible', cardinality(s.eligible),
				'drawn', s.drawn, 'sent', count(c.sent_at),
				'failed', count(*) FILTER (WHERE c.send_status IS NOT NULL AND c.sent_at IS NULL),
				'satisfied', count(*) FILTER (WHERE c.satisfaction = 'satisfied'),
				'basically_satisfied', count(*) FILTER (WHERE c.satisfaction = 'basically_satisfied'),
				'unsatisfied', count(*) FILTER (WHERE c.satisfaction = 'unsatisfied'),
				'unparsed', count(*) FILTER (WHERE c.satisfaction = 'unparsed')) AS x
			FROM callback_strata s LEFT JOIN callbacks c ON c.draw_id = s.draw_id AND c.province = s.province
			WHERE s.draw_id = d.id GROUP BY s.province, s.eligible, s.drawn) AS p),
		'callbacks', (SELECT coalesce(jsonb_agg(jsonb_build_object(
				'id', c.id, 'case_id', c.case_id, 'province', c.province, 'rank', c.rank, 'sent_at', c.sent_at,
				'send_status', c.send_status, 'answered_at', c.answered_at, 'satisfaction', c.satisfaction,
				'answer', c.answer) ORDER BY c.province, c.rank), '[]')
			FROM callbacks c WHERE c.draw_id = d.id));
END
$$;

INSERT INTO api_operations (name, target, method, roles, fn)
VALUES ('callbacks', 'global', 'GET', ARRAY['national', 'provincial'], 'callbacks_view');

REVOKE ALL ON FUNCTION sms_queue(text, text, text, time, time), sms_receive(sms.inbox, interval),
	callback_draw(date, bytea, numeric, integer, text, time, time),
	sms_tick(bytea, numeric, integer, text, time, time, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sms_queue(text, text, text, time, time) TO tip_app, tip_ingest;
GRANT EXECUTE ON FUNCTION sms_tick(bytea, numeric, integer, text, time, time, interval, integer) TO tip_ingest;
