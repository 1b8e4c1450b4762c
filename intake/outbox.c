#include "intake/outbox.h"

#include "common/err.h"
#include "proto/record.h"
#include "proto/report.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct job {
	const Tip__Report *report;
	outbox_done done;
	void *ctx;
	int rc;
	uint64_t seq;
	int64_t created_at;
	struct job *next;
};

/* A singly linked FIFO. */
struct job_list {
	struct job *head, *tail;
};

struct outbox {
	struct outbox_conf conf;
	struct spool *spool;
	struct rec_chain chain; /* owned by the sealer thread after start */

	pthread_mutex_t mu;
	pthread_cond_t sealer_cv, syncer_cv;
	struct job_list queued, appended, completed;
	int stopping, sealer_done;
	pthread_t sealer, syncer;

	int efd;
	struct event *ev;
	atomic_size_t pending;
	atomic_int broken;
	atomic_uint_fast64_t durable;
};

static void list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static void list_concat(struct job_list *to, struct job_list *from)
{
	if (!from->head)
		return;
	if (to->tail)
		to->tail->next = from->head;
	else
		to->head = from->head;
	to->tail = from->tail;
	from->head = from->tail = NULL;
}

static struct job_list list_take(struct job_list *l)
{
	struct job_list taken = *l;

	l->head = l->tail = NULL;
	return taken;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void notify_loop(struct outbox *o)
{
	uint64_t one = 1;

	if (write(o->efd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow in practice; a failed wake-up is retried by the next one. */
	}
}

/* Seal, sign and append one report; on success the chain moves on. */
static int seal_one(struct outbox *o, struct job *j)
{
	uint8_t *sealed = NULL, *record = NULL, hash[REC_HASH_LEN];
	size_t sealed_len, record_len;
	int rc;

	j->seq = o->chain.next_seq;
	j->created_at = now_ms();
	rc = report_seal(j->report, o->conf.aead, o->conf.seal_pub, o->conf.seal_key_id, o->conf.origin,
	                 j->seq, o->conf.max_record, &sealed, &sealed_len);
	if (rc == TIP_OK)
		rc = rec_sign(&o->chain, o->conf.sign_key, o->conf.sign_key_id, REC_REPORT, j->created_at,
		              sealed, sealed_len, o->conf.max_record, &record, &record_len, hash);
	if (rc == TIP_OK)
		rc = spool_append(o->spool, record, record_len, NULL);
	if (rc == TIP_OK)
		rec_chain_advance(&o->chain, hash);
	free(sealed);
	free(record);
	return rc;
}

static void *sealer_main(void *arg)
{
	struct outbox *o = arg;

	pthread_setname_np(pthread_self(), "sealer");
	for (;;) {
		struct job_list batch, appended = {0}, failed = {0};

		pthread_mutex_lock(&o->mu);
		while (!o->queued.head && !o->stopping)
			pthread_cond_wait(&o->sealer_cv, &o->mu);
		batch = list_take(&o->queued);
		pthread_mutex_unlock(&o->mu);
		if (!batch.head)
			break; /* stopping, and nothing left */
		while (batch.head) {
			struct job *j = batch.head;

			batch.head = j->next;
			j->rc = atomic_load(&o->broken) ? TIP_EIO : seal_one(o, j);
			if (j->rc == TIP_EIO)
				atomic_store(&o->broken, 1);
			list_push(j->rc == TIP_OK ? &appended : &failed, j);
		}
		pthread_mutex_lock(&o->mu);
		list_concat(&o->appended, &appended);
		list_concat(&o->completed, &failed);
		pthread_cond_signal(&o->syncer_cv);
		pthread_mutex_unlock(&o->mu);
		notify_loop(o);
	}
	return NULL;
}

static void *syncer_main(void *arg)
{
	struct outbox *o = arg;

	pthread_setname_np(pthread_self(), "syncer");
	for (;;) {
		struct job_list batch;
		uint64_t durable = 0;
		int rc;

		pthread_mutex_lock(&o->mu);
		while (!o->appended.head && !o->sealer_done)
			pthread_cond_wait(&o->syncer_cv, &o->mu);
		batch = list_take(&o->appended);
		pthread_mutex_unlock(&o->mu);
		if (!batch.head)
			break;
		/* Every job in the batch was appended before this call, so one sync covers them all. */
		rc = spool_sync(o->spool, &durable);
		if (rc != TIP_OK)
			atomic_store(&o->broken, 1);
		else
			atomic_store(&o->durable, durable);
		for (struct job *j = batch.head; j; j = j->next)
			j->rc = rc == TIP_OK ? TIP_OK : TIP_EIO;
		pthread_mutex_lock(&o->mu);
		list_concat(&o->completed, &batch);
		pthread_mutex_unlock(&o->mu);
		notify_loop(o);
	}
	return NULL;
}

/* On the event loop: hand every finished job back to its submitter. */
static void deliver(struct outbox *o)
{
	struct job_list done;

	pthread_mutex_lock(&o->mu);
	done = list_take(&o->completed);
	pthread_mutex_unlock(&o->mu);
	while (done.head) {
		struct job *j = done.head;

		done.head = j->next;
		atomic_fetch_sub(&o->pending, 1);
		j->done(j->ctx, j->rc, j->seq, j->created_at);
		free(j);
	}
}

static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	(void)what;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another wake-up already drained it. */
	}
	deliver(arg);
}

