#include "testutil.h"

#include "common/encoding.h"
#include "common/file.h"
#include "proto/taxonomy.h"
#include "common/err.h"
#include "diode/spool.h"
#include "diode/status_out.h"
#include "proto/bulletin.h"
#include "proto/keyfile.h"
#include "proto/record.h"

#include <openssl/sha.h>

#include <ftw.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_read_file(const char *path, size_t *len)
{
	char *buf;
	size_t n;

	if (file_read(path, (size_t)1 << 30, &buf, &n) != 0)
		return NULL;
	if (len)
		*len = n;
	return buf;
}

char *tu_vector_path(const char *relative)
{
	const char *dir = getenv("TIP_VECTORS_DIR");
	size_t n;
	char *p;

	if (!dir)
		dir = "../shared/vectors";
	n = strlen(dir) + strlen(relative) + 2;
	p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dir, relative);
	return p;
}

uint8_t *tu_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	uint8_t *out = malloc(n / 2 + 1);

	if (!out || hex_decode(hex, n, out, n / 2 + 1, len) != 0) {
		fprintf(stderr, "bad hex in test data: %s\n", hex);
		abort();
	}
	return out;
}

struct taxonomy *tu_taxonomy(void)
{
	const char *src = getenv("TIP_SOURCE_DIR");
	char dir[4096];
	struct taxonomy *t;
	int err;

	snprintf(dir, sizeof(dir), "%s/proto/taxonomy", src ? src : TIP_DATA_DIR);
	if (!(t = tax_load(dir, &err))) {
		fprintf(stderr, "cannot load the taxonomy from %s\n", dir);
		abort();
	}
	return t;
}

char *tu_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	size_t n;
	char *p;

	if (!tmp)
		tmp = "/tmp";
	n = strlen(tmp) + 32;
	p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/tip-test-XXXXXX", tmp);
	if (!mkdtemp(p))
		abort();
	return p;
}

char *tu_mkdtemp_mem(void)
{
	const char *tmp = getenv("TMPDIR");
	char *saved = tmp ? strdup(tmp) : NULL, *p;

	if (access("/dev/shm", W_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	p = tu_mkdtemp();
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	return p;
}

void tu_write_bytes(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4200];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		abort();
	if ((len && write(fd, data, len) != (ssize_t)len) || close(fd) != 0)
		abort();
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_report_init(struct tu_report *s)
{
	static uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};

	memset(s, 0, sizeof(*s));
	tip__report__init(&s->r);
	tip__reporter__init(&s->reporter);
	tip__reported_person__init(&s->person);
	tip__activity__init(&s->activity);
	tip__attachment__init(&s->attachment);
	tip__umbrella__init(&s->umbrella);
	tip__official__init(&s->official);

	s->r.version = 1;
	s->r.taxonomy_version = "2026.1";
	memset(s->query_hash, 0x42, sizeof(s->query_hash));
	s->r.query_hash.data = s->query_hash;
	s->r.query_hash.len = sizeof(s->query_hash);
	s->r.locale = "zh-CN";

	s->reporter.anonymous = 0;
	s->reporter.name = "张三";
	s->reporter.id_number = "11010519491231002X";
	s->reporter.phone = "+86 138-0000-0000";
	s->reporter.address = "北京市东城区";
	s->reporter.contact_allowed = 1;
	s->reporter.channel = "phone";
	s->r.reporter = &s->reporter;

	s->person.name = "李四";
	s->aliases[0] = "四哥";
	s->person.aliases = s->aliases;
	s->person.n_aliases = 1;
	s->person.description = "经营砂石场";
	s->phones[0] = "13900000000";
	s->person.phones = s->phones;
	s->person.n_phones = 1;
	s->person.region = "110101";
	s->persons[0] = &s->person;
	s->r.persons = s->persons;
	s->r.n_persons = 1;

	s->categories[0] = "illegal_mining_sand_dredging";
	s->categories[1] = "protective_umbrella";
	s->activity.categories = s->categories;
	s->activity.n_categories = 2;
	s->activity.sector = "natural_resources";
	s->activity.region = "110101";
	s->activity.place = "河边采砂场";
	s->activity.time = "2024年以来每晚";
	s->activity.narrative = "夜间非法采砂，有人放风。\nIllegal dredging at night.";
	s->attachment.filename = "photo.jpg";
	s->attachment.content_type = "image/jpeg";
	s->attachment.data.data = jpeg;
	s->attachment.data.len = sizeof(jpeg);
	SHA256(jpeg, sizeof(jpeg), s->attachment_hash);
	s->attachment.sha256.data = s->attachment_hash;
	s->attachment.sha256.len = sizeof(s->attachment_hash);
	s->attachments[0] = &s->attachment;
	s->activity.attachments = s->attachments;
	s->activity.n_attachments = 1;
	s->r.activity = &s->activity;

	s->official.name = "王五";
	s->official.position = "所长";
	s->official.unit = "某派出所";
	s->official.region = "110101";
	s->official.description = "收钱后不查";
	s->officials[0] = &s->official;
	s->umbrella.officials = s->officials;
	s->umbrella.n_officials = 1;
	s->r.umbrella = &s->umbrella;
}

uint64_t tu_fill_spool(const char *spool_dir, const struct key *signer, struct rec_chain *chain, int n,
                       size_t spread)
{
	struct ed25519_key *k = ed25519_key_new(signer->secret);
	struct spool *sp;
	uint64_t total = 0;
	int err;

	if (!k || !(sp = spool_open(spool_dir, NULL, NULL, NULL, &err)))
		abort();
	for (int r = 0; r < n; r++) {
		size_t len = 100 + (chain->next_seq * 7919) % (spread ? spread : 1);
		uint8_t *payload = malloc(len), *rec, hash[REC_HASH_LEN];
		size_t rlen;

		if (!payload)
			abort();
		for (size_t b = 0; b < len; b++)
			payload[b] = (uint8_t)(b * 31 + chain->next_seq);
		if (rec_sign(chain, k, signer->id, REC_REPORT, 1, payload, len, 1 << 20, &rec, &rlen, hash) !=
		            TIP_OK ||
		    spool_append(sp, rec, rlen, NULL) != TIP_OK)
			abort();
		rec_chain_advance(chain, hash);
		total += len;
		free(payload);
		free(rec);
	}
	if (spool_close(sp) != TIP_OK)
		abort();
	ed25519_key_free(k);
	return total;
}

void tu_write_text(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	if (!f)
		abort();
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0)
		abort();
}

