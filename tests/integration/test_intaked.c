/*
 * intaked over real HTTP and TLS: every success and error path of the API, the
 * records it leaves in the outbox, status bulletins, configuration checking, the
 * signing key kept out of the worker and the worker restarted after its sandbox killed it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon.h"
#include "diode/spool.h"
#include "httpc.h"
#include "intake/querycode.h"
#include "proto/bulletin.h"
#include "proto/codec.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "proto/report.h"
#include "testutil.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOST "127.0.0.1"

static char *dir;
static char keys[512];
static struct key intake_key, seal_key, status_key, other_key;
static struct tdaemon plain;
static int metrics_port;
static struct taxonomy *tax;

static const char *const variable_default = "listen 127.0.0.1\nport 0\nplain_http yes\npow_bits 1\n"
                                            "rate_reports 1000000\nburst_reports 100000\n"
                                            "rate_status 1000000\nburst_status 100000\n"
                                            "rate_challenge 1000000\nburst_challenge 100000\n"
                                            "status_min_latency 100ms\nstatus_poll 50ms\n"
                                            "max_body 256K\nmax_attachment_bytes 128K\n";

/* Writes <dir>/<name>.conf for an instance with its own spools; returns the path. */
static char *write_conf(const char *name, const char *variable, int metrics)
{
	static char path[600];
	char src[512];
	FILE *f;

	snprintf(src, sizeof(src), "%s/proto/taxonomy", getenv("TIP_SOURCE_DIR"));
	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "# test instance %s\norigin intake-t\nsigning_key %s/intake.key\nseal_key %s/seal.key.pub\n"
	        "status_key %s/status.key.pub\noutbox %s/%s-outbox\nstatus_spool %s/%s-status\ntaxonomy %s\n"
	        "metrics_port %d\n%s",
	        name, keys, keys, keys, dir, name, dir, name, src, metrics, variable);
	fclose(f);
	return path;
}

static void make_key(enum key_type type, const char *name, struct key *k)
{
	char path[600];

	assert_int_equal(key_generate(type, name, k), TIP_OK);
	snprintf(path, sizeof(path), "%s/%s.key", keys, name);
	assert_int_equal(key_write_private(path, k), TIP_OK);
	snprintf(path, sizeof(path), "%s/%s.key.pub", keys, name);
	assert_int_equal(key_write_public(path, k), TIP_OK);
}

static int setup(void **state)
{
	(void)state;
	char path[600], log[600];
	int err;

	dir = tu_mkdtemp();
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	mkdir(keys, 0700);
	make_key(KEY_ED25519, "intake", &intake_key);
	make_key(KEY_X25519, "seal", &seal_key);
	make_key(KEY_ED25519, "status", &status_key);
	make_key(KEY_ED25519, "other", &other_key);
	snprintf(path, sizeof(path), "%s/proto/taxonomy", getenv("TIP_SOURCE_DIR"));
	tax = tax_load(path, &err);
	metrics_port = tfree_port();
	snprintf(log, sizeof(log), "%s/plain.log", dir);
	return tax &&
	       tdaemon_start(&plain, "intaked", write_conf("plain", variable_default, metrics_port), log);
}

static int teardown(void **state)
{
	(void)state;
	int rc = tdaemon_stop(&plain, SIGTERM);
	char cmd[700];

	/* The disk-full test mounts a small file system; a failed run leaves it mounted. */
	snprintf(cmd, sizeof(cmd), "umount %s/small 2>/dev/null", dir);
	if (geteuid() == 0 && system(cmd) != 0) {
		/* Nothing was mounted. */
	}
	tax_free(tax);
	tu_rmtree(dir);
	free(dir);
	return rc == 0 ? 0 : -1;
}

static json_t *body_json(const struct httpc_response *r)
{
	json_error_t e;

	return json_loadb(r->body, r->body_len, 0, &e);
}

/* A fresh challenge from the daemon, as an X-Proof-Of-Work header line solved for its bits. */
static void pow_header(const struct tdaemon *d, char *out, size_t cap)
{
	assert_int_equal(httpc_pow_header(HOST, d->port, 0, out, cap), 0);
}

static const char *const minimal_report =
        "{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},"
        "\"activity\":{\"categories\":[\"illegal_mining_sand_dredging\"],\"region\":\"110101\","
        "\"narrative\":\"夜里有人在河道非法采砂\"}}";

static int post_report(const struct tdaemon *d, const char *content_type, const void *body, size_t len,
                       struct httpc_response *r)
{
	return httpc_intake_post("127.0.0.1", d->port, 0, "/api/v1/reports", content_type, body, len, r);
}

