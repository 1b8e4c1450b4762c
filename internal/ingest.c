#include "internal/ingest.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/log.h"
#include "diode/spool.h"
#include "proto/codec.h"
#include "proto/record.h"
#include "proto/report.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#define READER_NAME        "casemgrd"
#define INGEST_BATCH_BYTES (64u << 20) /* records read into one batch, at most (one record may pass it) */

struct source {
	const struct deliver_origin *origin;
	struct spool_reader *reader;
	struct rec_chain chain; /* the next record's seq and prev_hash */
	int prev_untrusted;     /* the record before was quarantined: its hash is no reference */
	int positioned;         /* chain and reader follow the database's cursor */
};

/* One origin's records on their way into the database. */
struct batch {
	const char *origin;
	struct spool_reader *reader; /* the origin's inbox reader */
	uint64_t next_seq;           /* the cursor once it commits */
	char *doc;                   /* the ingest_batch document; NULL: no batch */
	json_t *quarantine;          /* its quarantined records, logged once committed */
	int records, reports, passed_over;
};

struct ingest {
	struct ingest_conf conf;
	struct batch inflight; /* sent, not yet known to be committed */
	struct report_limits limits;
	struct match_key *index_key;
	int compare_backlog; /* cases may be waiting for comparison: compare them when idle */
	PGconn *db;
	struct source *src;
	struct ingest_stats stats;
};

static const char *const reason_names[INGEST_REASON_COUNT] = {"decode", "origin", "signature",
                                                              "chain",  "open",   "invalid"};

const char *ingest_reason_name(enum ingest_reason r)
{
	return (unsigned)r < INGEST_REASON_COUNT ? reason_names[r] : "unknown";
}

struct ingest *ingest_new(const struct ingest_conf *conf)
{
	struct ingest *in = calloc(1, sizeof(*in));

	if (!in || !(in->src = calloc(conf->origins->n ? conf->origins->n : 1, sizeof(*in->src))) ||
	    !(in->index_key = match_key_new(conf->index_key))) {
		if (in)
			free(in->src);
		free(in);
		return NULL;
	}
	in->conf = *conf;
	OPENSSL_cleanse(in->conf.index_key, sizeof(in->conf.index_key)); /* the pad states are kept instead */
	in->limits = report_limits_default();
	for (size_t i = 0; i < conf->origins->n; i++)
		in->src[i].origin = &conf->origins->list[i];
	return in;
}

const struct ingest_stats *ingest_stats(const struct ingest *in)
{
	return &in->stats;
}

static json_t *hex_json(const uint8_t *b, size_t len)
{
	char hex[2 * 64 + 1];

	if (len > 64 || hex_encode(b, len, hex, sizeof(hex)) != TIP_OK)
		return NULL;
	return json_string(hex);
}

static json_t *b64_json(const uint8_t *b, size_t len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *text = malloc(cap);
	json_t *j = text && b64_encode(b, len, text, cap) == TIP_OK ? json_string(text) : NULL;

	free(text);
	return j;
}

