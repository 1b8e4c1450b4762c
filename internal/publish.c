#include "internal/publish.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/log.h"
#include "diode/spool.h"
#include "diode/status_out.h"
#include "proto/bulletin.h"
#include "proto/record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READER_NAME "casemgrd" /* reads the publisher's own spool back when reconciling */
#define BYTEA_HEX   (2 + 2 * REC_HASH_LEN + 1)

struct publish {
	struct publish_conf conf;
	struct ed25519_key *key;
	struct ed25519_pub *pub;
	uint8_t key_id[REC_KEY_ID_LEN];
	PGconn *db;
	struct spool *spool;
	struct rec_chain chain; /* after the spool's last record */
	int settled;            /* the database's cursor is known to equal chain.next_seq */
	struct publish_stats stats;
};

struct publish *publish_new(const struct publish_conf *conf, const struct key *key)
{
	struct publish *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->conf = *conf;
	memcpy(p->key_id, key->id, REC_KEY_ID_LEN);
	if (key->type != KEY_ED25519 || !key->has_secret || !(p->key = ed25519_key_new(key->secret)) ||
	    !(p->pub = ed25519_pub_new(key->pub))) {
		publish_free(p);
		return NULL;
	}
	return p;
}

void publish_free(struct publish *p)
{
	if (!p)
		return;
	spool_close(p->spool);
	PQfinish(p->db);
	ed25519_key_free(p->key);
	ed25519_pub_free(p->pub);
	free(p);
}

const struct publish_stats *publish_stats(const struct publish *p)
{
	return &p->stats;
}

/* A hash as a bytea parameter in text form. */
static void bytea_text(const uint8_t hash[REC_HASH_LEN], char out[BYTEA_HEX])
{
	out[0] = '\\';
	out[1] = 'x';
	hex_encode(hash, REC_HASH_LEN, out + 2, BYTEA_HEX - 2);
}

/* The connection is gone or its state unknown: reconnect, and reconcile, before anything else. */
static int db_failed(struct publish *p)
{
	PQfinish(p->db);
	p->db = NULL;
	p->settled = 0;
	atomic_fetch_add(&p->stats.db_errors, 1);
	return TIP_EIO;
}

/* Writing failed: reopening runs the spool's recovery, and the chain resumes from what it kept. */
static void spool_failed(struct publish *p)
{
	spool_close(p->spool);
	p->spool = NULL;
	p->settled = 0;
}

static int open_spool(struct publish *p, char msg[DB_MSG_MAX])
{
	struct spool_opts o = status_out_opts();
	struct spool_recovery rec;
	struct spool_fault fault = {0};
	int rc;

	if (!(p->spool = spool_open(p->conf.spool_dir, &o, &rec, &fault, &rc))) {
		snprintf(msg, DB_MSG_MAX, "status spool %s: %s%s%s", p->conf.spool_dir, tip_strerror(rc),
		         fault.file[0] ? " in " : "", fault.file);
		return rc;
	}
	if (rec.bytes_cut || rec.segment_reset)
		log_warn("status spool %s: a torn tail (%llu bytes) cut back to %llu whole records",
		         p->conf.spool_dir, (unsigned long long)rec.bytes_cut, (unsigned long long)rec.count);
	rc = status_out_resume(p->spool, p->conf.spool_dir, p->conf.origin, p->pub, p->key_id,
	                       p->conf.retired, &p->chain);
	if (rc != TIP_OK) {
		if (rc == TIP_ECORRUPT)
			snprintf(
			        msg, DB_MSG_MAX,
			        "status spool %s: its last record is not a record %llu of %s signed with the "
			        "status_key",
			        p->conf.spool_dir, (unsigned long long)(spool_count(p->spool) - 1),
			        p->conf.origin);
		else
			snprintf(msg, DB_MSG_MAX, "status spool %s: its last record: %s", p->conf.spool_dir,
			         tip_strerror(rc));
		spool_failed(p);
		return rc;
	}
	p->settled = 0;
	return TIP_OK;
}

/*
 * Record index of the spool (read by r, positioned there) as a reconciliation entry {seq, query_hash,
 * stage, result, day}, or NULL when it is not a bulletin of this chain (it can then match no row).
 * *hash is the record's hash.
 */
