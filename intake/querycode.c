#include "intake/querycode.h"

#include "common/err.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define RANDOM_DIGITS (QC_DIGITS - 1)
/* 10^19: the number of 19-digit strings; 2^64 / 10^19 < 2, so one accepted range below it. */
#define RANDOM_SPACE 10000000000000000000u
/* Each draw is accepted with probability 10^19 / 2^64 (about 0.54): 128 rejections in a row mean a broken
 * RNG. */
#define DRAWS_MAX 128

static const char hash_label[] = "tipline query code v1";

/*
 * A totally anti-symmetric quasigroup of order 10 with a zero diagonal (Damm,
 * 2004): the interim digit after reading d in state s is damm_table[s][d].
 */
static const uint8_t damm_table[10][10] = {
        {0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3}, {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
        {1, 7, 5, 0, 9, 8, 3, 4, 2, 6}, {6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
        {5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7}, {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
        {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

char qc_damm(const char *digits, size_t n)
{
	unsigned interim = 0;

	for (size_t i = 0; i < n; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return 0;
		interim = damm_table[interim][digits[i] - '0'];
	}
	return (char)('0' + interim);
}

int qc_generate(char code[QC_DIGITS + 1])
{
	uint64_t v = RANDOM_SPACE;
	uint8_t raw[8];
	int rc = TIP_ECRYPTO;

	code[0] = '\0';
	/* Rejection rather than a modulo, so every 19-digit string is exactly equally likely. */
	for (int draw = 0; draw < DRAWS_MAX && v >= RANDOM_SPACE; draw++) {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			goto out;
		v = 0;
		for (size_t i = 0; i < sizeof(raw); i++)
			v = v << 8 | raw[i];
	}
	if (v >= RANDOM_SPACE)
		goto out;
	for (int i = RANDOM_DIGITS - 1; i >= 0; i--) {
		code[i] = (char)('0' + v % 10);
		v /= 10;
	}
	code[RANDOM_DIGITS] = qc_damm(code, RANDOM_DIGITS);
	code[QC_DIGITS] = '\0';
	rc = TIP_OK;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(&v, sizeof(v));
	return rc;
}

int qc_normalize(const char *in, size_t len, char out[QC_DIGITS + 1])
{
	char digits[QC_DIGITS];
	size_t n = 0;
	int rc = TIP_EINVAL;

	out[0] = '\0';
	if (len > QC_INPUT_MAX)
		goto out;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == ' ' || c == '-')
			continue;
		if (c < '0' || c > '9' || n == QC_DIGITS)
			goto out;
		digits[n++] = c;
	}
	if (n != QC_DIGITS)
		goto out;
	if (qc_damm(digits, QC_DIGITS) != '0') {
		rc = TIP_EVERIFY;
		goto out;
	}
	memcpy(out, digits, QC_DIGITS);
	out[QC_DIGITS] = '\0';
	rc = TIP_OK;
out:
	OPENSSL_cleanse(digits, sizeof(digits));
	return rc;
}

void qc_format(const char code[QC_DIGITS + 1], char out[QC_DIGITS + QC_DIGITS / 4])
{
	size_t o = 0;

	for (size_t i = 0; i < QC_DIGITS; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = code[i];
	}
	out[o] = '\0';
}

int qc_hash(const char code[QC_DIGITS + 1], uint8_t out[QC_HASH_LEN])
{
	/* The label's terminating NUL is the separator byte. */
	uint8_t msg[sizeof(hash_label) + QC_DIGITS];
	unsigned int out_len = 0;
	int rc = TIP_OK;

	memcpy(msg, hash_label, sizeof(hash_label));
	memcpy(msg + sizeof(hash_label), code, QC_DIGITS);
	if (EVP_Digest(msg, sizeof(msg), out, &out_len, EVP_sha256(), NULL) != 1 || out_len != QC_HASH_LEN) {
		memset(out, 0, QC_HASH_LEN);
		rc = TIP_ECRYPTO;
	}
	OPENSSL_cleanse(msg, sizeof(msg));
	return rc;
}

int qc_status_body(const uint8_t *body, size_t len, char out[QC_DIGITS + 1], char field[QC_FIELD_MAX])
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr), *value;
	const char *key;
	int rc = TIP_OK;

	out[0] = '\0';
	field[0] = '\0';
	if (!json_is_object(doc)) {
		rc = TIP_EDECODE;
		goto out;
	}
	json_object_foreach(doc, key, value)
	{
		if (strcmp(key, "query_code") != 0) {
			snprintf(field, QC_FIELD_MAX, "%s", key);
			rc = TIP_EFORMAT;
			goto out;
		}
	}
	value = json_object_get(doc, "query_code");
	rc = json_is_string(value) ? qc_normalize(json_string_value(value), json_string_length(value), out)
	                           : TIP_EINVAL;
out:
	json_decref(doc);
	return rc;
}