static json_t *strings_json(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* Appends {"kind", "digest"} for the text s when it has a comparison key. 0, or -1 when out of memory. */
static int add_key(const struct ingest *in, json_t *keys, enum match_kind kind, const char *s)
{
	uint8_t d[MATCH_DIGEST_LEN];
	int rc = match_key_of(in->index_key, kind, s, d);

	if (rc == TIP_ENOTFOUND)
		return 0;
	return rc == TIP_OK && json_array_append_new(keys,
	                                             json_pack("{s:s, s:o}", "kind", match_kind_name(kind),
	                                                       "digest", hex_json(d, sizeof(d)))) == 0
	               ? 0
	               : -1;
}

/*
 * The keyed digests the case is compared by: the reporter's ID number and phone, the persons' names,
 * aliases and phones, the officials' names, the place. A value may come twice; the database keeps one.
 */
static json_t *keys_json(const struct ingest *in, const Tip__Report *p)
{
	json_t *keys = json_array();
	int bad = !keys;

	if (!bad && p->reporter)
		bad = add_key(in, keys, MATCH_ID_NUMBER, p->reporter->id_number) ||
		      add_key(in, keys, MATCH_PHONE, p->reporter->phone);
	for (size_t i = 0; !bad && i < p->n_persons; i++) {
		const Tip__ReportedPerson *x = p->persons[i];

		bad = add_key(in, keys, MATCH_NAME, x->name);
		for (size_t k = 0; !bad && k < x->n_aliases; k++)
			bad = add_key(in, keys, MATCH_NAME, x->aliases[k]);
		for (size_t k = 0; !bad && k < x->n_phones; k++)
			bad = add_key(in, keys, MATCH_PHONE, x->phones[k]);
	}
	for (size_t i = 0; !bad && p->umbrella && i < p->umbrella->n_officials; i++)
		bad = add_key(in, keys, MATCH_OFFICIAL, p->umbrella->officials[i]->name);
	if (!bad && p->activity)
		bad = add_key(in, keys, MATCH_PLACE, p->activity->place);
	if (bad) {
		json_decref(keys);
		return NULL;
	}
	return keys;
}

/* The report's row and its parts, in the layout ingest_batch reads (docs/formats/casemgr-schema.md). */
static json_t *report_json(const struct ingest *in, const struct rec *r, const Tip__Report *p)
{
	const Tip__Reporter *who = p->reporter;
	const Tip__Activity *act = p->activity;
	const struct tax_region *province = tax_region_province(tax_region(in->conf.taxonomy, act->region));
	json_t *persons = json_array(), *officials = json_array(), *attachments = json_array();

	for (size_t i = 0; persons && i < p->n_persons; i++) {
		const Tip__ReportedPerson *x = p->persons[i];
		json_array_append_new(persons,
		                      json_pack("{s:s, s:o*, s:s, s:o*, s:s}", "name", x->name, "aliases",
		                                strings_json(x->aliases, x->n_aliases), "description",
		                                x->description, "phones",
		                                strings_json(x->phones, x->n_phones), "region", x->region));
	}
	for (size_t i = 0; officials && p->umbrella && i < p->umbrella->n_officials; i++) {
		const Tip__Official *x = p->umbrella->officials[i];
		json_array_append_new(officials, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", x->name,
		                                           "position", x->position, "unit", x->unit, "region",
		                                           x->region, "description", x->description));
	}
	for (size_t i = 0; attachments && i < act->n_attachments; i++) {
		const Tip__Attachment *x = act->attachments[i];
		json_array_append_new(attachments,
		                      json_pack("{s:s, s:s, s:o*, s:o*}", "filename", x->filename,
		                                "content_type", x->content_type, "sha256",
		                                hex_json(x->sha256.data, x->sha256.len), "data",
		                                b64_json(x->data.data, x->data.len)));
	}
	return json_pack(
	        "{s:I, s:o*, s:I, s:i, s:s, s:o*, s:s, s:b, s:s, s:s, s:s, s:s, s:b, s:s, s:o*, s:s, "
	        "s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:o*, s:o}",
	        "seq", (json_int_t)r->seq, "hash", hex_json(r->hash, REC_HASH_LEN), "signed_ms",
	        (json_int_t)r->created_at, "version", (int)p->version, "taxonomy_version",
	        p->taxonomy_version, "query_hash", hex_json(p->query_hash.data, p->query_hash.len), "locale",
	        p->locale, "anonymous", (int)who->anonymous, "name", who->name, "id_number", who->id_number,
	        "phone", who->phone, "address", who->address, "contact_allowed", (int)who->contact_allowed,
	        "channel", who->channel, "categories", strings_json(act->categories, act->n_categories),
	        "sector", act->sector, "region", act->region, "province", province ? province->code : "",
	        "place", act->place, "time", act->time, "narrative", act->narrative, "persons", persons,
	        "officials", officials, "attachments", attachments, "keys", keys_json(in, p));
}