/* Asserts an error response: status, error code and field (NULL: JSON null). */
static void expect_error(const struct httpc_response *r, int status, const char *code, const char *field)
{
	json_t *j = body_json(r);
	json_t *f = json_object_get(j, "field");

	if (r->status != status || !j || strcmp(json_string_value(json_object_get(j, "error")), code) != 0 ||
	    (field ? !json_is_string(f) || strcmp(json_string_value(f), field) != 0 : !json_is_null(f)) ||
	    !json_is_string(json_object_get(j, "message")))
		fail_msg("want %d %s %s, got %d %s", status, code, field ? field : "null", r->status,
		         r->body);
	json_decref(j);
}

/* Finds the record in the outbox whose sealed report carries the code's hash; returns the opened report. */
static Tip__Report *find_in_outbox(const char *outbox, const char *code)
{
	char digits[QC_DIGITS + 1];
	uint8_t hash[QC_HASH_LEN];
	struct spool_reader *rd;
	struct spool_fault fault;
	struct ed25519_pub *pub = ed25519_pub_new(intake_key.pub);
	const uint8_t *buf;
	size_t len;
	Tip__Report *found = NULL;
	int err;

	assert_int_equal(qc_normalize(code, strlen(code), digits), TIP_OK);
	qc_hash(digits, hash);
	rd = spool_reader_open(outbox, "test", NULL, &fault, &err);
	assert_non_null(rd);
	while (!found && spool_reader_next(rd, &buf, &len, NULL, &fault) == 1) {
		struct rec rec;
		Tip__Report *r;

		assert_int_equal(rec_decode(buf, len, 1 << 24, &rec), TIP_OK);
		assert_int_equal(rec_verify(&rec, pub), TIP_OK);
		assert_memory_equal(rec.key_id, intake_key.id, 4);
		assert_int_equal(report_open(rec.payload, rec.payload_len, 1 << 24, seal_key.secret,
		                             seal_key.id, rec.origin, rec.seq, &r),
		                 TIP_OK);
		if (memcmp(r->query_hash.data, hash, QC_HASH_LEN) == 0)
			found = r;
		else
			codec_free(&r->base);
		rec_release(&rec);
	}
	spool_reader_close(rd);
	ed25519_pub_free(pub);
	return found;
}

