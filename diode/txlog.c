#include "diode/txlog.h"

#include "common/err.h"
#include "common/log.h"
#include "diode/chain_resume.h"
#include "diode/tlog.h"
#include "proto/ed25519.h"
#include "proto/record.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct txsrc {
	char origin[REC_ORIGIN_MAX + 1];
	struct spool_reader *reader;
	struct tlog_tree log;
};

struct txlog {
	struct txlog_conf conf;
	struct key key;
	struct ed25519_key *sign_key;
	struct ed25519_pub *pub;
	char cp_dir[TLOG_PATH_MAX];
	struct spool *cp;       /* the checkpoint spool */
	struct rec_chain chain; /* its chain */
	struct txsrc *src;
	size_t n;
	pthread_t thread;
	int started;
	atomic_int stop, status;
	pthread_mutex_t mu; /* guards latest[] */
	struct {
		uint64_t size;
		uint8_t root[32];
	} * latest;
	char note[CKPT_NOTE_MAX];
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wraps the note just signed for source i in the next CHECKPOINT record and stores it durably. */
static int emit(struct txlog *l, size_t i, size_t len)
{
	uint8_t *rec = NULL, hash[REC_HASH_LEN];
	size_t rec_len;
	int rc;

	rc = rec_sign(&l->chain, l->sign_key, l->key.id, REC_CHECKPOINT, (int64_t)wall_ms(),
	              (const uint8_t *)l->note, len, l->conf.spool.max_record, &rec, &rec_len, hash);
	if (rc == TIP_OK && (rc = spool_append(l->cp, rec, rec_len, NULL)) == TIP_OK &&
	    (rc = spool_sync(l->cp, NULL)) == TIP_OK) {
		rec_chain_advance(&l->chain, hash);
		pthread_mutex_lock(&l->mu);
		l->latest[i].size = l->src[i].log.signed_size;
		memcpy(l->latest[i].root, l->src[i].log.signed_root, 32);
		pthread_mutex_unlock(&l->mu);
	}
	free(rec);
	return rc;
}

static int sign_source(struct txlog *l, size_t i, uint64_t now)
{
	size_t len;
	int rc = tlog_tree_sign(&l->src[i].log, now, l->note, sizeof(l->note), &len);

	if (rc == TIP_OK)
		rc = emit(l, i, len);
	if (rc != TIP_OK)
		log_err("transfer log %s: checkpoint: %s", l->src[i].origin, tip_strerror(rc));
	return rc;
}

/* Appends the leaves of what a source's spool holds beyond its tree. Returns records taken or < 0. */
static int follow(struct txlog *l, struct txsrc *s)
{
	struct spool_fault fault;
	/* No further than the next checkpoint, so that there is one every every_records leaves. */
	uint64_t room = tlog_tree_room(&s->log, l->conf.every_records);
	int n = tlog_follow(s->log.tree, s->reader, room < TLOG_READ_BATCH ? (size_t)room : TLOG_READ_BATCH,
	                    NULL, NULL, &fault);

	if (n < 0)
		log_err("transfer log %s: %s (%s offset %llu)", s->origin, tip_strerror(n), fault.file,
		        (unsigned long long)fault.offset);
	return n;
}

static void *run(void *arg)
{
	struct txlog *l = arg;
	struct timespec idle = {0, TLOG_IDLE_NS};

	while (!atomic_load(&l->stop)) {
		int work = 0, rc = TIP_OK;

		for (size_t i = 0; i < l->n && rc == TIP_OK; i++) {
			int got = 0;

			if (tlog_tree_due(&l->src[i].log, l->conf.every_records, l->conf.every_ms, wall_ms()))
				rc = sign_source(l, i, wall_ms());
			if (rc == TIP_OK && (got = follow(l, &l->src[i])) < 0)
				rc = got;
			work |= got > 0;
		}
		if (rc != TIP_OK) {
			atomic_store(&l->status, rc);
			return NULL;
		}
		if (!work)
			nanosleep(&idle, NULL);
	}
	return NULL;
}

static int open_source(struct txlog *l, struct txsrc *s, const struct txlog_source *from)
{
	char tree[TLOG_PATH_MAX], state[TLOG_PATH_MAX];
	int rc;

	if (!rec_origin_ok(from->origin))
		return TIP_EINVAL;
	snprintf(s->origin, sizeof(s->origin), "%s", from->origin);
	if ((rc = tlog_path(tree, l->conf.dir, TLOG_TREES, s->origin)) != TIP_OK ||
	    (rc = tlog_path(state, l->conf.dir, TLOG_SIGNERS, s->origin)) != TIP_OK ||
	    (rc = tlog_tree_open(&s->log, tree, state, s->origin, &l->key, wall_ms())) != TIP_OK)
		return rc;
	if (!(s->reader = tlog_reader_open(from->spool_dir, "diode-log", &l->conf.spool, s->log.tree, &rc)))
		return rc;
	return TIP_OK;
}

struct txlog *txlog_open(const struct txlog_conf *conf, const struct txlog_source *sources, size_t n,
                         int *err)
{
	struct txlog *l = calloc(1, sizeof(*l));
	struct spool_fault fault;
	struct rec_keyring ring = {0};
	int rc = TIP_ENOMEM;

	if (!l)
		goto fail;
	l->conf = *conf;
	l->key = *conf->key;
	pthread_mutex_init(&l->mu, NULL);
	if (!(l->src = calloc(n, sizeof(*l->src))) || !(l->latest = calloc(n, sizeof(*l->latest))))
		goto fail;
	l->n = n;
	rc = TIP_EINVAL;
	if (l->key.type != KEY_ED25519 || !l->key.has_secret || !rec_origin_ok(l->key.name) ||
	    !(l->sign_key = ed25519_key_new(l->key.secret)) || !(l->pub = ed25519_pub_new(l->key.pub)))
		goto fail;
	if ((rc = tlog_mkdirs(conf->dir, TLOG_TREES)) != TIP_OK ||
	    (rc = tlog_mkdirs(conf->dir, TLOG_SIGNERS)) != TIP_OK ||
	    (rc = tlog_path(l->cp_dir, conf->dir, TLOG_CHECKPOINTS, NULL)) != TIP_OK)
		goto fail;
	if ((rc = rec_keyring_add(&ring, l->pub, l->key.id)) != TIP_OK ||
	    !(l->cp = spool_open(l->cp_dir, &l->conf.spool, NULL, &fault, &rc)) ||
	    (rc = chain_resume(l->cp, l->cp_dir, &l->conf.spool, "diode-log", l->key.name, &ring,
	                       l->conf.spool.max_record, &l->chain)) != TIP_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if ((rc = open_source(l, &l->src[i], &sources[i])) != TIP_OK) {
			log_err("transfer log %s: %s", sources[i].origin, tip_strerror(rc));
			goto fail;
		}
		/* The tree's checkpoint is signed (again: for a tree that had one, the same bytes) and sent,
		 * so one signed just before a crash, but never wrapped in a record, still crosses, and
		 * even an empty log has a chain the receiver and an auditor can see. (A tree shorter than
		 * its last checkpoint is being rebuilt: it is signed when it gets there.) */
		if (merkle_size(l->src[i].log.tree) >= l->src[i].log.signed_size &&
		    (rc = sign_source(l, i, wall_ms())) != TIP_OK)
			goto fail;
	}
	*err = TIP_OK;
	return l;
fail:
	txlog_free(l);
	*err = rc;
	return NULL;
}

int txlog_start(struct txlog *l)
{
	if (pthread_create(&l->thread, NULL, run, l) != 0)
		return TIP_ENOMEM;
	l->started = 1;
	return TIP_OK;
}

int txlog_status(struct txlog *l)
{
	return atomic_load(&l->status);
}

int txlog_latest(struct txlog *l, size_t i, uint64_t *size, uint8_t root[32])
{
	if (i >= l->n)
		return TIP_EINVAL;
	pthread_mutex_lock(&l->mu);
	*size = l->latest[i].size;
	memcpy(root, l->latest[i].root, 32);
	pthread_mutex_unlock(&l->mu);
	return TIP_OK;
}

void txlog_free(struct txlog *l)
{
	if (!l)
		return;
	if (l->started) {
		atomic_store(&l->stop, 1);
		pthread_join(l->thread, NULL);
		/* What arrived since the last checkpoint is signed before the sender goes. */
		for (size_t i = 0; i < l->n && atomic_load(&l->status) == TIP_OK; i++)
			if (merkle_size(l->src[i].log.tree) > l->src[i].log.signed_size)
				sign_source(l, i, wall_ms());
	}
	for (size_t i = 0; l->src && i < l->n; i++) {
		spool_reader_close(l->src[i].reader);
		tlog_tree_close(&l->src[i].log);
	}
	spool_close(l->cp);
	ed25519_key_free(l->sign_key);
	ed25519_pub_free(l->pub);
	key_wipe(&l->key);
	pthread_mutex_destroy(&l->mu);
	free(l->src);
	free(l->latest);
	free(l);
}
