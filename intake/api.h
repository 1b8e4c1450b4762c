/*
 * intaked's HTTP API: routing, the public endpoints and the metrics endpoint.
 * Every error is {"error": code, "field": name-or-null, "message": text}.
 */
#ifndef TIP_INTAKE_API_H
#define TIP_INTAKE_API_H

#include <event2/event.h>
#include <stddef.h>

#include "common/http_server.h"
#include "intake/conf.h"
#include "intake/outbox.h"
#include "intake/pow.h"
#include "intake/ratelimit.h"
#include "intake/status.h"
#include "common/web.h"
#include "proto/report.h"
#include "proto/taxonomy.h"

struct intake {
	const struct intake_conf *conf;
	struct event_base *base;
	const struct taxonomy *taxonomy;
	struct report_limits limits;
	struct outbox *outbox;
	struct status_store *status;
	struct pow *pow;
	struct rl *rl_reports, *rl_status, *rl_challenge;
	char *form_json; /* GET /api/v1/form, built once */
	size_t form_len;
	struct web_gzipped form_gz;   /* the same, compressed once */
	struct web_gzipped *asset_gz; /* web_public.assets[i] compressed once, web_public.count of them */
	char *qr_svg;                 /* GET /qr.svg, built once from public_url; NULL without one */
	size_t qr_len;
	struct http_server *public_srv;
	struct event *stop_timer;
	int stop_ticks;
	int exit_code; /* what the daemon exits with once the loop ends */
};

/*
 * Builds the cached form document and QR code, compresses the fixed answers and registers the metrics.
 * TIP_OK or TIP_ENOMEM.
 */
int api_init(struct intake *in);
void api_free(struct intake *in);

/* The public listener's handler (arg: struct intake). */
void api_handle(struct http_req *req, void *arg);
/* Updates the gauges just before /metrics answers (arg: struct intake). */
void api_refresh_metrics(void *arg);
/* Reads new status bulletins; called by the daemon's timer. */
void api_poll_status(struct intake *in);
/*
 * Stops taking connections, answers every queued report, lets responses drain
 * (at most 10 s), then ends the loop; the daemon exits with exit_code.
 */
void api_stop(struct intake *in, int exit_code);

#endif
