#include "common/metrics.h"

#include "common/textbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct metric {
	enum metric_kind kind;
	const char *name, *labels, *help;
	_Atomic int64_t value;
	/* histograms */
	double bounds[METRIC_BUCKETS_MAX];
	size_t n_bounds;
	_Atomic uint64_t buckets[METRIC_BUCKETS_MAX + 1];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_micro; /* sum in millionths, so it can stay atomic */
};

static struct metric registry[METRICS_MAX];
static size_t registered;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static int name_ok(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static struct metric *add(enum metric_kind kind, const char *name, const char *labels, const char *help)
{
	struct metric *m = NULL;

	if (!name_ok(name) || !help || (labels && (strchr(labels, '{') || strchr(labels, '}'))))
		return NULL;
	pthread_mutex_lock(&registry_lock);
	if (registered < METRICS_MAX) {
		m = &registry[registered++];
		memset(m, 0, sizeof(*m));
		m->kind = kind;
		m->name = name;
		m->labels = labels;
		m->help = help;
	}
	pthread_mutex_unlock(&registry_lock);
	return m;
}

struct metric *metric_counter(const char *name, const char *labels, const char *help)
{
	return add(KIND_COUNTER, name, labels, help);
}

struct metric *metric_gauge(const char *name, const char *labels, const char *help)
{
	return add(KIND_GAUGE, name, labels, help);
}

struct metric *metric_histogram(const char *name, const char *help, const double *bounds, size_t n)
{
	struct metric *m;

	if (n > METRIC_BUCKETS_MAX)
		return NULL;
	for (size_t i = 1; i < n; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return NULL;
	if (!(m = add(KIND_HISTOGRAM, name, NULL, help)))
		return NULL;
	memcpy(m->bounds, bounds, n * sizeof(*bounds));
	m->n_bounds = n;
	return m;
}

void metric_add(struct metric *m, uint64_t v)
{
	atomic_fetch_add_explicit(&m->value, (int64_t)v, memory_order_relaxed);
}

void metric_inc(struct metric *m)
{
	metric_add(m, 1);
}

void metric_set(struct metric *m, int64_t v)
{
	atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

int64_t metric_value(const struct metric *m)
{
	return atomic_load_explicit(&m->value, memory_order_relaxed);
}

void metric_observe(struct metric *m, double v)
{
	size_t i = 0;

	while (i < m->n_bounds && v > m->bounds[i])
		i++;
	atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	if (v > 0)
		atomic_fetch_add_explicit(&m->sum_micro, (uint64_t)(v * 1e6), memory_order_relaxed);
}

static const char *type_name(enum metric_kind k)
{
	return k == KIND_COUNTER ? "counter" : k == KIND_GAUGE ? "gauge" : "histogram";
}

size_t metrics_render(char *buf, size_t cap)
{
	struct textbuf o = {buf, cap, 0};
	size_t n;

	pthread_mutex_lock(&registry_lock);
	n = registered;
	pthread_mutex_unlock(&registry_lock);
	for (size_t i = 0; i < n; i++) {
		struct metric *m = &registry[i];
		int first = 1;

		for (size_t k = 0; k < i; k++)
			if (strcmp(registry[k].name, m->name) == 0)
				first = 0;
		if (first)
			textbuf_printf(&o, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
			               type_name(m->kind));
		if (m->kind != KIND_HISTOGRAM) {
			textbuf_printf(&o, "%s%s%s%s %lld\n", m->name, m->labels ? "{" : "",
			               m->labels ? m->labels : "", m->labels ? "}" : "",
			               (long long)metric_value(m));
			continue;
		}
		uint64_t cumulative = 0;

		for (size_t b = 0; b <= m->n_bounds; b++) {
			cumulative += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
			if (b < m->n_bounds)
				textbuf_printf(&o, "%s_bucket{le=\"%g\"} %llu\n", m->name, m->bounds[b],
				               (unsigned long long)cumulative);
			else
				textbuf_printf(&o, "%s_bucket{le=\"+Inf\"} %llu\n", m->name,
				               (unsigned long long)cumulative);
		}
		textbuf_printf(&o, "%s_sum %.6f\n%s_count %llu\n", m->name,
		               (double)atomic_load_explicit(&m->sum_micro, memory_order_relaxed) / 1e6,
		               m->name,
		               (unsigned long long)atomic_load_explicit(&m->count, memory_order_relaxed));
	}
	if (o.len < cap)
		buf[o.len] = '\0';
	return o.len;
}

void metrics_reset(void)
{
	pthread_mutex_lock(&registry_lock);
	registered = 0;
	pthread_mutex_unlock(&registry_lock);
}