/* Reads the spool's last record and checks that the chain can continue from it. */
static int resume_chain(struct outbox *o)
{
	uint64_t count = spool_count(o->spool);
	struct spool_reader *r;
	struct spool_fault fault;
	const uint8_t *buf;
	size_t len;
	struct rec rec;
	int rc;

	if ((rc = rec_chain_init(&o->chain, o->conf.origin)) != TIP_OK || count == 0)
		return rc;
	if (!(r = spool_reader_open(o->conf.spool_dir, "intaked", &o->conf.spool, &fault, &rc)))
		return rc;
	if ((rc = spool_reader_seek(r, count - 1)) != TIP_OK)
		goto out;
	if ((rc = spool_reader_next(r, &buf, &len, NULL, &fault)) != 1) {
		rc = rc < 0 ? rc : TIP_ECORRUPT; /* recovery made every record durable: it must be there */
		goto out;
	}
	if (rec_decode(buf, len, o->conf.max_record, &rec) != TIP_OK) {
		rc = TIP_ECORRUPT;
		goto out;
	}
	/* The spool index is the sequence number: a spool holds one origin from its first record. */
	rc = TIP_ECORRUPT;
	if (strcmp(rec.origin, o->conf.origin) == 0 && rec.seq == count - 1 &&
	    memcmp(rec.key_id, o->conf.sign_key_id, 4) == 0 &&
	    rec_verify(&rec, o->conf.verify_key) == TIP_OK) {
		o->chain.next_seq = rec.seq;
		rec_chain_advance(&o->chain, rec.hash);
		rc = TIP_OK;
	}
	rec_release(&rec);
out:
	spool_reader_close(r);
	return rc;
}

struct outbox *outbox_new(struct event_base *base, const struct outbox_conf *conf, int *err)
{
	struct outbox *o = calloc(1, sizeof(*o));
	struct spool_recovery recovery;
	struct spool_fault fault;

	*err = TIP_ENOMEM;
	if (!o)
		return NULL;
	o->conf = *conf;
	o->efd = -1;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->sealer_cv, NULL);
	pthread_cond_init(&o->syncer_cv, NULL);
	if (!(o->spool = spool_open(conf->spool_dir, &conf->spool, &recovery, &fault, err)))
		goto fail;
	if ((*err = resume_chain(o)) != TIP_OK)
		goto fail;
	atomic_store(&o->durable, spool_durable(o->spool));
	o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	o->ev = o->efd >= 0 ? event_new(base, o->efd, EV_READ | EV_PERSIST, on_wakeup, o) : NULL;
	if (!o->ev || event_add(o->ev, NULL) != 0) {
		*err = TIP_EIO;
		goto fail;
	}
	if (pthread_create(&o->sealer, NULL, sealer_main, o) != 0) {
		*err = TIP_EIO;
		goto fail;
	}
	if (pthread_create(&o->syncer, NULL, syncer_main, o) != 0) {
		pthread_mutex_lock(&o->mu);
		o->stopping = 1;
		pthread_cond_signal(&o->sealer_cv);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->sealer, NULL);
		*err = TIP_EIO;
		goto fail;
	}
	*err = TIP_OK;
	return o;
fail:
	if (o->ev)
		event_free(o->ev);
	if (o->efd >= 0)
		close(o->efd);
	spool_close(o->spool);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->sealer_cv);
	pthread_cond_destroy(&o->syncer_cv);
	free(o);
	return NULL;
}

int outbox_submit(struct outbox *o, const Tip__Report *r, outbox_done done, void *ctx)
{
	struct job *j;

	if (atomic_load(&o->broken))
		return TIP_EIO;
	if (atomic_load(&o->pending) >= o->conf.max_pending)
		return TIP_EFULL;
	if (!(j = calloc(1, sizeof(*j))))
		return TIP_ENOMEM;
	j->report = r;
	j->done = done;
	j->ctx = ctx;
	atomic_fetch_add(&o->pending, 1);
	pthread_mutex_lock(&o->mu);
	list_push(&o->queued, j);
	pthread_cond_signal(&o->sealer_cv);
	pthread_mutex_unlock(&o->mu);
	return TIP_OK;
}

int outbox_broken(const struct outbox *o)
{
	return atomic_load(&o->broken);
}

uint64_t outbox_durable(const struct outbox *o)
{
	return atomic_load(&o->durable);
}

size_t outbox_pending(const struct outbox *o)
{
	return atomic_load(&o->pending);
}

void outbox_free(struct outbox *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	o->stopping = 1;
	pthread_cond_signal(&o->sealer_cv);
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->sealer, NULL);
	pthread_mutex_lock(&o->mu);
	o->sealer_done = 1;
	pthread_cond_signal(&o->syncer_cv);
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->syncer, NULL);
	deliver(o);
	event_free(o->ev);
	close(o->efd);
	spool_close(o->spool);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->sealer_cv);
	pthread_cond_destroy(&o->syncer_cv);
	free(o);
}