static void test_form_health_and_routing(void **state)
{
	(void)state;
	struct httpc_response r;
	char allow[64];

	assert_int_equal(httpc_request(HOST, plain.port, 0, "GET", "/api/v1/form", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	json_t *j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "taxonomy"), "version")),
	                    "2026.1");
	assert_true(json_array_size(json_object_get(json_object_get(j, "taxonomy"), "regions")) > 3000);
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(j, "limits"), "attachment_bytes")),
	        128 * 1024);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "proof_of_work"), "bits")), 1);
	json_decref(j);
	assert_non_null(strstr(r.headers, "Content-Security-Policy: default-src 'self'"));
	assert_non_null(strstr(r.headers, "Cache-Control: no-store"));
	assert_null(strstr(r.headers, "Set-Cookie"));
	assert_null(strstr(r.headers, "Strict-Transport-Security")); /* plain HTTP */
	httpc_free(&r);

	assert_int_equal(httpc_request(HOST, plain.port, 0, "GET", "/healthz", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	httpc_free(&r);
	assert_int_equal(httpc_request(HOST, plain.port, 0, "GET", "/nope", NULL, NULL, 0, &r), 0);
	expect_error(&r, 404, "not_found", NULL);
	httpc_free(&r);
	assert_int_equal(httpc_request(HOST, plain.port, 0, "GET", "/api/v1/reports", NULL, NULL, 0, &r), 0);
	expect_error(&r, 405, "method_not_allowed", NULL);
	assert_string_equal(httpc_header(&r, "Allow", allow, sizeof(allow)), "POST");
	httpc_free(&r);
	assert_int_equal(httpc_request(HOST, plain.port, 0, "POST", "/api/v1/form", NULL, "", 0, &r), 0);
	expect_error(&r, 405, "method_not_allowed", NULL);
	httpc_free(&r);
	/* Metrics live on their own loopback port only. */
	assert_int_equal(httpc_request(HOST, plain.port, 0, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 404);
	httpc_free(&r);
	assert_int_equal(httpc_request(HOST, metrics_port, 0, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "# TYPE intake_reports_accepted_total counter"));
	httpc_free(&r);
}

static void test_report_is_sealed_signed_and_durable(void **state)
{
	(void)state;
	struct httpc_response r;
	char digits[QC_DIGITS + 1], path[600];

	assert_int_equal(post_report(&plain, "application/json", minimal_report, strlen(minimal_report), &r),
	                 0);
	assert_int_equal(r.status, 201);
	json_t *j = body_json(&r);
	const char *code = json_string_value(json_object_get(j, "query_code"));
	const char *at = json_string_value(json_object_get(j, "received_at"));

	assert_non_null(code);
	assert_int_equal(strlen(code), 24); /* five groups of four digits */
	for (int i = 0; i < 24; i++)
		assert_true(i % 5 == 4 ? code[i] == ' ' : (code[i] >= '0' && code[i] <= '9'));
	assert_int_equal(qc_normalize(code, strlen(code), digits), TIP_OK);
	assert_non_null(at);
	assert_int_equal(strlen(at), 20);
	/* Acknowledged means durable: the record is readable from the spool right now. */
	snprintf(path, sizeof(path), "%s/plain-outbox", dir);
	Tip__Report *rep = find_in_outbox(path, code);
	assert_non_null(rep);
	assert_string_equal(rep->activity->narrative, "夜里有人在河道非法采砂");
	assert_int_equal(rep->version, 1);
	assert_string_equal(rep->taxonomy_version, "2026.1");
	codec_free(&rep->base);
	json_decref(j);
	httpc_free(&r);
}

struct bad_report {
	const char *body;
	int status;
	const char *code;
	const char *field;
};

static void test_report_errors_name_the_field(void **state)
{
	(void)state;
	char longname[1000];
	char too_many[2000];
	size_t n = 0;

	memset(longname, 0, sizeof(longname));
	n += (size_t)snprintf(
	        longname, sizeof(longname),
	        "{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":false,\"name\":\"");
	for (int i = 0; i < 210; i++)
		longname[n++] = 'a';
	snprintf(longname + n, sizeof(longname) - n,
	         "\",\"phone\":\"13800000000\"},\"activity\":{\"categories\":[\"other\"],\"region\":"
	         "\"110101\","
	         "\"narrative\":\"x\"}}");
	n = (size_t)snprintf(
	        too_many, sizeof(too_many),
	        "{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	        "\"region\":\"110101\",\"narrative\":\"x\",\"categories\":[");
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(too_many + n, sizeof(too_many) - n, "%s\"other\"", i ? "," : "");
	snprintf(too_many + n, sizeof(too_many) - n, "]}}");

	const struct bad_report cases[] = {
	        {"{", 400, "invalid", NULL},
	        {"[]", 400, "invalid", NULL},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "[\"nope\"],\"region\":\"110101\",\"narrative\":\"x\"}}",
	         400, "invalid", "activity.categories[0]"},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "[\"other\"],\"region\":\"999999\",\"narrative\":\"x\"}}",
	         400, "invalid", "activity.region"},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "\"other\",\"region\":\"110101\",\"narrative\":\"x\"}}",
	         400, "invalid", "activity.categories"},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "[\"other\"],\"region\":\"110101\",\"narrative\":\"x\",\"colour\":\"red\"}}",
	         400, "invalid", "activity.colour"},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "[\"other\"],\"region\":\"110101\",\"narrative\":\"a\\u0007b\"}}",
	         400, "invalid", "activity.narrative"},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true}}", 400, "invalid",
	         "activity"},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "[\"other\"],\"region\":\"110101\",\"narrative\":\"\\u0000\"}}",
	         400, "invalid", NULL},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "[\"other\"],\"region\":\"110101\",\"narrative\":\"\xff\xfe\"}}",
	         400, "invalid", NULL},
	        {"{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
	         "\"categories\":"
	         "[\"other\"],\"region\":\"110101\",\"narrative\":\"x\"},\"version\":1}",
	         400, "invalid", "version"},
	        {longname, 400, "invalid", "reporter.name"},
	        {too_many, 400, "invalid", "activity.categories"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct httpc_response r;

		assert_int_equal(
		        post_report(&plain, "application/json", cases[i].body, strlen(cases[i].body), &r), 0);
		if (cases[i].field || r.status != 400) {
			expect_error(&r, cases[i].status, cases[i].code, cases[i].field);
		} else {
			json_t *j = body_json(&r);

			/* A body-level error: field null or a path the parser names; never a success. */
			if (r.status != 400 ||
			    strcmp(json_string_value(json_object_get(j, "error")), "invalid") != 0)
				fail_msg("case %zu: %d %s", i, r.status, r.body);
			json_decref(j);
		}
		httpc_free(&r);
	}
}

