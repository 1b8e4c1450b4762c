/*
 * Query codes: what a reporter keeps to look up a report's progress later.
 *
 * A code is 20 decimal digits: 19 drawn uniformly from the OpenSSL CSPRNG
 * (10^19 values, about 63.1 bits) and a Damm check digit, which catches every
 * single-digit error and every swap of two adjacent digits before any lookup
 * is made. People see it in groups of four ("1234 5678 9012 3456 7890").
 *
 * The intake never stores a code, only qc_hash of it: SHA-256 over the label
 * "tipline query code v1", a zero byte, and the 20 ASCII digits. That hash
 * travels inside the sealed report and comes back in status bulletins.
 *
 * Codes are secrets: callers should wipe their copies (OPENSSL_cleanse) once
 * hashed and answered. Every function is thread-safe (no shared state).
 */
#ifndef TIP_INTAKE_QUERYCODE_H
#define TIP_INTAKE_QUERYCODE_H

#include <stddef.h>
#include <stdint.h>

#define QC_DIGITS   20
#define QC_HASH_LEN 32
/* qc_normalize refuses input longer than this (digits plus separators). */
#define QC_INPUT_MAX 64

/* A fresh code into code (20 digits and a NUL). TIP_OK or TIP_ECRYPTO (the CSPRNG failed). */
int qc_generate(char code[QC_DIGITS + 1]);

/*
 * Reads a code as a person types or pastes it: the digits with any number of
 * spaces or '-' before, between or after them. out gets the 20 bare digits.
 * TIP_EINVAL for any other character, a digit count other than 20 or more than
 * QC_INPUT_MAX bytes; TIP_EVERIFY when the check digit is wrong. On error out
 * is the empty string.
 */
int qc_normalize(const char *in, size_t len, char out[QC_DIGITS + 1]);

/* Longest member name qc_status_body names back, with its NUL (longer ones are cut). */
#define QC_FIELD_MAX 64

/*
 * The body of POST /api/v1/status: a JSON object whose only member is "query_code", a string that
 * qc_normalize reads into out. TIP_OK; TIP_EDECODE if it is not a JSON object; TIP_EFORMAT for
 * another member, named in field; else qc_normalize's TIP_EINVAL (also for a missing or non-string
 * query_code) or TIP_EVERIFY. On error out is the empty string.
 */
int qc_status_body(const uint8_t *body, size_t len, char out[QC_DIGITS + 1], char field[QC_FIELD_MAX]);

/* "1234 5678 9012 3456 7890" (24 characters and a NUL) from 20 bare digits. */
void qc_format(const char code[QC_DIGITS + 1], char out[QC_DIGITS + QC_DIGITS / 4]);

/*
 * The stored form of a code (20 bare digits, as qc_normalize gives them).
 * TIP_OK, or TIP_ECRYPTO if the digest failed (out is then zeroed).
 */
int qc_hash(const char code[QC_DIGITS + 1], uint8_t out[QC_HASH_LEN]);

/*
 * The Damm check digit ('0'..'9') of n ASCII digits; a string followed by its
 * check digit has check digit '0'. Returns 0 (not a digit) if any input
 * character is not a digit.
 */
char qc_damm(const char *digits, size_t n);

#endif