void tu_diode_keys(const char *dir, const char *origin, struct key *origin_key)
{
	static const struct {
		enum key_type type;
		const char *name, *file;
	} keys[] = {{KEY_ED25519, NULL, NULL},
	            {KEY_LINK, "link", "link.key"},
	            {KEY_ED25519, "diode-log", "log.key"},
	            {KEY_COSIGN, "diode-recv", "cosign.key"},
	            {KEY_ED25519, "diode-recv-events", "event.key"}};
	char path[600];
	struct key k;

	snprintf(path, sizeof(path), "%s/keys", dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		abort();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *name = i ? keys[i].name : origin;

		if (key_generate(keys[i].type, name, &k) != TIP_OK)
			abort();
		snprintf(path, sizeof(path), "%s/%s", dir, keys[i].file ? keys[i].file : "origin.key");
		if (key_write_private(path, &k) != TIP_OK)
			abort();
		/* The origin's and the log's verifier keys go where the receiver finds its origins. */
		snprintf(path, sizeof(path), "%s/keys/%s.pub", dir, name);
		if ((i == 0 || i == 2) && key_write_public(path, &k) != TIP_OK)
			abort();
		if (i == 0)
			*origin_key = k;
	}
}

/* Metrics are off unless the extra settings turn them on. */
static const char *metrics_off(const char *extra)
{
	return strstr(extra, "metrics_port") ? "" : "metrics_port 0\n";
}

void tu_diode_recv_conf(char *conf, const char *dir, const char *listen, int port, const char *extra)
{
	snprintf(conf, 600, "%s/recv.conf", dir);
	tu_write_text(conf,
	              "link_key %s/link.key\nlisten %s\nport %d\norigin_keys %s/keys\ninbox %s/inbox\n"
	              "quarantine %s/quarantine\nlog_dir %s/recv-log\ncosign_key %s/cosign.key\n"
	              "event_key %s/event.key\n%s%s",
	              dir, listen, port, dir, dir, dir, dir, dir, dir, metrics_off(extra), extra);
}

void tu_diode_send_conf(char *conf, const char *dir, int port, const char *spools, const char *extra)
{
	snprintf(conf, 600, "%s/send.conf", dir);
	tu_write_text(conf,
	              "link_key %s/link.key\ndestination 127.0.0.1\nport %d\nspools %s\nlog_dir %s/send-log\n"
	              "log_key %s/log.key\n%s%s",
	              dir, port, spools, dir, dir, metrics_off(extra), extra);
}

void tu_corpus_keys(struct key *keys, struct key *pubs)
{
	static const char *const lines[2] = {
	        "PRIVATE+KEY+fuzz.example/log+83eae23f+AbEYl9FgZTVEUeHyvZP1skCBTTkkm2G3Xk+3AYANeOHD",
	        "PRIVATE+KEY+fuzz.example/witness+2f3adcac+BLdAydkCZCBVGkeaSSdoTI2qqPtcSui5wNPVbac2029e",
	};

	for (int i = 0; i < 2; i++) {
		if (key_parse_private(lines[i], strlen(lines[i]), &keys[i]) != TIP_OK)
			abort();
		pubs[i] = keys[i];
		memset(pubs[i].secret, 0, sizeof(pubs[i].secret));
		pubs[i].has_secret = 0;
	}
}

void tu_publish_bulletins(const char *spool_dir, const struct key *key, const struct taxonomy *tax,
                          const struct bulletin *b, size_t n, struct rec_chain *chain)
{
	struct ed25519_key *k = ed25519_key_new(key->secret);
	struct status_out_signer signer = {k, {0}};
	struct spool_opts opts = status_out_opts();
	struct spool *sp;
	int err;

	memcpy(signer.key_id, key->id, REC_KEY_ID_LEN);
	if (!k || !(sp = spool_open(spool_dir, &opts, NULL, NULL, &err)))
		abort();
	for (size_t i = 0; i < n; i++)
		if (status_out_append(sp, chain, &signer, tax, &b[i], 1700000000000, NULL) != TIP_OK)
			abort();
	if (spool_close(sp) != TIP_OK)
		abort();
	ed25519_key_free(k);
}
