/*
 * The intake's status store (intake/status.c) reading a status spool written from hostile bytes.
 * The input is a program; each step's opcode byte (modulo 4) appends one record to the spool:
 *   0: a STATUS record of the store's origin, properly signed, carrying a payload of the input's
 *      bytes (a length byte, then that many);
 *   1: the same carrying a valid bulletin made from the input (hash byte, stage, result, day);
 *   2: raw bytes (a length byte times 8, then that many), most of them no record at all;
 *   3: a record of another kind (REPORT) or, opcode bit 2 set, of another origin.
 * Opcode bit 3 leaves the chain where it was (the next record repeats a seq: duplicate or fork),
 * bit 4 skips a seq (a gap); bit 5 syncs and lets the store read what is there (the store is
 * opened at the first such step and polled at the next ones). Afterwards every record was either
 * applied or dropped with a reason, every answer is well formed with its history under the cap,
 * and when only valid bulletins went out in chain order, all were applied and each is found.
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "diode/spool.h"
#include "diode/status_out.h"
#include "intake/status.h"
#include "proto/bulletin.h"
#include "proto/keyfile.h"
#include "proto/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ORIGIN  "internal"
#define HISTORY 3

static char *dir;
static struct taxonomy *tax;
static struct ed25519_key *signer;
static struct ed25519_pub *pub;
static uint8_t key_id[REC_KEY_ID_LEN];

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
	ed25519_key_free(signer);
	ed25519_pub_free(pub);
}

static void setup(void)
{
	struct key keys[2], pubs[2];

	tu_corpus_keys(keys, pubs);
	dir = tu_mkdtemp_mem();
	tax = tu_taxonomy();
	if (!(signer = ed25519_key_new(keys[0].secret)) || !(pub = ed25519_pub_new(pubs[0].pub)))
		abort();
	memcpy(key_id, keys[0].id, REC_KEY_ID_LEN);
	key_wipe(&keys[0]);
	key_wipe(&keys[1]);
	atexit(teardown);
}

static void check_lookup(const struct status_store *st, const uint8_t hash[BULLETIN_HASH_LEN], int must_know)
{
	json_t *v = status_lookup(st, hash), *history;

	if (!v) {
		if (must_know)
			abort();
		return;
	}
	history = json_object_get(v, "history");
	if (!json_is_string(json_object_get(v, "stage")) || !json_is_string(json_object_get(v, "result")) ||
	    !json_is_array(history) || json_array_size(history) == 0 || json_array_size(history) > HISTORY)
		abort();
	json_decref(v);
}

/* A bulletin from the input that bulletin_encode accepts. */
static void make_bulletin(struct fuzz_cursor *c, struct bulletin *b)
{
	const struct tax_item *stage = tax_item_at(tax, TAX_STAGE, fuzz_take(c) % tax_count(tax, TAX_STAGE));
	const struct tax_item *result =
	        tax_item_at(tax, TAX_RESULT, fuzz_take(c) % tax_count(tax, TAX_RESULT));

	memset(b, 0, sizeof(*b));
	b->query_hash[0] = fuzz_take(c);
	snprintf(b->stage, sizeof(b->stage), "%s", stage->code);
	snprintf(b->result, sizeof(b->result), "%s", result->code);
	snprintf(b->date, sizeof(b->date), "2026-%02d-%02d", 1 + fuzz_take(c) % 12, 1 + fuzz_take(c) % 28);
}

static void append(struct spool *sp, const uint8_t *rec, size_t len)
{
	if (spool_append(sp, rec, len, NULL) != TIP_OK)
		abort();
}

