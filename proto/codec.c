#include "proto/codec.h"

#include "common/err.h"
#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* Every unpacked allocation carries its size in front, so freeing needs no budget state. */
#define ALLOC_HEADER 16
/* Budget for the unpacked form: protobuf-c structs are larger than their wire encoding. */
#define ALLOC_FACTOR 24
#define ALLOC_SLACK  (64 * 1024)

struct alloc_budget {
	size_t used, cap;
};

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		if (*pos >= len)
			return TIP_ETRUNCATED;
		uint8_t b = p[(*pos)++];

		if (shift == 63 && b > 1)
			return TIP_EDECODE;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return TIP_OK;
		}
	}
	return TIP_EDECODE;
}

int codec_utf8_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		if (s[i] != 0 && s[i] < 0x80) { /* ASCII needs no call */
			i++;
			continue;
		}
		if ((n = utf8_next(s + i, len - i, &cp)) == 0 || cp == 0)
			return 0;
		i += n;
	}
	return 1;
}

static int expected_wire(const ProtobufCFieldDescriptor *f, int wire)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_BOOL:
	case PROTOBUF_C_TYPE_ENUM:
		return wire == WIRE_VARINT || (f->label == PROTOBUF_C_LABEL_REPEATED && wire == WIRE_LEN);
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return wire == WIRE_I32 || (f->label == PROTOBUF_C_LABEL_REPEATED && wire == WIRE_LEN);
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return wire == WIRE_I64 || (f->label == PROTOBUF_C_LABEL_REPEATED && wire == WIRE_LEN);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE: return wire == WIRE_LEN;
	}
	return 0;
}

static int check_message(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, int depth)
{
	size_t pos = 0;
	uint64_t seen = 0; /* singular fields met so far, by descriptor index */
	int rc;

	if (depth > CODEC_MAX_DEPTH || desc->n_fields > 64)
		return TIP_EDECODE;
	while (pos < len) {
		uint64_t tag, v;

		if ((rc = read_varint(p, len, &pos, &tag)) != TIP_OK)
			return rc;
		if (tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
			return TIP_EDECODE;
		const ProtobufCFieldDescriptor *f =
		        protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3));
		int wire = (int)(tag & 7);

		if (!f || !expected_wire(f, wire))
			return TIP_EDECODE;
		/* A repeated singular field means two parsers could disagree on its value. */
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			uint64_t bit = UINT64_C(1) << (f - desc->fields);

			if (seen & bit)
				return TIP_EDECODE;
			seen |= bit;
		}
		switch (wire) {
		case WIRE_VARINT:
			if ((rc = read_varint(p, len, &pos, &v)) != TIP_OK)
				return rc;
			break;
		case WIRE_I64:
		case WIRE_I32: {
			size_t n = wire == WIRE_I64 ? 8 : 4;

			if (len - pos < n)
				return TIP_ETRUNCATED;
			pos += n;
			break;
		}
		case WIRE_LEN:
			if ((rc = read_varint(p, len, &pos, &v)) != TIP_OK)
				return rc;
			if (v > len - pos)
				return TIP_ETRUNCATED;
			if (f->type == PROTOBUF_C_TYPE_STRING && !codec_utf8_ok(p + pos, (size_t)v))
				return TIP_EDECODE;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    (rc = check_message(f->descriptor, p + pos, (size_t)v, depth + 1)) != TIP_OK)
				return rc;
			pos += (size_t)v;
			break;
		}
	}
	return TIP_OK;
}

int codec_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t cap)
{
	if (len > cap)
		return TIP_EOVERSIZE;
	return check_message(desc, buf, len, 0);
}

static void *budget_alloc(void *data, size_t size)
{
	struct alloc_budget *b = data;
	uint8_t *p;

	if (size > b->cap - b->used || b->cap - b->used - size < ALLOC_HEADER)
		return NULL;
	p = malloc(size + ALLOC_HEADER);
	if (!p)
		return NULL;
	b->used += size + ALLOC_HEADER;
	memcpy(p, &size, sizeof(size));
	return p + ALLOC_HEADER;
}

static void budget_free(void *data, void *ptr)
{
	(void)data;
	if (ptr)
		free((uint8_t *)ptr - ALLOC_HEADER);
}

int codec_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, size_t cap,
                 ProtobufCMessage **out)
{
	struct alloc_budget budget = {0, len * ALLOC_FACTOR + ALLOC_SLACK};
	ProtobufCAllocator alloc = {budget_alloc, budget_free, &budget};
	int rc;

	*out = NULL;
	if ((rc = codec_check(desc, buf, len, cap)) != TIP_OK)
		return rc;
	*out = protobuf_c_message_unpack(desc, &alloc, len, buf);
	/* The walk accepted the encoding, so a failure here is the budget. */
	return *out ? TIP_OK : TIP_EOVERSIZE;
}

void codec_free(ProtobufCMessage *msg)
{
	ProtobufCAllocator alloc = {budget_alloc, budget_free, NULL};

	if (msg)
		protobuf_c_message_free_unpacked(msg, &alloc);
}

int codec_pack(const ProtobufCMessage *msg, size_t cap, uint8_t **out, size_t *out_len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);

	*out = NULL;
	if (n > cap)
		return TIP_EOVERSIZE;
	*out = malloc(n ? n : 1);
	if (!*out)
		return TIP_ENOMEM;
	*out_len = protobuf_c_message_pack(msg, *out);
	return TIP_OK;
}
