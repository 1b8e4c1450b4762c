#include "intake/api.h"

#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "intake/json_report.h"
#include "intake/multipart.h"
#include "common/qr.h"
#include "intake/querycode.h"
#include "intake/sniff.h"
#include "common/web.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

#define STATUS_BODY_MAX 1024

static struct {
	struct metric *accepted, *invalid, *pow, *rate, *unavailable, *media;
	struct metric *status_found, *status_unknown, *status_invalid;
	struct metric *challenges, *pending, *durable, *latency;
	struct metric *bulletins_applied, *bulletin_drops[STATUS_DROP_COUNT], *bulletin_gaps;
} m;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* 429 with Retry-After, or 0 if the client may go on. */
static int rate_limited(struct http_req *req, struct rl *rl)
{
	unsigned wait = rl_check(rl, http_req_peer(req), mono_us() / 1000);
	char header[48];
	const char *extra[] = {header, NULL};

	if (!wait)
		return 0;
	snprintf(header, sizeof(header), "Retry-After: %u", wait);
	metric_inc(m.rate);
	http_reply_error(req, 429, "rate_limited", NULL, "too many requests; try again later", extra);
	return 1;
}

/* 403 unless the request carries a fresh, unspent, solved challenge (pow_bits 0: no check at all). */
static int pow_refused(struct intake *in, struct http_req *req)
{
	const char *h = http_head_header(http_req_head(req), "X-Proof-Of-Work");
	int rc;
	const char *msg;

	if (in->conf->pow_bits == 0)
		return 0;
	rc = h ? pow_redeem(in->pow, h, strlen(h), time(NULL)) : TIP_EDECODE;

	switch (rc) {
	case TIP_OK: return 0;
	case TIP_EFULL:
		metric_inc(m.unavailable);
		http_reply_error(req, 503, "unavailable", NULL, "too many challenges in use; try again later",
		                 NULL);
		return 1;
	case TIP_ERANGE: msg = "the challenge has expired; fetch a new one"; break;
	case TIP_EBUSY: msg = "the challenge was already used; fetch a new one"; break;
	case TIP_EVERIFY: msg = "the proof of work does not verify"; break;
	default: msg = h ? "malformed proof of work" : "a proof of work is required"; break;
	}
	metric_inc(m.pow);
	http_reply_error(req, 403, "proof_of_work", "X-Proof-Of-Work", msg, NULL);
	return 1;
}

/* One report on its way into the outbox. */
struct submission {
	struct intake *in;
	struct http_req *req;
	struct jr_report *report;
	char code[QC_DIGITS + 1];
	uint64_t started;
};

static void submission_free(struct submission *s)
{
	jr_free(s->report);
	OPENSSL_cleanse(s->code, sizeof(s->code));
	free(s);
}

static void on_durable(void *ctx, int rc, uint64_t seq, int64_t created_at)
{
	struct submission *s = ctx;
	(void)seq;

	if (rc == TIP_OK) {
		char shown[QC_DIGITS + QC_DIGITS / 4], when[32];
		time_t t = (time_t)(created_at / 1000);
		struct tm tm;

		qc_format(s->code, shown);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		metric_inc(m.accepted);
		metric_observe(m.latency, (double)(mono_us() - s->started) / 1e6);
		http_reply_json(s->req, 201,
		                json_pack("{s:s, s:s}", "query_code", shown, "received_at", when), NULL);
	} else {
		metric_inc(m.unavailable);
		http_reply_error(s->req, 503, "unavailable", NULL,
		                 "the report could not be stored; please retry", NULL);
	}
	if (outbox_broken(s->in->outbox) && !s->in->stop_timer) {
		log_err("outbox: a write or sync failed; no more reports can be accepted");
		api_stop(s->in, EX_IOERR);
	}
	submission_free(s);
}

static void reply_invalid(struct http_req *req, const struct jr_error *e)
{
	metric_inc(m.invalid);
	http_reply_error(req, 400, "invalid", e->field[0] ? e->field : NULL, e->message, NULL);
}

