#include "internal/callback.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/codec.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct callback {
	struct callback_conf conf;
	PGconn *db;
	struct timespec last; /* start of the last pass; zero before the first */
	struct callback_stats stats;
};

static const char *const outcome_names[CALLBACK_OUTCOME_COUNT] = {"answer", "unparsed", "late", "unknown"};

const char *callback_outcome_name(enum callback_outcome o)
{
	return o < CALLBACK_OUTCOME_COUNT ? outcome_names[o] : "?";
}

struct callback *callback_new(const struct callback_conf *conf)
{
	struct callback *cb = calloc(1, sizeof(*cb));

	if (cb)
		cb->conf = *conf;
	return cb;
}

void callback_free(struct callback *cb)
{
	if (!cb)
		return;
	PQfinish(cb->db);
	free(cb);
}

const struct callback_stats *callback_stats(const struct callback *cb)
{
	return &cb->stats;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int callback_check_share(const char *share)
{
	size_t n = strlen(share);
	int nonzero = 0;

	/* "0", "1", or one of them, a point and 1 to 6 decimals: exact in numeric, no exponent to misread. */
	if (n == 0 || n >= CALLBACK_SHARE_MAX || (share[0] != '0' && share[0] != '1') ||
	    (n > 1 && (share[1] != '.' || n < 3 || n > 8)))
		return TIP_EINVAL;
	for (size_t i = 2; i < n; i++) {
		if (!is_digit(share[i]))
			return TIP_EINVAL;
		nonzero |= share[i] != '0';
	}
	return (share[0] == '1') != nonzero ? TIP_OK : TIP_EINVAL;
}

/* "HH:MM" at s: minutes since midnight, or -1. 24:00 is the end of the day. */
static int clock_minutes(const char *s)
{
	int h, m;

	if (!is_digit(s[0]) || !is_digit(s[1]) || s[2] != ':' || !is_digit(s[3]) || !is_digit(s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	return h > 24 || m > 59 || (h == 24 && m != 0) ? -1 : h * 60 + m;
}

int callback_parse_hours(const char *hours, char after[6], char before[6])
{
	int from, to;

	if (strlen(hours) != 11 || hours[5] != '-' || (from = clock_minutes(hours)) < 0 ||
	    (to = clock_minutes(hours + 6)) < 0 || from >= to)
		return TIP_EINVAL;
	memcpy(after, hours, 5);
	after[5] = 0;
	memcpy(before, hours + 6, 5);
	before[5] = 0;
	return TIP_OK;
}

int callback_check_text(const char *text)
{
	const uint8_t *s = (const uint8_t *)text;
	size_t n = strlen(text), chars = 0;

	if (!codec_utf8_ok(s, n))
		return TIP_EINVAL;
	for (size_t i = 0; i < n; i++) {
		/* A Unicode SMS part counts UTF-16 units: a character beyond the BMP would count twice. */
		if (s[i] < 0x20 || s[i] == 0x7f || s[i] >= 0xf0)
			return TIP_EINVAL;
		chars += (s[i] & 0xc0) != 0x80;
	}
	return chars >= 1 && chars <= CALLBACK_TEXT_CHARS ? TIP_OK : TIP_EINVAL;
}

static long long elapsed_ms(const struct timespec *from, const struct timespec *to)
{
	return (long long)(to->tv_sec - from->tv_sec) * 1000 + (to->tv_nsec - from->tv_nsec) / 1000000;
}

static uint64_t column_count(const PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? 0 : strtoull(PQgetvalue(r, 0, col), NULL, 10);
}

int callback_step(struct callback *cb, char msg[DB_MSG_MAX])
{
	static const char *const sql =
	        "SELECT t.draw ->> 'new', t.draw ->> 'month', t.draw ->> 'seed', t.draw ->> 'drawn', "
	        "t.draw ->> 'provinces', t.draw ->> 'digest', t.sent, t.failed, t.answers, t.unparsed, "
	        "t.late, "
	        "t.strangers FROM sms_tick(decode($1, 'hex'), $2::numeric, $3::integer, $4, $5::time, "
	        "$6::time, $7::bigint * interval '1 millisecond', $8::integer) AS t";
	uint8_t seed[CALLBACK_SEED_LEN];
	char seed_hex[2 * CALLBACK_SEED_LEN + 1], count[24], open[24], batch[24];
	struct timespec now;
	PGresult *r = NULL;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((cb->last.tv_sec || cb->last.tv_nsec) && elapsed_ms(&cb->last, &now) < cb->conf.poll_ms)
		return 0;
	cb->last = now;
	if (!cb->db && !(cb->db = db_connect(cb->conf.conninfo, msg)))
		return TIP_EIO;
	/* A fresh seed every pass, so that no draw's seed exists before the draw does. */
	if (RAND_bytes(seed, sizeof(seed)) != 1) {
		snprintf(msg, DB_MSG_MAX, "no random seed from the CSPRNG");
		return TIP_EIO;
	}
	hex_encode(seed, sizeof(seed), seed_hex, sizeof(seed_hex));
	OPENSSL_cleanse(seed, sizeof(seed));
	snprintf(count, sizeof(count), "%lld", cb->conf.count);
	snprintf(open, sizeof(open), "%lld", cb->conf.open_ms);
	snprintf(batch, sizeof(batch), "%lld", cb->conf.batch);
	const char *params[] = {seed_hex,
	                        cb->conf.share[0] ? cb->conf.share : NULL,
	                        cb->conf.count ? count : NULL,
	                        cb->conf.text,
	                        cb->conf.send_after,
	                        cb->conf.send_before,
	                        open,
	                        batch};
	if ((rc = db_exec(cb->db, sql, 8, params, PGRES_TUPLES_OK, &r, msg)) != TIP_OK) {
		PQfinish(cb->db);
		cb->db = NULL;
		return rc;
	}
	if (!PQgetisnull(r, 0, 0) && strcmp(PQgetvalue(r, 0, 0), "true") == 0) {
		log_info("callback draw %s: seed %s, %s cases from %s provinces, digest %s",
		         PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4),
		         PQgetvalue(r, 0, 5));
		atomic_fetch_add(&cb->stats.draws, 1);
		atomic_fetch_add(&cb->stats.queued, column_count(r, 3));
	}
	atomic_fetch_add(&cb->stats.sent, column_count(r, 6));
	atomic_fetch_add(&cb->stats.failed, column_count(r, 7));
	for (int i = 0; i < CALLBACK_OUTCOME_COUNT; i++)
		atomic_fetch_add(&cb->stats.received[i], column_count(r, 8 + i));
	PQclear(r);
	return 1;
}

/* "YYYY-MM" with a month 01 to 12. */
static int month_ok(const char *m)
{
	return strlen(m) == 7 && is_digit(m[0]) && is_digit(m[1]) && is_digit(m[2]) && is_digit(m[3]) &&
	       m[4] == '-' &&
	       ((m[5] == '0' && m[6] >= '1' && m[6] <= '9') || (m[5] == '1' && m[6] >= '0' && m[6] <= '2'));
}

/* The stored draw of the month, compared with the rule and seed of this one (when given). */
static const char *const stored_sql =
        "SELECT encode(d.seed, 'hex'), coalesce(d.share::text, ''), coalesce(d.count, 0), encode(d.digest, "
        "'hex'), "
        "d.seed = decode($2, 'hex') AND d.share IS NOT DISTINCT FROM $3::numeric "
        "AND d.count IS NOT DISTINCT FROM $4::integer, "
        "(SELECT coalesce(array_agg(s.province || ':' || array_to_string(s.eligible, ',') ORDER BY "
        "s.province), "
        "'{}') FROM callback_strata s WHERE s.draw_id = d.id) = "
        "(SELECT coalesce(array_agg(e.province || ':' || e.ids ORDER BY e.province), '{}') FROM "
        "(SELECT province, string_agg(case_id::text, ',' ORDER BY case_id) AS ids "
        "FROM callback_eligible(d.month) GROUP BY province) AS e) "
        "FROM callback_draws d WHERE d.month = $1::date";

int callback_sample(PGconn *c, const char *month, const char *seed_hex, const char *share, long long count,
                    FILE *out, char msg[DB_MSG_MAX])
{
	uint8_t seed[64], digest[32];
	char day[16], seed_lc[2 * sizeof(seed) + 1], count_text[24], share_text[CALLBACK_SHARE_MAX],
	        digest_hex[2 * sizeof(digest) + 1];
	PGresult *stored = NULL, *eligible = NULL, *picks = NULL;
	size_t seed_len;
	EVP_MD_CTX *sha = NULL;
	int rc;

	msg[0] = 0;
	if (!month_ok(month)) {
		snprintf(msg, DB_MSG_MAX, "--month: YYYY-MM");
		return TIP_EINVAL;
	}
	if (hex_decode(seed_hex, strlen(seed_hex), seed, sizeof(seed), &seed_len) != TIP_OK ||
	    seed_len < 16) {
		snprintf(msg, DB_MSG_MAX, "--seed: 16 to 64 bytes in hex");
		return TIP_EINVAL;
	}
	hex_encode(seed, seed_len, seed_lc, sizeof(seed_lc));
	if ((share && callback_check_share(share) != TIP_OK) || count < 0 || count > 1000000 ||
	    (share && count)) {
		snprintf(msg, DB_MSG_MAX, "either --share (0 < share <= 1, 6 decimals at most) or --count");
		return TIP_EINVAL;
	}
	snprintf(day, sizeof(day), "%s-01", month);
	/* One snapshot for every statement, and nothing written whatever the statements are. */
	if ((rc = db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, PGRES_COMMAND_OK,
	                  NULL, msg)) != TIP_OK)
		return rc;
	const char *stored_params[] = {day, seed_lc, NULL, NULL};
	if ((rc = db_exec(c, stored_sql, 4, stored_params, PGRES_TUPLES_OK, &stored, msg)) != TIP_OK)
		goto out;
	/* Without a rule of its own the sample re-runs the stored draw's. */
	if (!share && !count) {
		if (PQntuples(stored) == 0) {
			snprintf(msg, DB_MSG_MAX, "no draw stored for %s: give --share or --count", month);
			rc = TIP_EINVAL;
			goto out;
		}
		snprintf(share_text, sizeof(share_text), "%s", PQgetvalue(stored, 0, 1));
		share = share_text[0] ? share_text : NULL;
		count = strtoll(PQgetvalue(stored, 0, 2), NULL, 10);
	}
	snprintf(count_text, sizeof(count_text), "%lld", count);
	const char *params[] = {day, seed_lc, share, share ? NULL : count_text};
	PQclear(stored);
	stored = NULL;
	if ((rc = db_exec(c, stored_sql, 4, params, PGRES_TUPLES_OK, &stored, msg)) != TIP_OK ||
	    (rc = db_exec(c,
	                  "SELECT province, count(*) FROM callback_eligible($1::date) GROUP BY province "
	                  "ORDER BY province",
	                  1, params, PGRES_TUPLES_OK, &eligible, msg)) != TIP_OK ||
	    (rc = db_exec(c,
	                  "SELECT province, rank, case_id FROM callback_pick($1::date, decode($2, 'hex'), "
	                  "$3::numeric, $4::integer) ORDER BY province, rank",
	                  4, params, PGRES_TUPLES_OK, &picks, msg)) != TIP_OK)
		goto out;

	fprintf(out, "month %s\nseed %s\n", month, seed_lc);
	if (share)
		fprintf(out, "share %s\n", share);
	else
		fprintf(out, "count %lld\n", count);
	for (int i = 0, p = 0; i < PQntuples(eligible); i++) {
		int drawn = 0;

		for (;
		     p < PQntuples(picks) && strcmp(PQgetvalue(picks, p, 0), PQgetvalue(eligible, i, 0)) == 0;
		     p++)
			drawn++;
		fprintf(out, "province %s eligible %s drawn %d\n", PQgetvalue(eligible, i, 0),
		        PQgetvalue(eligible, i, 1), drawn);
	}
	/* The digest is over the case lines exactly as printed: anyone can check it with sha256sum. */
	if (!(sha = EVP_MD_CTX_new()) || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
		snprintf(msg, DB_MSG_MAX, "out of memory");
		rc = TIP_ENOMEM;
		goto out;
	}
	for (int i = 0; i < PQntuples(picks); i++) {
		char line[96];
		int n = snprintf(line, sizeof(line), "case %s %s %s\n", PQgetvalue(picks, i, 0),
		                 PQgetvalue(picks, i, 1), PQgetvalue(picks, i, 2));

		fputs(line, out);
		EVP_DigestUpdate(sha, line, (size_t)n);
	}
	EVP_DigestFinal_ex(sha, digest, NULL);
	hex_encode(digest, sizeof(digest), digest_hex, sizeof(digest_hex));
	fprintf(out, "digest %s\n", digest_hex);

	if (PQntuples(stored) == 0) {
		fprintf(out, "stored none\n");
	} else if (strcmp(PQgetvalue(stored, 0, 4), "t") != 0) {
		fprintf(out, "stored other %s %s %s\n", PQgetvalue(stored, 0, 0),
		        PQgetvalue(stored, 0, 1)[0] ? "share" : "count",
		        PQgetvalue(stored, 0, 1)[0] ? PQgetvalue(stored, 0, 1) : PQgetvalue(stored, 0, 2));
	} else if (strcmp(PQgetvalue(stored, 0, 3), digest_hex) == 0) {
		fprintf(out, "stored identical\n");
	} else {
		fprintf(out, "stored differs%s\n",
		        strcmp(PQgetvalue(stored, 0, 5), "t") == 0 ? "" : " (eligible changed)");
		snprintf(msg, DB_MSG_MAX, "the draw stored for %s differs from the one its seed gives",
		         month);
		rc = TIP_ECORRUPT;
	}
out:
	EVP_MD_CTX_free(sha);
	PQclear(stored);
	PQclear(eligible);
	PQclear(picks);
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}
