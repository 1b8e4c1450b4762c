#include "internal/auth.h"

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/err.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32

int auth_hash_password(const char *password, size_t len, const struct auth_cost *cost,
                       char out[AUTH_HASH_MAX])
{
	uint8_t salt[SALT_LEN];

	if (!len || len > AUTH_PASSWORD_MAX)
		return TIP_EINVAL;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return TIP_ECRYPTO;
	if (argon2id_hash_encoded(cost->time, cost->memory_kib, cost->lanes, password, len, salt,
	                          sizeof(salt), HASH_LEN, out, AUTH_HASH_MAX) != ARGON2_OK)
		return TIP_EINVAL;
	return TIP_OK;
}

static char dummy[AUTH_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

/* A hash at the default cost, made once, for unknown users to cost what known ones do. */
static void make_dummy(void)
{
	static const uint8_t salt[SALT_LEN] = {0};

	argon2id_hash_encoded(AUTH_COST_DEFAULT_TIME, AUTH_COST_DEFAULT_MEMORY, 1, "-", 1, salt, sizeof(salt),
	                      HASH_LEN, dummy, sizeof(dummy));
}

int auth_verify_password(const char *hash, const char *password, size_t len)
{
	int ok;

	pthread_once(&dummy_once, make_dummy);
	if (len > AUTH_PASSWORD_MAX)
		len = AUTH_PASSWORD_MAX;
	ok = argon2id_verify(hash ? hash : dummy, password, len) == ARGON2_OK;
	return ok && hash ? TIP_OK : TIP_EVERIFY;
}

long auth_totp(const uint8_t *secret, size_t len, enum auth_totp_hash h, int64_t t, int digits)
{
	static const long mod[] = {1000000, 10000000, 100000000};
	const EVP_MD *md = h == AUTH_TOTP_SHA1     ? EVP_sha1()
	                   : h == AUTH_TOTP_SHA256 ? EVP_sha256()
	                                           : EVP_sha512();
	uint8_t counter[8], mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;

	if (t < 0 || digits < 6 || digits > 8 || !len || len > 1024)
		return -1;
	put64(counter, (uint64_t)(t / 30));
	if (!HMAC(md, secret, (int)len, counter, sizeof(counter), mac, &mac_len))
		return -1;
	/* RFC 4226 5.3: dynamic truncation. */
	unsigned off = mac[mac_len - 1] & 0x0f;
	uint32_t bin = get32(mac + off) & 0x7fffffff;
	return (long)(bin % (uint32_t)mod[digits - 6]);
}

int auth_totp_check(const uint8_t *secret, size_t len, int64_t t, const char *code, int64_t after_step,
                    int64_t *step)
{
	char want[24];
	int64_t matched = -1;

	if (strlen(code) != 6 || strspn(code, "0123456789") != 6)
		return TIP_EVERIFY;
	for (int drift = -1; drift <= 1; drift++) {
		long v = auth_totp(secret, len, AUTH_TOTP_SHA1, t + 30 * drift, 6);
		int64_t at = (t + 30 * drift) / 30;

		if (v < 0)
			continue; /* before the epoch */
		snprintf(want, sizeof(want), "%06ld", v);
		if (CRYPTO_memcmp(want, code, 6) == 0 && at > after_step)
			matched = at;
	}
	if (matched < 0)
		return TIP_EVERIFY;
	if (step)
		*step = matched;
	return TIP_OK;
}

int auth_new_token(char text[AUTH_TOKEN_TEXT], uint8_t digest[AUTH_DIGEST_LEN])
{
	uint8_t raw[AUTH_TOKEN_LEN];

	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    b64url_encode(raw, sizeof(raw), text, AUTH_TOKEN_TEXT) != TIP_OK)
		return TIP_ECRYPTO;
	OPENSSL_cleanse(raw, sizeof(raw));
	return auth_token_digest(text, digest);
}

int auth_token_digest(const char *text, uint8_t digest[AUTH_DIGEST_LEN])
{
	size_t n = strlen(text);

	if (n != AUTH_TOKEN_TEXT - 1 ||
	    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != n)
		return TIP_EINVAL;
	SHA256((const uint8_t *)text, n, digest);
	return TIP_OK;
}