/* multipart/form-data: one "report" part (JSON) and any number of "attachment" parts. */
static struct jr_report *parse_multipart(struct intake *in, struct http_req *req, const char *content_type,
                                         const uint8_t *body, size_t len)
{
	char boundary[MP_BOUNDARY_MAX + 1], field[32];
	struct mp_form form;
	const struct mp_part *json = NULL;
	struct jr_report *r = NULL;
	struct jr_error e;
	size_t n_attachments = 0;

	memset(&form, 0, sizeof(form));
	if (mp_boundary(content_type, boundary) != TIP_OK ||
	    mp_parse(body, len, boundary, (size_t)in->conf->max_attachments + 1, &form) != TIP_OK) {
		metric_inc(m.invalid);
		http_reply_error(req, 400, "invalid", NULL,
		                 form.error ? form.error : "malformed multipart body", NULL);
		goto out;
	}
	for (size_t i = 0; i < form.n_parts; i++) {
		if (strcmp(form.parts[i].name, "report") == 0 && !json)
			json = &form.parts[i];
		else if (strcmp(form.parts[i].name, "attachment") == 0)
			n_attachments += form.parts[i].len > 0;
		else {
			metric_inc(m.invalid);
			http_reply_error(req, 400, "invalid", form.parts[i].name, "unexpected form part",
			                 NULL);
			goto out;
		}
	}
	if (!json) {
		metric_inc(m.invalid);
		http_reply_error(req, 400, "invalid", "report", "the form has no report part", NULL);
		goto out;
	}
	if (n_attachments > (size_t)in->conf->max_attachments) {
		metric_inc(m.invalid);
		http_reply_error(req, 400, "invalid", "activity.attachments", "too many attachments", NULL);
		goto out;
	}
	if (!(r = jr_parse((const char *)json->data, json->len, &in->limits, &e))) {
		reply_invalid(req, &e);
		goto out;
	}
	for (size_t i = 0, k = 0; i < form.n_parts; i++) {
		const struct mp_part *p = &form.parts[i];
		const char *type;

		/* A browser sends an empty file input as an empty part: nothing was attached. */
		if (p != json && strcmp(p->name, "attachment") == 0 && p->len > 0) {
			snprintf(field, sizeof(field), "activity.attachments[%zu]", k++);
			if (!(type = sniff_content_type(p->data, p->len))) {
				metric_inc(m.media);
				http_reply_error(req, 415, "unsupported_media_type", field,
				                 "attachments may be photos, PDF documents, audio or video",
				                 NULL);
				jr_free(r);
				r = NULL;
				goto out;
			}
			if (jr_add_attachment(r, p->filename ? p->filename : "", type, p->data, p->len, &e) !=
			    TIP_OK) {
				reply_invalid(req, &e);
				jr_free(r);
				r = NULL;
				goto out;
			}
		}
	}
out:
	mp_form_free(&form);
	return r;
}

static void handle_report(struct intake *in, struct http_req *req)
{
	const char *ct = http_head_header(http_req_head(req), "Content-Type");
	struct submission *s = NULL;
	uint8_t hash[QC_HASH_LEN];
	struct jr_report *r = NULL;
	struct jr_error e;
	const uint8_t *body;
	size_t len;
	int rc;

	if (rate_limited(req, in->rl_reports) || pow_refused(in, req))
		return;
	body = http_req_body(req, &len);
	if (ct && strncasecmp(ct, "application/json", 16) == 0 && (ct[16] == '\0' || ct[16] == ';')) {
		if (!(r = jr_parse((const char *)body, len, &in->limits, &e))) {
			reply_invalid(req, &e);
			return;
		}
	} else if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
		if (!(r = parse_multipart(in, req, ct, body, len)))
			return;
	} else {
		metric_inc(m.media);
		http_reply_error(req, 415, "unsupported_media_type", "Content-Type",
		                 "send application/json or multipart/form-data", NULL);
		return;
	}
	if (!(s = calloc(1, sizeof(*s))) || qc_generate(s->code) != TIP_OK ||
	    qc_hash(s->code, hash) != TIP_OK) {
		jr_free(r);
		free(s);
		http_reply_error(req, 503, "unavailable", NULL, "out of resources", NULL);
		return;
	}
	s->in = in;
	s->req = req;
	s->report = r;
	s->started = mono_us();
	if (jr_finish(r, hash, in->taxonomy, &in->limits, &e) != TIP_OK) {
		reply_invalid(req, &e);
		submission_free(s);
		return;
	}
	if ((rc = outbox_submit(in->outbox, jr_report(r), on_durable, s)) != TIP_OK) {
		static const char *const retry[] = {"Retry-After: 5", NULL};

		metric_inc(m.unavailable);
		http_reply_error(req, 503, "unavailable", NULL,
		                 rc == TIP_EFULL ? "the service is busy; please retry"
		                                 : "reports cannot be stored now",
		                 retry);
		submission_free(s);
	}
}

