#include "intake/multipart.h"

#include "common/err.h"
#include "proto/codec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- header syntax (RFC 7230 tokens, parameters) ---- */

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

struct slice {
	const char *p;
	size_t n;
};

struct params {
	const char *s;
	size_t len, pos;
	bool escapes; /* HTTP quoted-pair inside quoted strings (Content-Type); not in part headers */
};

static size_t token(const char *s, size_t len, size_t pos)
{
	while (pos < len && is_tchar((unsigned char)s[pos]))
		pos++;
	return pos;
}

static size_t skip_ows(const char *s, size_t len, size_t pos)
{
	while (pos < len && is_ows(s[pos]))
		pos++;
	return pos;
}

/*
 * The next `; name=value` pair. Returns 1 with name and raw value (a quoted value without its quotes,
 * escapes still in it; *quoted set), 0 at the end, -1 on a syntax error.
 */
static int next_param(struct params *it, struct slice *name, struct slice *value, bool *quoted)
{
	const char *s = it->s;
	size_t pos = skip_ows(s, it->len, it->pos), end;

	if (pos == it->len)
		return 0;
	if (s[pos] != ';')
		return -1;
	pos = skip_ows(s, it->len, pos + 1);
	end = token(s, it->len, pos);
	if (end == pos || end == it->len || s[end] != '=')
		return -1;
	*name = (struct slice){s + pos, end - pos};
	pos = end + 1;
	if (pos < it->len && s[pos] == '"') {
		size_t start = ++pos;

		for (; pos < it->len && s[pos] != '"'; pos++)
			if (it->escapes && s[pos] == '\\' && pos + 1 < it->len)
				pos++;
		if (pos == it->len)
			return -1;
		*value = (struct slice){s + start, pos - start};
		*quoted = true;
		pos++;
	} else {
		end = token(s, it->len, pos);
		if (end == pos)
			return -1;
		*value = (struct slice){s + pos, end - pos};
		*quoted = false;
		pos = end;
	}
	it->pos = pos;
	return 1;
}

/* RFC 2046 bchars. */
static bool is_bchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("'()+_,-./:=? ", c));
}

int mp_boundary(const char *content_type, char out[MP_BOUNDARY_MAX + 1])
{
	struct params it;
	struct slice name, value;
	bool quoted, found = false;
	size_t len, pos, end;
	int more;

	out[0] = '\0';
	if (!content_type)
		return TIP_EINVAL;
	len = strlen(content_type);
	pos = skip_ows(content_type, len, 0);
	end = token(content_type, len, pos);
	if (!ieq(content_type + pos, end - pos, "multipart") || end == len || content_type[end] != '/')
		return TIP_EINVAL;
	pos = end + 1;
	end = token(content_type, len, pos);
	if (!ieq(content_type + pos, end - pos, "form-data"))
		return TIP_EINVAL;
	it = (struct params){content_type, len, end, true};
	while ((more = next_param(&it, &name, &value, &quoted)) > 0) {
		size_t n = 0;

		if (!ieq(name.p, name.n, "boundary"))
			continue;
		if (found)
			return TIP_EDECODE;
		found = true;
		for (size_t i = 0; i < value.n; i++) {
			unsigned char c = (unsigned char)value.p[i];

			if (quoted && c == '\\')
				c = (unsigned char)value.p[++i];
			if (!is_bchar(c) || n == MP_BOUNDARY_MAX)
				return TIP_EDECODE;
			out[n++] = (char)c;
		}
		if (n == 0 || out[n - 1] == ' ')
			return TIP_EDECODE;
		out[n] = '\0';
	}
	if (more < 0 || !found) {
		out[0] = '\0';
		return TIP_EDECODE;
	}
	return TIP_OK;
}

/* ---- parts ---- */

struct parser {
	const uint8_t *body;
	size_t len, pos;
	const char *delim; /* CRLF "--" boundary */
	size_t delim_len;
	struct mp_form *form;
	size_t max_parts;
};

static int fail(struct parser *p, int rc, const char *why)
{
	p->form->error = why;
	return rc;
}

static char *dup_slice(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Length of the UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	size_t k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4;
	else
		return 0;
	return k <= n && codec_utf8_ok(s, k) ? k : 0;
}

/* C0, DEL, C1, and the bidirectional controls that can make "x\u202egpj.exe" display as "xexe.jpg". */
static bool is_control(const uint8_t *s, size_t k)
{
	if (k == 1)
		return s[0] < 0x20 || s[0] == 0x7f;
	if (k == 2)
		return s[0] == 0xc2 && s[1] < 0xa0;
	if (k == 3 && s[0] == 0xe2 && s[1] == 0x80)
		return s[2] == 0x8e || s[2] == 0x8f || (s[2] >= 0xaa && s[2] <= 0xae);
	if (k == 3 && s[0] == 0xe2 && s[1] == 0x81)
		return s[2] >= 0xa6 && s[2] <= 0xa9;
	return false;
}

