#include "internal/audit.h"

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/err.h"
#include "common/file.h"
#include "proto/note.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_ORIGIN "tipline audit v1\n"

static void put_text(EVP_MD_CTX *md, const char *s)
{
	uint8_t len[4];

	put32(len, (uint32_t)strlen(s));
	EVP_DigestUpdate(md, len, 4);
	EVP_DigestUpdate(md, s, strlen(s));
}

static void put_hash(EVP_MD_CTX *md, const uint8_t *h)
{
	uint8_t len[4];

	put32(len, h ? AUDIT_HASH_LEN : 0);
	EVP_DigestUpdate(md, len, 4);
	if (h)
		EVP_DigestUpdate(md, h, AUDIT_HASH_LEN);
}

void audit_event_hash(const uint8_t prev[AUDIT_HASH_LEN], int64_t seq, int64_t at_us, int64_t actor,
                      const char *action, const char *object, const uint8_t *before, const uint8_t *after,
                      uint8_t out[AUDIT_HASH_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t n[24];

	put64(n, (uint64_t)seq);
	put64(n + 8, (uint64_t)at_us);
	put64(n + 16, (uint64_t)actor);
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		memset(out, 0, AUDIT_HASH_LEN); /* never equals a stored hash: verification fails safe */
		EVP_MD_CTX_free(md);
		return;
	}
	EVP_DigestUpdate(md, prev, AUDIT_HASH_LEN);
	EVP_DigestUpdate(md, n, sizeof(n));
	put_text(md, action);
	put_text(md, object);
	put_hash(md, before);
	put_hash(md, after);
	EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
}

static void head_text(long long size, const uint8_t hash[AUDIT_HASH_LEN], char *out, size_t cap)
{
	char b64[64];

	b64_encode(hash, AUDIT_HASH_LEN, b64, sizeof(b64));
	snprintf(out, cap, NOTE_ORIGIN "%lld\n%s\n", size, b64);
}

/* A bytea column in text form ("\x" and hex) into out; 0, or -1 when it is not len bytes. */
static int bytea(const PGresult *r, int row, int col, uint8_t *out, size_t len)
{
	const char *v = PQgetvalue(r, row, col);
	size_t got;

	return strncmp(v, "\\x", 2) == 0 && hex_decode(v + 2, strlen(v + 2), out, len, &got) == TIP_OK &&
	                       got == len
	               ? 0
	               : -1;
}

int audit_sign_due(PGconn *c, const struct key *signer, long long every_events, long long every_ms,
                   char msg[DB_MSG_MAX])
{
	PGresult *r;
	uint8_t hash[AUDIT_HASH_LEN];
	char text[256], note[AUDIT_NOTE_MAX], size_text[24];
	size_t note_len;
	int rc;

	if ((rc = db_exec(
	             c,
	             "SELECT size, hash, coalesce(signed_size, 0), "
	             "coalesce(extract(epoch FROM now() - signed_at) * 1000 >= $1::bigint, true) "
	             "FROM audit_head_due()",
	             1,
	             (const char *[]){(snprintf(size_text, sizeof(size_text), "%lld", every_ms), size_text)},
	             PGRES_TUPLES_OK, &r, msg)) != TIP_OK)
		return rc;
	long long size = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	long long signed_size = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	int late = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	if (size <= signed_size || (size - signed_size < every_events && !late) ||
	    bytea(r, 0, 1, hash, sizeof(hash))) {
		PQclear(r);
		return TIP_OK;
	}
	PQclear(r);
	head_text(size, hash, text, sizeof(text));
	if (note_sign(text, strlen(text), signer, 1, 0, note, sizeof(note), &note_len) != TIP_OK) {
		snprintf(msg, DB_MSG_MAX, "cannot sign the audit head");
		return TIP_EIO;
	}
	snprintf(size_text, sizeof(size_text), "%lld", size);
	const char *params[] = {size_text, note};
	return db_exec(c, "SELECT audit_head_put($1::bigint, $2)", 2, params, PGRES_TUPLES_OK, NULL, msg);
}

static int read_heads(PGconn *c, PGresult **r, char msg[DB_MSG_MAX])
{
	return db_exec(c, "SELECT size, note FROM audit_heads ORDER BY size", 0, NULL, PGRES_TUPLES_OK, r,
	               msg);
}

int audit_export(PGconn *c, const char *dir, long long *heads, char msg[DB_MSG_MAX])
{
	PGresult *r;
	char path[1024];
	int rc;

	*heads = 0;
	if ((rc = read_heads(c, &r, msg)) != TIP_OK)
		return rc;
	for (int i = 0; i < PQntuples(r) && rc == TIP_OK; i++) {
		snprintf(path, sizeof(path), "%.900s/%s.note", dir, PQgetvalue(r, i, 0));
		if ((rc = file_write_atomic(path, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), 0644)) !=
		    TIP_OK)
			snprintf(msg, DB_MSG_MAX, "%.400s: cannot write", path);
		else
			(*heads)++;
	}
	PQclear(r);
	return rc;
}

