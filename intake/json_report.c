#include "intake/json_report.h"

#include "common/err.h"
#include "proto/codec.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 8192
/* Worst case is about 35 bytes per input byte ("[{},{},...]": a struct and a pointer per 3 bytes); 64 is
 * safe. */
#define ARENA_PER_BYTE 64
#define ARENA_FIXED    (64u << 10)
#define PATH_MAX_BYTES 256

/* ---- arena: every allocation lives until jr_free, which wipes it (reports carry personal data) ---- */

struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
	size_t total, cap;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	struct chunk *c = a->head;
	size_t size;

	if (n > SIZE_MAX - align)
		return NULL;
	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (c && c->size - c->used >= n) {
		void *p = (unsigned char *)c->data + c->used;

		c->used += n;
		return p;
	}
	size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
	if (size > a->cap || a->total > a->cap - size || size > SIZE_MAX - sizeof(*c))
		return NULL;
	/* calloc: bump allocations are handed out zeroed. */
	if (!(c = calloc(1, sizeof(*c) + size)))
		return NULL;
	c->size = size;
	c->used = n;
	a->total += size;
	if (size == n && a->head) {
		/* A dedicated block: keep bumping in the current chunk. */
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	return c->data;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *d;

	if (n == SIZE_MAX || !(d = arena_alloc(a, n + 1)))
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void arena_free(struct arena *a)
{
	struct chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		OPENSSL_cleanse(c->data, c->used);
		free(c);
	}
	a->head = NULL;
	a->total = 0;
}

struct jr_report {
	struct arena arena;
	Tip__Report *report;
	struct report_limits lim;
	size_t attachment_bytes;
	uint8_t query_hash[REPORT_QUERY_HASH_LEN];
};

/* ---- errors and field paths ---- */

/* Copies src[0..n) as a field name: cut at a UTF-8 character boundary, control and stray bytes as '?'. */
static void set_field(char dst[REPORT_FIELD_MAX], const char *src, size_t n)
{
	size_t o = 0, i = 0;

	while (i < n) {
		unsigned char b = (unsigned char)src[i];
		size_t k = b < 0x80                 ? 1
		           : b >= 0xc2 && b <= 0xdf ? 2
		           : b >= 0xe0 && b <= 0xef ? 3
		           : b >= 0xf0 && b <= 0xf4 ? 4
		                                    : 0;

		if (k > 1 && (k > n - i || !codec_utf8_ok((const uint8_t *)src + i, k)))
			k = 0;
		if (o + (k ? k : 1) > REPORT_FIELD_MAX - 1)
			break;
		if (k == 0 || (k == 1 && (b < 0x20 || b == 0x7f))) {
			dst[o++] = '?';
			i++;
		} else {
			memcpy(dst + o, src + i, k);
			o += k;
			i += k;
		}
	}
	dst[o] = '\0';
}

