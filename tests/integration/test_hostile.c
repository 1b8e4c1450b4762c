/*
 * Hostile content through every text field of the public report API and through attachment file names:
 * SQL injection, script and markup, template syntax, a NUL, right-to-left overrides, overlong and stray
 * UTF-8, path traversal. intaked either accepts (201) or refuses with a 4xx naming the field, never a 5xx;
 * what it accepts reaches casemgrd's database byte for byte (file names: their last path component, as
 * docs/formats/report-json.md says), and the database's tables are all still there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "httpc.h"
#include "pg.h"
#include "testutil.h"

#include "common/encoding.h"
#include "common/err.h"
#include "intake/querycode.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Payloads; "raw" ones are bytes that are not valid UTF-8, sent as they are inside the JSON string. */
static const struct {
	const char *text;
	size_t len;
	int raw;
} payloads[] = {
#define P(s)                                                                                                 \
	{                                                                                                    \
		s, sizeof(s) - 1, 0                                                                          \
	}
        P("'; DROP TABLE cases;--"),    P("x' OR '1'='1"),
        P("<script>alert(1)</script>"), P("\"><img src=x onerror=alert(1)>"),
        P("{{7*7}} ${7*7} <%= 7*7 %>"), P("\xe2\x80\xae\xe5\x8f\x8d\xe5\x90\x91 RTL override"),
        P("../../etc/passwd"),          P("a\0b"),
        {"\xc0\xaf overlong", 10, 1},   {"\xed\xa0\x80 surrogate", 12, 1},
        {"\xff stray", 7, 1},
#undef P
};
#define N_PAYLOADS (sizeof(payloads) / sizeof(payloads[0]))

