#include "intake/status.h"

#include "common/encoding.h"
#include "common/err.h"
#include "proto/bulletin.h"
#include "proto/record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct status_store {
	struct status_conf conf;
	struct spool_reader *reader;
	struct rec_chain chain;
	json_t *index; /* hex(query hash) -> [ {stage, result, date}, ... ] */
	struct status_stats stats;
};

static const char *const drop_names[STATUS_DROP_COUNT] = {"decode",    "kind",      "origin",
                                                          "signature", "duplicate", "fork"};

const char *status_drop_name(enum status_drop d)
{
	return d < STATUS_DROP_COUNT ? drop_names[d] : "unknown";
}

static int apply(struct status_store *s, const uint8_t *buf, size_t len)
{
	struct rec rec;
	struct bulletin b;
	int drop = -1;

	if (rec_decode(buf, len, BULLETIN_RECORD_MAX, &rec) != TIP_OK)
		return STATUS_DROP_DECODE;
	if (rec.kind != REC_STATUS)
		drop = STATUS_DROP_KIND;
	else if (strcmp(rec.origin, s->conf.origin) != 0)
		drop = STATUS_DROP_ORIGIN;
	else if (rec_verify_ring(&rec, s->conf.keys) != TIP_OK)
		drop = STATUS_DROP_SIGNATURE;
	else if (bulletin_decode(rec.payload, rec.payload_len, s->conf.taxonomy, &b) != TIP_OK)
		drop = STATUS_DROP_DECODE;
	if (drop < 0) {
		switch (rec_chain_check(&s->chain, &rec)) {
		case REC_CHAIN_DUPLICATE: drop = STATUS_DROP_DUPLICATE; break;
		case REC_CHAIN_FORK: drop = STATUS_DROP_FORK; break;
		case REC_CHAIN_GAP:
			/* Signed and well formed: a hole before it is the link's problem, not a reason to
			 * withhold this news from the reporter. Count it and follow the record. */
			s->stats.gaps++;
			s->chain.next_seq = rec.seq;
			break;
		default: break;
		}
	}
	if (drop < 0) {
		char key[65];
		json_t *history, *entry;

		rec_chain_advance(&s->chain, rec.hash);
		hex_encode(b.query_hash, sizeof(b.query_hash), key, sizeof(key));
		history = json_object_get(s->index, key);
		if (!history) {
			history = json_array();
			json_object_set_new(s->index, key, history);
		}
		entry = json_pack("{s:s, s:s, s:s}", "stage", b.stage, "result", b.result, "date", b.date);
		if (json_array_size(history) >= s->conf.max_history)
			json_array_remove(history, 0);
		json_array_append_new(history, entry);
		s->stats.applied++;
	}
	rec_release(&rec);
	return drop;
}

int status_poll(struct status_store *s)
{
	struct spool_fault fault;
	const uint8_t *buf;
	size_t len;
	int n = 0, rc;

	while ((rc = spool_reader_next(s->reader, &buf, &len, NULL, &fault)) == 1) {
		int drop = apply(s, buf, len);

		if (drop >= 0)
			s->stats.dropped[drop]++;
		n++;
	}
	if (rc == TIP_EOVERSIZE) {
		/* One record too large to be a bulletin: drop it and go on. */
		s->stats.dropped[STATUS_DROP_DECODE]++;
		spool_reader_seek(s->reader, spool_reader_position(s->reader) + 1);
		return n + 1;
	}
	return rc < 0 ? rc : n;
}

struct status_store *status_new(const struct status_conf *conf, int *err)
{
	struct status_store *s = calloc(1, sizeof(*s));
	struct spool_fault fault;
	struct spool_opts opts = conf->spool;

	*err = TIP_ENOMEM;
	if (!s)
		return NULL;
	s->conf = *conf;
	opts.max_record = BULLETIN_RECORD_MAX;
	if (!(s->index = json_object()) || (*err = rec_chain_init(&s->chain, conf->origin)) != TIP_OK)
		goto fail;
	if (mkdir(conf->spool_dir, 0700) != 0 && errno != EEXIST) {
		*err = TIP_EIO;
		goto fail;
	}
	if (!(s->reader = spool_reader_open(conf->spool_dir, "intaked", &opts, &fault, err)))
		goto fail;
	/* The index is in memory only, so it is rebuilt from the first record. */
	spool_reader_seek(s->reader, 0);
	if ((*err = status_poll(s)) < 0)
		goto fail;
	*err = TIP_OK;
	return s;
fail:
	status_free(s);
	return NULL;
}

void status_free(struct status_store *s)
{
	if (!s)
		return;
	spool_reader_close(s->reader);
	json_decref(s->index);
	free(s);
}

json_t *status_lookup(const struct status_store *s, const uint8_t query_hash[32])
{
	char key[65];
	json_t *history, *last;

	hex_encode(query_hash, 32, key, sizeof(key));
	history = json_object_get(s->index, key);
	if (!history || !(last = json_array_get(history, json_array_size(history) - 1)))
		return NULL;
	return json_pack("{s:O, s:O, s:O, s:O}", "stage", json_object_get(last, "stage"), "result",
	                 json_object_get(last, "result"), "updated_at", json_object_get(last, "date"),
	                 "history", history);
}

const struct status_stats *status_stats(const struct status_store *s)
{
	return &s->stats;
}
