/*
 * qc_normalize over hostile bytes: never crashes, and whatever it accepts is a
 * well-formed code that survives formatting and reading back unchanged.
 */
#include "fuzz.h"

#include "common/err.h"
#include "intake/querycode.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[QC_DIGITS + 1], again[QC_DIGITS + 1], shown[QC_DIGITS + QC_DIGITS / 4];
	uint8_t hash[QC_HASH_LEN];
	int rc = qc_normalize((const char *)data, size, code);

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
