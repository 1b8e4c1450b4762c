#include "diode/deliver.h"

#include "common/err.h"
#include "diode/chain_resume.h"

#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Sequence numbers whose signature is being or has been checked, by seq modulo this: a copy of a
 * record still waiting for its delivery (a replay that caught up with it) is not checked again.
 */
#define CLAIM_SLOTS 4096

/* A verified record waiting for the gap before it to fill, in a list sorted by seq. */
struct held {
	uint64_t seq;
	uint8_t prev_hash[REC_HASH_LEN], hash[REC_HASH_LEN];
	uint8_t *buf;
	size_t len;
	struct held *next;
};

struct origin_state {
	const struct deliver_origin *conf;
	char dir[PATH_MAX];
	struct spool *spool;
	struct rec_chain chain;
	_Atomic uint64_t next_seq; /* chain.next_seq, for checks on other threads */
	_Atomic uint64_t *claims;  /* CLAIM_SLOTS: seq + 1 of the record claimed in each, 0 for none */
	struct held *held;
	uint64_t highest;
	int known, dirty;
};

struct deliver {
	struct deliver_conf conf;
	struct origin_state *origins;
	struct spool *quarantine;
	int quarantine_dirty;
	struct deliver_stats stats;
};

static const char *const reason_names[REJECT_COUNT] = {"decode", "origin", "key", "signature", "fork"};

const char *deliver_reason_name(enum deliver_reason r)
{
	return r < REJECT_COUNT ? reason_names[r] : "unknown";
}

static int make_dir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? TIP_OK : TIP_EIO;
}

struct deliver *deliver_new(const struct deliver_conf *conf, int *err)
{
	struct deliver *d = calloc(1, sizeof(*d));

	*err = TIP_ENOMEM;
	if (!d || !(d->origins = calloc(conf->n_origins ? conf->n_origins : 1, sizeof(*d->origins))))
		goto fail;
	d->conf = *conf;
	if ((*err = make_dir(conf->inbox_dir)) != TIP_OK)
		goto fail;
	for (size_t i = 0; i < conf->n_origins; i++) {
		struct origin_state *o = &d->origins[i];
		int n = snprintf(o->dir, sizeof(o->dir), "%s/%s", conf->inbox_dir, conf->origins[i].name);

		o->conf = &conf->origins[i];
		*err = TIP_ENOMEM;
		if (!(o->claims = calloc(CLAIM_SLOTS, sizeof(*o->claims))))
			goto fail;
		*err = TIP_EINVAL;
		if (!rec_origin_ok(o->conf->name) || n < 0 || (size_t)n >= sizeof(o->dir))
			goto fail;
		if (!(o->spool = spool_open(o->dir, &conf->spool, NULL, NULL, err)))
			goto fail;
		if ((*err = chain_resume(o->spool, o->dir, &conf->spool, "diode-recv", o->conf->name,
		                         &o->conf->keys, conf->max_record, &o->chain)) != TIP_OK)
			goto fail;
	}
	if (!(d->quarantine = spool_open(conf->quarantine_dir, &conf->spool, NULL, NULL, err)))
		goto fail;
	*err = TIP_OK;
	return d;
fail:
	deliver_free(d);
	return NULL;
}

void deliver_free(struct deliver *d)
{
	if (!d)
		return;
	for (size_t i = 0; d->origins && i < d->conf.n_origins; i++) {
		struct origin_state *o = &d->origins[i];

		while (o->held) {
			struct held *h = o->held;

			o->held = h->next;
			free(h->buf);
			free(h);
		}
		spool_close(o->spool);
		free(o->claims);
	}
	spool_close(d->quarantine);
	free(d->origins);
	free(d);
}

static struct origin_state *find(const struct deliver *d, const char *name)
{
	for (size_t i = 0; i < d->conf.n_origins; i++)
		if (strcmp(d->origins[i].conf->name, name) == 0)
			return &d->origins[i];
	return NULL;
}