/* A status answer waits for status_min_latency from arrival, known code or not. */
struct status_reply {
	struct http_req *req;
	json_t *body; /* NULL: unknown code */
	struct event *timer;
};

static void send_status(evutil_socket_t fd, short what, void *arg)
{
	struct status_reply *sr = arg;
	(void)fd;
	(void)what;

	if (sr->body) {
		http_reply_json(sr->req, 200, sr->body, NULL);
	} else {
		http_reply_error(sr->req, 404, "not_found", "query_code", "no report has this query code",
		                 NULL);
	}
	event_free(sr->timer);
	free(sr);
}

static void handle_status(struct intake *in, struct http_req *req)
{
	uint64_t started = mono_us();
	char code[QC_DIGITS + 1], field[QC_FIELD_MAX];
	uint8_t hash[QC_HASH_LEN];
	const uint8_t *body;
	size_t len;
	struct status_reply *sr;
	int rc;

	if (rate_limited(req, in->rl_status) || pow_refused(in, req))
		return;
	body = http_req_body(req, &len);
	if (len > STATUS_BODY_MAX) {
		http_reply_error(req, 413, "payload_too_large", NULL, "the body is too large", NULL);
		return;
	}
	rc = qc_status_body(body, len, code, field);
	if (rc != TIP_OK) {
		metric_inc(m.status_invalid);
		http_reply_error(req, 400, "invalid",
		                 rc == TIP_EDECODE   ? NULL
		                 : rc == TIP_EFORMAT ? field
		                                     : "query_code",
		                 rc == TIP_EDECODE   ? "the body must be a JSON object"
		                 : rc == TIP_EFORMAT ? "unknown field"
		                 : rc == TIP_EVERIFY ? "the query code has a typing error (check digit)"
		                                     : "a query code is 20 digits",
		                 NULL);
		return;
	}
	qc_hash(code, hash);
	OPENSSL_cleanse(code, sizeof(code));
	if (!(sr = calloc(1, sizeof(*sr))) || !(sr->timer = evtimer_new(in->base, send_status, sr))) {
		free(sr);
		http_reply_error(req, 503, "unavailable", NULL, "out of resources", NULL);
		return;
	}
	sr->req = req;
	sr->body = status_lookup(in->status, hash);
	metric_inc(sr->body ? m.status_found : m.status_unknown);
	uint64_t elapsed = mono_us() - started, wait = (uint64_t)in->conf->status_min_latency * 1000;
	wait = wait > elapsed ? wait - elapsed : 0;
	struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
	/* Timers count from the loop's cached clock, which can be older than this request's start. */
	event_base_update_cache_time(in->base);
	evtimer_add(sr->timer, &tv);
}

static void handle_challenge(struct intake *in, struct http_req *req)
{
	char challenge[POW_CHALLENGE_LEN + 1];
	time_t expires;

	if (rate_limited(req, in->rl_challenge))
		return;
	if (pow_issue(in->pow, time(NULL), challenge, sizeof(challenge), &expires) != TIP_OK) {
		http_reply_error(req, 503, "unavailable", NULL, "no challenge available", NULL);
		return;
	}
	metric_inc(m.challenges);
	http_reply_json(req, 200,
	                json_pack("{s:s, s:i, s:I}", "challenge", challenge, "bits", (int)pow_bits(in->pow),
	                          "expires", (json_int_t)expires),
	                NULL);
}

