#include "diode/tlog_audit.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/file.h"
#include "diode/merkle.h"
#include "diode/origins.h"
#include "diode/spool.h"
#include "diode/tlog.h"
#include "proto/checkpoint.h"
#include "proto/ed25519.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH        4096 /* records checked on the threads at a time */
#define MAX_THREADS  64
#define MAX_REPORTED 20 /* problems listed per origin and kind before they are only counted */
#define READER       "diode-audit"

/* --- keys --- */

int tlog_audit_read_keys(const char *path, struct key **keys, size_t *n, char *err, size_t err_cap)
{
	char *text, *line, *save = NULL;
	size_t len, cap = 0;
	int rc;

	*keys = NULL;
	*n = 0;
	if ((rc = file_read(path, 1 << 20, &text, &len)) != TIP_OK) {
		snprintf(err, err_cap, "%s: %s", path, tip_strerror(rc));
		return rc;
	}
	/* The lines are read as C strings: a NUL byte would hide the rest of the file. */
	if (memchr(text, '\0', len)) {
		snprintf(err, err_cap, "%s: a NUL byte at offset %zu", path,
		         (size_t)((char *)memchr(text, '\0', len) - text));
		free(text);
		return TIP_EFORMAT;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct key k;

		if (!*line || *line == '#')
			continue;
		if (key_parse_public(line, strlen(line), &k) != TIP_OK ||
		    (k.type != KEY_ED25519 && k.type != KEY_COSIGN)) {
			snprintf(err, err_cap, "%s: not a verifier key: %.80s", path, line);
			rc = TIP_EFORMAT;
			break;
		}
		if (*n == cap) {
			struct key *grown = realloc(*keys, (cap = cap ? 2 * cap : 16) * sizeof(**keys));

			if (!grown) {
				rc = TIP_ENOMEM;
				break;
			}
			*keys = grown;
		}
		(*keys)[(*n)++] = k;
	}
	free(text);
	if (rc != TIP_OK) {
		free(*keys);
		*keys = NULL;
		*n = 0;
	}
	return rc;
}

/* --- the report --- */

struct ctx {
	const struct tlog_audit_opts *o;
	struct tlog_audit_report *r;
	size_t threads;
	/* the receiver's events, parsed */
	struct ev {
		char kind[24], origin[REC_ORIGIN_MAX + 1], reason[32];
		uint64_t ms, a, b;
	} * ev;
	size_t n_ev;
};

static void add_line(char ***list, size_t *n, const char *fmt, va_list ap)
{
	char buf[512], **grown;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (!(grown = realloc(*list, (*n + 1) * sizeof(**list))))
		return;
	*list = grown;
	if ((grown[*n] = strdup(buf)))
		(*n)++;
}