/* 1 if seq is now claimed for a signature check; 0 if a copy of it is, or was and is waiting. */
static int claim(const struct origin_state *o, uint64_t seq)
{
	_Atomic uint64_t *slot = &o->claims[seq % CLAIM_SLOTS];
	uint64_t old = atomic_load(slot);

	do {
		if (old == seq + 1)
			return 0;
	} while (!atomic_compare_exchange_weak(slot, &old, seq + 1));
	return 1;
}

/* A claimed record that will not be delivered: the next copy of seq must be checked. */
static void unclaim(const struct origin_state *o, uint64_t seq)
{
	uint64_t mine = seq + 1;

	atomic_compare_exchange_strong(&o->claims[seq % CLAIM_SLOTS], &mine, 0);
}

/* Quarantine record: the reason (one byte) and the record's bytes as they arrived. */
static int quarantine(struct deliver *d, enum deliver_reason why, const uint8_t *buf, size_t len)
{
	uint8_t *q = malloc(len + 1);
	int rc;

	if (!q)
		return TIP_ENOMEM;
	q[0] = (uint8_t)why;
	memcpy(q + 1, buf, len);
	rc = spool_append(d->quarantine, q, len + 1, NULL);
	free(q);
	d->quarantine_dirty = 1;
	d->stats.rejected[why]++;
	return rc == TIP_OK ? DELIVER_REJECTED : rc;
}

static int append(struct deliver *d, struct origin_state *o, const uint8_t *buf, size_t len,
                  const uint8_t hash[REC_HASH_LEN])
{
	int rc = spool_append(o->spool, buf, len, NULL);

	if (rc != TIP_OK)
		return rc;
	rec_chain_advance(&o->chain, hash);
	atomic_store(&o->next_seq, o->chain.next_seq);
	o->dirty = 1;
	d->stats.delivered++;
	return TIP_OK;
}

/* Delivers held records that the chain has now reached. */
static int drain(struct deliver *d, struct origin_state *o)
{
	int rc = TIP_OK;

	while (rc >= 0 && o->held && o->held->seq <= o->chain.next_seq) {
		struct held *h = o->held;

		o->held = h->next;
		d->stats.held_bytes -= h->len;
		if (h->seq < o->chain.next_seq)
			d->stats.duplicates++;
		else if (memcmp(h->prev_hash, o->chain.prev_hash, REC_HASH_LEN) != 0) {
			unclaim(o, h->seq);
			rc = quarantine(d, REJECT_FORK, h->buf, h->len);
		} else
			rc = append(d, o, h->buf, h->len, h->hash);
		free(h->buf);
		free(h);
	}
	return rc < 0 ? rc : TIP_OK;
}

static int hold(struct deliver *d, struct origin_state *o, const struct deliver_check *r, const uint8_t *buf,
                size_t len)
{
	struct held **at = &o->held, *h = NULL;

	while (*at && (*at)->seq < r->seq)
		at = &(*at)->next;
	if (*at && (*at)->seq == r->seq) {
		d->stats.duplicates++;
		return DELIVER_DUPLICATE;
	}
	if (d->stats.held_bytes + len > d->conf.max_held_bytes || !(h = calloc(1, sizeof(*h))) ||
	    !(h->buf = malloc(len ? len : 1))) {
		if (h)
			free(h);
		d->stats.dropped++;
		return DELIVER_DROPPED;
	}
	h->seq = r->seq;
	memcpy(h->prev_hash, r->prev_hash, REC_HASH_LEN);
	memcpy(h->hash, r->hash, REC_HASH_LEN);
	memcpy(h->buf, buf, len);
	h->len = len;
	h->next = *at;
	*at = h;
	d->stats.held++;
	d->stats.held_bytes += len;
	return DELIVER_HELD;
}