void api_handle(struct http_req *req, void *arg)
{
	static const char *const allow_get[] = {"Allow: GET, HEAD", NULL};
	static const char *const allow_post[] = {"Allow: POST", NULL};
	struct intake *in = arg;
	const struct http_head *h = http_req_head(req);
	int get = h->method == HTTP_GET || h->method == HTTP_HEAD, post = h->method == HTTP_POST;
	const struct web_asset *asset;

	if (strcmp(h->path, "/api/v1/reports") == 0) {
		if (post)
			handle_report(in, req);
		else
			http_reply_error(req, 405, "method_not_allowed", NULL, "use POST", allow_post);
	} else if (strcmp(h->path, "/api/v1/status") == 0) {
		if (post)
			handle_status(in, req);
		else
			http_reply_error(req, 405, "method_not_allowed", NULL, "use POST", allow_post);
	} else if (strcmp(h->path, "/api/v1/challenge") == 0) {
		if (get)
			handle_challenge(in, req);
		else
			http_reply_error(req, 405, "method_not_allowed", NULL, "use GET", allow_get);
	} else if (strcmp(h->path, "/api/v1/form") == 0) {
		if (get)
			web_reply(req, "application/json", in->form_json, in->form_len, &in->form_gz);
		else
			http_reply_error(req, 405, "method_not_allowed", NULL, "use GET", allow_get);
	} else if (strcmp(h->path, "/qr.svg") == 0 && get) {
		if (in->qr_svg)
			http_reply(req, 200, "image/svg+xml", in->qr_svg, in->qr_len, NULL);
		else
			http_reply_error(req, 404, "not_found", NULL, "no public address is configured",
			                 NULL);
	} else if (get && (asset = web_find(&web_public, h->path))) {
		web_reply(req, asset->type, asset->data, asset->len,
		          &in->asset_gz[asset - web_public.assets]);
	} else if (strcmp(h->path, "/healthz") == 0 && get) {
		int ok = !outbox_broken(in->outbox);

		http_reply_json(req, ok ? 200 : 503, json_pack("{s:s}", "status", ok ? "ok" : "failing"),
		                NULL);
	} else {
		http_reply_error(req, 404, "not_found", NULL, "no such resource", NULL);
	}
}

void api_refresh_metrics(void *arg)
{
	struct intake *in = arg;

	metric_set(m.pending, (int64_t)outbox_pending(in->outbox));
	metric_set(m.durable, (int64_t)outbox_durable(in->outbox));
}

void api_poll_status(struct intake *in)
{
	const struct status_stats *before = status_stats(in->status);
	uint64_t applied = before->applied, gaps = before->gaps, dropped[STATUS_DROP_COUNT];
	int rc;

	memcpy(dropped, before->dropped, sizeof(dropped));
	if ((rc = status_poll(in->status)) < 0) {
		log_err("status spool: %s", tip_strerror(rc));
		return;
	}
	const struct status_stats *now = status_stats(in->status);

	metric_add(m.bulletins_applied, now->applied - applied);
	metric_add(m.bulletin_gaps, now->gaps - gaps);
	for (int d = 0; d < STATUS_DROP_COUNT; d++) {
		if (now->dropped[d] > dropped[d]) {
			log_warn("status spool: %llu record(s) ignored: %s",
			         (unsigned long long)(now->dropped[d] - dropped[d]), status_drop_name(d));
			metric_add(m.bulletin_drops[d], now->dropped[d] - dropped[d]);
		}
	}
}

#define STOP_GRACE_TICKS 100 /* of 100 ms */

static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct intake *in = arg;
	(void)fd;
	(void)what;

	if ((outbox_pending(in->outbox) == 0 && http_server_busy(in->public_srv) == 0) ||
	    ++in->stop_ticks >= STOP_GRACE_TICKS)
		event_base_loopexit(in->base, NULL);
}

void api_stop(struct intake *in, int exit_code)
{
	struct timeval tick = {0, 100000};

	if (in->stop_timer)
		return;
	in->exit_code = exit_code;
	http_server_stop_listening(in->public_srv);
	if ((in->stop_timer = event_new(in->base, -1, EV_PERSIST, on_stop_tick, in)))
		event_add(in->stop_timer, &tick);
	else
		event_base_loopexit(in->base, NULL);
}

static json_t *limits_json(const struct intake *in)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "short_text",
	                 (json_int_t)in->limits.short_text, "long_text", (json_int_t)in->limits.long_text,
	                 "max_persons", (json_int_t)in->limits.max_persons, "max_officials",
	                 (json_int_t)in->limits.max_officials, "max_list", (json_int_t)in->limits.max_list,
	                 "max_attachments", (json_int_t)in->limits.max_attachments, "attachment_bytes",
	                 (json_int_t)in->limits.attachment_bytes);
}