/* The display filename: last path component, no control characters, UTF-8, at most MP_FILENAME_MAX code
 * points. */
static char *clean_filename(const char *raw, size_t n)
{
	const uint8_t *s;
	size_t start = 0, o = 0, cps = 0, i;
	char *d;

	for (i = 0; i < n; i++)
		if (raw[i] == '/' || raw[i] == '\\')
			start = i + 1;
	s = (const uint8_t *)raw + start;
	n -= start;
	if (!(d = malloc(n + 1)))
		return NULL;
	for (i = 0; i < n;) {
		size_t k = utf8_len(s + i, n - i);

		if (k == 0) {
			d[o++] = '_';
			i++;
		} else if (is_control(s + i, k)) {
			i += k;
			continue;
		} else {
			memcpy(d + o, s + i, k);
			o += k;
			i += k;
		}
		cps++;
	}
	d[o] = '\0';
	if (cps > MP_FILENAME_MAX) {
		/* Keep the tail: the extension says more than the start of a long name. */
		size_t cut = 0, drop = cps - MP_FILENAME_MAX;

		for (; drop; drop--)
			for (cut++; ((unsigned char)d[cut] & 0xc0) == 0x80; cut++)
				;
		memmove(d, d + cut, o - cut + 1);
	}
	return d;
}

static int content_disposition(struct parser *p, const char *v, size_t n, struct mp_part *part)
{
	struct params it;
	struct slice name, value;
	bool quoted;
	size_t end = token(v, n, 0);
	int more;

	if (!ieq(v, end, "form-data"))
		return fail(p, TIP_EDECODE, "Content-Disposition is not form-data");
	it = (struct params){v, n, end, false};
	while ((more = next_param(&it, &name, &value, &quoted)) > 0) {
		if (ieq(name.p, name.n, "name")) {
			if (part->name)
				return fail(p, TIP_EDECODE, "a part names itself twice");
			if (value.n == 0)
				return fail(p, TIP_EDECODE, "a part without a name");
			/* Callers echo the name back in JSON error bodies, which must be UTF-8. */
			if (!codec_utf8_ok((const uint8_t *)value.p, value.n))
				return fail(p, TIP_EDECODE, "a part name that is not UTF-8");
			if (!(part->name = dup_slice(value.p, value.n)))
				return fail(p, TIP_ENOMEM, "out of memory");
		} else if (ieq(name.p, name.n, "filename")) {
			if (part->filename)
				return fail(p, TIP_EDECODE, "a part has two filenames");
			if (!(part->filename = clean_filename(value.p, value.n)))
				return fail(p, TIP_ENOMEM, "out of memory");
		}
		/* filename* and unknown parameters are ignored. */
	}
	if (more < 0)
		return fail(p, TIP_EDECODE, "malformed Content-Disposition");
	if (!part->name)
		return fail(p, TIP_EDECODE, "a part without a name");
	return TIP_OK;
}

