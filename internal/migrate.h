/*
 * Versioned schema migrations: the files NNNN_name.sql of one directory (versions 1, 2, 3, ...
 * without gaps), applied in order, each in its own transaction together with its row in
 * schema_migrations (version, name, SHA-256 of the file, time). Running again applies only what is
 * missing; concurrent runs wait for each other on an advisory lock. A migration already applied whose
 * file has changed since is refused, never re-run.
 */
#ifndef TIP_INTERNAL_MIGRATE_H
#define TIP_INTERNAL_MIGRATE_H

#include <libpq-fe.h>

#include "internal/db.h"

#define MIGRATE_FILE_CAP (1u << 20)
#define MIGRATE_MAX      9999

/*
 * Applies every migration of dir up to version to (0: all) over c, which must be connected as the
 * schema owner. *applied counts those applied now, *version is the newest recorded afterwards.
 * TIP_OK; TIP_EFORMAT (a badly named file, a gap, a duplicate version, to beyond the last file);
 * TIP_ECORRUPT (an applied migration's file differs from what was applied); TIP_EIO (a file cannot
 * be read, or the server refused something: msg says what). msg names the file concerned.
 */
int migrate_run(PGconn *c, const char *dir, int to, int *applied, int *version, char msg[DB_MSG_MAX]);

#endif
