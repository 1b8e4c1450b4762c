/*
 * Pages compiled into a daemon: each table is a fixed set of files turned into C arrays at build time
 * (cmake/web_assets.cmake), each with the content type chosen there. A request names a file only by
 * matching one table path exactly, so no request reaches the file system. Two tables exist: the
 * public pages intaked serves (intake/web/) and the staff pages casemgrd serves (internal/web/); both
 * also carry the files of common/web/ that they share.
 */
#ifndef TIP_COMMON_WEB_H
#define TIP_COMMON_WEB_H

#include <stddef.h>

#include "common/http_server.h"

struct web_asset {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

struct web_table {
	const struct web_asset *assets;
	size_t count;
};

extern const struct web_table web_public; /* intake/web/ */
extern const struct web_table web_staff;  /* internal/web/ */

/* The asset for a request path ("/" is "/index.html"), or NULL. */
const struct web_asset *web_find(const struct web_table *t, const char *path);

/* A fixed answer compressed once at start; data is NULL when compressing did not make it smaller. */
struct web_gzipped {
	unsigned char *data;
	size_t len;
};

/*
 * Compresses data[0..len) into gzip format (RFC 1952, best compression, no name, time 0) and stores it in
 * *out (free out->data) if that is smaller; otherwise out->data is NULL. TIP_OK or TIP_ENOMEM.
 */
int web_gzip(const void *data, size_t len, struct web_gzipped *out);

/* Every asset of a table compressed (web_gzip), as an array of t->count the caller frees with web_gzip_free;
 * NULL when out of memory. */
struct web_gzipped *web_gzip_table(const struct web_table *t);
void web_gzip_free(struct web_gzipped *gz, size_t n);

/*
 * A fixed answer (a page, a script, a document the same for everyone), sent gzip-compressed when the client
 * accepts that and gz holds a smaller form. Only answers without secrets and without anything from the
 * request may go through here, so that the length of an answer cannot leak a secret (BREACH).
 */
void web_reply(struct http_req *req, const char *type, const void *data, size_t len,
               const struct web_gzipped *gz);

#endif