static json_t *quarantine_json(uint64_t seq, enum ingest_reason why, const char *detail, const uint8_t *buf,
                               size_t len)
{
	return json_pack("{s:I, s:s, s:s, s:o*}", "seq", (json_int_t)seq, "reason", reason_names[why],
	                 "detail", detail, "record", b64_json(buf, len));
}

/*
 * One record of a batch. check_one fills in everything that does not depend on the records before
 * (it runs on several threads at once); chain_one then judges the chain in order.
 */
struct item {
	uint8_t *buf; /* a copy of the record */
	size_t len;
	int bad;         /* a reason (enum ingest_reason) found by check_one, or -1 */
	int report;      /* 1: a REPORT record, out is its report */
	char detail[96]; /* for bad */
	uint64_t seq;    /* as carried (valid unless bad == INGEST_DECODE) */
	uint8_t prev_hash[REC_HASH_LEN], hash[REC_HASH_LEN];
	json_t *out; /* the report, or NULL */
};

/* Opens the record's sealed report with the seal key of its recipient key id. */
static int open_sealed(const struct ingest *in, const struct rec *r, Tip__Report **report)
{
	int rc = TIP_ENOTFOUND;

	for (size_t i = 0; i < in->conf.n_seal_keys && rc == TIP_ENOTFOUND; i++)
		rc = report_open(r->payload, r->payload_len, in->conf.max_record, in->conf.seal_sk[i],
		                 in->conf.seal_key_id[i], r->origin, r->seq, report);
	return rc;
}

static void check_one(const struct ingest *in, const struct deliver_origin *o, struct item *it)
{
	struct rec r;
	Tip__Report *report = NULL;
	char field[REPORT_FIELD_MAX];
	int rc;

	it->bad = -1;
	if ((rc = rec_decode(it->buf, it->len, in->conf.max_record, &r)) != TIP_OK) {
		it->bad = INGEST_DECODE;
		snprintf(it->detail, sizeof(it->detail), "record: %s", tip_strerror(rc));
		rec_hash(it->buf, it->len, it->hash);
		return;
	}
	it->seq = r.seq;
	memcpy(it->prev_hash, r.prev_hash, REC_HASH_LEN);
	memcpy(it->hash, r.hash, REC_HASH_LEN);
	if (strcmp(r.origin, o->name) != 0) {
		it->bad = INGEST_ORIGIN;
		snprintf(it->detail, sizeof(it->detail), "signed for another origin");
	} else if ((rc = rec_verify_ring(&r, &o->keys)) != TIP_OK) {
		it->bad = INGEST_SIGNATURE;
		if (rc == TIP_ENOTFOUND)
			snprintf(it->detail, sizeof(it->detail),
			         "key id %02x%02x%02x%02x is none of the origin's keys (unknown or revoked)",
			         r.key_id[0], r.key_id[1], r.key_id[2], r.key_id[3]);
		else
			snprintf(it->detail, sizeof(it->detail),
			         "signature does not verify with the origin's key");
	} else if (r.kind != REC_REPORT) {
		/* passed over */
	} else if ((rc = open_sealed(in, &r, &report)) != TIP_OK) {
		it->bad = INGEST_OPEN;
		snprintf(it->detail, sizeof(it->detail), "sealed report: %s",
		         rc == TIP_ENOTFOUND ? "sealed to a key id none of the seal keys has"
		                             : tip_strerror(rc));
	} else if ((rc = report_validate(report, in->conf.taxonomy, &in->limits, field)) != TIP_OK) {
		it->bad = INGEST_INVALID;
		snprintf(it->detail, sizeof(it->detail), "%s: %s", field, tip_strerror(rc));
	} else {
		it->report = 1;
		it->out = report_json(in, &r, report);
	}
	if (report)
		codec_free(&report->base);
	rec_release(&r);
}

/*
 * Judges the record at the chain's position and moves the chain past it whatever the verdict, so one
 * bad record never stops the origin. Returns the reason it is quarantined for, or -1.
 */
