/*
 * qc_normalize over hostile bytes: never crashes, and whatever it accepts is a
 * well-formed code that survives formatting and reading back unchanged. The same
 * bytes as the body of a status query (qc_status_body): what it accepts is such a
 * code too, and the code sent back in a body of its own reads the same.
 */
#include "fuzz.h"

#include "common/err.h"
#include "intake/querycode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void status_body(const uint8_t *data, size_t size)
{
	char code[QC_DIGITS + 1], again[QC_DIGITS + 1], field[QC_FIELD_MAX], body[64];
	int rc = qc_status_body(data, size, code, field);

	if (rc != TIP_OK) {
		if ((rc != TIP_EDECODE && rc != TIP_EFORMAT && rc != TIP_EINVAL && rc != TIP_EVERIFY) ||
		    code[0] != '\0' || (rc != TIP_EFORMAT && field[0] != '\0'))
			abort();
		return;
	}
	if (strlen(code) != QC_DIGITS || qc_damm(code, QC_DIGITS) != '0')
		abort();
	snprintf(body, sizeof(body), "{\"query_code\": \"%s\"}", code);
	if (qc_status_body((const uint8_t *)body, strlen(body), again, field) != TIP_OK ||
	    strcmp(code, again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[QC_DIGITS + 1], again[QC_DIGITS + 1], shown[QC_DIGITS + QC_DIGITS / 4];
	uint8_t hash[QC_HASH_LEN];
	int rc = qc_normalize((const char *)data, size, code);

	status_body(data, size);
	if (rc != TIP_OK) {
		if ((rc != TIP_EINVAL && rc != TIP_EVERIFY) || code[0] != '\0')
			abort();
		if (size > QC_INPUT_MAX && rc != TIP_EINVAL)
			abort();
		return 0;
	}
	if (size > QC_INPUT_MAX || strlen(code) != QC_DIGITS || strspn(code, "0123456789") != QC_DIGITS ||
	    qc_damm(code, QC_DIGITS) != '0')
		abort();
	qc_format(code, shown);
	if (qc_normalize(shown, strlen(shown), again) != TIP_OK || strcmp(code, again) != 0)
		abort();
	if (qc_hash(code, hash) != TIP_OK)
		abort();
	return 0;
}