static struct metric *counter(const char *name, const char *labels, const char *help)
{
	struct metric *c = metric_counter(name, labels, help);

	if (!c)
		abort(); /* a fixed set registered once at start: failing here is a programming error */
	return c;
}

int api_init(struct intake *in)
{
	static const double latency_bounds[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
	                                        0.1,   0.2,   0.5,   1,    2,    5};
	static const char *const drop_labels[STATUS_DROP_COUNT] = {
	        "reason=\"decode\"",    "reason=\"kind\"",      "reason=\"origin\"",
	        "reason=\"signature\"", "reason=\"duplicate\"", "reason=\"fork\"",
	};
	json_t *doc;

	in->limits.max_attachments = (size_t)in->conf->max_attachments;
	in->limits.attachment_bytes = in->conf->max_attachment_bytes;
	doc = json_pack("{s:o, s:o, s:{s:i}}", "taxonomy", tax_to_json(in->taxonomy), "limits",
	                limits_json(in), "proof_of_work", "bits", (int)in->conf->pow_bits);
	in->form_json = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!in->form_json)
		return TIP_ENOMEM;
	in->form_len = strlen(in->form_json);
	if (web_gzip(in->form_json, in->form_len, &in->form_gz) != TIP_OK ||
	    !(in->asset_gz = web_gzip_table(&web_public)))
		return TIP_ENOMEM;
	if (in->conf->public_url[0] && qr_svg(in->conf->public_url, &in->qr_svg, &in->qr_len) != TIP_OK)
		return TIP_ENOMEM; /* the address was checked with the configuration */

	m.accepted = counter("intake_reports_accepted_total", NULL, "Reports made durable and acknowledged.");
	m.invalid =
	        counter("intake_reports_rejected_total", "reason=\"invalid\"", "Reports refused, by reason.");
	m.pow = counter("intake_reports_rejected_total", "reason=\"proof_of_work\"",
	                "Reports refused, by reason.");
	m.rate = counter("intake_reports_rejected_total", "reason=\"rate_limited\"",
	                 "Reports refused, by reason.");
	m.media = counter("intake_reports_rejected_total", "reason=\"media_type\"",
	                  "Reports refused, by reason.");
	m.unavailable = counter("intake_reports_rejected_total", "reason=\"unavailable\"",
	                        "Reports refused, by reason.");
	m.status_found =
	        counter("intake_status_queries_total", "result=\"found\"", "Status queries by result.");
	m.status_unknown =
	        counter("intake_status_queries_total", "result=\"unknown\"", "Status queries by result.");
	m.status_invalid =
	        counter("intake_status_queries_total", "result=\"invalid\"", "Status queries by result.");
	m.challenges = counter("intake_challenges_issued_total", NULL, "Proof-of-work challenges issued.");
	m.pending = metric_gauge("intake_outbox_pending", NULL, "Reports waiting to become durable.");
	m.durable =
	        metric_gauge("intake_outbox_durable_records", NULL, "Records durable in the outbox spool.");
	m.latency =
	        metric_histogram("intake_report_seconds", "Time from a valid report to its acknowledgement.",
	                         latency_bounds, sizeof(latency_bounds) / sizeof(latency_bounds[0]));
	m.bulletins_applied = counter("intake_bulletins_applied_total", NULL, "Status bulletins applied.");
	m.bulletin_gaps =
	        counter("intake_bulletin_gaps_total", NULL, "Bulletins accepted after a sequence gap.");
	for (int d = 0; d < STATUS_DROP_COUNT; d++)
		m.bulletin_drops[d] = counter("intake_bulletins_ignored_total", drop_labels[d],
		                              "Status records ignored, by reason.");
	if (!m.pending || !m.durable || !m.latency)
		abort();
	return TIP_OK;
}

void api_free(struct intake *in)
{
	free(in->form_json);
	in->form_json = NULL;
	free(in->form_gz.data);
	in->form_gz.data = NULL;
	web_gzip_free(in->asset_gz, web_public.count);
	in->asset_gz = NULL;
	free(in->qr_svg);
	in->qr_svg = NULL;
	if (in->stop_timer)
		event_free(in->stop_timer);
	in->stop_timer = NULL;
}