__attribute__((format(printf, 2, 3))) static void problem(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(&c->r->problems, &c->r->n_problems, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void note(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(&c->r->notes, &c->r->n_notes, fmt, ap);
	va_end(ap);
}

/* Counts problems of one kind and lists only the first few. */
struct limiter {
	uint64_t seen;
};

static int listed(struct limiter *l)
{
	return ++l->seen <= MAX_REPORTED;
}

static void summarise(struct ctx *c, const struct limiter *l, const char *what)
{
	if (l->seen > MAX_REPORTED)
		problem(c, "%s: %llu more like the above", what,
		        (unsigned long long)(l->seen - MAX_REPORTED));
}

void tlog_audit_report_free(struct tlog_audit_report *r)
{
	for (size_t i = 0; i < r->n_origins; i++)
		free(r->origins[i].gaps);
	for (size_t i = 0; i < r->n_problems; i++)
		free(r->problems[i]);
	for (size_t i = 0; i < r->n_notes; i++)
		free(r->notes[i]);
	free(r->origins);
	free(r->problems);
	free(r->notes);
	memset(r, 0, sizeof(*r));
}

static const struct key *find_key(const struct ctx *c, enum key_type type, const char *name)
{
	for (size_t i = 0; i < c->o->n_keys; i++)
		if (c->o->keys[i].type == type && strcmp(c->o->keys[i].name, name) == 0)
			return &c->o->keys[i];
	return NULL;
}

/* --- records: checked in parallel, then chained in order --- */

enum rstatus { RS_OK, RS_DECODE, RS_ORIGIN, RS_KEY, RS_SIGNATURE, RS_SEQ, RS_PREV };
static const char *const rstatus_name[] = {"ok",
                                           "does not decode",
                                           "names another origin",
                                           "carries another key id",
                                           "has a bad signature",
                                           "has the wrong sequence number",
                                           "does not chain to the record before it"};

struct rinfo {
	enum rstatus status;
	enum rec_kind kind;
	uint64_t seq;
	uint8_t prev[REC_HASH_LEN], hash[REC_HASH_LEN], leaf[MERKLE_HASH_LEN];
	char *payload; /* CHECKPOINT records only */
	size_t payload_len;
	const struct key *key; /* the key that verified it (RS_OK) */
};

/* The records of one origin verify with any of its keys (current and retired), chosen by key id. */
struct batch {
	const struct key *keys[REC_KEYS_MAX];
	struct ed25519_pub *pubs[REC_KEYS_MAX];
	size_t n_keys;
	const char *origin;
	uint8_t *data;
	size_t *off, *len, n;
	struct rinfo *info;
	size_t stride, first;
};

static void check_one(struct batch *b, size_t i)
{
	struct rinfo *ri = &b->info[i];
	const uint8_t *buf = b->data + b->off[i];
	struct rec r;

	memset(ri, 0, sizeof(*ri));
	merkle_leaf_hash(buf, b->len[i], ri->leaf);
	if (rec_decode(buf, b->len[i], b->len[i], &r) != TIP_OK) {
		ri->status = RS_DECODE;
		return;
	}
	ri->kind = r.kind;
	ri->seq = r.seq;
	memcpy(ri->prev, r.prev_hash, REC_HASH_LEN);
	memcpy(ri->hash, r.hash, REC_HASH_LEN);
	size_t k = 0;

	while (k < b->n_keys && memcmp(r.key_id, b->keys[k]->id, REC_KEY_ID_LEN) != 0)
		k++;
	if (strcmp(r.origin, b->origin) != 0)
		ri->status = RS_ORIGIN;
	else if (k == b->n_keys)
		ri->status = RS_KEY;
	else if (rec_verify(&r, b->pubs[k]) != TIP_OK)
		ri->status = RS_SIGNATURE;
	else
		ri->key = b->keys[k];
	if (ri->status == RS_OK && r.kind == REC_CHECKPOINT && (ri->payload = malloc(r.payload_len + 1))) {
		memcpy(ri->payload, r.payload, r.payload_len);
		ri->payload[r.payload_len] = 0;
		ri->payload_len = r.payload_len;
	}
	rec_release(&r);
}

struct worker {
	struct batch *b;
	size_t t, n;
};

static void *check_part(void *arg)
{
	struct worker *w = arg;

	for (size_t i = w->t; i < w->b->n; i += w->n)
		check_one(w->b, i);
	return NULL;
}

static void check_batch(struct ctx *c, struct batch *b)
{
	pthread_t th[MAX_THREADS];
	struct worker w[MAX_THREADS];
	size_t n = c->threads, started = 0;

	for (size_t t = 1; t < n; t++) {
		w[t] = (struct worker){b, t, n};
		if (pthread_create(&th[t], NULL, check_part, &w[t]) != 0)
			break;
		started = t;
	}
	/* Whatever threads could not start, this one does their share. */
	for (size_t t = started + 1; t < n; t++) {
		w[t] = (struct worker){b, t, n};
		check_part(&w[t]);
	}
	w[0] = (struct worker){b, 0, n};
	check_part(&w[0]);
	for (size_t t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
}

typedef void (*record_fn)(struct ctx *c, void *arg, uint64_t index, const struct rinfo *ri);

/*
 * Every record of the single-origin spool in dir, checked against the origin's keys (decode, origin,
 * key id, signature: on threads), then in order against the chain: seq == index, prev_hash == the hash of
 * the record before. fn sees each in order. Returns the number of records, or < 0 if the spool
 * cannot be read at all; damage part way is a problem and ends the walk.
 */
static int64_t walk_records(struct ctx *c, const char *dir, const char *origin, record_fn fn, void *arg)
{
	struct spool_fault fault;
	struct spool_opts so = spool_opts_default();
	struct spool_reader *rd;
	struct batch b = {.origin = origin};
	uint8_t prev[REC_HASH_LEN] = {0};
	size_t cap = 1 << 20;
	uint64_t index = 0;
	int rc, more = 1;

	if (!(rd = spool_reader_open(dir, READER, &so, &fault, &rc)))
		return rc;
	for (size_t i = 0; i < c->o->n_keys && b.n_keys < REC_KEYS_MAX; i++)
		if (c->o->keys[i].type == KEY_ED25519 && strcmp(c->o->keys[i].name, origin) == 0) {
			b.keys[b.n_keys] = &c->o->keys[i];
			if (!(b.pubs[b.n_keys++] = ed25519_pub_new(c->o->keys[i].pub))) {
				rc = TIP_ENOMEM;
				goto out;
			}
		}
	b.data = malloc(cap);
	b.off = malloc(BATCH * sizeof(*b.off));
	b.len = malloc(BATCH * sizeof(*b.len));
	b.info = malloc(BATCH * sizeof(*b.info));
	if (!b.data || !b.off || !b.len || !b.info) {
		rc = TIP_ENOMEM;
		goto out;
	}
	while (more) {
		size_t used = 0;
		const uint8_t *rec;
		size_t len;

		b.n = 0;
		while (b.n < BATCH && (rc = spool_reader_next(rd, &rec, &len, NULL, &fault)) == 1) {
			if (used + len > cap) {
				size_t ncap = (used + len) * 2;
				uint8_t *grown = realloc(b.data, ncap);

				if (!grown) {
					rc = TIP_ENOMEM;
					goto out;
				}
				b.data = grown;
				cap = ncap;
			}
			memcpy(b.data + used, rec, len);
			b.off[b.n] = used;
			b.len[b.n++] = len;
			used += len;
		}
		if (rc < 0) {
			problem(c, "%s: damaged at %s offset %llu (%s): records from %llu on cannot be read",
			        dir, fault.file, (unsigned long long)fault.offset, tip_strerror(rc),
			        (unsigned long long)(index + b.n));
		}
		more = rc == 1;
		check_batch(c, &b);
		for (size_t i = 0; i < b.n; i++, index++) {
			struct rinfo *ri = &b.info[i];

			if (ri->status == RS_OK && ri->seq != index)
				ri->status = RS_SEQ;
			else if (ri->status == RS_OK && memcmp(ri->prev, prev, REC_HASH_LEN) != 0)
				ri->status = RS_PREV;
			if (ri->status != RS_DECODE)
				memcpy(prev, ri->hash, REC_HASH_LEN);
			c->r->records_checked++;
			fn(c, arg, index, ri);
			free(ri->payload);
		}
	}
	rc = TIP_OK;
out:
	spool_reader_close(rd);
	for (size_t i = 0; i < b.n_keys; i++)
		ed25519_pub_free(b.pubs[i]);
	free(b.data);
	free(b.off);
	free(b.len);
	free(b.info);
	return rc < 0 ? rc : (int64_t)index;
}

/* --- trees --- */

/* Every leaf of a committed tree (each tile checked against the one above it, up to the head's root). */
static int read_leaves(struct ctx *c, const char *dir, uint8_t (**leaves)[MERKLE_HASH_LEN], uint64_t *n)
{
	int rc;
	struct merkle *t = merkle_open(dir, MERKLE_RDONLY, NULL, &rc);

	*leaves = NULL;
	*n = 0;
	if (!t)
		return rc;
	*n = merkle_size(t);
	if (!(*leaves = malloc((*n ? *n : 1) * MERKLE_HASH_LEN)))
		rc = TIP_ENOMEM;
	for (uint64_t i = 0; rc == TIP_OK && i < *n; i++)
		rc = merkle_leaf(t, i, (*leaves)[i]);
	c->r->leaves_checked += *n;
	merkle_close(t);
	return rc;
}

/* A memory tree of leaves[0..n). */
static struct merkle *mem_tree(const uint8_t (*leaves)[MERKLE_HASH_LEN], uint64_t n)
{
	struct merkle_opts mo = merkle_opts_default();
	struct merkle *t;

	mo.mem_max_size = n ? n : 1;
	if (!(t = merkle_new(&mo)))
		return NULL;
	for (uint64_t i = 0; i < n; i++)
		if (merkle_append(t, leaves[i], NULL) != TIP_OK) {
			merkle_close(t);
			return NULL;
		}
	return t;
}

static int root_is(struct merkle *t, uint64_t size, const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];

	return size <= merkle_size(t) && merkle_root_at(t, size, h) == TIP_OK &&
	       memcmp(h, root, MERKLE_HASH_LEN) == 0;
}

/* --- the sender's checkpoint chain --- */

struct ckpts {
	struct ckpt *c;
	uint64_t *seq; /* the CHECKPOINT record's seq */
	size_t n;
};

struct sender_walk {
	const struct key *log_key;
	struct ckpts *per; /* per origin of the report */
	struct limiter bad;
};

static struct tlog_audit_origin *origin_of(struct ctx *c, const char *name, int create)
{
	struct tlog_audit_origin *grown;

	for (size_t i = 0; i < c->r->n_origins; i++)
		if (strcmp(c->r->origins[i].name, name) == 0)
			return &c->r->origins[i];
	if (!create || c->r->n_origins == ORIGINS_MAX || !rec_origin_ok(name))
		return NULL;
	if (!(grown = realloc(c->r->origins, (c->r->n_origins + 1) * sizeof(*grown))))
		return NULL;
	c->r->origins = grown;
	memset(&grown[c->r->n_origins], 0, sizeof(*grown));
	snprintf(grown[c->r->n_origins].name, sizeof(grown->name), "%s", name);
	return &grown[c->r->n_origins++];
}

static void on_checkpoint_record(struct ctx *c, void *arg, uint64_t index, const struct rinfo *ri)
{
	struct sender_walk *w = arg;
	struct tlog_audit_origin *o;
	struct ckpts *cp;
	struct ckpt ck;
	int rc;

	if (ri->status != RS_OK || ri->kind != REC_CHECKPOINT) {
		if (listed(&w->bad))
			problem(c, "sender checkpoint record %llu %s", (unsigned long long)index,
			        ri->status != RS_OK ? rstatus_name[ri->status]
			                            : "is not a CHECKPOINT record");
		return;
	}
	/* The note is signed by the key that signed its record (a retired log key for an old one). */
	if ((rc = ckpt_open(ri->payload, ri->payload_len, CKPT_NOTE_MAX, ri->key, 1, &ck, NULL)) != TIP_OK) {
		if (listed(&w->bad))
			problem(c, "sender checkpoint record %llu: its note does not verify with %s (%s)",
			        (unsigned long long)index, ri->key->name, tip_strerror(rc));
		return;
	}
	if (!(o = origin_of(c, ck.origin, 1))) {
		problem(c, "sender checkpoint record %llu names %.64s, not an origin",
		        (unsigned long long)index, ck.origin);
		return;
	}
	cp = &w->per[o - c->r->origins];
	struct ckpt *gc = realloc(cp->c, (cp->n + 1) * sizeof(*gc));
	uint64_t *gs = gc ? realloc(cp->seq, (cp->n + 1) * sizeof(*gs)) : NULL;

	if (gc)
		cp->c = gc;
	if (!gs)
		return;
	cp->seq = gs;
	cp->c[cp->n] = ck;
	cp->seq[cp->n++] = index;
	c->r->checkpoints_checked++;
}

/* The sender's checkpoints of one origin, in order: never smaller than the one before, one root per size. */
static void check_sequence(struct ctx *c, struct tlog_audit_origin *o, const struct ckpts *cp)
{
	for (size_t i = 1; i < cp->n; i++) {
		const struct ckpt *a = &cp->c[i - 1], *b = &cp->c[i];

		if (b->size < a->size)
			problem(c,
			        "%s: checkpoint record %llu goes back from size %llu to %llu (an older "
			        "checkpoint "
			        "replayed)",
			        o->name, (unsigned long long)cp->seq[i], (unsigned long long)a->size,
			        (unsigned long long)b->size);
		else if (b->size == a->size && memcmp(a->root, b->root, MERKLE_HASH_LEN) != 0)
			problem(c, "%s: fork: checkpoint records %llu and %llu sign two roots for size %llu",
			        o->name, (unsigned long long)cp->seq[i - 1], (unsigned long long)cp->seq[i],
			        (unsigned long long)b->size);
	}
	o->checkpoints = cp->n;
	if (cp->n)
		o->checkpoint_size = cp->c[cp->n - 1].size;
}

/* Each checkpoint against the sender's tree, and each consistent with the one before (a proof, verified). */
static void check_against_tree(struct ctx *c, struct tlog_audit_origin *o, const struct ckpts *cp,
                               struct merkle *t)
{
	uint8_t proof[MERKLE_PROOF_MAX * MERKLE_HASH_LEN];
	size_t plen;

	for (size_t i = 0; i < cp->n; i++) {
		const struct ckpt *k = &cp->c[i], *p = i ? &cp->c[i - 1] : NULL;

		if (k->size > merkle_size(t)) {
			problem(c,
			        "%s: the sender's tree holds %llu leaves, fewer than its checkpoint of size "
			        "%llu "
			        "(a truncated log)",
			        o->name, (unsigned long long)merkle_size(t), (unsigned long long)k->size);
			return;
		}
		if (!root_is(t, k->size, k->root)) {
			problem(c,
			        "%s: the sender's tree does not have the root its checkpoint signs for size "
			        "%llu",
			        o->name, (unsigned long long)k->size);
			return;
		}
		if (p && p->size > 0 && p->size < k->size &&
		    (merkle_consistency_proof(t, p->size, k->size, proof, sizeof(proof), &plen) != TIP_OK ||
		     merkle_verify_consistency(p->size, k->size, p->root, MERKLE_HASH_LEN, k->root,
		                               MERKLE_HASH_LEN, proof, plen) != TIP_OK))
			problem(c, "%s: checkpoints of size %llu and %llu are not consistent", o->name,
			        (unsigned long long)p->size, (unsigned long long)k->size);
	}
}

/* --- the receiver's records --- */

struct inbox_walk {
	struct tlog_audit_origin *o;
	const uint8_t (*sender)[MERKLE_HASH_LEN];
	uint64_t n_sender;
	const uint8_t (*rtree)[MERKLE_HASH_LEN];
	uint64_t n_rtree;
	uint8_t (*leaves)[MERKLE_HASH_LEN];
	uint8_t *good; /* good[i]: inbox record i is the sender's record i (or, past the sender's tree,
	                  checks) */
	uint64_t n_leaves, cap_leaves;
	struct limiter bad, differ, tree;
};

static void on_inbox_record(struct ctx *c, void *arg, uint64_t index, const struct rinfo *ri)
{
	struct inbox_walk *w = arg;
	/* A record that does not chain only because the one before it was altered is still intact. */
	int ok = ri->status == RS_OK || ri->status == RS_PREV;

	if (w->n_leaves == w->cap_leaves) {
		uint64_t cap = w->cap_leaves ? 2 * w->cap_leaves : 4096;
		void *grown = realloc(w->leaves, cap * MERKLE_HASH_LEN), *grown_good;

		if (grown)
			w->leaves = grown;
		if (!grown || !(grown_good = realloc(w->good, cap)))
			return;
		w->good = grown_good;
		w->cap_leaves = cap;
	}
	memcpy(w->leaves[w->n_leaves], ri->leaf, MERKLE_HASH_LEN);
	if (ri->status != RS_OK && listed(&w->bad))
		problem(c, "%s: inbox record %llu %s", w->o->name, (unsigned long long)index,
		        rstatus_name[ri->status]);
	if (index < w->n_sender && memcmp(ri->leaf, w->sender[index], MERKLE_HASH_LEN) != 0) {
		ok = 0;
		if (listed(&w->differ))
			problem(c,
			        "%s: inbox record %llu is not the record the sender logged at %llu (leaf "
			        "%02x%02x%02x%02x… "
			        "instead of %02x%02x%02x%02x…)",
			        w->o->name, (unsigned long long)index, (unsigned long long)index, ri->leaf[0],
			        ri->leaf[1], ri->leaf[2], ri->leaf[3], w->sender[index][0],
			        w->sender[index][1], w->sender[index][2], w->sender[index][3]);
	}
	if (index < w->n_rtree && memcmp(ri->leaf, w->rtree[index], MERKLE_HASH_LEN) != 0 && listed(&w->tree))
		problem(c, "%s: the receiver's tree leaf %llu is not its inbox record %llu", w->o->name,
		        (unsigned long long)index, (unsigned long long)index);
	w->good[w->n_leaves++] = (uint8_t)ok;
	w->o->delivered += (uint64_t)ok;
}

/* The receiver's cosigned checkpoint: signed by the sender's log key and a cosigner, a prefix of both trees.
 */
static void check_cosigned(struct ctx *c, struct tlog_audit_origin *o, const struct key *log_key,
                           struct merkle *sender, struct merkle *received)
{
	char path[TLOG_PATH_MAX], *text;
	size_t len, n = c->o->n_keys;
	struct note_check *checks;
	struct ckpt ck;
	int rc, cosigned = -1, by_log = 0;

	if (tlog_path(path, c->o->receiver, TLOG_COSIGNED, o->name) != TIP_OK ||
	    file_read(path, CKPT_NOTE_MAX, &text, &len) != TIP_OK) {
		if (o->checkpoints)
			note(c, "%s: the receiver has cosigned no checkpoint", o->name);
		return;
	}
	if (!(checks = calloc(n, sizeof(*checks)))) {
		free(text);
		return;
	}
	rc = ckpt_open(text, len, CKPT_NOTE_MAX, c->o->keys, n, &ck, checks);
	free(text);
	for (size_t i = 0; rc == TIP_OK && i < n; i++)
		if (c->o->keys[i].type == KEY_COSIGN && checks[i].verified)
			cosigned = (int)i;
		else if (c->o->keys[i].type == KEY_ED25519 && checks[i].verified && log_key &&
		         strcmp(c->o->keys[i].name, log_key->name) == 0)
			by_log = 1;
	if (rc != TIP_OK || cosigned < 0 || !by_log || strcmp(ck.origin, o->name) != 0) {
		problem(c, "%s: the receiver's cosigned checkpoint does not verify (%s)", o->name,
		        rc != TIP_OK ? tip_strerror(rc)
		                     : "not signed by the sender's log key and a cosigner key");
		free(checks);
		return;
	}
	o->cosigned = 1;
	o->cosigned_size = ck.size;
	o->cosigned_time = checks[cosigned].timestamp;
	free(checks);
	if (!root_is(sender, ck.size, ck.root))
		problem(c, "%s: the receiver cosigned size %llu, which is not a prefix of the sender's tree",
		        o->name, (unsigned long long)ck.size);
	if (!root_is(received, ck.size, ck.root))
		problem(c,
		        "%s: the receiver cosigned size %llu but its inbox (%llu records) does not have that "
		        "root "
		        "(records removed or altered since)",
		        o->name, (unsigned long long)ck.size, (unsigned long long)merkle_size(received));
}

/* --- the receiver's event log --- */

static void parse_event(struct ctx *c, const uint8_t *line, size_t len)
{
	char buf[512];
	struct ev e, *grown;
	unsigned long long ms, a = 0, b = 0;
	char kind[24] = "", origin[REC_ORIGIN_MAX + 1] = "", third[32] = "";

	if (len >= sizeof(buf))
		return;
	memcpy(buf, line, len);
	buf[len] = 0;
	memset(&e, 0, sizeof(e));
	if (sscanf(buf, "%llu %23s %64s %31s", &ms, kind, origin, third) < 2)
		return;
	if (strcmp(kind, "reject") == 0) {
		char seq[32] = "", reason[32] = "";

		if (sscanf(buf, "%*u %*s %*s %31s %31s", seq, reason) != 2 || sscanf(seq, "%llu", &a) != 1)
			return;
		snprintf(e.reason, sizeof(e.reason), "%s", reason);
	} else if (strcmp(kind, "gap-open") == 0 || strcmp(kind, "gap-close") == 0) {
		if (sscanf(buf, "%*u %*s %*s %llu %llu", &a, &b) != 2)
			return;
	} else {
		return;
	}
	e.ms = ms;
	e.a = a;
	e.b = b;
	snprintf(e.kind, sizeof(e.kind), "%s", kind);
	snprintf(e.origin, sizeof(e.origin), "%s", origin);
	if (!(grown = realloc(c->ev, (c->n_ev + 1) * sizeof(*grown))))
		return;
	c->ev = grown;
	c->ev[c->n_ev++] = e;
}

/* The event spool against the event log's signed checkpoint. */
static void check_events(struct ctx *c)
{
	char dir[TLOG_PATH_MAX], path[TLOG_PATH_MAX], *text = NULL;
	struct spool_fault fault;
	struct spool_reader *rd;
	struct merkle_opts mo = merkle_opts_default();
	struct merkle *t = merkle_new(&mo);
	struct note_check *checks = calloc(c->o->n_keys ? c->o->n_keys : 1, sizeof(*checks));
	struct ckpt ck;
	const uint8_t *rec;
	size_t len, n = c->o->n_keys;
	int rc, signer = -1;

	if (!t || !checks || tlog_path(dir, c->o->receiver, TLOG_EVENTS, NULL) != TIP_OK ||
	    tlog_path(path, c->o->receiver, TLOG_EVENT_STATE, NULL) != TIP_OK)
		goto out;
	if (!(rd = spool_reader_open(dir, READER, NULL, &fault, &rc))) {
		problem(c, "the receiver's event log cannot be read (%s)", tip_strerror(rc));
		goto out;
	}
	while ((rc = spool_reader_next(rd, &rec, &len, NULL, &fault)) == 1) {
		uint8_t leaf[MERKLE_HASH_LEN];

		merkle_leaf_hash(rec, len, leaf);
		merkle_append(t, leaf, NULL);
		parse_event(c, rec, len);
	}
	spool_reader_close(rd);
	if (rc < 0)
		problem(c, "the receiver's event log is damaged at %s offset %llu", fault.file,
		        (unsigned long long)fault.offset);
	c->r->events = merkle_size(t);
	if ((rc = file_read(path, CKPT_NOTE_MAX, &text, &len)) != TIP_OK) {
		problem(c, "the receiver's event log has no signed checkpoint (%s)", tip_strerror(rc));
		goto out;
	}
	rc = ckpt_open(text, len, CKPT_NOTE_MAX, c->o->keys, n, &ck, checks);
	for (size_t i = 0; rc == TIP_OK && i < n; i++)
		if (checks[i].verified && c->o->keys[i].type == KEY_ED25519 &&
		    strcmp(c->o->keys[i].name, ck.origin) == 0)
			signer = (int)i;
	if (rc != TIP_OK || signer < 0)
		problem(c,
		        "the receiver's event log checkpoint does not verify with a key named as its log "
		        "(%s)",
		        rc != TIP_OK ? tip_strerror(rc) : "no such key");
	else if (!root_is(t, ck.size, ck.root))
		problem(c,
		        "the receiver's event log does not match its signed checkpoint of size %llu (events "
		        "altered, removed or reordered)",
		        (unsigned long long)ck.size);
	else if (merkle_size(t) > ck.size)
		note(c, "the receiver's event log has %llu events after its last signed checkpoint",
		     (unsigned long long)(merkle_size(t) - ck.size));
out:
	free(checks);
	free(text);
	merkle_close(t);
}

/* The receiver's explanation of an undelivered seq. */
static void explain(const struct ctx *c, const char *origin, uint64_t seq, char *why, size_t cap)
{
	int gap = -1;

	for (size_t i = 0; i < c->n_ev; i++) {
		const struct ev *e = &c->ev[i];

		if (strcmp(e->origin, origin) != 0)
			continue;
		if (strcmp(e->kind, "reject") == 0 && e->a == seq) {
			snprintf(why, cap, "rejected by the receiver: %s", e->reason);
			return;
		}
		if (strcmp(e->kind, "gap-open") == 0 && e->a <= seq && seq <= e->b)
			gap = (int)i;
		if (strcmp(e->kind, "gap-close") == 0 && e->a <= seq && seq <= e->b)
			gap = -1;
	}
	if (gap >= 0) {
		time_t t = (time_t)(c->ev[gap].ms / 1000);
		struct tm tm;
		char when[32];

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(why, cap, "in a gap the receiver alerted at %s", when);
		return;
	}
	snprintf(why, cap, "unexplained");
}

/* Every seq the sender signed that the inbox does not hold intact. */
static void list_undelivered(struct ctx *c, struct tlog_audit_origin *o, const struct inbox_walk *w)
{
	char why[200];

	for (uint64_t s = 0; s < o->checkpoint_size; s++) {
		struct tlog_audit_gap *last = o->n_gaps ? &o->gaps[o->n_gaps - 1] : NULL, *grown;

		if (s < w->n_leaves && w->good[s])
			continue;
		explain(c, o->name, s, why, sizeof(why));
		if (last && last->to + 1 == s && strcmp(last->why, why) == 0) {
			last->to = s;
			continue;
		}
		if (!(grown = realloc(o->gaps, (o->n_gaps + 1) * sizeof(*grown))))
			return;
		o->gaps = grown;
		grown[o->n_gaps] = (struct tlog_audit_gap){s, s, ""};
		snprintf(grown[o->n_gaps++].why, sizeof(why), "%s", why);
	}
	for (size_t i = 0; i < o->n_gaps; i++)
		if (strcmp(o->gaps[i].why, "unexplained") == 0)
			problem(c,
			        "%s: records %llu..%llu were logged by the sender and not delivered, "
			        "unexplained",
			        o->name, (unsigned long long)o->gaps[i].from,
			        (unsigned long long)o->gaps[i].to);
}

/* --- one origin --- */

static void check_origin(struct ctx *c, struct tlog_audit_origin *o, const struct ckpts *cp,
                         const struct key *log_key)
{
	char path[TLOG_PATH_MAX];
	uint8_t(*sl)[MERKLE_HASH_LEN] = NULL, (*rl)[MERKLE_HASH_LEN] = NULL;
	uint64_t ns = 0, nr = 0;
	struct merkle *st = NULL, *rt = NULL;
	const struct key *key = find_key(c, KEY_ED25519, o->name);
	struct inbox_walk w = {.o = o};
	int rc;

	check_sequence(c, o, cp);
	if (tlog_path(path, c->o->sender, TLOG_TREES, o->name) == TIP_OK &&
	    (rc = read_leaves(c, path, &sl, &ns)) != TIP_OK) {
		problem(c, "%s: the sender's tree cannot be read: %s", o->name, tip_strerror(rc));
		ns = 0;
	}
	o->sender_leaves = ns;
	if (!(st = mem_tree((const uint8_t(*)[MERKLE_HASH_LEN])sl, ns)))
		goto out;
	check_against_tree(c, o, cp, st);
	if (ns > o->checkpoint_size)
		note(c, "%s: the sender's tree has %llu leaves past its last checkpoint", o->name,
		     (unsigned long long)(ns - o->checkpoint_size));
	if (tlog_path(path, c->o->receiver, TLOG_TREES, o->name) == TIP_OK &&
	    (rc = read_leaves(c, path, &rl, &nr)) != TIP_OK && rc != TIP_ENOTFOUND)
		problem(c, "%s: the receiver's tree cannot be read: %s", o->name, tip_strerror(rc));
	w.sender = (const uint8_t(*)[MERKLE_HASH_LEN])sl;
	w.n_sender = ns;
	w.rtree = (const uint8_t(*)[MERKLE_HASH_LEN])rl;
	w.n_rtree = nr;
	if (!key) {
		problem(c, "%s: no verifier key for this origin", o->name);
	} else if (tlog_path(path, c->o->inbox, o->name, NULL) == TIP_OK) {
		int64_t got = walk_records(c, path, o->name, on_inbox_record, &w);

		if (got < 0 && got != TIP_ENOTFOUND)
			problem(c, "%s: the receiver's inbox cannot be read: %s", o->name,
			        tip_strerror((int)got));
		o->receiver_records = got > 0 ? (uint64_t)got : 0;
	}
	summarise(c, &w.bad, o->name);
	summarise(c, &w.differ, o->name);
	summarise(c, &w.tree, o->name);
	if (nr > o->receiver_records)
		problem(c,
		        "%s: the receiver's tree has %llu leaves but its inbox only %llu records (records "
		        "removed)",
		        o->name, (unsigned long long)nr, (unsigned long long)o->receiver_records);
	if (o->receiver_records > ns && o->receiver_records > o->checkpoint_size)
		note(c, "%s: the receiver holds %llu records no sender checkpoint covers yet", o->name,
		     (unsigned long long)(o->receiver_records -
		                          (ns > o->checkpoint_size ? ns : o->checkpoint_size)));
	if ((rt = mem_tree((const uint8_t(*)[MERKLE_HASH_LEN])w.leaves, w.n_leaves)))
		check_cosigned(c, o, log_key, st, rt);
	list_undelivered(c, o, &w);
out:
	merkle_close(st);
	merkle_close(rt);
	free(sl);
	free(rl);
	free(w.leaves);
	free(w.good);
}

/* Origins named by the directories of a trees/ folder. */
static void origins_in(struct ctx *c, const char *logdir)
{
	char path[TLOG_PATH_MAX];
	DIR *d;
	struct dirent *e;

	if (tlog_path(path, logdir, TLOG_TREES, NULL) != TIP_OK || !(d = opendir(path)))
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			origin_of(c, e->d_name, 1);
	closedir(d);
}

/* The checkpoint chain's origin: the origin of its first record. */
static int chain_origin(const char *dir, char *out, size_t cap)
{
	struct spool_fault fault;
	struct spool_reader *rd;
	const uint8_t *buf;
	size_t len;
	struct rec r;
	int rc;

	if (!(rd = spool_reader_open(dir, READER, NULL, &fault, &rc)))
		return rc;
	if ((rc = spool_reader_next(rd, &buf, &len, NULL, &fault)) == 1) {
		rc = rec_decode(buf, len, len, &r);
		if (rc == TIP_OK) {
			snprintf(out, cap, "%s", r.origin);
			rec_release(&r);
		}
	} else if (rc == 0) {
		rc = TIP_ENOTFOUND;
	}
	spool_reader_close(rd);
	return rc;
}

int tlog_audit_verify(const struct tlog_audit_opts *o, struct tlog_audit_report *out, char *err,
                      size_t err_cap)
{
	struct ctx c = {.o = o, .r = out};
	struct sender_walk sw = {0};
	char cp_dir[TLOG_PATH_MAX], log_name[REC_ORIGIN_MAX + 1] = "";
	struct timespec t0, t1;
	int rc;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c.threads = o->threads ? o->threads : (size_t)sysconf(_SC_NPROCESSORS_ONLN);
	if (c.threads < 1)
		c.threads = 1;
	if (c.threads > MAX_THREADS)
		c.threads = MAX_THREADS;
	if ((rc = tlog_path(cp_dir, o->sender, TLOG_CHECKPOINTS, NULL)) != TIP_OK ||
	    (rc = chain_origin(cp_dir, log_name, sizeof(log_name))) != TIP_OK) {
		snprintf(err, err_cap, "%s: no checkpoint records to read (%s)", cp_dir, tip_strerror(rc));
		return rc == TIP_OK ? TIP_EIO : rc;
	}
	if (!(sw.log_key = find_key(&c, KEY_ED25519, log_name))) {
		snprintf(err, err_cap, "no verifier key named %s, the sender's log", log_name);
		return TIP_ENOTFOUND;
	}
	origins_in(&c, o->sender);
	origins_in(&c, o->receiver);
	if (!(sw.per = calloc(ORIGINS_MAX, sizeof(*sw.per))))
		return TIP_ENOMEM;
	if ((rc = (int)walk_records(&c, cp_dir, log_name, on_checkpoint_record, &sw)) < 0) {
		snprintf(err, err_cap, "%s: %s", cp_dir, tip_strerror(rc));
		goto out;
	}
	summarise(&c, &sw.bad, "sender checkpoint records");
	check_events(&c);
	for (size_t i = 0; i < out->n_origins; i++) {
		struct tlog_audit_origin * or = &out->origins[i];

		if (strcmp(or->name, log_name) == 0)
			continue; /* the checkpoint chain itself, checked above */
		check_origin(&c, or, &sw.per[i], sw.log_key);
	}
	rc = TIP_OK;
out:
	for (size_t i = 0; i < ORIGINS_MAX; i++) {
		free(sw.per[i].c);
		free(sw.per[i].seq);
	}
	free(sw.per);
	free(c.ev);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rc;
}

/* --- output --- */

static void when(uint64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void tlog_audit_report_print(const struct tlog_audit_report *r, FILE *f)
{
	char t[32];

	for (size_t i = 0; i < r->n_origins; i++) {
		const struct tlog_audit_origin *o = &r->origins[i];

		if (!o->checkpoints && !o->sender_leaves && !o->receiver_records)
			continue;
		fprintf(f,
		        "origin %s: sender %llu leaves, %llu checkpoints (latest size %llu); receiver %llu "
		        "records, "
		        "%llu intact",
		        o->name, (unsigned long long)o->sender_leaves, (unsigned long long)o->checkpoints,
		        (unsigned long long)o->checkpoint_size, (unsigned long long)o->receiver_records,
		        (unsigned long long)o->delivered);
		if (o->cosigned) {
			when(o->cosigned_time, t, sizeof(t));
			fprintf(f, "; cosigned size %llu at %s", (unsigned long long)o->cosigned_size, t);
		}
		fputc('\n', f);
		for (size_t g = 0; g < o->n_gaps; g++)
			fprintf(f, "  undelivered %llu..%llu: %s\n", (unsigned long long)o->gaps[g].from,
			        (unsigned long long)o->gaps[g].to, o->gaps[g].why);
	}
	for (size_t i = 0; i < r->n_notes; i++)
		fprintf(f, "note: %s\n", r->notes[i]);
	for (size_t i = 0; i < r->n_problems; i++)
		fprintf(f, "DISCREPANCY: %s\n", r->problems[i]);
	fprintf(f, "checked %llu records, %llu tree leaves, %llu checkpoints, %llu events in %.2f s\n",
	        (unsigned long long)r->records_checked, (unsigned long long)r->leaves_checked,
	        (unsigned long long)r->checkpoints_checked, (unsigned long long)r->events, r->seconds);
	if (r->n_problems)
		fprintf(f, "result: %zu discrepanc%s\n", r->n_problems, r->n_problems == 1 ? "y" : "ies");
	else
		fprintf(f, "result: clean\n");
}

static json_t *strings(char **s, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(s[i]));
	return a;
}

json_t *tlog_audit_report_json(const struct tlog_audit_report *r)
{
	json_t *origins = json_array();

	for (size_t i = 0; i < r->n_origins; i++) {
		const struct tlog_audit_origin *o = &r->origins[i];
		json_t *gaps = json_array();

		for (size_t g = 0; g < o->n_gaps; g++)
			json_array_append_new(
			        gaps, json_pack("{s:I,s:I,s:s}", "from", (json_int_t)o->gaps[g].from, "to",
			                        (json_int_t)o->gaps[g].to, "explanation", o->gaps[g].why));
		json_array_append_new(
		        origins,
		        json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "origin", o->name, "sender_leaves",
		                  (json_int_t)o->sender_leaves, "checkpoints", (json_int_t)o->checkpoints,
		                  "checkpoint_size", (json_int_t)o->checkpoint_size, "receiver_records",
		                  (json_int_t)o->receiver_records, "delivered", (json_int_t)o->delivered,
		                  "cosigned",
		                  o->cosigned ? json_pack("{s:I,s:I}", "size", (json_int_t)o->cosigned_size,
		                                          "time", (json_int_t)o->cosigned_time)
		                              : json_null(),
		                  "undelivered", gaps));
	}
	return json_pack("{s:s,s:o,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:f}}", "result",
	                 r->n_problems ? "discrepancy" : "clean", "origins", origins, "discrepancies",
	                 strings(r->problems, r->n_problems), "notes", strings(r->notes, r->n_notes),
	                 "checked", "records", (json_int_t)r->records_checked, "leaves",
	                 (json_int_t)r->leaves_checked, "checkpoints", (json_int_t)r->checkpoints_checked,
	                 "events", (json_int_t)r->events, "seconds", r->seconds);
}