static int set_error(struct jr_error *err, int code, const char *field, size_t field_len, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static int set_error(struct jr_error *err, int code, const char *field, size_t field_len, const char *fmt,
                     ...)
{
	va_list ap;

	err->code = code;
	set_field(err->field, field, field_len);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

static void clear_error(struct jr_error *err)
{
	err->code = TIP_OK;
	err->field[0] = '\0';
	err->message[0] = '\0';
}

/* A field path being built; on overflow it stays cut (set_field cuts it again to REPORT_FIELD_MAX). */
struct path {
	char s[PATH_MAX_BYTES];
	size_t len;
};

static void path_append(struct path *p, const char *s, size_t n)
{
	size_t room = sizeof(p->s) - 1 - p->len;

	if (n > room)
		n = room;
	memcpy(p->s + p->len, s, n);
	p->len += n;
	p->s[p->len] = '\0';
}

static size_t path_key(struct path *p, const char *key, size_t n)
{
	size_t old = p->len;

	if (p->len)
		path_append(p, ".", 1);
	path_append(p, key, n);
	return old;
}

static size_t path_index(struct path *p, size_t i)
{
	char buf[32];
	size_t old = p->len;
	int n = snprintf(buf, sizeof(buf), "[%zu]", i);

	path_append(p, buf, (size_t)n);
	return old;
}

static void path_restore(struct path *p, size_t len)
{
	p->len = len;
	p->s[len] = '\0';
}

/* ---- structural scan of the raw text: nesting depth before jansson recurses, and the path at a byte offset
 * ---- */

struct frame {
	bool object, expect_key, has_key;
	size_t index, key_off, key_len;
};

struct scan {
	struct frame f[JR_MAX_DEPTH];
	size_t depth;
};

/*
 * Walks s[0..stop) tracking objects, arrays, the current key and the current index. Returns the offset of a
 * bracket that would nest deeper than JR_MAX_DEPTH, or SIZE_MAX. Ill-formed text is walked all the same
 * (jansson rejects it later); nothing here reads past stop.
 */
static size_t scan_text(const char *s, size_t stop, struct scan *st)
{
	bool in_string = false, escape = false, is_key = false;
	size_t start = 0;

	st->depth = 0;
	for (size_t i = 0; i < stop; i++) {
		char ch = s[i];
		struct frame *top = st->depth ? &st->f[st->depth - 1] : NULL;

		if (in_string) {
			if (escape) {
				escape = false;
			} else if (ch == '\\') {
				escape = true;
			} else if (ch == '"') {
				in_string = false;
				if (is_key && top) {
					top->key_off = start;
					top->key_len = i - start;
					top->has_key = true;
				}
			}
			continue;
		}
		switch (ch) {
		case '"':
			in_string = true;
			is_key = top && top->object && top->expect_key;
			start = i + 1;
			break;
		case '{':
		case '[':
			if (st->depth == JR_MAX_DEPTH)
				return i;
			st->f[st->depth++] = (struct frame){.object = ch == '{', .expect_key = ch == '{'};
			break;
		case '}':
		case ']':
			if (st->depth)
				st->depth--;
			break;
		case ',':
			if (top && top->object) {
				top->expect_key = true;
				top->has_key = false;
			} else if (top) {
				top->index++;
			}
			break;
		case ':':
			if (top && top->object)
				top->expect_key = false;
			break;
		default: break;
		}
	}
	return SIZE_MAX;
}

/* The field path where a scan stopped; "" unless the body is an object. Keys appear as written. */
static void scan_path(const char *s, const struct scan *st, struct path *p)
{
	path_restore(p, 0);
	if (st->depth == 0 || !st->f[0].object)
		return;
	for (size_t k = 0; k < st->depth; k++) {
		const struct frame *f = &st->f[k];

		if (f->object) {
			if (!f->has_key)
				return;
			path_key(p, s + f->key_off, f->key_len);
		} else {
			path_index(p, f->index);
		}
	}
}

/* ---- conversion, driven by the protobuf-c descriptors so JSON names are the schema's names ---- */

struct conv {
	struct jr_report *r;
	const struct report_limits *lim;
	struct jr_error *err;
	struct path path;
};

/* The field a JSON key may set: strings, booleans and messages, except what the server fills in. */
static const ProtobufCFieldDescriptor *json_field(const ProtobufCMessageDescriptor *desc, const char *key)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);

	if (!f)
		return NULL;
	if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BOOL &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL; /* version (uint32), query_hash (bytes) */
	if (desc == &tip__activity__descriptor && strcmp(f->name, "attachments") == 0)
		return NULL;
	return f;
}

static size_t array_limit(const struct report_limits *lim, const ProtobufCMessageDescriptor *desc,
                          const ProtobufCFieldDescriptor *f)
{
	if (desc == &tip__report__descriptor && strcmp(f->name, "persons") == 0)
		return lim->max_persons;
	if (desc == &tip__umbrella__descriptor && strcmp(f->name, "officials") == 0)
		return lim->max_officials;
	return lim->max_list;
}

