/*
 * The QR code of the public address, as SVG (libqrencode). Built once from
 * configuration; nothing a client sends ever reaches it.
 */
#ifndef TIP_INTAKE_QR_H
#define TIP_INTAKE_QR_H

#include <stddef.h>

#define QR_URL_MAX 200 /* longest public address accepted */

/*
 * 1 if url can be the public address: http:// or https://, at most QR_URL_MAX
 * bytes of URL characters without & ' " < > (so it can stand in XML as is).
 */
int qr_url_ok(const char *url);

/*
 * An SVG document (*out, heap, NUL-terminated, *len bytes) with the QR code of
 * url (error correction M, 8-bit mode, a quiet zone of 4 modules) and url as
 * its title. TIP_OK, TIP_EINVAL (url not qr_url_ok), TIP_ENOMEM.
 */
int qr_svg(const char *url, char **out, size_t *len);

#endif