static int chain_one(struct source *s, struct item *it)
{
	struct rec view = {.origin = s->origin->name, .seq = it->seq, .prev_hash = it->prev_hash};
	uint64_t due = s->chain.next_seq;
	int why = it->bad;

	/* Decode, origin and signature come first; after a quarantined record only the seq is checked. */
	if (why != INGEST_DECODE && why != INGEST_ORIGIN && why != INGEST_SIGNATURE) {
		if (s->prev_untrusted)
			memcpy(s->chain.prev_hash, it->prev_hash, REC_HASH_LEN);
		switch (rec_chain_check(&s->chain, &view)) {
		case REC_CHAIN_NEXT: break;
		case REC_CHAIN_FORK:
			why = INGEST_CHAIN;
			snprintf(it->detail, sizeof(it->detail), "prev_hash does not name the record before");
			break;
		default:
			why = INGEST_CHAIN;
			snprintf(it->detail, sizeof(it->detail), "seq %llu where %llu was due",
			         (unsigned long long)it->seq, (unsigned long long)due);
			break;
		}
	}
	s->prev_untrusted = why >= 0;
	rec_chain_advance(&s->chain, it->hash);
	it->seq = due;
	return why;
}

struct worker {
	const struct ingest *in;
	const struct deliver_origin *origin;
	struct item *items;
	size_t n, first, step;
	pthread_t thread;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (size_t i = w->first; i < w->n; i += w->step)
		check_one(w->in, w->origin, &w->items[i]);
	return NULL;
}

/* check_one on every item, on up to conf.threads threads (this one included). */
static void check_all(const struct ingest *in, const struct deliver_origin *o, struct item *items, size_t n)
{
	struct worker w[INGEST_THREADS_MAX];
	size_t t, threads = in->conf.threads < 1 ? 1 : in->conf.threads;

	if (threads > INGEST_THREADS_MAX)
		threads = INGEST_THREADS_MAX;
	if (threads > n)
		threads = n;
	for (t = 0; t < threads; t++)
		w[t] = (struct worker){in, o, items, n, t, threads, 0};
	/* A thread that cannot start leaves its share to this one. */
	for (t = 1; t < threads; t++)
		if (pthread_create(&w[t].thread, NULL, worker_main, &w[t]) != 0)
			break;
	size_t started = t;
	for (t = started; t < threads; t++)
		worker_main(&w[t]);
	worker_main(&w[0]);
	for (t = 1; t < started; t++)
		pthread_join(w[t].thread, NULL);
}

/* Reads the origin's cursor from the database and puts chain and reader there. */
static int position(struct ingest *in, struct source *s, char msg[DB_MSG_MAX])
{
	const char *params[] = {s->origin->name};
	PGresult *res;
	struct spool_fault fault = {0};
	uint64_t head;
	size_t hash_len;
	int rc;

	if ((rc = db_exec(in->db,
	                  "SELECT next_seq, encode(prev_hash, 'hex'), NOT prev_trusted FROM ingest_cursors "
	                  "WHERE origin = $1",
	                  1, params, PGRES_TUPLES_OK, &res, msg)) != TIP_OK)
		return rc;
	rec_chain_init(&s->chain, s->origin->name);
	s->prev_untrusted = 0;
	if (PQntuples(res) == 1) {
		s->prev_untrusted = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		s->chain.next_seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		if (hex_decode(PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)), s->chain.prev_hash,
		               REC_HASH_LEN, &hash_len) != TIP_OK ||
		    hash_len != REC_HASH_LEN)
			rc = TIP_EIO;
	}
	PQclear(res);
	if (rc == TIP_OK && (rc = spool_reader_head(s->reader, &head, &fault)) == TIP_OK &&
	    (rc = spool_reader_seek(s->reader, s->chain.next_seq)) != TIP_OK)
		snprintf(msg, DB_MSG_MAX, "%s: the database's cursor %llu is past the inbox's %llu records",
		         s->origin->name, (unsigned long long)s->chain.next_seq, (unsigned long long)head);
	s->positioned = rc == TIP_OK;
	return rc;
}

