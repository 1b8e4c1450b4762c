-- 0001: reports as submitted (every field of the four blocks), cases, case links, the organisation
-- tree, the holiday calendar, the status-bulletin outbox, quarantine and ingest cursors.
-- Column meanings: docs/formats/casemgr-schema.md.

CREATE TABLE org_units (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	parent_id bigint REFERENCES org_units (id),
	kind text NOT NULL CHECK (kind IN ('national', 'provincial', 'prefecture', 'county', 'verification',
	                                   'review')),
	region char(6) CHECK (region ~ '^[0-9]{6}$'),
	province char(6) CHECK (province ~ '^[0-9]{2}0000$'),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	CHECK ((kind = 'national') = (parent_id IS NULL)),
	CHECK ((kind = 'national') = (province IS NULL)),
	UNIQUE (parent_id, name)
);
CREATE UNIQUE INDEX org_units_one_national ON org_units ((true)) WHERE kind = 'national';

CREATE TABLE reports (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	origin text NOT NULL,
	seq bigint NOT NULL CHECK (seq >= 0),
	record_hash bytea NOT NULL CHECK (octet_length(record_hash) = 32),
	signed_at timestamptz NOT NULL,
	ingested_at timestamptz NOT NULL DEFAULT now(),
	version integer NOT NULL,
	taxonomy_version text NOT NULL,
	query_hash bytea NOT NULL CHECK (octet_length(query_hash) = 32),
	locale text NOT NULL,
	reporter_anonymous boolean NOT NULL,
	reporter_name text NOT NULL,
	reporter_id_number text NOT NULL,
	reporter_phone text NOT NULL,
	reporter_address text NOT NULL,
	reporter_contact_allowed boolean NOT NULL,
	reporter_channel text NOT NULL,
	categories text[] NOT NULL CHECK (cardinality(categories) >= 1),
	sector text NOT NULL,
	region char(6) NOT NULL,
	province char(6) NOT NULL,
	place text NOT NULL,
	time_text text NOT NULL,
	narrative text NOT NULL,
	UNIQUE (origin, seq)
);
CREATE INDEX reports_query_hash ON reports (query_hash);

CREATE TABLE report_persons (
	report_id bigint NOT NULL REFERENCES reports (id),
	idx integer NOT NULL,
	name text NOT NULL,
	aliases text[] NOT NULL,
	description text NOT NULL,
	phones text[] NOT NULL,
	region text NOT NULL,
	PRIMARY KEY (report_id, idx)
);

CREATE TABLE report_officials (
	report_id bigint NOT NULL REFERENCES reports (id),
	idx integer NOT NULL,
	name text NOT NULL,
	position text NOT NULL,
	unit text NOT NULL,
	region text NOT NULL,
	description text NOT NULL,
	PRIMARY KEY (report_id, idx)
);

CREATE TABLE report_attachments (
	report_id bigint NOT NULL REFERENCES reports (id),
	idx integer NOT NULL,
	filename text NOT NULL,
	content_type text NOT NULL,
	sha256 bytea NOT NULL CHECK (octet_length(sha256) = 32),
	data bytea NOT NULL,
	PRIMARY KEY (report_id, idx)
);

-- One case per report at ingest; merging (case_links) joins cases, it never deletes one.
CREATE TABLE cases (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	report_id bigint NOT NULL UNIQUE REFERENCES reports (id),
	province char(6) NOT NULL,
	region char(6) NOT NULL,
	stage text NOT NULL DEFAULT 'received',
	result text NOT NULL DEFAULT 'pending',
	handling_unit bigint REFERENCES org_units (id),
	assigned_unit bigint REFERENCES org_units (id),
	review_unit bigint REFERENCES org_units (id),
	deadline date,
	received_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_province ON cases (province, id);
CREATE INDEX cases_assigned_unit ON cases (assigned_unit, id);
CREATE INDEX cases_review_unit ON cases (review_unit, id);
CREATE INDEX cases_stage ON cases (stage, id);

CREATE TABLE case_links (
	case_a bigint NOT NULL REFERENCES cases (id),
	case_b bigint NOT NULL REFERENCES cases (id),
	state text NOT NULL CHECK (state IN ('proposed', 'confirmed', 'rejected')),
	score real,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (case_a, case_b),
	CHECK (case_a < case_b)
);

-- Official holidays and swapped working days; a date absent here is a working day Monday to Friday.
CREATE TABLE holidays (
	day date PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
	name text NOT NULL
);

-- Status bulletins waiting for the outward link (fixed codes only: no text, no case data).
CREATE TABLE status_outbox (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	query_hash bytea NOT NULL CHECK (octet_length(query_hash) = 32),
	stage text NOT NULL,
	result text NOT NULL,
	day date NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_seq bigint
);
CREATE INDEX status_outbox_unsent ON status_outbox (id) WHERE sent_seq IS NULL;

-- Records from the inbox that failed a check, kept whole with the reason.
CREATE TABLE quarantine (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	origin text NOT NULL,
	seq bigint NOT NULL,
	reason text NOT NULL CHECK (reason IN ('decode', 'origin', 'signature', 'chain', 'open', 'invalid')),
	detail text NOT NULL,
	record bytea NOT NULL,
	quarantined_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (origin, seq)
);

-- Where ingest stands in each origin's inbox: the next spool index (= seq) and the hash of the record
-- before it, which is not trusted when that record was quarantined (the next one's prev_hash cannot
-- be checked then). Written in the same transaction as what it passes over.
CREATE TABLE ingest_cursors (
	origin text PRIMARY KEY,
	next_seq bigint NOT NULL CHECK (next_seq >= 0),
	prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
	prev_trusted boolean NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON reports, report_persons, report_officials, report_attachments, cases, quarantine
	TO tip_ingest;
GRANT SELECT, INSERT, UPDATE ON ingest_cursors TO tip_ingest;
GRANT SELECT ON org_units, holidays TO tip_app;