static int fail_here(struct conv *c, int code, const char *msg)
{
	return set_error(c->err, code, c->path.s, c->path.len, "%s", msg);
}

static int no_memory(struct conv *c)
{
	return set_error(c->err, TIP_ENOMEM, "", 0, "out of memory");
}

static int convert_message(struct conv *c, json_t *obj, const ProtobufCMessageDescriptor *desc, void **out);

static int convert_string(struct conv *c, json_t *v, char **out)
{
	if (!json_is_string(v))
		return fail_here(c, TIP_EINVAL, "must be a string");
	if (!(*out = arena_strndup(&c->r->arena, json_string_value(v), json_string_length(v))))
		return no_memory(c);
	return TIP_OK;
}

static int convert_value(struct conv *c, json_t *v, const ProtobufCFieldDescriptor *f, void *slot)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: return convert_string(c, v, slot);
	case PROTOBUF_C_TYPE_MESSAGE: return convert_message(c, v, f->descriptor, slot);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return fail_here(c, TIP_EINVAL, "must be true or false");
		*(protobuf_c_boolean *)slot = json_is_true(v);
		return TIP_OK;
	default: return fail_here(c, TIP_EINVAL, "unknown field");
	}
}

static int convert_repeated(struct conv *c, json_t *v, const ProtobufCMessageDescriptor *desc,
                            const ProtobufCFieldDescriptor *f, void *msg)
{
	size_t n, max = array_limit(c->lim, desc, f);
	void **items;
	char msgbuf[64];
	int rc;

	if (!json_is_array(v))
		return fail_here(c, TIP_EINVAL, "must be an array");
	n = json_array_size(v);
	if (n > max) {
		snprintf(msgbuf, sizeof(msgbuf), "too many items (at most %zu)", max);
		return fail_here(c, TIP_EOVERSIZE, msgbuf);
	}
	if (n == 0)
		return TIP_OK;
	if (!(items = arena_alloc(&c->r->arena, n * sizeof(*items))))
		return no_memory(c);
	for (size_t i = 0; i < n; i++) {
		size_t old = path_index(&c->path, i);

		if ((rc = convert_value(c, json_array_get(v, i), f, &items[i])) != TIP_OK)
			return rc;
		path_restore(&c->path, old);
	}
	*(void ***)((char *)msg + f->offset) = items;
	*(size_t *)((char *)msg + f->quantifier_offset) = n;
	return TIP_OK;
}

static int convert_message(struct conv *c, json_t *obj, const ProtobufCMessageDescriptor *desc, void **out)
{
	const char *key;
	json_t *v;
	void *msg;
	int rc;

	if (!json_is_object(obj))
		return fail_here(c, TIP_EINVAL, "must be an object");
	if (!(msg = arena_alloc(&c->r->arena, desc->sizeof_message)))
		return no_memory(c);
	protobuf_c_message_init(desc, msg);
	/* jansson keeps insertion order, so the first problem in the text is the one reported. */
	json_object_foreach(obj, key, v)
	{
		const ProtobufCFieldDescriptor *f = json_field(desc, key);
		size_t old = path_key(&c->path, key, strlen(key));

		if (!f)
			return fail_here(c, TIP_EINVAL, "unknown field");
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			rc = convert_repeated(c, v, desc, f, msg);
		else
			rc = convert_value(c, v, f, (char *)msg + f->offset);
		if (rc != TIP_OK)
			return rc;
		path_restore(&c->path, old);
	}
	*out = msg;
	return TIP_OK;
}

/* jansson keeps its own copies of the strings; wipe them before it frees them. */
static void wipe_json(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_string(v)) {
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item) wipe_json(item);
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, item) wipe_json(item);
	}
}