static json_t *spool_bulletin(const struct publish *p, const uint8_t *buf, size_t len, uint64_t index,
                              uint8_t hash[REC_HASH_LEN])
{
	struct bulletin b;
	struct rec r;
	json_t *j = NULL;
	char hex[2 * BULLETIN_HASH_LEN + 1];

	rec_hash(buf, len, hash);
	if (rec_decode(buf, len, BULLETIN_RECORD_MAX, &r) != TIP_OK)
		return NULL;
	if (r.kind == REC_STATUS && r.seq == index && strcmp(r.origin, p->conf.origin) == 0 &&
	    bulletin_decode(r.payload, r.payload_len, p->conf.taxonomy, &b) == TIP_OK) {
		hex_encode(b.query_hash, BULLETIN_HASH_LEN, hex, sizeof(hex));
		j = json_pack("{s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t)index, "query_hash", hex,
		              "stage", b.stage, "result", b.result, "day", b.date);
	}
	rec_release(&r);
	return j;
}

/* Reads the next record of r into *buf; TIP_OK, or a spool error with msg. */
static int read_next(struct publish *p, struct spool_reader *r, const uint8_t **buf, size_t *len,
                     uint64_t *index, char msg[DB_MSG_MAX])
{
	struct spool_fault fault = {0};
	int rc = spool_reader_next(r, buf, len, index, &fault);

	if (rc == 1)
		return TIP_OK;
	rc = rc < 0 ? rc : TIP_ECORRUPT; /* every record before the count is durable: it must be there */
	snprintf(msg, DB_MSG_MAX, "status spool %s: reading back record %llu: %s%s%s", p->conf.spool_dir,
	         (unsigned long long)spool_reader_position(r), tip_strerror(rc), fault.file[0] ? " in " : "",
	         fault.file);
	return rc;
}

/*
 * Brings the database level with the spool: the records between the database's cursor and the spool's
 * end were appended and then not marked (a crash, a lost connection, a lost commit answer). Each is
 * matched to its row by content, batch records per transaction.
 */
static int reconcile(struct publish *p, char msg[DB_MSG_MAX])
{
	struct spool_opts o = status_out_opts();
	struct spool_fault fault = {0};
	struct spool_reader *r = NULL;
	const char *params[6] = {p->conf.origin};
	char from_text[24], to_text[24], before[BYTEA_HEX], after[BYTEA_HEX];
	uint8_t prev[REC_HASH_LEN] = {0};
	uint64_t cursor, end = p->chain.next_seq, matched = 0, unmatched = 0;
	const uint8_t *buf;
	size_t len;
	PGresult *res;
	int rc;

	if (db_exec(p->db, "SELECT next_seq, pending FROM status_publish_state($1)", 1, params,
	            PGRES_TUPLES_OK, &res, msg) != TIP_OK)
		return db_failed(p);
	cursor = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	atomic_store(&p->stats.pending, strtoull(PQgetvalue(res, 0, 1), NULL, 10));
	PQclear(res);
	if (cursor > end) {
		snprintf(msg, DB_MSG_MAX,
		         "the database's status cursor of %s is %llu, past the %llu records of the status "
		         "spool %s",
		         p->conf.origin, (unsigned long long)cursor, (unsigned long long)end,
		         p->conf.spool_dir);
		return TIP_ERANGE;
	}
	if (cursor == end) {
		p->settled = 1;
		return TIP_OK;
	}
	if (!(r = spool_reader_open(p->conf.spool_dir, READER_NAME, &o, &fault, &rc))) {
		snprintf(msg, DB_MSG_MAX, "status spool %s: %s", p->conf.spool_dir, tip_strerror(rc));
		return rc;
	}
	/* The hash before the first record to match, for the audit event. */
	if (cursor > 0 && ((rc = spool_reader_seek(r, cursor - 1)) != TIP_OK ||
	                   (rc = read_next(p, r, &buf, &len, NULL, msg)) != TIP_OK))
		goto out;
	if (cursor > 0)
		rec_hash(buf, len, prev);
	for (uint64_t from = cursor, to; from < end; from = to) {
		json_t *doc = json_array();
		char *text;

		bytea_text(prev, before);
		for (to = from; to < end && to - from < p->conf.batch; to++) {
			uint64_t index;
			json_t *entry;

			if ((rc = read_next(p, r, &buf, &len, &index, msg)) != TIP_OK) {
				json_decref(doc);
				goto out;
			}
			if ((entry = spool_bulletin(p, buf, len, index, prev)))
				json_array_append_new(doc, entry);
			else
				log_warn("status spool %s: record %llu is not a bulletin of %s; it matches "
				         "no row",
				         p->conf.spool_dir, (unsigned long long)index, p->conf.origin);
		}
		bytea_text(prev, after);
		snprintf(from_text, sizeof(from_text), "%llu", (unsigned long long)from);
		snprintf(to_text, sizeof(to_text), "%llu", (unsigned long long)to);
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		if (!text) {
			snprintf(msg, DB_MSG_MAX, "status reconciliation: out of memory");
			rc = TIP_EIO;
			goto out;
		}
		params[1] = from_text;
		params[2] = to_text;
		params[3] = before;
		params[4] = after;
		params[5] = text;
		rc = db_exec(p->db,
		             "SELECT seq, outbox_id FROM status_reconcile($1, $2, $3, $4, $5, $6::jsonb)", 6,
		             params, PGRES_TUPLES_OK, &res, msg);
		free(text);
		if (rc != TIP_OK) {
			rc = db_failed(p);
			goto out;
		}
		for (int i = 0; i < PQntuples(res); i++) {
			if (PQgetisnull(res, i, 1))
				unmatched++;
			else
				matched++;
		}
		unmatched += (to - from) - (uint64_t)PQntuples(res);
		PQclear(res);
	}
	atomic_fetch_add(&p->stats.reconciled, matched);
	log_warn("status spool %s: records %llu-%llu were not marked sent (a crash or a lost connection): "
	         "%llu "
	         "matched to their rows now, %llu to no unsent row",
	         p->conf.spool_dir, (unsigned long long)cursor, (unsigned long long)(end - 1),
	         (unsigned long long)matched, (unsigned long long)unmatched);
	p->settled = 1;
	rc = TIP_OK;
out:
	spool_reader_close(r);
	return rc;
}

