/*
 * Staff credentials: Argon2id password hashes (libargon2, PHC string format), TOTP second factors
 * (RFC 6238 over HOTP, RFC 4226), and session tokens (random, only their SHA-256 stored).
 *
 * Every function works on caller memory and keeps nothing. Secrets passed in are not wiped here;
 * the caller wipes its own copies.
 */
#ifndef TIP_INTERNAL_AUTH_H
#define TIP_INTERNAL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_HASH_MAX     128 /* a PHC string "$argon2id$v=19$m=...,t=...,p=...$salt$hash" and its NUL */
#define AUTH_PASSWORD_MAX 256 /* bytes of a password accepted at all */
#define AUTH_TOKEN_LEN    32  /* random bytes of a session or CSRF token */
#define AUTH_TOKEN_TEXT   44  /* its unpadded base64url form and a NUL */
#define AUTH_DIGEST_LEN   32

/* The cost of new password hashes unless configured: 3 passes over 64 MiB, one lane. */
#define AUTH_COST_DEFAULT_TIME   3
#define AUTH_COST_DEFAULT_MEMORY 65536 /* KiB */

struct auth_cost {
	uint32_t time; /* Argon2 passes */
	uint32_t memory_kib;
	uint32_t lanes;
};

/*
 * Hashes password[0..len) with a fresh 16-byte salt into out (NUL-terminated). TIP_OK; TIP_EINVAL
 * (empty or longer than AUTH_PASSWORD_MAX, or a cost libargon2 refuses); TIP_ECRYPTO.
 */
int auth_hash_password(const char *password, size_t len, const struct auth_cost *cost,
                       char out[AUTH_HASH_MAX]);
/*
 * TIP_OK when password matches the stored PHC string, TIP_EVERIFY when it does not (or the string is
 * not an Argon2id hash). With hash NULL (an unknown user) it spends the same effort on a fixed dummy
 * hash and returns TIP_EVERIFY, so timing does not tell which users exist.
 */
int auth_verify_password(const char *hash, const char *password, size_t len);

enum auth_totp_hash { AUTH_TOTP_SHA1, AUTH_TOTP_SHA256, AUTH_TOTP_SHA512 };
/* The RFC 6238 code of secret at Unix time t (30-second steps from 0), digits 6 to 8. -1 on a bad argument.
 */
long auth_totp(const uint8_t *secret, size_t len, enum auth_totp_hash h, int64_t t, int digits);
/*
 * TIP_OK when code (a string of 6 digits) is the SHA-1 code of secret at time t or one step either
 * side (clock drift), at a step (t / 30) later than after_step, which is where the account's last
 * accepted code was: a code is good once (RFC 6238, section 5.2). *step (may be NULL) gets the step
 * matched. Compared in constant time. TIP_EVERIFY otherwise.
 */
int auth_totp_check(const uint8_t *secret, size_t len, int64_t t, const char *code, int64_t after_step,
                    int64_t *step);

/* A fresh random token as text (base64url, 43 characters) and its SHA-256. TIP_OK or TIP_ECRYPTO. */
int auth_new_token(char text[AUTH_TOKEN_TEXT], uint8_t digest[AUTH_DIGEST_LEN]);
/* SHA-256 of a token's text as presented (in a cookie or header); TIP_EINVAL when it is not 43 base64url
 * characters. */
int auth_token_digest(const char *text, uint8_t digest[AUTH_DIGEST_LEN]);

#endif