static void test_protocol_errors(void **state)
{
	(void)state;
	struct httpc_response r;
	char headers[512], pow[256];
	char *big;

	/* No proof of work, a malformed one, a forged one, a reused one. */
	assert_int_equal(httpc_request(HOST, plain.port, 0, "POST", "/api/v1/reports",
	                               "Content-Type: application/json\r\n", minimal_report,
	                               strlen(minimal_report), &r),
	                 0);
	expect_error(&r, 403, "proof_of_work", "X-Proof-Of-Work");
	httpc_free(&r);
	assert_int_equal(httpc_request(HOST, plain.port, 0, "POST", "/api/v1/reports",
	                               "Content-Type: application/json\r\nX-Proof-Of-Work: nonsense\r\n",
	                               minimal_report, strlen(minimal_report), &r),
	                 0);
	expect_error(&r, 403, "proof_of_work", "X-Proof-Of-Work");
	httpc_free(&r);
	pow_header(&plain, pow, sizeof(pow));
	pow[strlen("X-Proof-Of-Work: ") + 20] ^= 1; /* one character of the MAC-protected challenge */
	snprintf(headers, sizeof(headers), "%sContent-Type: application/json\r\n", pow);
	assert_int_equal(httpc_request(HOST, plain.port, 0, "POST", "/api/v1/reports", headers,
	                               minimal_report, strlen(minimal_report), &r),
	                 0);
	expect_error(&r, 403, "proof_of_work", "X-Proof-Of-Work");
	httpc_free(&r);
	pow_header(&plain, pow, sizeof(pow));
	snprintf(headers, sizeof(headers), "%sContent-Type: application/json\r\n", pow);
	assert_int_equal(httpc_request(HOST, plain.port, 0, "POST", "/api/v1/reports", headers,
	                               minimal_report, strlen(minimal_report), &r),
	                 0);
	assert_int_equal(r.status, 201);
	httpc_free(&r);
	assert_int_equal(httpc_request(HOST, plain.port, 0, "POST", "/api/v1/reports", headers,
	                               minimal_report, strlen(minimal_report), &r),
	                 0);
	expect_error(&r, 403, "proof_of_work", "X-Proof-Of-Work");
	httpc_free(&r);

	/* Unsupported media type; a body over the limit (256 KiB here). */
	assert_int_equal(post_report(&plain, "text/plain", "hello", 5, &r), 0);
	expect_error(&r, 415, "unsupported_media_type", "Content-Type");
	httpc_free(&r);
	big = calloc(1, 300 * 1024);
	memset(big, ' ', 300 * 1024);
	assert_int_equal(post_report(&plain, "application/json", big, 300 * 1024, &r), 0);
	expect_error(&r, 413, "payload_too_large", NULL);
	httpc_free(&r);
	free(big);
}

static void test_multipart_attachments(void **state)
{
	(void)state;
	static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J',
	                               'F',  'I',  'F',  0x00, 0x01, 0x02};
	static const uint8_t exe[] = {'M', 'Z', 0x90, 0x00, 0x03, 0x00, 0x00, 0x00};
	char body[4096], path[600];
	size_t n;
	struct httpc_response r;

	for (int bad = 0; bad < 2; bad++) {
		n = (size_t)snprintf(
		        body, sizeof(body),
		        "--XyZ\r\nContent-Disposition: form-data; name=\"report\"\r\n"
		        "Content-Type: application/json\r\n\r\n%s\r\n"
		        "--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"%s\"\r\n"
		        "Content-Type: image/jpeg\r\n\r\n",
		        minimal_report, bad ? "photo.jpg" : "C:\\Users\\me\\IMG_0001.JPG");
		memcpy(body + n, bad ? exe : jpeg, bad ? sizeof(exe) : sizeof(jpeg));
		n += bad ? sizeof(exe) : sizeof(jpeg);
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n--XyZ--\r\n");
		assert_int_equal(post_report(&plain, "multipart/form-data; boundary=XyZ", body, n, &r), 0);
		if (bad) {
			/* Declared image/jpeg, sniffed as a Windows program: refused. */
			expect_error(&r, 415, "unsupported_media_type", "activity.attachments[0]");
			httpc_free(&r);
			continue;
		}
		assert_int_equal(r.status, 201);
		json_t *j = body_json(&r);
		snprintf(path, sizeof(path), "%s/plain-outbox", dir);
		Tip__Report *rep = find_in_outbox(path, json_string_value(json_object_get(j, "query_code")));
		assert_non_null(rep);
		assert_int_equal(rep->activity->n_attachments, 1);
		assert_string_equal(rep->activity->attachments[0]->content_type, "image/jpeg");
		assert_string_equal(rep->activity->attachments[0]->filename, "IMG_0001.JPG");
		assert_memory_equal(rep->activity->attachments[0]->data.data, jpeg, sizeof(jpeg));
		codec_free(&rep->base);
		json_decref(j);
		httpc_free(&r);
	}
	/* A form without its report part. */
	n = (size_t)snprintf(
	        body, sizeof(body),
	        "--b\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a.jpg\"\r\n\r\n");
	memcpy(body + n, jpeg, sizeof(jpeg));
	n += sizeof(jpeg);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n--b--\r\n");
	assert_int_equal(post_report(&plain, "multipart/form-data; boundary=b", body, n, &r), 0);
	expect_error(&r, 400, "invalid", "report");
	httpc_free(&r);
}

static int status_query(const char *code, struct httpc_response *r, double *seconds)
{
	char headers[512], pow[256], body[128];
	struct timespec a, b;
	int rc;

	pow_header(&plain, pow, sizeof(pow));
	snprintf(headers, sizeof(headers), "%sContent-Type: application/json\r\n", pow);
	snprintf(body, sizeof(body), "{\"query_code\":\"%s\"}", code);
	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = httpc_request(HOST, plain.port, 0, "POST", "/api/v1/status", headers, body, strlen(body), r);
	clock_gettime(CLOCK_MONOTONIC, &b);
	*seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	return rc;
}

