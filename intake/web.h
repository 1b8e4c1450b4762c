/*
 * The public pages intaked serves: a fixed table of files compiled into the
 * program at build time (cmake/web_assets.cmake from intake/web/), each with
 * the content type chosen there. A request names a file only by matching one
 * table path exactly, so no request reaches the file system.
 */
#ifndef TIP_INTAKE_WEB_H
#define TIP_INTAKE_WEB_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

/* The asset for a request path ("/" is the report form), or NULL. */
const struct web_asset *web_find(const char *path);

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

#endif