/* After the commit: count and log what was quarantined (once, never for a batch that was retried). */
static void account(struct ingest *in, const struct batch *b, int stored)
{
	size_t i;
	json_t *q;

	json_array_foreach(b->quarantine, i, q)
	{
		const char *reason = json_string_value(json_object_get(q, "reason"));

		for (int k = 0; k < INGEST_REASON_COUNT; k++)
			if (strcmp(reason, reason_names[k]) == 0)
				atomic_fetch_add(&in->stats.quarantined[k], 1);
		log_warn("quarantined %s seq %lld: %s (%s)", b->origin,
		         (long long)json_integer_value(json_object_get(q, "seq")), reason,
		         json_string_value(json_object_get(q, "detail")));
	}
	atomic_fetch_add(&in->stats.reports, (uint64_t)stored);
	atomic_fetch_add(&in->stats.replayed, (uint64_t)(b->reports - stored));
	atomic_fetch_add(&in->stats.passed_over, (uint64_t)b->passed_over);
	atomic_fetch_add(&in->stats.batches, 1);
}

static void batch_clear(struct batch *b)
{
	free(b->doc);
	json_decref(b->quarantine);
	memset(b, 0, sizeof(*b));
}

/* Opens the origin's inbox reader if it exists yet. TIP_OK (s->reader may stay NULL) or an error. */
static int open_reader(struct ingest *in, struct source *s, char msg[DB_MSG_MAX])
{
	char dir[1024];
	struct spool_fault fault = {0};
	struct spool_opts o = spool_opts_default();
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", in->conf.inbox_dir, s->origin->name);
	o.max_record = in->conf.max_record;
	if ((s->reader = spool_reader_open(dir, READER_NAME, &o, &fault, &rc)) || rc == TIP_ENOTFOUND)
		return TIP_OK; /* not found: no record has crossed for this origin yet */
	snprintf(msg, DB_MSG_MAX, "%.300s: %s (%s)", dir, tip_strerror(rc), fault.file);
	return rc;
}

/* Reads and checks up to one batch of one origin into *b. Records read (0: none new), or an error. */
static int build_batch(struct ingest *in, struct source *s, struct batch *b, char msg[DB_MSG_MAX])
{
	char hash[2 * REC_HASH_LEN + 1];
	struct spool_fault fault = {0};
	json_t *reports = json_array(), *doc = NULL;
	struct item *items = NULL;
	size_t bytes = 0;
	int rc = TIP_OK, n = 0;

	memset(b, 0, sizeof(*b));
	if (!(b->quarantine = json_array()) || !reports)
		rc = TIP_ENOMEM;
	if (rc == TIP_OK && !s->reader && (rc = open_reader(in, s, msg)) != TIP_OK)
		goto out;
	if (rc != TIP_OK || !s->reader || (!s->positioned && (rc = position(in, s, msg)) != TIP_OK))
		goto out;
	if (!(items = calloc(in->conf.batch, sizeof(*items))))
		rc = TIP_ENOMEM;
	while (rc == TIP_OK && (size_t)n < in->conf.batch && bytes < INGEST_BATCH_BYTES) {
		const uint8_t *rec;
		size_t len;

		if ((rc = spool_reader_next(s->reader, &rec, &len, NULL, &fault)) <= 0) {
			if (rc < 0)
				snprintf(msg, DB_MSG_MAX, "%.300s/%s: %s at %s offset %llu",
				         in->conf.inbox_dir, s->origin->name, tip_strerror(rc), fault.file,
				         (unsigned long long)fault.offset);
			break;
		}
		rc = TIP_OK;
		if (!(items[n].buf = malloc(len ? len : 1))) {
			rc = TIP_ENOMEM;
			break;
		}
		memcpy(items[n].buf, rec, len);
		items[n++].len = len;
		bytes += len;
	}
	if (rc == TIP_OK && n)
		check_all(in, s->origin, items, (size_t)n);
	for (int i = 0; rc == TIP_OK && i < n; i++) {
		struct item *it = &items[i];
		int why = chain_one(s, it);
		json_t *j = why >= 0 ? quarantine_json(it->seq, (enum ingest_reason)why, it->detail, it->buf,
		                                       it->len)
		                     : it->out;

		if (why < 0 && !it->report) {
			b->passed_over++;
			continue;
		}
		if (why < 0)
			it->out = NULL; /* now the batch's */
		if (!j || json_array_append_new(why >= 0 ? b->quarantine : reports, j) != 0)
			rc = TIP_ENOMEM;
	}
	if (rc != TIP_OK || n == 0)
		goto out;
	hex_encode(s->chain.prev_hash, REC_HASH_LEN, hash, sizeof(hash));
	if (!(doc = json_pack("{s:s, s:I, s:s, s:b, s:O, s:O}", "origin", s->origin->name, "next_seq",
	                      (json_int_t)s->chain.next_seq, "prev_hash", hash, "prev_trusted",
	                      !s->prev_untrusted, "reports", reports, "quarantine", b->quarantine)) ||
	    !(b->doc = json_dumps(doc, JSON_COMPACT)))
		rc = TIP_ENOMEM;
	b->origin = s->origin->name;
	b->reader = s->reader;
	b->next_seq = s->chain.next_seq;
	b->records = n;
	b->reports = (int)json_array_size(reports);
out:
	if (rc == TIP_ENOMEM)
		snprintf(msg, DB_MSG_MAX, "out of memory");
	for (int i = 0; items && i < n; i++) {
		free(items[i].buf);
		json_decref(items[i].out);
	}
	free(items);
	json_decref(doc);
	json_decref(reports);
	if (rc != TIP_OK || n == 0)
		batch_clear(b);
	return rc == TIP_OK ? n : rc;
}

