/*
 * Status bulletins: the only data that crosses from the internal zone outwards.
 * Each names a query-code hash, a stage and a result from the taxonomy, and a date.
 */
#ifndef TIP_PROTO_BULLETIN_H
#define TIP_PROTO_BULLETIN_H

#include <stddef.h>
#include <stdint.h>

#include "proto/taxonomy.h"

#define BULLETIN_VERSION  1
#define BULLETIN_HASH_LEN 32
#define BULLETIN_CODE_MAX 32
#define BULLETIN_MAX_SIZE 256 /* a bulletin is small; anything larger is hostile */
/* A STATUS record carrying one: the envelope plus a bulletin of at most BULLETIN_MAX_SIZE bytes. */
#define BULLETIN_RECORD_MAX 4096

struct bulletin {
	uint8_t query_hash[BULLETIN_HASH_LEN];
	char stage[BULLETIN_CODE_MAX + 1];
	char result[BULLETIN_CODE_MAX + 1];
	char date[11]; /* YYYY-MM-DD */
};

/*
 * Serializes b after checking it as bulletin_decode would. *out is a heap
 * buffer of *out_len bytes.
 */
int bulletin_encode(const struct bulletin *b, const struct taxonomy *t, uint8_t **out, size_t *out_len);

/*
 * Decodes and checks a bulletin: version 1, a 32-byte hash, stage and result
 * codes present in the taxonomy (TIP_ERANGE otherwise), a real calendar date
 * (TIP_EINVAL otherwise). Decoding errors as codec_unpack.
 */
int bulletin_decode(const uint8_t *buf, size_t len, const struct taxonomy *t, struct bulletin *out);

/* 1 if s is a valid YYYY-MM-DD date of the Gregorian calendar between 2000 and 2999. */
int bulletin_date_ok(const char *s);

#endif
