#include "internal/hasher.h"

#include "common/err.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS_MAX 64

struct job {
	struct job *next;
	int verify; /* else hash */
	int has_hash;
	char hash[AUTH_HASH_MAX]; /* verify: the stored hash; hash: the result */
	char password[AUTH_PASSWORD_MAX];
	size_t len;
	struct auth_cost cost;
	char *out;
	hasher_cb cb;
	void *arg;
	int rc;
};

struct hasher {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, **todo_tail, *done;
	int stop;
	size_t busy, queue_max, n_threads;
	struct event *ev; /* activated by a worker when a job is done */
	pthread_t threads[THREADS_MAX];
};

static void job_free(struct job *j)
{
	OPENSSL_cleanse(j->password, sizeof(j->password));
	free(j);
}

static void *worker(void *arg)
{
	struct hasher *h = arg;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		struct job *j;

		while (!h->stop && !h->todo)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop)
			break;
		j = h->todo;
		if (!(h->todo = j->next))
			h->todo_tail = &h->todo;
		pthread_mutex_unlock(&h->mu);
		j->rc = j->verify ? auth_verify_password(j->has_hash ? j->hash : NULL, j->password, j->len)
		                  : auth_hash_password(j->password, j->len, &j->cost, j->hash);
		OPENSSL_cleanse(j->password, sizeof(j->password));
		pthread_mutex_lock(&h->mu);
		j->next = h->done;
		h->done = j;
		event_active(h->ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* On the loop: the callbacks of the jobs done, oldest first. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct hasher *h = arg;
	struct job *list, *rev = NULL;
	(void)fd;
	(void)what;

	pthread_mutex_lock(&h->mu);
	list = h->done;
	h->done = NULL;
	pthread_mutex_unlock(&h->mu);
	while (list) {
		struct job *j = list;
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while (rev) {
		struct job *j = rev;
		rev = j->next;
		h->busy--;
		if (j->out && j->rc == TIP_OK)
			memcpy(j->out, j->hash, AUTH_HASH_MAX);
		j->cb(j->rc, j->arg);
		job_free(j);
	}
}

static void free_list(struct job *j)
{
	while (j) {
		struct job *next = j->next;
		job_free(j);
		j = next;
	}
}

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	for (size_t i = 0; i < h->n_threads; i++)
		pthread_join(h->threads[i], NULL);
	free_list(h->todo);
	free_list(h->done);
	if (h->ev)
		event_free(h->ev);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

struct hasher *hasher_new(struct event_base *base, size_t threads, size_t queue_max)
{
	struct hasher *h;

	if (!threads || threads > THREADS_MAX || !queue_max || !(h = calloc(1, sizeof(*h))))
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->todo_tail = &h->todo;
	h->queue_max = queue_max;
	if (!(h->ev = event_new(base, -1, 0, on_done, h)))
		goto fail;
	for (; h->n_threads < threads; h->n_threads++)
		if (pthread_create(&h->threads[h->n_threads], NULL, worker, h) != 0)
			goto fail;
	return h;
fail:
	hasher_free(h);
	return NULL;
}

static int submit(struct hasher *h, struct job *j, const char *password, size_t len, hasher_cb cb, void *arg)
{
	if (h->busy >= h->queue_max) {
		free(j);
		return TIP_EFULL;
	}
	j->len = len < sizeof(j->password) ? len : sizeof(j->password);
	memcpy(j->password, password, j->len);
	j->cb = cb;
	j->arg = arg;
	h->busy++;
	pthread_mutex_lock(&h->mu);
	*h->todo_tail = j;
	h->todo_tail = &j->next;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return TIP_OK;
}

int hasher_verify(struct hasher *h, const char *hash, const char *password, size_t len, hasher_cb cb,
                  void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return TIP_ENOMEM;
	j->verify = 1;
	if (hash) {
		j->has_hash = 1;
		snprintf(j->hash, sizeof(j->hash), "%s", hash);
	}
	return submit(h, j, password, len, cb, arg);
}

int hasher_hash(struct hasher *h, const char *password, size_t len, const struct auth_cost *cost,
                char out[AUTH_HASH_MAX], hasher_cb cb, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return TIP_ENOMEM;
	if (len > AUTH_PASSWORD_MAX) {
		free(j);
		return TIP_EINVAL;
	}
	j->cost = *cost;
	j->out = out;
	return submit(h, j, password, len, cb, arg);
}

size_t hasher_busy(const struct hasher *h)
{
	return h->busy;
}