/*
 * compare_pending's answer: the cases it compared, or -1 when the comparison failed (the function
 * caught the error and raised it as a warning, which the notice receiver has logged; ingest goes on
 * and the cases stay pending), or NULL when the batch left the comparison for later. A full run
 * means more may be waiting.
 */
static int count_compared(struct ingest *in, const PGresult *res, int column)
{
	long n = strtol(PQgetvalue(res, 0, column), NULL, 10);

	if (PQgetisnull(res, 0, column)) {
		in->compare_backlog = 1;
		return 0;
	}
	if (n < 0) {
		atomic_fetch_add(&in->stats.compare_errors, 1);
		in->compare_backlog = 0; /* retried with the next batch, not in a loop while idle */
		return 0;
	}
	atomic_fetch_add(&in->stats.compared, (uint64_t)n);
	in->compare_backlog = (size_t)n >= in->conf.batch;
	return (int)n;
}

/* Compares cases still waiting (from before a failure or an upgrade) while there is nothing to ingest. */
static int compare_idle(struct ingest *in, char msg[DB_MSG_MAX])
{
	char limit[24];
	const char *params[] = {limit};
	PGresult *res;
	int rc;

	snprintf(limit, sizeof(limit), "%zu", in->conf.batch);
	if ((rc = db_exec(in->db, "SELECT compare_pending($1::integer)", 1, params, PGRES_TUPLES_OK, &res,
	                  msg)) != TIP_OK)
		return rc;
	rc = count_compared(in, res, 0);
	PQclear(res);
	return rc;
}

/* The server's warnings (compare_pending's caught failures) go to the log; plain notices do not. */
static void log_warnings(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	(void)arg;
	if (severity && strcmp(severity, "WARNING") == 0 && text)
		log_warn("database: %.400s", text);
}