static int load_error(const char *json, size_t len, const json_error_t *jerr, struct jr_error *err)
{
	struct scan st;
	struct path p;
	size_t pos = jerr->position < 0 ? 0 : (size_t)jerr->position;
	const char *what;

	if (pos > len)
		pos = len;
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory: return set_error(err, TIP_ENOMEM, "", 0, "out of memory");
	case json_error_premature_end_of_input:
		return set_error(err, TIP_EDECODE, "", 0, len ? "JSON ends early" : "empty body");
	case json_error_end_of_input_expected:
		return set_error(err, TIP_EDECODE, "", 0, "text after the JSON value at byte %zu", pos);
	case json_error_duplicate_key: what = "duplicate key"; break;
	case json_error_null_character:
	case json_error_null_byte_in_key: what = "\\u0000 is not allowed"; break;
	case json_error_invalid_utf8: what = "invalid UTF-8"; break;
	case json_error_numeric_overflow: what = "number out of range"; break;
	default: what = "malformed JSON"; break;
	}
	scan_text(json, pos, &st);
	scan_path(json, &st, &p);
	return set_error(err, TIP_EDECODE, p.s, p.len, "%s at byte %zu", what, pos);
}

struct jr_report *jr_parse(const char *json, size_t len, const struct report_limits *lim,
                           struct jr_error *err)
{
	struct jr_report *r = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	struct jr_error dummy;
	struct conv c;
	struct scan st;
	struct path p;
	size_t deep;

	if (!err)
		err = &dummy;
	clear_error(err);
	if (!lim || (!json && len)) {
		set_error(err, TIP_EINVAL, "", 0, "no input");
		goto out;
	}
	if (len > JR_MAX_BODY) {
		set_error(err, TIP_EOVERSIZE, "", 0, "body over %u bytes", JR_MAX_BODY);
		goto out;
	}
	if (!json)
		json = "";
	/* Checked before jansson parses, so no input can make its recursive parser go deep. */
	if ((deep = scan_text(json, len, &st)) != SIZE_MAX) {
		scan_path(json, &st, &p);
		set_error(err, TIP_EDECODE, p.s, p.len, "nesting deeper than %d at byte %zu", JR_MAX_DEPTH,
		          deep);
		goto out;
	}
	if (!(root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr))) {
		load_error(json, len, &jerr, err);
		goto out;
	}
	if (!json_is_object(root)) {
		set_error(err, TIP_EINVAL, "", 0, "the body must be a JSON object");
		goto out;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		set_error(err, TIP_ENOMEM, "", 0, "out of memory");
		goto out;
	}
	r->lim = *lim;
	r->arena.cap = len > (SIZE_MAX - ARENA_FIXED) / ARENA_PER_BYTE ? SIZE_MAX
	                                                               : len * ARENA_PER_BYTE + ARENA_FIXED;
	c = (struct conv){.r = r, .lim = lim, .err = err};
	if (convert_message(&c, root, &tip__report__descriptor, (void **)&r->report) != TIP_OK)
		goto out;
	if (!r->report->reporter)
		set_error(err, TIP_EINVAL, "reporter", 8, "required");
	else if (!r->report->activity)
		set_error(err, TIP_EINVAL, "activity", 8, "required");
out:
	if (root) {
		wipe_json(root);
		json_decref(root);
	}
	if (err->code != TIP_OK) {
		jr_free(r);
		r = NULL;
	}
	return r;
}

Tip__Report *jr_report(struct jr_report *r)
{
	return r ? r->report : NULL;
}

