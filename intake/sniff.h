/*
 * Content types of attachments, judged from magic bytes only: what the client
 * declares is never looked at. The answer is one of the types report_validate
 * accepts (proto/report.c), or NULL when the data is none of them, which the
 * server refuses. The table, with the reasons for each rule, is in
 * docs/internals/intake-attachments.md.
 *
 * Reads at most the first SNIFF_MAX_READ bytes; allocates nothing; the returned
 * string is static.
 */
#ifndef TIP_INTAKE_SNIFF_H
#define TIP_INTAKE_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#define SNIFF_MAX_READ 64

const char *sniff_content_type(const uint8_t *data, size_t len);

#endif