void deliver_check(const struct deliver *d, const uint8_t *buf, size_t len, struct deliver_check *c)
{
	const struct origin_state *o;
	const struct ed25519_pub *pub = NULL;
	struct rec r;

	memset(c, 0, sizeof(*c));
	c->verdict = DELIVER_REJECTED;
	if (rec_decode(buf, len, d->conf.max_record, &r) != TIP_OK) {
		c->why = REJECT_DECODE;
		return;
	}
	if (!(o = find(d, r.origin)))
		c->why = REJECT_ORIGIN;
	else if (r.seq < atomic_load(&o->next_seq))
		/* Every replay of a delivered record lands here: dropped before the costly signature check,
		 * which could only make it a rejected record instead of a dropped one. */
		c->verdict = DELIVER_DUPLICATE;
	else if (!(pub = rec_keyring_find(&o->conf->keys, r.key_id)))
		c->why = REJECT_KEY;
	else if (!claim(o, r.seq))
		/* A replay that arrived while the first copy waited for its check or for delivery. */
		c->verdict = DELIVER_DUPLICATE;
	else if (rec_verify(&r, pub) != TIP_OK) {
		unclaim(o, r.seq);
		c->why = REJECT_SIGNATURE;
	} else
		c->verdict = TIP_OK;
	if (o) {
		c->origin = (size_t)(o - d->origins);
		c->seq = r.seq;
		memcpy(c->prev_hash, r.prev_hash, REC_HASH_LEN);
		memcpy(c->hash, r.hash, REC_HASH_LEN);
	}
	rec_release(&r);
}

int deliver_checked(struct deliver *d, const uint8_t *buf, size_t len, const struct deliver_check *c,
                    enum deliver_reason *why)
{
	struct origin_state *o;
	int rc;

	if (c->verdict == DELIVER_REJECTED)
		return quarantine(d, *why = c->why, buf, len);
	o = &d->origins[c->origin];
	if (c->verdict == DELIVER_DUPLICATE || c->seq < o->chain.next_seq) {
		d->stats.duplicates++;
		return DELIVER_DUPLICATE;
	}
	if (!o->known || c->seq > o->highest)
		o->highest = c->seq;
	o->known = 1;
	if (c->seq > o->chain.next_seq) {
		rc = hold(d, o, c, buf, len);
		if (rc == DELIVER_DROPPED)
			unclaim(o, c->seq);
		return rc;
	}
	if (memcmp(c->prev_hash, o->chain.prev_hash, REC_HASH_LEN) != 0) {
		unclaim(o, c->seq);
		return quarantine(d, *why = REJECT_FORK, buf, len);
	}
	rc = append(d, o, buf, len, c->hash);
	if (rc == TIP_OK)
		rc = drain(d, o);
	return rc == TIP_OK ? DELIVER_NEXT : rc;
}

int deliver_record(struct deliver *d, const uint8_t *buf, size_t len, enum deliver_reason *why)
{
	struct deliver_check c;

	deliver_check(d, buf, len, &c);
	return deliver_checked(d, buf, len, &c, why);
}

int deliver_sync(struct deliver *d)
{
	int rc = TIP_OK;

	for (size_t i = 0; i < d->conf.n_origins; i++) {
		if (d->origins[i].dirty && (rc = spool_sync(d->origins[i].spool, NULL)) != TIP_OK)
			return rc;
		d->origins[i].dirty = 0;
	}
	if (d->quarantine_dirty && (rc = spool_sync(d->quarantine, NULL)) == TIP_OK)
		d->quarantine_dirty = 0;
	return rc;
}

int deliver_position(const struct deliver *d, const char *origin, uint64_t *next_seq, uint64_t *highest_known,
                     int *known)
{
	const struct origin_state *o = find(d, origin);

	if (!o)
		return TIP_ENOTFOUND;
	*next_seq = o->chain.next_seq;
	*highest_known = o->highest;
	*known = o->known;
	return TIP_OK;
}

void deliver_note_highest(struct deliver *d, const char *origin, uint64_t highest_seq)
{
	struct origin_state *o = find(d, origin);

	if (o && (!o->known || highest_seq > o->highest)) {
		o->highest = highest_seq;
		o->known = 1;
	}
}

const struct deliver_stats *deliver_stats(const struct deliver *d)
{
	return &d->stats;
}
