#include "internal/migrate.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/file.h"

#include <dirent.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NNNN_name.sql with name in [a-z0-9_]: the version, or 0. */
static int file_version(const char *name)
{
	size_t n = strlen(name);
	int v = 0;

	if (n < 10 || name[4] != '_' || strcmp(name + n - 4, ".sql") != 0)
		return 0;
	for (size_t i = 0; i < 4; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (name[i] - '0');
	}
	for (size_t i = 5; i < n - 4; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	return v;
}

static int only_sql(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0;
}

/* One migration: skipped when recorded with the same digest, else run and recorded, in one transaction. */
static int apply(PGconn *c, const char *dir, const char *name, int version, int *applied,
                 char msg[DB_MSG_MAX])
{
	char path[1024], digest_hex[2 * SHA256_DIGEST_LENGTH + 1], vtext[12];
	uint8_t digest[SHA256_DIGEST_LENGTH];
	char *sql = NULL;
	size_t len;
	PGresult *res = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((rc = file_read(path, MIGRATE_FILE_CAP, &sql, &len)) != TIP_OK) {
		snprintf(msg, DB_MSG_MAX, "%s: %s", name, tip_strerror(rc));
		return rc == TIP_EOVERSIZE ? TIP_EFORMAT : TIP_EIO;
	}
	SHA256((const uint8_t *)sql, len, digest);
	hex_encode(digest, sizeof(digest), digest_hex, sizeof(digest_hex));
	snprintf(vtext, sizeof(vtext), "%d", version);
	const char *params[] = {vtext, name, digest_hex};

	if ((rc = db_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, msg)) != TIP_OK)
		goto out;
	if ((rc = db_exec(c, "SELECT pg_advisory_xact_lock(hashtext('schema_migrations'))", 0, NULL,
	                  PGRES_TUPLES_OK, NULL, msg)) != TIP_OK ||
	    (rc = db_exec(c, "SELECT sha256 FROM schema_migrations WHERE version = $1", 1, params,
	                  PGRES_TUPLES_OK, &res, msg)) != TIP_OK)
		goto rollback;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), digest_hex) != 0) {
			snprintf(msg, DB_MSG_MAX, "%s: changed since it was applied", name);
			rc = TIP_ECORRUPT;
			goto rollback;
		}
		rc = db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, msg);
		goto out;
	}
	/* The file is the installation's own SQL, never input: it runs as a script. */
	PGresult *script = PQexec(c, sql);
	if (PQresultStatus(script) != PGRES_COMMAND_OK && PQresultStatus(script) != PGRES_TUPLES_OK) {
		snprintf(msg, DB_MSG_MAX, "%s: %s", name, PQresultErrorMessage(script));
		msg[strcspn(msg, "\n")] = 0;
		PQclear(script);
		rc = TIP_EIO;
		goto rollback;
	}
	PQclear(script);
	if ((rc = db_exec(c, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)", 3,
	                  params, PGRES_COMMAND_OK, NULL, msg)) != TIP_OK ||
	    (rc = db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, msg)) != TIP_OK)
		goto rollback;
	(*applied)++;
	goto out;
rollback:
	PQclear(PQexec(c, "ROLLBACK"));
out:
	PQclear(res);
	free(sql);
	return rc;
}

int migrate_run(PGconn *c, const char *dir, int to, int *applied, int *version, char msg[DB_MSG_MAX])
{
	struct dirent **names = NULL;
	int n, rc = TIP_OK;

	*applied = 0;
	*version = 0;
	msg[0] = 0;
	if ((n = scandir(dir, &names, only_sql, alphasort)) < 0) {
		snprintf(msg, DB_MSG_MAX, "%s: cannot read the directory", dir);
		return TIP_EIO;
	}
	for (int i = 0; i < n && rc == TIP_OK; i++)
		if (file_version(names[i]->d_name) != i + 1) {
			snprintf(msg, DB_MSG_MAX, "%s: expected version %04d with a name of [a-z0-9_]",
			         names[i]->d_name, i + 1);
			rc = TIP_EFORMAT;
		}
	if (rc == TIP_OK && (n == 0 || to > n)) {
		snprintf(msg, DB_MSG_MAX, "%s: no migration %d", dir, to > n ? to : 1);
		rc = TIP_EFORMAT;
	}
	if (rc == TIP_OK)
		rc = db_exec(c,
		             "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
		             "name text NOT NULL, sha256 text NOT NULL, applied_at timestamptz NOT NULL "
		             "DEFAULT now())",
		             0, NULL, PGRES_COMMAND_OK, NULL, msg);
	for (int i = 0; i < n && rc == TIP_OK && (to == 0 || i < to); i++)
		if ((rc = apply(c, dir, names[i]->d_name, i + 1, applied, msg)) == TIP_OK)
			*version = i + 1;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
