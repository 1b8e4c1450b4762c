#include "diode/rxlog.h"

#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "diode/tlog.h"
#include "proto/checkpoint.h"
#include "proto/record.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_MAX    512    /* bytes of one event line */
#define QUEUE_MAX    100000 /* events waiting for the thread; more are counted, and the count logged */
#define TREE_SYNC_MS 10000  /* trees are rebuilt from the inbox, so they are committed only now and then */

struct rxorigin {
	const struct key *key; /* the origin's public key */
	struct tlog_tree log;  /* its tree and the cosigner of its checkpoints */
	struct spool_reader *reader;
	char *pending; /* the latest checkpoint not yet cosigned, or NULL */
	size_t pending_len, pending_by;
	uint64_t pending_size;
};

struct event {
	struct event *next;
	size_t len;
	char line[];
};

struct rxlog {
	struct rxlog_conf conf;
	struct key cosign, evkey;
	struct rxorigin *o;
	size_t n, cur;
	struct spool *events;
	struct tlog_tree ev;
	pthread_t thread;
	int started;
	atomic_int stop, status;
	pthread_mutex_t mu; /* guards the queue */
	struct event *head, *tail;
	size_t queued;
	uint64_t dropped, tree_sync_ms;
	char note[CKPT_NOTE_MAX];
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void rxlog_event(struct rxlog *l, const char *fmt, ...)
{
	char line[EVENT_MAX];
	struct event *e;
	va_list ap;
	int n = snprintf(line, sizeof(line), "%llu ", (unsigned long long)wall_ms());

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	pthread_mutex_lock(&l->mu);
	if (l->queued >= QUEUE_MAX || !(e = malloc(sizeof(*e) + (size_t)n))) {
		l->dropped++;
		pthread_mutex_unlock(&l->mu);
		return;
	}
	e->next = NULL;
	e->len = (size_t)n;
	memcpy(e->line, line, (size_t)n);
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	l->queued++;
	pthread_mutex_unlock(&l->mu);
}

static int find_origin(const struct rxlog *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->conf.origin_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* A checkpoint signed by origin `by`'s key, about some origin's tree: kept until it can be cosigned. */
static void take_checkpoint(struct rxlog *l, size_t by, const char *note, size_t len, int store)
{
	char path[TLOG_PATH_MAX];
	struct ckpt c;
	struct rxorigin *x;
	int i;

	if (ckpt_open(note, len, CKPT_NOTE_MAX, &l->conf.origin_keys[by], 1, &c, NULL) != TIP_OK) {
		rxlog_event(l, "checkpoint-invalid %s", l->conf.origin_keys[by].name);
		return;
	}
	if ((i = find_origin(l, c.origin)) < 0) {
		rxlog_event(l, "checkpoint-unknown %s %s", l->conf.origin_keys[by].name, c.origin);
		return;
	}
	x = &l->o[i];
	if (x->log.has_signed && c.size <= x->log.signed_size)
		return; /* cosigned already (a checkpoint sent again after the sender restarted) */
	if (store && tlog_path(path, l->conf.dir, TLOG_RECEIVED, c.origin) == TIP_OK &&
	    file_write_atomic(path, note, len, 0600) != TIP_OK)
		log_warn("%s: cannot be written", path);
	free(x->pending);
	if (!(x->pending = malloc(len + 1)))
		return;
	memcpy(x->pending, note, len);
	x->pending[len] = 0;
	x->pending_len = len;
	x->pending_by = by;
	x->pending_size = c.size;
}

/* Called for each record the inbox follower takes, before its leaf is appended. */
static void on_inbox_record(void *arg, const uint8_t *buf, size_t len)
{
	struct rxlog *l = arg;
	struct rec r;

	if (rec_decode(buf, len, len, &r) != TIP_OK)
		return; /* delivered records decode; the audit would name one that does not */
	if (r.kind == REC_CHECKPOINT)
		take_checkpoint(l, l->cur, (const char *)r.payload, r.payload_len, 1);
	rec_release(&r);
}

static void try_cosign(struct rxlog *l, struct rxorigin *x)
{
	size_t len;
	int rc;

	if (!x->pending || merkle_size(x->log.tree) < x->pending_size)
		return;
	rc = ckpt_signer_cosign(x->log.signer, x->pending, x->pending_len,
	                        &l->conf.origin_keys[x->pending_by], wall_ms() / 1000, x->log.tree, NULL, 0,
	                        l->note, sizeof(l->note), &len);
	if (rc == TIP_OK) {
		x->log.has_signed = 1;
		x->log.signed_size = x->pending_size;
		merkle_root_at(x->log.tree, x->pending_size, x->log.signed_root);
		rxlog_event(l, "cosigned %s %llu", x->key->name, (unsigned long long)x->pending_size);
	} else {
		log_err("checkpoint of %s at %llu: %s: not cosigned", x->key->name,
		        (unsigned long long)x->pending_size, tip_strerror(rc));
		rxlog_event(l, "checkpoint-refused %s %llu %s", x->key->name,
		            (unsigned long long)x->pending_size, tip_strerror(rc));
	}
	free(x->pending);
	x->pending = NULL;
}

/* Appends one event line to the event spool and its tree. */
static int append_event(struct rxlog *l, const char *line, size_t len)
{
	uint8_t leaf[MERKLE_HASH_LEN];
	int rc = spool_append(l->events, line, len, NULL);

	if (rc != TIP_OK)
		return rc;
	merkle_leaf_hash(line, len, leaf);
	return merkle_append(l->ev.tree, leaf, NULL);
}

/* Appends the queued events to the event spool and tree, durably. */
static int write_events(struct rxlog *l)
{
	struct event *e, *next;
	uint64_t dropped;
	char line[64];
	int rc = TIP_OK;

	pthread_mutex_lock(&l->mu);
	e = l->head;
	l->head = l->tail = NULL;
	l->queued = 0;
	dropped = l->dropped;
	l->dropped = 0;
	pthread_mutex_unlock(&l->mu);
	if (!e && !dropped)
		return TIP_OK;
	for (; e; e = next) {
		next = e->next;
		if (rc == TIP_OK)
			rc = append_event(l, e->line, e->len);
		free(e);
	}
	/* Events the full queue could not take are not lost silently: their number is an event. */
	if (rc == TIP_OK && dropped) {
		int n = snprintf(line, sizeof(line), "%llu events-dropped %llu",
		                 (unsigned long long)wall_ms(), (unsigned long long)dropped);

		rc = append_event(l, line, (size_t)n);
	}
	return rc == TIP_OK ? spool_sync(l->events, NULL) : rc;
}

/* One round of work; *work says whether there was any. */
static int step(struct rxlog *l, int *work)
{
	struct spool_fault fault;
	uint64_t now = wall_ms();
	size_t len;
	int rc;

	for (size_t i = 0; i < l->n; i++) {
		l->cur = i;
		if ((rc = tlog_follow(l->o[i].log.tree, l->o[i].reader, TLOG_READ_BATCH, on_inbox_record, l,
		                      &fault)) < 0) {
			log_err("transfer log: inbox %s: %s (%s offset %llu)", l->o[i].key->name,
			        tip_strerror(rc), fault.file, (unsigned long long)fault.offset);
			return rc;
		}
		*work |= rc > 0;
	}
	for (size_t i = 0; i < l->n; i++)
		try_cosign(l, &l->o[i]);
	if ((rc = write_events(l)) != TIP_OK)
		return rc;
	if (tlog_tree_due(&l->ev, l->conf.every_events, l->conf.every_ms, now) &&
	    (rc = tlog_tree_sign(&l->ev, now, l->note, sizeof(l->note), &len)) != TIP_OK)
		return rc;
	if (now - l->tree_sync_ms >= TREE_SYNC_MS) {
		for (size_t i = 0; i < l->n; i++)
			if ((rc = merkle_sync(l->o[i].log.tree)) != TIP_OK)
				return rc;
		l->tree_sync_ms = now;
	}
	return TIP_OK;
}

static void *run(void *arg)
{
	struct rxlog *l = arg;
	struct timespec idle = {0, TLOG_IDLE_NS};

	while (!atomic_load(&l->stop)) {
		int work = 0, rc = step(l, &work);

		if (rc != TIP_OK) {
			log_err("transfer log: %s; it stops", tip_strerror(rc));
			atomic_store(&l->status, rc);
			return NULL;
		}
		if (!work)
			nanosleep(&idle, NULL);
	}
	return NULL;
}

static int open_origin(struct rxlog *l, size_t i)
{
	char tree[TLOG_PATH_MAX], state[TLOG_PATH_MAX], inbox[TLOG_PATH_MAX], *note = NULL;
	struct rxorigin *x = &l->o[i];
	size_t len;
	int rc;

	x->key = &l->conf.origin_keys[i];
	if ((rc = tlog_path(tree, l->conf.dir, TLOG_TREES, x->key->name)) != TIP_OK ||
	    (rc = tlog_path(state, l->conf.dir, TLOG_COSIGNED, x->key->name)) != TIP_OK ||
	    (rc = tlog_path(inbox, l->conf.inbox_dir, x->key->name, NULL)) != TIP_OK ||
	    (rc = tlog_tree_open(&x->log, tree, state, x->key->name, &l->cosign, wall_ms())) != TIP_OK)
		return rc;
	if (!(x->reader = tlog_reader_open(inbox, "diode-recv-log", &l->conf.spool, x->log.tree, &rc)))
		return rc;
	/* A checkpoint that arrived before a restart and was not cosigned yet. */
	if (tlog_path(state, l->conf.dir, TLOG_RECEIVED, x->key->name) == TIP_OK &&
	    file_read(state, CKPT_NOTE_MAX, &note, &len) == TIP_OK) {
		struct ckpt c;

		for (size_t by = 0; by < l->conf.n_origins; by++)
			if (ckpt_open(note, len, CKPT_NOTE_MAX, &l->conf.origin_keys[by], 1, &c, NULL) ==
			    TIP_OK) {
				take_checkpoint(l, by, note, len, 0);
				break;
			}
		free(note);
	}
	return TIP_OK;
}

/* The event log: its spool, and its tree brought up to the spool (events written before a crash). */
static int open_events(struct rxlog *l)
{
	char dir[TLOG_PATH_MAX], tree[TLOG_PATH_MAX], state[TLOG_PATH_MAX];
	struct spool_reader *r;
	struct spool_fault fault;
	int rc;

	if ((rc = tlog_path(dir, l->conf.dir, TLOG_EVENTS, NULL)) != TIP_OK ||
	    (rc = tlog_path(tree, l->conf.dir, TLOG_EVENT_TREE, NULL)) != TIP_OK ||
	    (rc = tlog_path(state, l->conf.dir, TLOG_EVENT_STATE, NULL)) != TIP_OK)
		return rc;
	if (!(l->events = spool_open(dir, &l->conf.spool, NULL, &fault, &rc)) ||
	    (rc = tlog_tree_open(&l->ev, tree, state, l->evkey.name, &l->evkey, wall_ms())) != TIP_OK ||
	    !(r = tlog_reader_open(dir, "diode-recv-log", &l->conf.spool, l->ev.tree, &rc)))
		return rc;
	while ((rc = tlog_follow(l->ev.tree, r, TLOG_READ_BATCH, NULL, NULL, &fault)) > 0) {
	}
	spool_reader_close(r);
	return rc;
}

struct rxlog *rxlog_open(const struct rxlog_conf *conf, int *err)
{
	struct rxlog *l = calloc(1, sizeof(*l));
	int rc = TIP_ENOMEM;

	if (!l)
		goto fail;
	l->conf = *conf;
	pthread_mutex_init(&l->mu, NULL);
	if (!(l->o = calloc(conf->n_origins, sizeof(*l->o))))
		goto fail;
	l->n = conf->n_origins;
	l->cosign = *conf->cosign_key;
	l->evkey = *conf->event_key;
	rc = TIP_EINVAL;
	if (l->cosign.type != KEY_COSIGN || !l->cosign.has_secret || l->evkey.type != KEY_ED25519 ||
	    !l->evkey.has_secret)
		goto fail;
	if ((rc = tlog_mkdirs(conf->dir, TLOG_TREES)) != TIP_OK ||
	    (rc = tlog_mkdirs(conf->dir, TLOG_COSIGNED)) != TIP_OK ||
	    (rc = tlog_mkdirs(conf->dir, TLOG_RECEIVED)) != TIP_OK || (rc = open_events(l)) != TIP_OK)
		goto fail;
	for (size_t i = 0; i < l->n; i++)
		if ((rc = open_origin(l, i)) != TIP_OK) {
			log_err("transfer log %s: %s", conf->origin_keys[i].name, tip_strerror(rc));
			goto fail;
		}
	l->tree_sync_ms = wall_ms();
	rxlog_event(l, "start");
	*err = TIP_OK;
	return l;
fail:
	rxlog_free(l);
	*err = rc;
	return NULL;
}

int rxlog_start(struct rxlog *l)
{
	if (pthread_create(&l->thread, NULL, run, l) != 0)
		return TIP_ENOMEM;
	l->started = 1;
	return TIP_OK;
}

int rxlog_status(struct rxlog *l)
{
	return atomic_load(&l->status);
}

void rxlog_free(struct rxlog *l)
{
	if (!l)
		return;
	if (l->started) {
		int work = 0;

		atomic_store(&l->stop, 1);
		pthread_join(l->thread, NULL);
		rxlog_event(l, "stop");
		if (atomic_load(&l->status) == TIP_OK && step(l, &work) == TIP_OK &&
		    merkle_size(l->ev.tree) > l->ev.signed_size) {
			size_t len;

			tlog_tree_sign(&l->ev, wall_ms(), l->note, sizeof(l->note), &len);
		}
	}
	for (size_t i = 0; l->o && i < l->n; i++) {
		spool_reader_close(l->o[i].reader);
		tlog_tree_close(&l->o[i].log);
		free(l->o[i].pending);
	}
	tlog_tree_close(&l->ev);
	spool_close(l->events);
	for (struct event *e = l->head, *next; e; e = next) {
		next = e->next;
		free(e);
	}
	key_wipe(&l->cosign);
	key_wipe(&l->evkey);
	pthread_mutex_destroy(&l->mu);
	free(l->o);
	free(l);
}