static int header_line(struct parser *p, const char *line, size_t n, struct mp_part *part, bool *have_cd,
                       bool *have_ct)
{
	size_t colon = token(line, n, 0), vs, ve;

	if (n && is_ows(line[0]))
		return fail(p, TIP_EDECODE, "folded header line");
	if (colon == 0 || colon == n || line[colon] != ':')
		return fail(p, TIP_EDECODE, "malformed header line");
	for (size_t i = colon; i < n; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
			return fail(p, TIP_EDECODE, "control character in a header");
	vs = skip_ows(line, n, colon + 1);
	for (ve = n; ve > vs && is_ows(line[ve - 1]); ve--)
		;
	if (ieq(line, colon, "content-disposition")) {
		if (*have_cd)
			return fail(p, TIP_EDECODE, "two Content-Disposition headers");
		*have_cd = true;
		return content_disposition(p, line + vs, ve - vs, part);
	}
	if (ieq(line, colon, "content-type")) {
		if (*have_ct)
			return fail(p, TIP_EDECODE, "two Content-Type headers");
		*have_ct = true;
		return TIP_OK;
	}
	if (ieq(line, colon, "content-transfer-encoding") && !ieq(line + vs, ve - vs, "binary") &&
	    !ieq(line + vs, ve - vs, "8bit") && !ieq(line + vs, ve - vs, "7bit"))
		return fail(p, TIP_EDECODE, "unsupported Content-Transfer-Encoding");
	return TIP_OK;
}

static int part_headers(struct parser *p, struct mp_part *part)
{
	size_t start = p->pos, limit = p->len - start > MP_HEADER_MAX ? start + MP_HEADER_MAX : p->len;
	bool have_cd = false, have_ct = false;
	int rc;

	for (;;) {
		const char *line = (const char *)p->body + p->pos;
		size_t i = p->pos;

		while (i < limit && p->body[i] != '\r' && p->body[i] != '\n')
			i++;
		if (i < limit && p->body[i] == '\n')
			return fail(p, TIP_EDECODE, "header line without CRLF");
		if (i + 1 >= limit) {
			if (limit < p->len)
				return fail(p, TIP_EOVERSIZE, "part headers too large");
			return fail(p, TIP_ETRUNCATED, "the body ends inside part headers");
		}
		if (p->body[i + 1] != '\n')
			return fail(p, TIP_EDECODE, "header line without CRLF");
		p->pos = i + 2;
		if (line == (const char *)p->body + i)
			break;
		if ((rc = header_line(p, line, (size_t)((const char *)p->body + i - line), part, &have_cd,
		                      &have_ct)) != TIP_OK)
			return rc;
	}
	if (!have_cd)
		return fail(p, TIP_EDECODE, "a part without Content-Disposition");
	return TIP_OK;
}

static int add_part(struct parser *p, struct mp_part **part)
{
	struct mp_form *f = p->form;

	if (f->n_parts == p->max_parts)
		return fail(p, TIP_EOVERSIZE, "too many parts");
	if (f->n_parts == f->cap_parts) {
		size_t cap = f->cap_parts ? f->cap_parts * 2 : 4;
		struct mp_part *grown;

		if (cap > p->max_parts)
			cap = p->max_parts;
		if (!(grown = realloc(f->parts, cap * sizeof(*grown))))
			return fail(p, TIP_ENOMEM, "out of memory");
		f->parts = grown;
		f->cap_parts = cap;
	}
	*part = &f->parts[f->n_parts++];
	memset(*part, 0, sizeof(**part));
	return TIP_OK;
}

/* After "--" boundary: padding, then CRLF (another part follows) or "--" (the end). */
static int after_delimiter(struct parser *p, bool *last)
{
	const uint8_t *b = p->body;

	*last = false;
	if (p->len - p->pos >= 2 && b[p->pos] == '-' && b[p->pos + 1] == '-') {
		*last = true;
		p->pos += 2;
	}
	while (p->pos < p->len && (b[p->pos] == ' ' || b[p->pos] == '\t'))
		p->pos++;
	if (*last) {
		if (p->pos == p->len || (p->len - p->pos == 2 && b[p->pos] == '\r' && b[p->pos + 1] == '\n'))
			return TIP_OK;
		return fail(p, TIP_EDECODE, "data after the final boundary");
	}
	if (p->pos == p->len)
		return fail(p, TIP_ETRUNCATED, "missing final boundary");
	if (p->len - p->pos < 2 || b[p->pos] != '\r' || b[p->pos + 1] != '\n')
		return fail(p, TIP_EDECODE, "junk after a boundary");
	p->pos += 2;
	return TIP_OK;
}

void mp_form_free(struct mp_form *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_parts; i++) {
		free((char *)f->parts[i].name);
		free((char *)f->parts[i].filename);
	}
	free(f->parts);
	f->parts = NULL;
	f->n_parts = f->cap_parts = 0;
}

int mp_parse(const uint8_t *body, size_t len, const char *boundary, size_t max_parts, struct mp_form *out)
{
	char delim[4 + MP_BOUNDARY_MAX + 1];
	struct parser p;
	size_t blen;
	bool last = false;
	int rc;

	memset(out, 0, sizeof(*out));
	blen = boundary ? strnlen(boundary, MP_BOUNDARY_MAX + 1) : 0;
	if (blen == 0 || blen > MP_BOUNDARY_MAX || (!body && len)) {
		out->error = "bad boundary";
		return TIP_EINVAL;
	}
	memcpy(delim, "\r\n--", 4);
	memcpy(delim + 4, boundary, blen);
	p = (struct parser){body, len, 0, delim, 4 + blen, out, max_parts};
	/* No preamble: the body starts with the first delimiter (without the CRLF that ends the previous
	 * part). */
	if (len < blen + 2 || memcmp(body, delim + 2, blen + 2) != 0) {
		rc = fail(&p, len ? TIP_EDECODE : TIP_ETRUNCATED,
		          "the body does not start with the boundary");
		goto out;
	}
	p.pos = blen + 2;
	if ((rc = after_delimiter(&p, &last)) != TIP_OK)
		goto out;
	if (last) {
		rc = fail(&p, TIP_EDECODE, "no parts");
		goto out;
	}
	while (!last) {
		struct mp_part *part;
		const uint8_t *end;

		if ((rc = add_part(&p, &part)) != TIP_OK || (rc = part_headers(&p, part)) != TIP_OK)
			goto out;
		end = memmem(body + p.pos, len - p.pos, p.delim, p.delim_len);
		if (!end) {
			rc = fail(&p, TIP_ETRUNCATED, "missing final boundary");
			goto out;
		}
		part->data = body + p.pos;
		part->len = (size_t)(end - part->data);
		p.pos = (size_t)(end - body) + p.delim_len;
		if ((rc = after_delimiter(&p, &last)) != TIP_OK)
			goto out;
	}
	out->error = NULL;
out:
	if (rc != TIP_OK) {
		const char *why = out->error;

		mp_form_free(out);
		out->error = why;
	}
	return rc;
}