static void test_status_from_bulletins(void **state)
{
	(void)state;
	struct httpc_response r;
	char digits[QC_DIGITS + 1], spool_dir[600], unknown[QC_DIGITS + 1], shown[QC_DIGITS + QC_DIGITS / 4];
	struct bulletin b[2];
	struct rec_chain chain, forged;
	double t;

	assert_int_equal(post_report(&plain, "application/json", minimal_report, strlen(minimal_report), &r),
	                 0);
	assert_int_equal(r.status, 201);
	json_t *j = body_json(&r);
	char code[32];
	snprintf(code, sizeof(code), "%s", json_string_value(json_object_get(j, "query_code")));
	json_decref(j);
	httpc_free(&r);

	/* Before any bulletin: unknown, after the minimum latency. */
	assert_int_equal(status_query(code, &r, &t), 0);
	expect_error(&r, 404, "not_found", "query_code");
	assert_true(t >= 0.1);
	httpc_free(&r);

	qc_normalize(code, strlen(code), digits);
	memset(b, 0, sizeof(b));
	for (int i = 0; i < 2; i++)
		qc_hash(digits, b[i].query_hash);
	memcpy(b[0].stage, "accepted", 9);
	memcpy(b[0].result, "pending", 8);
	memcpy(b[0].date, "2026-12-01", 11);
	memcpy(b[1].stage, "verifying", 10);
	memcpy(b[1].result, "pending", 8);
	memcpy(b[1].date, "2026-12-03", 11);
	snprintf(spool_dir, sizeof(spool_dir), "%s/plain-status", dir);
	rec_chain_init(&chain, "internal");
	tu_publish_bulletins(spool_dir, &status_key, tax, b, 2, &chain);
	/* A bulletin signed by a key the intake does not trust: ignored. */
	forged = chain;
	memcpy(b[0].stage, "concluded", 10);
	memcpy(b[0].result, "not_substantiated", 18);
	tu_publish_bulletins(spool_dir, &other_key, tax, b, 1, &forged);
	usleep(300000); /* a few status_poll periods */

	assert_int_equal(status_query(code, &r, &t), 0);
	assert_int_equal(r.status, 200);
	if (t < 0.1)
		fail_msg("found answer after %f s", t);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "stage")), "verifying");
	assert_string_equal(json_string_value(json_object_get(j, "result")), "pending");
	assert_string_equal(json_string_value(json_object_get(j, "updated_at")), "2026-12-03");
	assert_int_equal(json_array_size(json_object_get(j, "history")), 2);
	json_decref(j);
	httpc_free(&r);

	/* A valid code nobody holds, and one with a typing error. */
	do {
		qc_generate(unknown);
	} while (strcmp(unknown, digits) == 0);
	qc_format(unknown, shown);
	assert_int_equal(status_query(shown, &r, &t), 0);
	expect_error(&r, 404, "not_found", "query_code");
	httpc_free(&r);
	digits[5] = digits[5] == '9' ? '0' : (char)(digits[5] + 1);
	assert_int_equal(status_query(digits, &r, &t), 0);
	expect_error(&r, 400, "invalid", "query_code");
	httpc_free(&r);

	assert_int_equal(httpc_request(HOST, metrics_port, 0, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	assert_non_null(strstr(r.body, "intake_bulletins_applied_total 2\n"));
	assert_non_null(strstr(r.body, "intake_bulletins_ignored_total{reason=\"signature\"} 1\n"));
	httpc_free(&r);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct tdaemon d;
	struct httpc_response r;
	char log[600], retry[16];
	const char *variable = "listen 127.0.0.1\nport 0\nplain_http yes\npow_bits 0\nrate_challenge 60\n"
	                       "burst_challenge 2\n";

	snprintf(log, sizeof(log), "%s/rate.log", dir);
	assert_int_equal(tdaemon_start(&d, "intaked", write_conf("rate", variable, 0), log), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		        httpc_request(HOST, d.port, 0, "GET", "/api/v1/challenge", NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		httpc_free(&r);
	}
	assert_int_equal(httpc_request(HOST, d.port, 0, "GET", "/api/v1/challenge", NULL, NULL, 0, &r), 0);
	expect_error(&r, 429, "rate_limited", NULL);
	assert_non_null(httpc_header(&r, "Retry-After", retry, sizeof(retry)));
	assert_true(atoi(retry) >= 1 && atoi(retry) <= 60);
	httpc_free(&r);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

static void test_tls(void **state)
{
	(void)state;
	struct tdaemon d;
	struct httpc_response r;
	char cmd[2048], log[600], variable[1024];

	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
	         "/CN=localhost "
	         "-keyout %s/tls.key -out %s/tls.crt 2>/dev/null",
	         dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(variable, sizeof(variable),
	         "listen 127.0.0.1\nport 0\ntls_cert %s/tls.crt\ntls_key %s/tls.key\npow_bits 0\n", dir, dir);
	snprintf(log, sizeof(log), "%s/tls.log", dir);
	assert_int_equal(tdaemon_start(&d, "intaked", write_conf("tls", variable, 0), log), 0);
	assert_int_equal(httpc_request(HOST, d.port, 1, "GET", "/api/v1/challenge", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "Strict-Transport-Security: max-age="));
	httpc_free(&r);
	/* Plain HTTP to the TLS port gets no HTTP answer. */
	assert_int_not_equal(httpc_request(HOST, d.port, 0, "GET", "/healthz", NULL, NULL, 0, &r), 0);
	/* TLS 1.1 is refused. */
	snprintf(cmd, sizeof(cmd),
	         "openssl s_client -connect 127.0.0.1:%d -tls1_1 </dev/null >/dev/null 2>&1", d.port);
	assert_int_not_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
	         "openssl s_client -connect 127.0.0.1:%d -tls1_2 </dev/null >/dev/null 2>&1", d.port);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

/* A full disk: the report is refused with 503, nothing is acknowledged, and the daemon stops with 74. */
static void test_disk_full_is_503(void **state)
{
	(void)state;
	char mnt[600], cmd[1024], log[600], filler[700];
	struct tdaemon d;
	struct httpc_response r;
	int status;

	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	mkdir(mnt, 0700);
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=256k tmpfs %s 2>/dev/null", mnt);
	if (geteuid() != 0 || system(cmd) != 0) {
		skip(); /* needs root to mount a small file system */
		return;
	}
	/* The outbox lives on the small file system: a config of its own. */
	char path[700], src[512];
	snprintf(src, sizeof(src), "%s/proto/taxonomy", getenv("TIP_SOURCE_DIR"));
	snprintf(path, sizeof(path), "%s/full.conf", dir);
	FILE *f = fopen(path, "w");
	fprintf(f,
	        "origin intake-t\nsigning_key %s/intake.key\nseal_key %s/seal.key.pub\nstatus_key "
	        "%s/status.key.pub\n"
	        "outbox %s/outbox\nstatus_spool %s/full-status\ntaxonomy %s\nmetrics_port 0\nlisten "
	        "127.0.0.1\n"
	        "port 0\nplain_http yes\npow_bits 0\nrate_reports 1000000\nburst_reports 100000\n",
	        keys, keys, keys, mnt, dir, src);
	fclose(f);
	snprintf(log, sizeof(log), "%s/full.log", dir);
	assert_int_equal(tdaemon_start(&d, "intaked", path, log), 0);
	assert_int_equal(post_report(&d, "application/json", minimal_report, strlen(minimal_report), &r), 0);
	assert_int_equal(r.status, 201);
	httpc_free(&r);
	/* Fill the file system to the last byte. */
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	snprintf(cmd, sizeof(cmd), "dd if=/dev/zero of=%s bs=4k 2>/dev/null; true", filler);
	assert_int_equal(system(cmd), 0);
	/* Reports fill the last free bytes of the segment's page, then one cannot be stored. */
	uint64_t acked = 1;
	for (;;) {
		assert_int_equal(
		        post_report(&d, "application/json", minimal_report, strlen(minimal_report), &r), 0);
		if (r.status != 201)
			break;
		acked++;
		httpc_free(&r);
		assert_true(acked < 100);
	}
	expect_error(&r, 503, "unavailable", NULL);
	httpc_free(&r);
	/* It stops by itself with the I/O exit code. */
	for (int i = 0; i < 500 && waitpid(d.pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 74);
	d.pid = 0;
	/* With room again, the outbox reopens and the acknowledged report is still there. */
	unlink(filler);
	assert_int_equal(tdaemon_start(&d, "intaked", path, log), 0);
	assert_int_equal(post_report(&d, "application/json", minimal_report, strlen(minimal_report), &r), 0);
	assert_int_equal(r.status, 201);
	httpc_free(&r);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	char outbox[700];
	snprintf(outbox, sizeof(outbox), "%s/outbox", mnt);
	struct spool_fault fault;
	int err;
	struct spool_reader *rd = spool_reader_open(outbox, "test", NULL, &fault, &err);
	const uint8_t *buf;
	size_t len;
	uint64_t index, n = 0;
	assert_non_null(rd);
	while (spool_reader_next(rd, &buf, &len, &index, &fault) == 1) {
		struct rec rec;

		assert_int_equal(rec_decode(buf, len, 1 << 24, &rec), TIP_OK);
		assert_int_equal(rec.seq, n++);
		rec_release(&rec);
	}
	assert_int_equal(n,
	                 acked + 1); /* every acknowledged one and the last; the refused one left nothing */
	spool_reader_close(rd);
	snprintf(cmd, sizeof(cmd), "umount %s", mnt);
	assert_int_equal(system(cmd), 0);
}

/* Started as root, it runs as the configured user once its ports, keys and spools are open. */
static void test_drops_privileges(void **state)
{
	(void)state;
	char path[700], outbox[700], status_dir[700], src[512], log[700], line[256];
	struct tdaemon d;
	struct httpc_response r;
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || !pw) {
		skip();
		return;
	}
	chmod(dir, 0711); /* nobody must reach its spools by path */
	snprintf(outbox, sizeof(outbox), "%s/drop-outbox", dir);
	snprintf(status_dir, sizeof(status_dir), "%s/drop-status", dir);
	mkdir(outbox, 0700);
	mkdir(status_dir, 0700);
	assert_int_equal(chown(outbox, pw->pw_uid, pw->pw_gid), 0);
	assert_int_equal(chown(status_dir, pw->pw_uid, pw->pw_gid), 0);
	snprintf(src, sizeof(src), "%s/proto/taxonomy", getenv("TIP_SOURCE_DIR"));
	snprintf(path, sizeof(path), "%s/drop.conf", dir);
	FILE *f = fopen(path, "w");
	fprintf(f,
	        "origin intake-t\nsigning_key %s/intake.key\nseal_key %s/seal.key.pub\nstatus_key "
	        "%s/status.key.pub\n"
	        "outbox %s\nstatus_spool %s\ntaxonomy %s\nmetrics_port 0\nlisten 127.0.0.1\nport 0\n"
	        "plain_http yes\npow_bits 0\nuser nobody\n",
	        keys, keys, keys, outbox, status_dir, src);
	fclose(f);
	snprintf(log, sizeof(log), "%s/drop.log", dir);
	assert_int_equal(tdaemon_start(&d, "intaked", path, log), 0);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)d.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	int uid_line = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned a, b, c, e;

		if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &c, &e) == 4) {
			uid_line = 1;
			assert_true(a == pw->pw_uid && b == pw->pw_uid && c == pw->pw_uid && e == pw->pw_uid);
		}
	}
	fclose(f);
	assert_true(uid_line);
	/* And the outbox still takes reports: its files were opened, its directory belongs to the user. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		        post_report(&d, "application/json", minimal_report, strlen(minimal_report), &r), 0);
		assert_int_equal(r.status, 201);
		httpc_free(&r);
	}
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

/* The pids of a process's children, oldest first (intaked: the signer, then the current worker). */
static size_t children(pid_t pid, pid_t *out, size_t cap)
{
	char path[64];
	size_t n = 0;
	long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (n < cap && fscanf(f, "%ld", &v) == 1)
		out[n++] = (pid_t)v;
	fclose(f);
	return n;
}

