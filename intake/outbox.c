#include "intake/outbox.h"

#include "common/err.h"
#include "diode/chain_resume.h"
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
	/* Sealing, done by a worker ahead of signing, for the seq the job was expected to get. */
	uint64_t sealed_for;
	uint8_t *sealed;
	size_t sealed_len;
	int seal_rc;
	int is_sealed;
	struct job *next;       /* in the seal queue, then in the appended or completed list */
	struct job *next_order; /* in submission order, until signed */
};

/* A singly linked FIFO through job.next. */
struct job_list {
	struct job *head, *tail;
};

struct outbox {
	struct outbox_conf conf;
	struct spool *spool;
	struct rec_chain chain; /* owned by the signer thread after start */

	pthread_mutex_t mu;
	pthread_cond_t work_cv, sign_cv, sync_cv;
	struct job_list queued;              /* waiting for a seal worker */
	struct job *order_head, *order_tail; /* waiting for the signer, in submission order */
	struct job_list appended, completed;
	uint64_t next_assign; /* the seq the next submitted report is sealed for */
	int stopping, workers_running, signer_done;
	size_t n_workers;
	pthread_t *workers, signer, syncer;

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

static int seal(struct outbox *o, struct job *j, uint64_t seq)
{
	free(j->sealed);
	j->sealed = NULL;
	j->sealed_for = seq;
	return report_seal(j->report, o->conf.aead, o->conf.seal_pub, o->conf.seal_key_id, o->conf.origin,
	                   seq, o->conf.max_record, &j->sealed, &j->sealed_len);
}

/* Seal workers: the costly, parallel part (an X25519 key agreement per report). */
static void *worker_main(void *arg)
{
	struct outbox *o = arg;

	pthread_setname_np(pthread_self(), "seal");
	pthread_mutex_lock(&o->mu);
	for (;;) {
		struct job *j;

		while (!o->queued.head && !o->stopping)
			pthread_cond_wait(&o->work_cv, &o->mu);
		if (!(j = o->queued.head))
			break;
		o->queued.head = j->next;
		if (!o->queued.head)
			o->queued.tail = NULL;
		pthread_mutex_unlock(&o->mu);
		int rc = seal(o, j, j->sealed_for);
		pthread_mutex_lock(&o->mu);
		j->seal_rc = rc;
		j->is_sealed = 1;
		if (j == o->order_head)
			pthread_cond_signal(&o->sign_cv);
	}
	o->workers_running--;
	pthread_cond_signal(&o->sign_cv);
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

/*
 * Sign and append one sealed report as the chain's next record. A report sealed
 * for another seq (an earlier one failed) is sealed again here: the HPKE info
 * must name the seq the record really gets.
 */
static int sign_one(struct outbox *o, struct job *j)
{
	uint8_t *record = NULL, hash[REC_HASH_LEN];
	size_t record_len;
	int rc = j->seal_rc;

	if (rc != TIP_OK || j->sealed_for != o->chain.next_seq)
		rc = seal(o, j, o->chain.next_seq);
	j->seq = o->chain.next_seq;
	j->created_at = now_ms();
	if (rc == TIP_OK)
		rc = rec_sign_by(&o->chain, o->conf.sign, o->conf.sign_arg, o->conf.sign_key_id, REC_REPORT,
		                 j->created_at, j->sealed, j->sealed_len, o->conf.max_record, &record,
		                 &record_len, hash);
	if (rc == TIP_OK)
		rc = spool_append(o->spool, record, record_len, NULL);
	if (rc == TIP_OK)
		rec_chain_advance(&o->chain, hash);
	free(record);
	free(j->sealed);
	j->sealed = NULL;
	return rc;
}

/* The signer: the chain's only writer, so records go to the spool in seq order. */
static void *signer_main(void *arg)
{
	struct outbox *o = arg;

	pthread_setname_np(pthread_self(), "sign");
	pthread_mutex_lock(&o->mu);
	for (;;) {
		struct job *batch, *last = NULL;
		struct job_list appended = {0}, failed = {0};
		uint64_t unused = 0;

		while (!(o->order_head && o->order_head->is_sealed) &&
		       !(!o->order_head && o->workers_running == 0))
			pthread_cond_wait(&o->sign_cv, &o->mu);
		if (!o->order_head)
			break;
		batch = o->order_head;
		for (struct job *j = batch; j && j->is_sealed; j = j->next_order)
			last = j;
		o->order_head = last->next_order;
		if (!o->order_head)
			o->order_tail = NULL;
		last->next_order = NULL;
		pthread_mutex_unlock(&o->mu);

		for (struct job *j = batch, *next; j; j = next) {
			next = j->next_order;
			j->rc = atomic_load(&o->broken) ? TIP_EIO : sign_one(o, j);
			if (j->rc == TIP_EIO)
				atomic_store(&o->broken, 1);
			if (j->rc != TIP_OK)
				unused++;
			list_push(j->rc == TIP_OK ? &appended : &failed, j);
		}
		pthread_mutex_lock(&o->mu);
		/* Reports that got no record leave their seq to the next ones. */
		o->next_assign -= unused;
		list_concat(&o->appended, &appended);
		list_concat(&o->completed, &failed);
		pthread_cond_signal(&o->sync_cv);
		if (failed.head || o->completed.head)
			notify_loop(o);
	}
	o->signer_done = 1;
	pthread_cond_signal(&o->sync_cv);
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

/* The syncer: one fdatasync for everything appended since the last, while signing goes on. */
static void *syncer_main(void *arg)
{
	struct outbox *o = arg;

	pthread_setname_np(pthread_self(), "sync");
	for (;;) {
		struct job_list batch;
		uint64_t durable = 0;
		int rc;

		pthread_mutex_lock(&o->mu);
		while (!o->appended.head && !o->signer_done)
			pthread_cond_wait(&o->sync_cv, &o->mu);
		batch = list_take(&o->appended);
		pthread_mutex_unlock(&o->mu);
		if (!batch.head)
			break;
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

/* Stops and joins whatever threads started, in pipeline order. */
static void stop_threads(struct outbox *o, size_t workers, int signer, int syncer)
{
	pthread_mutex_lock(&o->mu);
	o->stopping = 1;
	pthread_cond_broadcast(&o->work_cv);
	pthread_mutex_unlock(&o->mu);
	for (size_t i = 0; i < workers; i++)
		pthread_join(o->workers[i], NULL);
	pthread_mutex_lock(&o->mu);
	o->workers_running -= (int)(o->n_workers - workers); /* those never started */
	pthread_cond_signal(&o->sign_cv);
	if (!signer) {
		o->signer_done = 1;
		pthread_cond_signal(&o->sync_cv);
	}
	pthread_mutex_unlock(&o->mu);
	if (signer)
		pthread_join(o->signer, NULL);
	if (syncer)
		pthread_join(o->syncer, NULL);
}

static void destroy(struct outbox *o)
{
	if (o->ev)
		event_free(o->ev);
	if (o->efd >= 0)
		close(o->efd);
	spool_close(o->spool);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->work_cv);
	pthread_cond_destroy(&o->sign_cv);
	pthread_cond_destroy(&o->sync_cv);
	free(o->workers);
	free(o);
}

struct outbox *outbox_new(struct event_base *base, const struct outbox_conf *conf, int *err)
{
	struct outbox *o = calloc(1, sizeof(*o));
	struct spool_recovery recovery;
	struct spool_fault fault;
	struct rec_keyring ring = {0};
	size_t started = 0;
	int signer = 0;

	*err = TIP_ENOMEM;
	if (!o)
		return NULL;
	o->conf = *conf;
	o->efd = -1;
	o->n_workers = conf->seal_threads ? conf->seal_threads : 1;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->work_cv, NULL);
	pthread_cond_init(&o->sign_cv, NULL);
	pthread_cond_init(&o->sync_cv, NULL);
	if (!(o->workers = calloc(o->n_workers, sizeof(*o->workers))))
		goto fail;
	if (!(o->spool = spool_open(conf->spool_dir, &conf->spool, &recovery, &fault, err)))
		goto fail;
	if (conf->retired)
		ring = *conf->retired;
	if ((*err = rec_keyring_add(&ring, conf->verify_key, conf->sign_key_id)) != TIP_OK ||
	    (*err = chain_resume(o->spool, conf->spool_dir, &conf->spool, "intaked", conf->origin, &ring,
	                         conf->max_record, &o->chain)) != TIP_OK)
		goto fail;
	o->next_assign = o->chain.next_seq;
	atomic_store(&o->durable, spool_durable(o->spool));
	*err = TIP_EIO;
	o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	o->ev = o->efd >= 0 ? event_new(base, o->efd, EV_READ | EV_PERSIST, on_wakeup, o) : NULL;
	if (!o->ev || event_add(o->ev, NULL) != 0)
		goto fail;
	o->workers_running = (int)o->n_workers;
	for (; started < o->n_workers; started++)
		if (pthread_create(&o->workers[started], NULL, worker_main, o) != 0)
			goto stop;
	if (pthread_create(&o->signer, NULL, signer_main, o) != 0)
		goto stop;
	signer = 1;
	if (pthread_create(&o->syncer, NULL, syncer_main, o) != 0)
		goto stop;
	*err = TIP_OK;
	return o;
stop:
	stop_threads(o, started, signer, 0);
fail:
	destroy(o);
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
	j->sealed_for = o->next_assign++;
	list_push(&o->queued, j);
	if (o->order_tail)
		o->order_tail->next_order = j;
	else
		o->order_head = j;
	o->order_tail = j;
	pthread_cond_signal(&o->work_cv);
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
	stop_threads(o, o->n_workers, 1, 1);
	deliver(o);
	destroy(o);
}