/* Waits for the batch in flight to commit. Its records, or TIP_EIO. */
static int finish_inflight(struct ingest *in, char msg[DB_MSG_MAX])
{
	PGresult *res;
	int rc, n = in->inflight.records;

	if (!in->inflight.doc)
		return 0;
	if ((rc = db_wait(in->db, PGRES_TUPLES_OK, &res, msg)) == TIP_OK) {
		account(in, &in->inflight, atoi(PQgetvalue(res, 0, 0)));
		/* The database holds the cursor; this copy beside the inbox only tells retention
		 * (diode-recv prune) how far ingest is done with it, so it may lag but never lead. */
		if (spool_reader_commit(in->inflight.reader, in->inflight.next_seq) != TIP_OK)
			log_warn("%s: cursor.%s for retention not written: %s", in->inflight.origin,
			         READER_NAME, strerror(errno));
		count_compared(in, res, 1);
		PQclear(res);
	}
	batch_clear(&in->inflight);
	return rc == TIP_OK ? n : rc;
}

static void disconnect(struct ingest *in)
{
	PQfinish(in->db);
	in->db = NULL;
	batch_clear(&in->inflight);
	atomic_store(&in->stats.connected, 0);
	/* Whatever was read past the stored cursors is read again from them. */
	for (size_t i = 0; i < in->conf.origins->n; i++)
		in->src[i].positioned = 0;
}

/*
 * The server stores one batch while this thread checks and opens the next: each origin's batch is
 * built, then the one in flight is waited for, then the new one is sent. When ingest keeps up (the
 * batch did not fill: the inbox is drained), the statement that stores it also compares the new
 * cases (compare_pending after ingest_batch, in one transaction), overlapping the next batch's checks
 * as the storing does. A full batch means a backlog: comparison, which costs about as much again as
 * storing, waits until the inbox is drained, so a backlog is stored at full speed first.
 */
int ingest_step(struct ingest *in, char msg[DB_MSG_MAX])
{
	int progress = 0, rc = TIP_OK;
	char limit[24];
	struct batch next;

	if (!in->db) {
		if (!(in->db = db_connect(in->conf.conninfo, msg))) {
			atomic_fetch_add(&in->stats.db_errors, 1);
			return TIP_EIO;
		}
		PQsetNoticeReceiver(in->db, log_warnings, NULL);
		atomic_store(&in->stats.connected, 1);
		in->compare_backlog = 1; /* whatever waited while this process was away */
	}
	snprintf(limit, sizeof(limit), "%zu", in->conf.batch);
	for (size_t i = 0; i < in->conf.origins->n && rc >= 0; i++) {
		if ((rc = build_batch(in, &in->src[i], &next, msg)) <= 0)
			continue;
		if ((rc = finish_inflight(in, msg)) >= 0) {
			progress += rc;
			const char *params[] = {next.doc, limit};
			int backlog = (size_t)next.records >= in->conf.batch;
			if ((rc = db_send(
			             in->db,
			             backlog ? "SELECT ingest_batch($1::jsonb), NULL::integer"
			                     : "SELECT ingest_batch($1::jsonb), compare_pending($2::integer)",
			             backlog ? 1 : 2, params, msg)) == TIP_OK) {
				in->inflight = next;
				progress += next.records;
				continue;
			}
		}
		batch_clear(&next);
	}
	if (rc >= 0 && !progress)
		rc = progress = finish_inflight(in, msg);
	if (rc >= 0 && !progress && in->compare_backlog)
		rc = progress = compare_idle(in, msg);
	if (rc == TIP_EIO || rc == TIP_ENOMEM) {
		atomic_fetch_add(&in->stats.db_errors, 1);
		disconnect(in);
	} else if (rc < 0) {
		/* A damaged inbox: the batch in flight is still committed (or not) and accounted for. */
		char ignored[DB_MSG_MAX];
		finish_inflight(in, ignored);
	}
	return rc < 0 ? rc : progress;
}

void ingest_free(struct ingest *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->conf.origins->n; i++)
		spool_reader_close(in->src[i].reader);
	if (in->db) {
		char msg[DB_MSG_MAX];
		finish_inflight(in, msg);
	}
	PQfinish(in->db);
	OPENSSL_cleanse(in->conf.seal_sk, sizeof(in->conf.seal_sk));
	match_key_free(in->index_key);
	free(in->src);
	free(in);
}