/* 1 if the readable memory of pid holds needle (mappings above 256 MiB, sanitizer reserves, skipped). */
static int memory_holds(pid_t pid, const uint8_t *needle, size_t len)
{
	char path[64], line[512];
	int found = 0, fd;
	FILE *maps;
	uint8_t *buf = malloc(1 << 20);

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(maps && fd >= 0 && buf);
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    hi - lo > (256ul << 20) || strstr(line, "[vvar") || strstr(line, "[vsyscall]"))
			continue;
		/* Chunks overlap by len - 1 bytes so a needle across a boundary is still seen. */
		for (unsigned long at = lo; !found && at < hi; at += (1 << 20) - len + 1) {
			size_t want = hi - at < (1ul << 20) ? hi - at : 1ul << 20;
			ssize_t got = pread(fd, buf, want, (off_t)at);

			if (got < (ssize_t)len)
				break;
			found = memmem(buf, (size_t)got, needle, len) != NULL;
		}
	}
	fclose(maps);
	close(fd);
	free(buf);
	return found;
}

/*
 * Privilege separation and the sandbox: the signing key is in the signer's memory only; a forbidden
 * system call (the self-test's execve on SIGUSR2) kills the worker with SIGSYS; the monitor starts
 * another, counted in a metric; the next report is taken (201), signed by the same signer.
 */
