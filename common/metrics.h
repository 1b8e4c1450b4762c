/*
 * Prometheus text-format metrics. A process registers its series once at
 * start (a fixed-size registry), then updates them from any thread with atomic
 * operations, and renders them on request.
 */
#ifndef TIP_COMMON_METRICS_H
#define TIP_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX        256
#define METRIC_BUCKETS_MAX 16

struct metric;

/*
 * Registers a series. name: [a-z_][a-z0-9_]*; labels: NULL or a label set in
 * exposition syntax without braces, e.g. "reason=\"pow\"". Series with one name
 * share HELP and TYPE. Returns NULL when the registry is full or an argument is
 * malformed — a programming error the daemon should treat as fatal at start.
 */
struct metric *metric_counter(const char *name, const char *labels, const char *help);
struct metric *metric_gauge(const char *name, const char *labels, const char *help);
/* A histogram with the given ascending upper bounds (at most METRIC_BUCKETS_MAX); +Inf is implied. */
struct metric *metric_histogram(const char *name, const char *help, const double *bounds, size_t n);

void metric_add(struct metric *m, uint64_t v);
void metric_inc(struct metric *m);
void metric_set(struct metric *m, int64_t v);
void metric_observe(struct metric *m, double v);
/* The current value of a counter or gauge (tests, and daemons that report figures). */
int64_t metric_value(const struct metric *m);

/*
 * Renders every series into buf. Returns the length written, or the length
 * needed if cap is too small (nothing useful is written then).
 */
size_t metrics_render(char *buf, size_t cap);

/* Forgets every series (tests). */
void metrics_reset(void);

#endif
