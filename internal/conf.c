#include "internal/conf.h"

#define S(field) offsetof(struct casemgr_conf, field)
#define PATH     CASEMGR_PATH_MAX
#define DB       CASEMGR_DB_MAX
#define HOUR_MS  3600000LL

const struct cfg_entry casemgr_conf_table[] = {
        {"db_owner", CFG_STRING, S(db_owner), 0, DB, NULL,
         "libpq connection string of the schema owner (casemgrd migrate)"},
        {"db_ingest", CFG_STRING, S(db_ingest), 1, DB, NULL, "libpq connection string of the ingest role"},
        {"migrations", CFG_STRING, S(migrations), 1, PATH, NULL, "directory of the NNNN_name.sql migrations"},
        {"inbox", CFG_STRING, S(inbox), 1, PATH, NULL, "inbox directory: one spool per origin"},
        {"origin_keys", CFG_STRING, S(origin_keys), 1, PATH, NULL,
         "directory of origin verifier keys (*.pub); a key's name is its origin"},
        {"seal_key", CFG_STRING, S(seal_key), 1, PATH, NULL, "the internal zone's HPKE private key"},
        {"taxonomy", CFG_STRING, S(taxonomy), 1, PATH, NULL, "directory of taxonomy.json and regions.json"},
        {"ingest_batch", CFG_INT, S(ingest_batch), 1, 100000, "500", "records per ingest transaction"},
        {"ingest_threads", CFG_INT, S(ingest_threads), 1, 64, "2", "threads checking and opening records"},
        {"ingest_poll", CFG_DURATION, S(ingest_poll), 10, 60000, "200ms", "how often idle inboxes are read"},
        {"db_retry", CFG_DURATION, S(db_retry), 10, HOUR_MS, "1s", "wait before reconnecting to PostgreSQL"},
        {"max_record", CFG_SIZE, S(max_record), 1024, 1LL << 30, "32M", "longest record read from an inbox"},
        {"metrics_listen", CFG_STRING, S(metrics_listen), 1, 64, "127.0.0.1",
         "address of the metrics listener"},
        {"metrics_port", CFG_INT, S(metrics_port), 0, 65535, "9106", "metrics port; 0 turns metrics off"},
        {"user", CFG_STRING, S(user), 0, 64, NULL, "user to run as (when started as root)"},
        {"syslog", CFG_BOOL, S(syslog), 0, 1, "no", "log to syslog instead of stderr"},
        {"debug", CFG_BOOL, S(debug), 0, 1, "no", "log debug messages"},
};
const size_t casemgr_conf_entries = sizeof(casemgr_conf_table) / sizeof(casemgr_conf_table[0]);