int jr_add_attachment(struct jr_report *r, const char *filename, const char *content_type,
                      const uint8_t *data, size_t len, struct jr_error *err)
{
	Tip__Activity *act;
	Tip__Attachment *a, **list;
	char field[REPORT_FIELD_MAX];
	struct jr_error dummy;
	size_t n, fn_len, ct_len, need;

	if (!err)
		err = &dummy;
	clear_error(err);
	if (!r || !r->report || !r->report->activity)
		return set_error(err, TIP_EINVAL, "", 0, "no report");
	act = r->report->activity;
	n = act->n_attachments;
	if (n >= r->lim.max_attachments)
		return set_error(err, TIP_EOVERSIZE, "activity.attachments", 20,
		                 "too many attachments (at most %zu)", r->lim.max_attachments);
	snprintf(field, sizeof(field), "activity.attachments[%zu].content_type", n);
	if (!content_type)
		return set_error(err, TIP_ERANGE, field, strlen(field), "file type not accepted");
	snprintf(field, sizeof(field), "activity.attachments[%zu].data", n);
	if (!data || len == 0)
		return set_error(err, TIP_EINVAL, field, strlen(field), "empty file");
	if (len > r->lim.attachment_bytes - r->attachment_bytes)
		return set_error(err, TIP_EOVERSIZE, field, strlen(field),
		                 "attachments over %zu bytes together", r->lim.attachment_bytes);
	if (!filename)
		filename = "";
	fn_len = strlen(filename);
	ct_len = strlen(content_type);
	/* Room for this attachment on top of the JSON's share: the data, its strings and structs, with slack.
	 */
	need = len + fn_len + ct_len + (n + 1) * sizeof(*list) + sizeof(*a) + 4 * ARENA_CHUNK;
	if (need < len || r->arena.cap > SIZE_MAX - need)
		return set_error(err, TIP_EOVERSIZE, field, strlen(field), "attachment too large");
	r->arena.cap += need;
	if (!(a = arena_alloc(&r->arena, sizeof(*a))) ||
	    !(list = arena_alloc(&r->arena, (n + 1) * sizeof(*list))))
		return set_error(err, TIP_ENOMEM, "", 0, "out of memory");
	tip__attachment__init(a);
	if (!(a->filename = arena_strndup(&r->arena, filename, fn_len)) ||
	    !(a->content_type = arena_strndup(&r->arena, content_type, ct_len)) ||
	    !(a->data.data = arena_alloc(&r->arena, len)) ||
	    !(a->sha256.data = arena_alloc(&r->arena, SHA256_DIGEST_LENGTH)))
		return set_error(err, TIP_ENOMEM, "", 0, "out of memory");
	memcpy(a->data.data, data, len);
	a->data.len = len;
	SHA256(data, len, a->sha256.data);
	a->sha256.len = SHA256_DIGEST_LENGTH;
	if (n)
		memcpy(list, act->attachments, n * sizeof(*list));
	list[n] = a;
	act->attachments = list;
	act->n_attachments = n + 1;
	r->attachment_bytes += len;
	return TIP_OK;
}

static const char *validate_message(int rc)
{
	switch (rc) {
	case TIP_EVERSION: return "unsupported version";
	case TIP_ERANGE: return "not a known code or value";
	case TIP_EOVERSIZE: return "too long or too many";
	case TIP_EINVAL: return "missing or malformed";
	default: return tip_strerror(rc);
	}
}

int jr_finish(struct jr_report *r, const uint8_t query_hash[REPORT_QUERY_HASH_LEN], const struct taxonomy *t,
              const struct report_limits *lim, struct jr_error *err)
{
	struct jr_error dummy;
	int rc;

	if (!err)
		err = &dummy;
	clear_error(err);
	if (!r || !r->report || !query_hash || !t || !lim)
		return set_error(err, TIP_EINVAL, "", 0, "no report");
	memcpy(r->query_hash, query_hash, REPORT_QUERY_HASH_LEN);
	r->report->version = REPORT_VERSION;
	r->report->query_hash.data = r->query_hash;
	r->report->query_hash.len = REPORT_QUERY_HASH_LEN;
	if ((rc = report_validate(r->report, t, lim, err->field)) != TIP_OK) {
		err->code = rc;
		snprintf(err->message, sizeof(err->message), "%s", validate_message(rc));
	}
	return rc;
}

void jr_free(struct jr_report *r)
{
	if (!r)
		return;
	arena_free(&r->arena);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}
