#include "proto/record.h"

#include "common/err.h"
#include "proto/codec.h"
#include "record.pb-c.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

int rec_origin_ok(const char *s)
{
	size_t n = 0;

	/* A leading letter or digit: origins name directories, so "." and ".." must never be one. */
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (; s[n]; n++) {
		char c = s[n];

		if (n >= REC_ORIGIN_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void rec_hash(const uint8_t *buf, size_t len, uint8_t out[REC_HASH_LEN])
{
	SHA256(buf, len, out);
}

void rec_release(struct rec *r)
{
	codec_free(r->owned_body);
	codec_free(r->owned_signed);
	memset(r, 0, sizeof(*r));
}

int rec_decode(const uint8_t *buf, size_t len, size_t cap, struct rec *out)
{
	Tip__SignedRecord *sr = NULL;
	Tip__RecordBody *b = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = codec_unpack(&tip__signed_record__descriptor, buf, len, cap, (ProtobufCMessage **)&sr);
	if (rc != TIP_OK)
		return rc;
	out->owned_signed = sr;
	if (sr->key_id.len != REC_KEY_ID_LEN || sr->signature.len != ED25519_SIG_LEN || sr->body.len == 0) {
		rc = sr->signature.len < ED25519_SIG_LEN ? TIP_ETRUNCATED : TIP_EDECODE;
		goto out;
	}
	rc = codec_unpack(&tip__record_body__descriptor, sr->body.data, sr->body.len, cap,
	                  (ProtobufCMessage **)&b);
	if (rc != TIP_OK)
		goto out;
	out->owned_body = b;
	if (b->version != REC_VERSION) {
		rc = TIP_EVERSION;
		goto out;
	}
	if (!rec_origin_ok(b->origin) || b->prev_hash.len != REC_HASH_LEN || (int)b->kind < REC_REPORT ||
	    (int)b->kind > REC_STATUS) {
		rc = TIP_EDECODE;
		goto out;
	}
	out->version = b->version;
	out->origin = b->origin;
	out->seq = b->seq;
	out->prev_hash = b->prev_hash.data;
	out->created_at = b->created_at;
	out->kind = (enum rec_kind)b->kind;
	out->payload = b->payload.data;
	out->payload_len = b->payload.len;
	out->key_id = sr->key_id.data;
	out->body = sr->body.data;
	out->body_len = sr->body.len;
	out->signature = sr->signature.data;
	rec_hash(buf, len, out->hash);
	return TIP_OK;
out:
	rec_release(out);
	return rc;
}

int rec_verify(const struct rec *r, const struct ed25519_pub *pub)
{
	return ed25519_verify(pub, r->body, r->body_len, r->signature);
}

int rec_keyring_add(struct rec_keyring *kr, const struct ed25519_pub *pub, const uint8_t id[REC_KEY_ID_LEN])
{
	if (rec_keyring_find(kr, id))
		return TIP_EINVAL;
	if (kr->n == REC_KEYS_MAX)
		return TIP_EFULL;
	kr->pub[kr->n] = pub;
	memcpy(kr->id[kr->n], id, REC_KEY_ID_LEN);
	kr->n++;
	return TIP_OK;
}

const struct ed25519_pub *rec_keyring_find(const struct rec_keyring *kr, const uint8_t id[REC_KEY_ID_LEN])
{
	for (size_t i = 0; i < kr->n; i++)
		if (memcmp(kr->id[i], id, REC_KEY_ID_LEN) == 0)
			return kr->pub[i];
	return NULL;
}

int rec_keyring_load(struct rec_keyring *kr, const char *list, struct ed25519_pub **pubs, size_t cap,
                     size_t *n, char bad[KEY_PATH_MAX])
{
	struct key keys[REC_KEYS_MAX];
	size_t got;
	int rc = key_read_list(list, 0, KEY_ED25519, keys, REC_KEYS_MAX - kr->n, &got, bad);

	for (size_t i = 0; i < got && rc == TIP_OK; i++)
		if (*n == cap)
			rc = TIP_EFULL;
		else if (!(pubs[*n] = ed25519_pub_new(keys[i].pub)))
			rc = TIP_ENOMEM;
		else
			rc = rec_keyring_add(kr, pubs[(*n)++], keys[i].id);
	return rc;
}

int rec_verify_ring(const struct rec *r, const struct rec_keyring *kr)
{
	const struct ed25519_pub *pub = rec_keyring_find(kr, r->key_id);

	return pub ? rec_verify(r, pub) : TIP_ENOTFOUND;
}

int rec_chain_init(struct rec_chain *c, const char *origin)
{
	memset(c, 0, sizeof(*c));
	if (!rec_origin_ok(origin))
		return TIP_EINVAL;
	memcpy(c->origin, origin, strlen(origin) + 1);
	return TIP_OK;
}

void rec_chain_advance(struct rec_chain *c, const uint8_t hash[REC_HASH_LEN])
{
	c->next_seq++;
	memcpy(c->prev_hash, hash, REC_HASH_LEN);
}

enum rec_chain_verdict rec_chain_check(const struct rec_chain *c, const struct rec *r)
{
	if (strcmp(c->origin, r->origin) != 0)
		return REC_CHAIN_FOREIGN;
	if (r->seq < c->next_seq)
		return REC_CHAIN_DUPLICATE;
	if (r->seq > c->next_seq)
		return REC_CHAIN_GAP;
	if (memcmp(r->prev_hash, c->prev_hash, REC_HASH_LEN) != 0)
		return REC_CHAIN_FORK;
	return REC_CHAIN_NEXT;
}

int rec_ed25519_signer(void *key, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	return ed25519_sign(key, msg, len, sig);
}

int rec_sign(const struct rec_chain *c, const struct ed25519_key *key, const uint8_t key_id[REC_KEY_ID_LEN],
             enum rec_kind kind, int64_t created_at, const uint8_t *payload, size_t payload_len, size_t cap,
             uint8_t **out, size_t *out_len, uint8_t hash[REC_HASH_LEN])
{
	return rec_sign_by(c, rec_ed25519_signer, (void *)key, key_id, kind, created_at, payload, payload_len,
	                   cap, out, out_len, hash);
}

int rec_sign_by(const struct rec_chain *c, rec_signer sign, void *sign_arg,
                const uint8_t key_id[REC_KEY_ID_LEN], enum rec_kind kind, int64_t created_at,
                const uint8_t *payload, size_t payload_len, size_t cap, uint8_t **out, size_t *out_len,
                uint8_t hash[REC_HASH_LEN])
{
	Tip__RecordBody body = TIP__RECORD_BODY__INIT;
	Tip__SignedRecord sr = TIP__SIGNED_RECORD__INIT;
	uint8_t sig[ED25519_SIG_LEN];
	uint8_t *body_buf = NULL;
	size_t body_len;
	int rc;

	*out = NULL;
	body.version = REC_VERSION;
	body.origin = (char *)c->origin;
	body.seq = c->next_seq;
	body.prev_hash.data = (uint8_t *)c->prev_hash;
	body.prev_hash.len = REC_HASH_LEN;
	body.created_at = created_at;
	body.kind = (Tip__RecordKind)kind;
	body.payload.data = (uint8_t *)payload;
	body.payload.len = payload_len;
	if ((rc = codec_pack(&body.base, cap, &body_buf, &body_len)) != TIP_OK)
		goto out;
	if ((rc = sign(sign_arg, body_buf, body_len, sig)) != TIP_OK)
		goto out;
	sr.body.data = body_buf;
	sr.body.len = body_len;
	sr.key_id.data = (uint8_t *)key_id;
	sr.key_id.len = REC_KEY_ID_LEN;
	sr.signature.data = sig;
	sr.signature.len = ED25519_SIG_LEN;
	if ((rc = codec_pack(&sr.base, cap, out, out_len)) != TIP_OK)
		goto out;
	rec_hash(*out, *out_len, hash);
out:
	free(body_buf);
	return rc;
}
