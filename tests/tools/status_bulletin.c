/*
 * status-bulletin: writes signed status bulletins for one query code into an
 * empty status spool, as the internal zone's reverse link would, so tests of
 * the public pages can show a report's progress.
 *
 * status-bulletin SPOOL KEY TAXONOMY CODE STAGE/RESULT/DATE...
 * KEY is the internal zone's private signing key (origin "internal").
 */
#include "common/err.h"
#include "intake/querycode.h"
#include "proto/bulletin.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "proto/taxonomy.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BULLETINS 16

int main(int argc, char **argv)
{
	struct bulletin b[MAX_BULLETINS];
	char code[QC_DIGITS + 1];
	struct rec_chain chain;
	struct taxonomy *tax;
	struct key key;
	int n = argc - 5, err;

	if (n < 1 || n > MAX_BULLETINS) {
		fprintf(stderr, "usage: status-bulletin SPOOL KEY TAXONOMY CODE STAGE/RESULT/DATE...\n");
		return 64;
	}
	if (key_read_private(argv[2], &key) != TIP_OK || !(tax = tax_load(argv[3], &err)) ||
	    qc_normalize(argv[4], strlen(argv[4]), code) != TIP_OK) {
		fprintf(stderr, "status-bulletin: bad key, taxonomy or query code\n");
		return 65;
	}
	memset(b, 0, sizeof(b));
	for (int i = 0; i < n; i++) {
		if (sscanf(argv[5 + i], "%32[a-z_]/%32[a-z_]/%10[0-9-]", b[i].stage, b[i].result,
		           b[i].date) != 3) {
			fprintf(stderr, "status-bulletin: expected STAGE/RESULT/YYYY-MM-DD, not %s\n",
			        argv[5 + i]);
			return 64;
		}
		qc_hash(code, b[i].query_hash);
	}
	rec_chain_init(&chain, "internal");
	tu_publish_bulletins(argv[1], &key, tax, b, (size_t)n, &chain);
	tax_free(tax);
	key_wipe(&key);
	return 0;
}
