/*
 * QR codes as SVG (libqrencode): the intake's public address, built once from
 * configuration, and the staff pages' TOTP enrolment URIs, made by casemgrd.
 * Nothing a client sends ever reaches them.
 */
#ifndef TIP_COMMON_QR_H
#define TIP_COMMON_QR_H

#include <stddef.h>

#define QR_URL_MAX  200 /* longest public address accepted */
#define QR_DATA_MAX 512 /* longest text encoded at all */

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
/*
 * As qr_svg for any text of 1 to QR_DATA_MAX bytes, with title (1 to QR_URL_MAX bytes
 * without & ' " < >) as the document's title. TIP_OK, TIP_EINVAL, TIP_ENOMEM.
 */
int qr_svg_titled(const char *text, const char *title, char **out, size_t *len);

#endif
