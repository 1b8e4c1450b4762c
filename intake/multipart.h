/*
 * A strict multipart/form-data (RFC 7578, body syntax of RFC 2046) parser over a
 * complete body in memory. The intake takes one part named "report" (the JSON)
 * and parts named "attachment" (files); which names mean what is the server's
 * business, this parser only splits the body.
 *
 * Accepted body: "--" boundary, then for each part: optional SP/HTAB padding,
 * CRLF, header lines each ending in CRLF (no folding, no bare CR or LF, no
 * control characters but HTAB, at most MP_HEADER_MAX bytes including the empty
 * line), CRLF, the data, CRLF "--" boundary; after the last part "--", optional
 * padding and an optional CRLF, then the end of the body. At least one part; no
 * preamble, no epilogue. Headers: Content-Disposition exactly once, type
 * form-data, with a non-empty UTF-8 "name" and an optional "filename";
 * Content-Type at most once (its value is not used: content is sniffed);
 * Content-Transfer-Encoding only as 7bit, 8bit or binary; other headers are
 * ignored (RFC 7578 section 4.8). Parameter values are tokens or quoted strings
 * that end at the next '"' with no backslash escapes, as browsers write them
 * (they send '"' as %22, which is kept as is). "filename*" (RFC 5987) is
 * ignored: RFC 7578 section 4.2 forbids senders to use it.
 * docs/internals/intake-attachments.md has the details.
 *
 * Filenames are for display only: the value is cut to its last path component
 * (after the last '/' or '\'), control characters (C0, DEL, C1, and the
 * bidirectional controls such as U+202E) are dropped, bytes that are not UTF-8
 * become '_', and only the last MP_FILENAME_MAX code points are kept. A file
 * input left empty arrives from browsers as filename "" with no data.
 *
 * Ownership: part data points INTO the body buffer (no copy), so the body must
 * outlive the form; name and filename are copies owned by the form. Free with
 * mp_form_free, which is safe on a zeroed or already freed form.
 */
#ifndef TIP_INTAKE_MULTIPART_H
#define TIP_INTAKE_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define MP_BOUNDARY_MAX 70         /* RFC 2046 */
#define MP_HEADER_MAX   (8u << 10) /* bytes in one part's header block */
#define MP_FILENAME_MAX 255        /* code points kept of a filename */

struct mp_part {
	const char *name;
	const char *filename; /* NULL if none */
	const uint8_t *data;  /* into the body */
	size_t len;
};

struct mp_form {
	struct mp_part *parts;
	size_t n_parts;
	/* After a failure of mp_parse: a static English sentence for the error body; NULL otherwise. */
	const char *error;
	size_t cap_parts; /* private */
};

/*
 * Extracts the boundary from a Content-Type header value such as
 * `multipart/form-data; boundary="abc"` into out (NUL-terminated). Returns TIP_OK,
 * TIP_EINVAL when the media type is not multipart/form-data (or content_type is
 * NULL), TIP_EDECODE for bad parameter syntax, a missing or repeated boundary,
 * or a boundary that is not 1..70 characters of RFC 2046 bchars not ending in a
 * space.
 */
int mp_boundary(const char *content_type, char out[MP_BOUNDARY_MAX + 1]);

/*
 * Splits body[0..len) into at most max_parts parts. *out is reset first; on
 * failure it holds no parts and out->error says why. Returns TIP_OK,
 * TIP_EINVAL (bad boundary argument), TIP_ETRUNCATED (the body ends before the
 * final boundary, inside a part or its headers), TIP_EOVERSIZE (more than
 * max_parts parts, a header block over MP_HEADER_MAX), TIP_EDECODE (anything
 * else malformed: no leading boundary, junk after a boundary, a bad header line,
 * no or repeated Content-Disposition, a part without a name, ...), TIP_ENOMEM.
 */
int mp_parse(const uint8_t *body, size_t len, const char *boundary, size_t max_parts, struct mp_form *out);

void mp_form_free(struct mp_form *f);

#endif