static void sign(struct spool *sp, struct rec_chain *chain, enum rec_kind kind, const uint8_t *payload,
                 size_t len, int hold)
{
	uint8_t *out, hash[REC_HASH_LEN];
	size_t out_len;

	if (rec_sign(chain, signer, key_id, kind, 1700000000000, payload, len, BULLETIN_RECORD_MAX, &out,
	             &out_len, hash) != TIP_OK)
		abort();
	append(sp, out, out_len);
	free(out);
	if (!hold)
		rec_chain_advance(chain, hash);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t made[256];
	struct status_conf conf = {.spool_dir = NULL,
	                           .spool = status_out_opts(),
	                           .origin = ORIGIN,
	                           .taxonomy = NULL,
	                           .max_history = HISTORY};
	struct status_store *st = NULL;
	struct rec_chain chain, other;
	struct fuzz_cursor c = {data, size};
	struct spool *sp;
	char spool_dir[4200];
	uint64_t records = 0;
	int err, clean = 1; /* only valid bulletins in chain order so far */

	if (!dir)
		setup();
	tu_rmtree(dir);
	if (mkdir(dir, 0700) != 0)
		abort();
	snprintf(spool_dir, sizeof(spool_dir), "%s/status", dir);
	conf.spool_dir = spool_dir;
	static struct rec_keyring ring;
	ring.n = 0;
	if (rec_keyring_add(&ring, pub, key_id) != TIP_OK)
		abort();
	conf.keys = &ring;
	conf.taxonomy = tax;
	memset(made, 0, sizeof(made));
	if (rec_chain_init(&chain, ORIGIN) != TIP_OK || rec_chain_init(&other, "elsewhere") != TIP_OK ||
	    !(sp = spool_open(spool_dir, &conf.spool, NULL, NULL, &err)))
		abort();
	while (c.n && records < 64) {
		uint8_t op = fuzz_take(&c), buf[BULLETIN_RECORD_MAX];
		int hold = (op >> 3) & 1;
		size_t len;

		if (op & 16)
			chain.next_seq++;
		if ((op & 3) != 1 || (op & (8 | 16)))
			clean = 0;
		switch (op & 3) {
		case 0:
			len = fuzz_avail(&c, fuzz_take(&c));
			sign(sp, &chain, REC_STATUS, c.p, len, hold);
			fuzz_skip(&c, len);
			break;
		case 1: {
			struct bulletin b;
			uint8_t *payload;
			size_t payload_len;

			make_bulletin(&c, &b);
			if (bulletin_encode(&b, tax, &payload, &payload_len) != TIP_OK)
				abort();
			sign(sp, &chain, REC_STATUS, payload, payload_len, hold);
			free(payload);
			made[b.query_hash[0]] = 1;
			break;
		}
		case 2:
			len = fuzz_avail(&c, (size_t)fuzz_take(&c) * 8);
			memcpy(buf, c.p, len);
			append(sp, buf, len);
			fuzz_skip(&c, len);
			break;
		default:
			if (op & 4)
				sign(sp, &other, REC_STATUS, c.p, fuzz_avail(&c, 8), hold);
			else
				sign(sp, &chain, REC_REPORT, c.p, fuzz_avail(&c, 8), hold);
			break;
		}
		records++;
		if (op & 32) {
			if (spool_sync(sp, NULL) != TIP_OK)
				abort();
			if (!st) {
				if (!(st = status_new(&conf, &err)))
					abort();
			} else if (status_poll(st) < 0) {
				abort();
			}
		}
	}
	if (spool_close(sp) != TIP_OK)
		abort();
	if (!st ? !(st = status_new(&conf, &err)) : status_poll(st) < 0)
		abort();
	{
		const struct status_stats *stats = status_stats(st);
		uint64_t dropped = 0;
		uint8_t hash[BULLETIN_HASH_LEN] = {0};

		for (int d = 0; d < STATUS_DROP_COUNT; d++)
			dropped += stats->dropped[d];
		if (stats->applied + dropped != records || (clean && stats->applied != records))
			abort();
		for (int h = 0; h < 256; h++) {
			hash[0] = (uint8_t)h;
			if (made[h] || h == 0)
				check_lookup(st, hash, clean && made[h]);
		}
	}
	status_free(st);
	return 0;
}