/* Checks every head against the hashes computed for the chain (hashes[i]: after event i). */
static int verify_heads(PGconn *c, const struct key *pub, const uint8_t (*hashes)[AUDIT_HASH_LEN],
                        long long n, long long *heads, char msg[DB_MSG_MAX])
{
	PGresult *r;
	int rc;

	if ((rc = read_heads(c, &r, msg)) != TIP_OK)
		return rc;
	for (int i = 0; i < PQntuples(r) && rc == TIP_OK; i++) {
		long long size = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		const char *note = PQgetvalue(r, i, 1);
		char want[256];
		size_t text_len;

		if (size < 1 || size > n) {
			snprintf(msg, DB_MSG_MAX, "head %lld: the chain has only %lld events", size, n);
			rc = TIP_ECORRUPT;
			break;
		}
		head_text(size, hashes[size - 1], want, sizeof(want));
		if (note_open(note, strlen(note), AUDIT_NOTE_MAX, pub, 1, &text_len, NULL) != TIP_OK) {
			snprintf(msg, DB_MSG_MAX, "head %lld: the signature does not verify", size);
			rc = TIP_ECORRUPT;
		} else if (text_len != strlen(want) || memcmp(note, want, text_len) != 0) {
			snprintf(msg, DB_MSG_MAX,
			         "head %lld: signed for another chain than the events now stored", size);
			rc = TIP_ECORRUPT;
		}
	}
	*heads = PQntuples(r);
	PQclear(r);
	return rc;
}

int audit_verify(PGconn *c, const struct key *pub, long long *events, long long *heads, char msg[DB_MSG_MAX])
{
	PGresult *r;
	uint8_t prev[AUDIT_HASH_LEN] = {0}, (*hashes)[AUDIT_HASH_LEN] = NULL;
	int rc;
	long long n;

	*events = *heads = 0;
	if ((rc = db_exec(
	             c,
	             "SELECT seq, (extract(epoch FROM at) * 1000000)::bigint, coalesce(actor, -1), action, "
	             "object, before_hash, after_hash, prev_hash, hash FROM audit_events ORDER BY seq",
	             0, NULL, PGRES_TUPLES_OK, &r, msg)) != TIP_OK)
		return rc;
	n = PQntuples(r);
	if (n && !(hashes = malloc((size_t)n * sizeof(*hashes)))) {
		PQclear(r);
		snprintf(msg, DB_MSG_MAX, "out of memory");
		return TIP_ENOMEM;
	}
	for (long long i = 0; i < n && rc == TIP_OK; i++) {
		int row = (int)i;
		uint8_t before[AUDIT_HASH_LEN], after[AUDIT_HASH_LEN], stored_prev[AUDIT_HASH_LEN],
		        stored[AUDIT_HASH_LEN];
		int has_before = !PQgetisnull(r, row, 5), has_after = !PQgetisnull(r, row, 6);

		rc = TIP_ECORRUPT;
		if (strtoll(PQgetvalue(r, row, 0), NULL, 10) != i)
			snprintf(msg, DB_MSG_MAX, "event %lld: missing (the next stored is %s)", i,
			         PQgetvalue(r, row, 0));
		else if ((has_before && bytea(r, row, 5, before, sizeof(before))) ||
		         (has_after && bytea(r, row, 6, after, sizeof(after))) ||
		         bytea(r, row, 7, stored_prev, sizeof(stored_prev)) ||
		         bytea(r, row, 8, stored, sizeof(stored)))
			snprintf(msg, DB_MSG_MAX, "event %lld: a malformed hash column", i);
		else if (memcmp(stored_prev, prev, AUDIT_HASH_LEN) != 0)
			snprintf(msg, DB_MSG_MAX, "event %lld: prev_hash does not name event %lld", i, i - 1);
		else {
			audit_event_hash(prev, i, strtoll(PQgetvalue(r, row, 1), NULL, 10),
			                 strtoll(PQgetvalue(r, row, 2), NULL, 10), PQgetvalue(r, row, 3),
			                 PQgetvalue(r, row, 4), has_before ? before : NULL,
			                 has_after ? after : NULL, hashes[i]);
			if (memcmp(hashes[i], stored, AUDIT_HASH_LEN) != 0)
				snprintf(msg, DB_MSG_MAX,
				         "event %lld: altered (its hash does not match its fields)", i);
			else
				rc = TIP_OK;
			memcpy(prev, stored, AUDIT_HASH_LEN);
		}
	}
	PQclear(r);
	if (rc == TIP_OK) {
		*events = n;
		rc = verify_heads(c, pub, (const uint8_t(*)[AUDIT_HASH_LEN])hashes, n, heads, msg);
	}
	free(hashes);
	return rc;
}