static void test_sandbox_kill_and_restart(void **state)
{
	(void)state;
	char log[600], url[64];
	struct tdaemon d;
	struct httpc_response r;
	pid_t before[4], after[4];
	int mport = tfree_port();
	const char *conf =
	        write_conf("sandbox", "listen 127.0.0.1\nport 0\nplain_http yes\npow_bits 0\n", mport);

	snprintf(log, sizeof(log), "%s/sandbox.log", dir);
	setenv("TIP_SANDBOX_SELFTEST", "1", 1);
	assert_int_equal(tdaemon_start(&d, "intaked", conf, log), 0);
	unsetenv("TIP_SANDBOX_SELFTEST");
	assert_int_equal(children(d.pid, before, 4), 2);
	/* Reading another process's memory takes root (the signer is not dumpable). */
	if (geteuid() == 0) {
		assert_true(
		        memory_holds(before[0], intake_key.secret, ED25519_SEED_LEN)); /* the scan works */
		assert_false(memory_holds(before[1], intake_key.secret, ED25519_SEED_LEN));
		assert_false(memory_holds(d.pid, intake_key.secret, ED25519_SEED_LEN));
	}
	assert_int_equal(post_report(&d, "application/json", minimal_report, strlen(minimal_report), &r), 0);
	assert_int_equal(r.status, 201);
	httpc_free(&r);

	assert_int_equal(kill(before[1], SIGUSR2), 0);
	/* The monitor notices, pauses and starts another worker: poll for it (20 s at most). */
	size_t n = 0;
	for (int i = 0; i < 2000 && !(n == 2 && after[1] != before[1]); i++) {
		usleep(10000);
		n = children(d.pid, after, 4);
	}
	assert_int_equal(n, 2);
	assert_int_equal(after[0], before[0]); /* the same signer, with the key */
	assert_int_not_equal(after[1], before[1]);
	char *text = tu_read_file(log, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "worker killed by signal 31 (a system call outside its sandbox)"));
	free(text);

	/* Connections wait in the monitor's listen queue until the new worker takes them. */
	assert_int_equal(post_report(&d, "application/json", minimal_report, strlen(minimal_report), &r), 0);
	assert_int_equal(r.status, 201);
	json_t *j = body_json(&r);
	snprintf(url, sizeof(url), "%s/sandbox-outbox", dir);
	Tip__Report *rep = find_in_outbox(url, json_string_value(json_object_get(j, "query_code")));
	assert_non_null(rep); /* its record verifies with the intake's key */
	codec_free(&rep->base);
	json_decref(j);
	httpc_free(&r);
	assert_int_equal(httpc_request(HOST, mport, 0, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	assert_non_null(strstr(r.body, "\nintake_worker_restarts_total 1\n"));
	httpc_free(&r);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

static void test_config_check(void **state)
{
	(void)state;
	char bad[600];
	const char *good = write_conf("check", variable_default, 0);
	const char *check_good[] = {"-c", good, "-n", NULL};

	assert_int_equal(trun("intaked", check_good), 0);
	static const char *const variants[] = {
	        "listen 0.0.0.0\nport 0\nplain_http yes\n",            /* plain HTTP off loopback */
	        "listen 127.0.0.1\nport 0\n",                          /* neither TLS nor plain */
	        "listen 127.0.0.1\nport 0\nplain_http yes\nbogus 1\n", /* unknown setting */
	        "listen 127.0.0.1\nport 70000\nplain_http yes\n",      /* out of range */
	        "listen 127.0.0.1\nport 0\nplain_http yes\naead des\n",
	        "listen 127.0.0.1\nport 0\ntls_cert /nonexistent\ntls_key /nonexistent\n",
	};
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(bad, sizeof(bad), "%s", write_conf("bad", variants[i], 0));
		const char *args[] = {"-c", bad, "-n", NULL};

		if (trun("intaked", args) != 78)
			fail_msg("variant %zu was not refused with 78", i);
	}
	/* A private key readable by others is refused. */
	char key_path[600];
	snprintf(key_path, sizeof(key_path), "%s/intake.key", keys);
	chmod(key_path, 0644);
	assert_int_equal(trun("intaked", check_good), 78);
	chmod(key_path, 0600);
	/* The settings table in docs/operations.md is the one the program prints. */
	char cmd[700], table[16384], *docs;
	snprintf(cmd, sizeof(cmd), "%s/intaked -s", getenv("TIP_BINARY_DIR"));
	FILE *p = popen(cmd, "r");
	size_t n = fread(table, 1, sizeof(table) - 1, p);
	table[n] = 0;
	assert_int_equal(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "%s/docs/operations.md", getenv("TIP_SOURCE_DIR"));
	assert_non_null(docs = tu_read_file(cmd, NULL));
	if (n < 500 || !strstr(docs, table))
		fail_msg("docs/operations.md does not hold the table `intaked -s` prints");
	free(docs);
	const char *usage[] = {"-x", NULL};
	assert_int_equal(trun("intaked", usage), 64);
	const char *missing[] = {"-c", "/nonexistent.conf", NULL};
	assert_int_equal(trun("intaked", missing), 78);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_form_health_and_routing),
	        cmocka_unit_test(test_report_is_sealed_signed_and_durable),
	        cmocka_unit_test(test_report_errors_name_the_field),
	        cmocka_unit_test(test_protocol_errors),
	        cmocka_unit_test(test_multipart_attachments),
	        cmocka_unit_test(test_status_from_bulletins),
	        cmocka_unit_test(test_rate_limit),
	        cmocka_unit_test(test_tls),
	        cmocka_unit_test(test_disk_full_is_503),
	        cmocka_unit_test(test_drops_privileges),
	        cmocka_unit_test(test_sandbox_kill_and_restart),
	        cmocka_unit_test(test_config_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