/* A row of status_unsent as a bulletin: TIP_ERANGE (a code too long to be one), TIP_EINVAL (no date). */
static int row_bulletin(const PGresult *res, int i, struct bulletin *b)
{
	const char *hash = PQgetvalue(res, i, 1), *stage = PQgetvalue(res, i, 2),
	           *result = PQgetvalue(res, i, 3), *day = PQgetvalue(res, i, 4);
	size_t got;

	memset(b, 0, sizeof(*b));
	if (hex_decode(hash, strlen(hash), b->query_hash, BULLETIN_HASH_LEN, &got) != TIP_OK ||
	    got != BULLETIN_HASH_LEN)
		return TIP_EIO; /* the table's CHECK makes this impossible */
	if (strlen(stage) > BULLETIN_CODE_MAX || strlen(result) > BULLETIN_CODE_MAX)
		return TIP_ERANGE;
	if (strlen(day) != 10)
		return TIP_EINVAL;
	memcpy(b->stage, stage, strlen(stage) + 1);
	memcpy(b->result, result, strlen(result) + 1);
	memcpy(b->date, day, 11);
	return TIP_OK;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One batch: rows -> spool (one sync) -> marked in one transaction. Returns the rows handled. */
static int publish_batch(struct publish *p, char msg[DB_MSG_MAX])
{
	struct status_out_signer signer = {p->key, {0}};
	uint64_t from = p->chain.next_seq, waiting;
	char lim[24], from_text[24], to_text[24], before[BYTEA_HEX], after[BYTEA_HEX], *text;
	const char *params[6] = {lim};
	json_t *sent = NULL, *refused = NULL, *doc;
	int64_t created = now_ms();
	PGresult *res;
	int n, rc, lost = 0;

	memcpy(signer.key_id, p->key_id, REC_KEY_ID_LEN);
	snprintf(lim, sizeof(lim), "%zu", p->conf.batch);
	if (db_exec(p->db, "SELECT id, query_hash, stage, result, day, waiting FROM status_unsent($1)", 1,
	            params, PGRES_TUPLES_OK, &res, msg) != TIP_OK)
		return db_failed(p);
	if ((n = PQntuples(res)) == 0) {
		atomic_store(&p->stats.pending, 0);
		PQclear(res);
		return 0;
	}
	waiting = strtoull(PQgetvalue(res, 0, 5), NULL, 10);
	bytea_text(p->chain.prev_hash, before);
	sent = json_array();
	refused = json_array();
	for (int i = 0; i < n; i++) {
		json_int_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		struct bulletin b;
		uint64_t seq;

		if ((rc = row_bulletin(res, i, &b)) == TIP_EIO) {
			snprintf(msg, DB_MSG_MAX, "status_unsent: row %lld has no 32-byte hash",
			         (long long)id);
			/* Closing makes this batch's records durable: the reconciliation reads them back. */
			spool_failed(p);
			rc = db_failed(p);
			goto out;
		}
		if (rc == TIP_OK)
			rc = status_out_append(p->spool, &p->chain, &signer, p->conf.taxonomy, &b, created,
			                       &seq);
		if (rc == TIP_OK) {
			lost |= json_array_append_new(
			                sent, json_pack("{s:I, s:I}", "id", id, "seq", (json_int_t)seq)) != 0;
		} else if (rc == TIP_ERANGE || rc == TIP_EINVAL) {
			log_warn("status_outbox row %lld refused: %s", (long long)id,
			         rc == TIP_ERANGE
			                 ? "a stage or result code the taxonomy does not know"
			                 : "a day a bulletin cannot carry (2000-01-01 to 2999-12-31)");
			lost |= json_array_append_new(refused,
			                              json_pack("{s:I, s:s}", "id", id, "reason",
			                                        rc == TIP_ERANGE ? "code" : "date")) != 0;
		} else {
			snprintf(msg, DB_MSG_MAX, "status spool %s: appending: %s", p->conf.spool_dir,
			         tip_strerror(rc));
			if (rc != TIP_ECORRUPT) {
				spool_failed(p);
				rc = TIP_EIO;
			}
			goto out;
		}
	}
	if (p->chain.next_seq > from && (rc = spool_sync(p->spool, NULL)) != TIP_OK) {
		snprintf(msg, DB_MSG_MAX, "status spool %s: sync: %s", p->conf.spool_dir, tip_strerror(rc));
		spool_failed(p);
		rc = TIP_EIO;
		goto out;
	}
	/* Durable: only now may the rows be marked. */
	snprintf(from_text, sizeof(from_text), "%llu", (unsigned long long)from);
	snprintf(to_text, sizeof(to_text), "%llu", (unsigned long long)p->chain.next_seq);
	bytea_text(p->chain.prev_hash, after);
	doc = lost ? NULL : json_pack("{s:O, s:O}", "sent", sent, "refused", refused);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		/* A document missing a row would move the cursor past its record: reconcile instead. */
		snprintf(msg, DB_MSG_MAX, "status publisher: out of memory");
		rc = db_failed(p);
		goto out;
	}
	params[0] = p->conf.origin;
	params[1] = from_text;
	params[2] = to_text;
	params[3] = before;
	params[4] = after;
	params[5] = text;
	rc = db_exec(p->db, "SELECT status_sent($1, $2, $3, $4, $5, $6::jsonb)", 6, params, PGRES_TUPLES_OK,
	             NULL, msg);
	free(text);
	if (rc != TIP_OK) {
		rc = db_failed(p);
		goto out;
	}
	atomic_fetch_add(&p->stats.published, json_array_size(sent));
	atomic_fetch_add(&p->stats.refused, json_array_size(refused));
	atomic_store(&p->stats.pending, waiting > (uint64_t)n ? waiting - (uint64_t)n : 0);
	rc = n;
out:
	json_decref(sent);
	json_decref(refused);
	PQclear(res);
	return rc;
}

int publish_step(struct publish *p, char msg[DB_MSG_MAX])
{
	int rc;

	msg[0] = 0;
	if (!p->spool && (rc = open_spool(p, msg)) != TIP_OK)
		return rc;
	if (!p->db) {
		if (!(p->db = db_connect(p->conf.conninfo, msg)))
			return db_failed(p);
		p->settled = 0;
	}
	if (!p->settled && (rc = reconcile(p, msg)) != TIP_OK)
		return rc;
	return publish_batch(p, msg);
}
