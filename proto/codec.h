/*
 * Strict protobuf decoding for hostile input. Before protobuf-c sees a buffer,
 * a descriptor-driven walk checks it: every field is known to the schema and has
 * the wire type the schema says, nothing runs past the end, strings are valid
 * UTF-8 without NUL, nesting is bounded. Unpacking then draws from an allocator
 * with a hard budget, so a small input cannot make a large allocation.
 */
#ifndef TIP_PROTO_CODEC_H
#define TIP_PROTO_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest message nesting accepted (Report -> Activity -> Attachment is 3). */
#define CODEC_MAX_DEPTH 8

/*
 * Checks buf[0..len) against desc as described above. Returns TIP_OK,
 * TIP_EOVERSIZE (len > cap), TIP_ETRUNCATED (a field runs past the end) or
 * TIP_EDECODE (unknown field, wrong wire type, a singular field twice, bad UTF-8,
 * too deep, overlong varint).
 */
int codec_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t cap);

/*
 * codec_check, then unpack. On success *out owns the message; free it with codec_free.
 * TIP_EOVERSIZE also when unpacking would pass the allocation budget (a multiple of len).
 */
int codec_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t cap,
                 ProtobufCMessage **out);
void codec_free(ProtobufCMessage *msg);

/* Serializes msg into a new heap buffer (*out, *out_len). TIP_EOVERSIZE past cap. */
int codec_pack(const ProtobufCMessage *msg, size_t cap, uint8_t **out, size_t *out_len);

/* 1 if s[0..len) is valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) without NUL. */
int codec_utf8_ok(const uint8_t *s, size_t len);

#endif