/* Every text field of the report JSON, and where casemgrd keeps it (NULL: a code, refused when unknown). */
static const struct {
	const char *path, *column;
} fields[] = {
        {"reporter.name", "reporter_name"},
        {"reporter.id_number", "reporter_id_number"},
        {"reporter.phone", "reporter_phone"},
        {"reporter.address", "reporter_address"},
        {"reporter.channel", "reporter_channel"},
        {"persons[0].name", "(SELECT name FROM report_persons WHERE report_id = r.id)"},
        {"persons[0].aliases[0]", "(SELECT aliases[1] FROM report_persons WHERE report_id = r.id)"},
        {"persons[0].description", "(SELECT description FROM report_persons WHERE report_id = r.id)"},
        {"persons[0].phones[0]", "(SELECT phones[1] FROM report_persons WHERE report_id = r.id)"},
        {"persons[0].region", "(SELECT region FROM report_persons WHERE report_id = r.id)"},
        {"activity.categories[0]", "categories[1]"},
        {"activity.sector", "sector"},
        {"activity.region", "region"},
        {"activity.place", "place"},
        {"activity.time", "time_text"},
        {"activity.narrative", "narrative"},
        {"umbrella.officials[0].name", "(SELECT name FROM report_officials WHERE report_id = r.id)"},
        {"umbrella.officials[0].position", "(SELECT position FROM report_officials WHERE report_id = r.id)"},
        {"umbrella.officials[0].unit", "(SELECT unit FROM report_officials WHERE report_id = r.id)"},
        {"umbrella.officials[0].region", "(SELECT region FROM report_officials WHERE report_id = r.id)"},
        {"umbrella.officials[0].description",
         "(SELECT description FROM report_officials WHERE report_id = r.id)"},
        {"taxonomy_version", "taxonomy_version"},
        {"locale", "locale"},
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const base_report =
        "{\"taxonomy_version\":\"2026.1\",\"locale\":\"zh-CN\",\"reporter\":{\"anonymous\":false,\"name\":"
        "\"张三\","
        "\"id_number\":\"11010519491231002X\",\"phone\":\"13800000000\",\"address\":\"北京\","
        "\"contact_allowed\":true,\"channel\":\"phone\"},\"persons\":[{\"name\":\"李四\",\"aliases\":["
        "\"四哥\"],"
        "\"description\":\"砂石场\",\"phones\":[\"13900000000\"],\"region\":\"110101\"}],\"activity\":{"
        "\"categories\":[\"illegal_mining_sand_dredging\"],\"sector\":\"natural_resources\",\"region\":"
        "\"110101\",\"place\":\"河边\",\"time\":\"每晚\",\"narrative\":\"夜间非法采砂\"},\"umbrella\":{"
        "\"officials\":[{\"name\":\"王五\",\"position\":\"所长\",\"unit\":\"派出所\",\"region\":\"110101\","
        "\"description\":\"收钱不查\"}]}}";

#define MARK "@@PAYLOAD@@"

static struct tcm f;
static struct tdaemon intake, casemgr;

static int setup(void **state)
{
	(void)state;
	char path[600], log[600];

	tcm_setup(&f, 1);
	/* intaked writes straight into casemgrd's inbox: the diode is tested elsewhere. */
	snprintf(path, sizeof(path), "%s/seal.pub", f.dir);
	if (key_write_public(path, &f.seal_key) != TIP_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/intaked.conf", f.dir);
	tu_write_text(
	        path,
	        "origin %s\nsigning_key %s/keys/origin.key\nseal_key %s/seal.pub\nstatus_key "
	        "%s/keys/audit.key.pub\noutbox %s/%s\nstatus_spool %s/status\ntaxonomy %s/proto/taxonomy\n"
	        "listen 127.0.0.1\nport 0\nplain_http yes\nmetrics_port 0\npow_bits 1\n"
	        "rate_reports 1000000000\nburst_reports 1000000\nrate_challenge 1000000000\n"
	        "burst_challenge 1000000\n",
	        TCM_ORIGIN, f.dir, f.dir, f.dir, f.inbox, TCM_ORIGIN, f.dir, getenv("TIP_SOURCE_DIR"));
	snprintf(log, sizeof(log), "%s/intaked.log", f.dir);
	if (tdaemon_start(&intake, "intaked", path, log) != 0)
		return -1;
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	return tdaemon_start(&casemgr, "casemgrd", f.conf, log);
}

static int teardown(void **state)
{
	(void)state;
	int rc = tdaemon_stop(&intake, SIGTERM) | tdaemon_stop(&casemgr, SIGTERM);

	tcm_teardown(&f);
	return rc;
}

/* Sets the string at path ("a.b[0].c") of o to MARK. */
static void set_mark(json_t *o, const char *path)
{
	char key[64];
	const char *p = path;

	for (;;) {
		size_t n = strcspn(p, ".[");

		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		p += n;
		if (!*p) {
			assert_int_equal(json_object_set_new(o, key, json_string(MARK)), 0);
			return;
		}
		assert_non_null(o = json_object_get(o, key));
		if (*p == '[') {
			size_t i = strtoul(p + 1, (char **)&p, 10);

			p++; /* ']' */
			if (!*p) {
				assert_int_equal(json_array_set_new(o, i, json_string(MARK)), 0);
				return;
			}
			assert_non_null(o = json_array_get(o, i));
		}
		p++; /* '.' */
	}
}

/*
 * The JSON string of a payload: printable bytes as they are (raw ones too: that is the point), '"' and
 * '\\' escaped, other control bytes as \u00XX.
 */
static size_t json_quote(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

/* The report with the field at path set to payload k: the body in out; its length. */
static size_t hostile_body(const char *path, size_t k, char *out, size_t cap)
{
	json_error_t e;
	json_t *j = json_loads(base_report, 0, &e);
	char quoted[256];

	assert_non_null(j);
	set_mark(j, path);
	char *text = json_dumps(j, JSON_COMPACT);
	char *mark = strstr(text, MARK);
	size_t qn = json_quote(payloads[k].text, payloads[k].len, quoted, sizeof(quoted));
	size_t head = (size_t)(mark - text), tail = strlen(mark + strlen(MARK));

	assert_true(head + qn + tail < cap);
	memcpy(out, text, head);
	memcpy(out + head, quoted, qn);
	memcpy(out + head + qn, mark + strlen(MARK), tail);
	free(text);
	json_decref(j);
	return head + qn + tail;
}

/* The query hash (hex, "\\x...") of the code in a 201 answer. */
static void answer_hash(const struct httpc_response *r, char *hex, size_t cap)
{
	uint8_t hash[QC_HASH_LEN];

	assert_int_equal(httpc_accepted_hash(r, hash), 0);
	memcpy(hex, "\\x", 2);
	hex_encode(hash, sizeof(hash), hex + 2, cap - 2);
}

/* A 4xx whose JSON names want_field (or, for a body refused as a whole, null): fails the test otherwise. */
static void expect_refusal(const struct httpc_response *r, const char *what, const char *want_field)
{
	json_error_t e;
	json_t *j = json_loadb(r->body, r->body_len, 0, &e);
	json_t *field = json_object_get(j, "field");

	if (r->status < 400 || r->status >= 500 || !json_is_string(json_object_get(j, "error")) ||
	    (!json_is_null(field) &&
	     (!json_is_string(field) || strcmp(json_string_value(field), want_field))))
		fail_msg("%s: want 201 or a 4xx naming %s, got %d %s", what, want_field, r->status, r->body);
	json_decref(j);
}

/* Waits until casemgrd has stored n reports. */
static void wait_reports(PGconn *c, long long n)
{
	long long have = 0;

	for (int i = 0; i < 3000 && (have = tpg_value(c, "SELECT count(*) FROM reports")) < n; i++)
		usleep(10000);
	assert_int_equal(have, n);
}

/* The text of column (an SQL expression over reports r) of the report with the query hash; heap. */
static char *stored(PGconn *c, const char *column, const char *hash_hex, int *len)
{
	char sql[400];
	const char *params[] = {hash_hex};

	snprintf(sql, sizeof(sql), "SELECT %s FROM reports r WHERE query_hash = $1", column);
	PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	*len = PQgetlength(r, 0, 0);
	char *v = malloc((size_t)*len + 1);
	assert_non_null(v);
	memcpy(v, PQgetvalue(r, 0, 0), (size_t)*len + 1);
	PQclear(r);
	return v;
}

static void test_report_fields(void **state)
{
	(void)state;
	static char body[8192];
	char hashes[N_FIELDS * N_PAYLOADS][2 + 2 * QC_HASH_LEN + 1];
	size_t accepted = 0, refused = 0;
	PGconn *owner = tpg_connect(&f.pg, "tip_owner");

	for (size_t fi = 0; fi < N_FIELDS; fi++) {
		for (size_t k = 0; k < N_PAYLOADS; k++) {
			struct httpc_response r;
			char what[200];
			size_t n = hostile_body(fields[fi].path, k, body, sizeof(body));

			snprintf(what, sizeof(what), "%s = payload %zu", fields[fi].path, k);
			assert_int_equal(httpc_intake_post("127.0.0.1", intake.port, 0, "/api/v1/reports",
			                                   "application/json", body, n, &r),
			                 0);
			hashes[fi * N_PAYLOADS + k][0] = 0;
			if (r.status == 201) {
				answer_hash(&r, hashes[fi * N_PAYLOADS + k], sizeof(hashes[0]));
				accepted++;
			} else {
				expect_refusal(&r, what, fields[fi].path);
				refused++;
			}
			httpc_free(&r);
		}
	}
	print_message("%zu hostile reports accepted, %zu refused with the field named\n", accepted, refused);
	wait_reports(owner, (long long)accepted);
	/* What was accepted is stored byte for byte, in its own column. */
	for (size_t fi = 0; fi < N_FIELDS; fi++) {
		for (size_t k = 0; k < N_PAYLOADS; k++) {
			const char *hash = hashes[fi * N_PAYLOADS + k];
			int len;

			if (!hash[0])
				continue;
			/* Bytes that are not UTF-8, or a NUL, can never have been accepted as they are. */
			if (payloads[k].raw || memchr(payloads[k].text, 0, payloads[k].len))
				fail_msg("%s: payload %zu accepted", fields[fi].path, k);
			char *v = stored(owner, fields[fi].column, hash, &len);
			if ((size_t)len != payloads[k].len ||
			    memcmp(v, payloads[k].text, payloads[k].len) != 0)
				fail_msg("%s: stored \"%s\", not payload %zu", fields[fi].path, v, k);
			free(v);
		}
	}
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM quarantine"), 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), (long long)accepted);
	assert_true(accepted > 0);
	PQfinish(owner);
}

/* Attachment file names: kept as their last path component, never a path; the file itself unchanged. */
static void test_attachment_names(void **state)
{
	(void)state;
	static const uint8_t png[] = {0x89, 'P', 'N', 'G',  '\r', '\n', 0x1a, '\n',
	                              0,    0,   0,   0x0d, 'I',  'H',  'D',  'R'};
	static const struct {
		const char *sent, *kept;
	} names[] = {
	        {"../../etc/passwd", "passwd"},
	        {"..\\\\..\\\\windows\\\\win.ini", "win.ini"},
	        {"<script>alert(1)</script>.png", "script>.png"}, /* '/' ends a path component */
	        {"<img src=x onerror=alert(1)>.png", "<img src=x onerror=alert(1)>.png"},
	        {"'; DROP TABLE cases;--.png", "'; DROP TABLE cases;--.png"},
	        {"x\xe2\x80\xaegnp.exe",
	         "xgnp.exe"}, /* the RTL override goes: no name that lies about its type */
	        {"{{7*7}}.png", "{{7*7}}.png"},
	};
	PGconn *owner = tpg_connect(&f.pg, "tip_owner");
	long long before = tpg_value(owner, "SELECT count(*) FROM reports");
	char hashes[sizeof(names) / sizeof(names[0])][2 + 2 * QC_HASH_LEN + 1];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		static char body[4096];
		struct httpc_response r;
		size_t n = (size_t)snprintf(
		        body, sizeof(body),
		        "--b0undary\r\nContent-Disposition: form-data; name=\"report\"\r\n\r\n%s\r\n"
		        "--b0undary\r\nContent-Disposition: form-data; name=\"attachment\"; "
		        "filename=\"%s\"\r\nContent-Type: image/png\r\n\r\n",
		        base_report, names[i].sent);

		memcpy(body + n, png, sizeof(png));
		n += sizeof(png);
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n--b0undary--\r\n");
		assert_int_equal(httpc_intake_post("127.0.0.1", intake.port, 0, "/api/v1/reports",
		                                   "multipart/form-data; boundary=b0undary", body, n, &r),
		                 0);
		if (r.status != 201)
			fail_msg("file name %s: %d %s", names[i].sent, r.status, r.body);
		answer_hash(&r, hashes[i], sizeof(hashes[i]));
		httpc_free(&r);
	}
	wait_reports(owner, before + (long long)(sizeof(names) / sizeof(names[0])));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int len;
		char *v = stored(owner, "(SELECT filename FROM report_attachments WHERE report_id = r.id)",
		                 hashes[i], &len);

		if (strcmp(v, names[i].kept) != 0)
			fail_msg("file name %s kept as \"%s\", not \"%s\"", names[i].sent, v, names[i].kept);
		free(v);
		v = stored(owner,
		           "(SELECT encode(data, 'hex') FROM report_attachments WHERE report_id = r.id)",
		           hashes[i], &len);
		assert_string_equal(v, "89504e470d0a1a0a0000000d49484452");
		free(v);
	}
	PQfinish(owner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_report_fields),
	        cmocka_unit_test(test_attachment_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
