#include "internal/conf.h"

#include "common/daemon.h"
#include "common/err.h"
#include "proto/record.h"

#include <stdio.h>

#define S(field) offsetof(struct casemgr_conf, field)
#define PATH     CASEMGR_PATH_MAX
#define DB       CASEMGR_DB_MAX
#define HOUR_MS  3600000LL

const struct cfg_entry casemgr_conf_table[] = {
        CFG_LISTENER_ENTRIES(struct casemgr_conf, "staff API", "8444"),
        {"db_app", CFG_STRING, S(db_app), 1, DB, NULL, "libpq connection string of the request path's role"},
        {"db_owner", CFG_STRING, S(db_owner), 0, DB, NULL,
         "libpq connection string of the schema owner (casemgrd migrate)"},
        {"db_ingest", CFG_STRING, S(db_ingest), 1, DB, NULL, "libpq connection string of the ingest role"},
        {"db_replica", CFG_STRING, S(db_replica), 0, DB, NULL,
         "libpq connection string of a hot standby (request path's role) for the dashboard; empty: none"},
        {"migrations", CFG_STRING, S(migrations), 1, PATH, NULL, "directory of the NNNN_name.sql migrations"},
        {"inbox", CFG_STRING, S(inbox), 1, PATH, NULL, "inbox directory: one spool per origin"},
        {"origin_keys", CFG_STRING, S(origin_keys), 1, PATH, NULL,
         "directory of origin verifier keys (*.pub); a key's name is its origin"},
        {"seal_key", CFG_STRING, S(seal_key), 1, PATH, NULL, "the internal zone's HPKE private key"},
        {"retired_seal_keys", CFG_STRING, S(retired_seal_keys), 0,
         sizeof(((struct casemgr_conf *)0)->retired_seal_keys), NULL,
         "retired HPKE private keys, space-separated: reports sealed to them still open"},
        {"taxonomy", CFG_STRING, S(taxonomy), 1, PATH, NULL, "directory of taxonomy.json and regions.json"},
        {"index_key", CFG_STRING, S(index_key), 1, PATH, NULL,
         "HMAC key of the comparison indexes (tipkey generate --type index)"},
        {"ingest_batch", CFG_INT, S(ingest_batch), 1, 100000, "500", "records per ingest transaction"},
        {"ingest_threads", CFG_INT, S(ingest_threads), 1, 64, "2", "threads checking and opening records"},
        {"ingest_poll", CFG_DURATION, S(ingest_poll), 10, 60000, "200ms", "how often idle inboxes are read"},
        {"db_retry", CFG_DURATION, S(db_retry), 10, HOUR_MS, "1s", "wait before reconnecting to PostgreSQL"},
        {"db_connections", CFG_INT, S(db_connections), 1, 256, "8", "connections of the request path"},
        {"db_queue", CFG_INT, S(db_queue), 1, 100000, "1024",
         "requests waiting for a connection; 503 beyond"},
        {"max_connections", CFG_INT, S(max_connections), 1, 100000, "512", "open client connections"},
        CFG_HTTP_LIMIT_ENTRIES(struct casemgr_conf),
        {"max_body", CFG_SIZE, S(max_body), 1024, 64 << 20, "12M",
         "request body (a result's files travel in one, base64)"},
        {"session_ttl", CFG_DURATION, S(session_ttl), 60000, 7 * 24 * HOUR_MS, "8h", "lifetime of a session"},
        {"login_failures", CFG_INT, S(login_failures), 1, 100, "5",
         "failed logins in a row that lock an account"},
        {"lockout", CFG_DURATION, S(lockout), 1000, 7 * 24 * HOUR_MS, "15m",
         "how long a locked account stays locked"},
        {"rate_login", CFG_INT, S(rate_login), 1, 1000000, "60",
         "login attempts per hour per address prefix"},
        {"burst_login", CFG_INT, S(burst_login), 1, 10000, "10", "login burst per address prefix"},
        {"argon2_time", CFG_INT, S(argon2_time), 1, 100, "3", "Argon2id passes for new password hashes"},
        {"argon2_memory", CFG_SIZE, S(argon2_memory), 8192, 4LL << 30, "64M",
         "Argon2id memory for new password hashes"},
        {"hash_threads", CFG_INT, S(hash_threads), 1, 64, "2",
         "threads hashing and checking passwords (each hash holds argon2_memory)"},
        {"pledge_version", CFG_STRING, S(pledge_version), 1, 32, "2026-1",
         "version of the confidentiality pledge users accept"},
        {"audit_key", CFG_STRING, S(audit_key), 1, PATH, NULL,
         "signing key of audit chain heads (private; audit verify reads its .pub)"},
        {"audit_head_events", CFG_INT, S(audit_head_events), 1, 1000000, "1000",
         "events between signed audit heads, at most"},
        {"audit_head_interval", CFG_DURATION, S(audit_head_interval), 1000, 24 * HOUR_MS, "5m",
         "time between signed audit heads when there are new events, at most"},
        {"clocks", CFG_BOOL, S(clocks), 0, 1, "yes",
         "run the case clocks (reminders, supervision notices, escalations)"},
        {"clock_max_wait", CFG_DURATION, S(clock_max_wait), 100, HOUR_MS, "60s",
         "longest wait between two runs of the case clocks"},
        {"max_record", CFG_SIZE, S(max_record), 1024, 1LL << 30, "32M", "longest record read from an inbox"},
        {"sms", CFG_BOOL, S(sms), 0, 1, "no",
         "use gammu-smsd's tables (schema sms): monthly callback draws, their SMS, the replies"},
        {"sms_poll", CFG_DURATION, S(sms_poll), 100, HOUR_MS, "10s",
         "how often replies, send results and a due callback draw are looked at"},
        {"sms_hours", CFG_STRING, S(sms_hours), 1, 16, "09:00-20:00",
         "when queued SMS may go out, China time (HH:MM-HH:MM)"},
        {"callback_share", CFG_STRING, S(callback_share), 0, CALLBACK_SHARE_MAX, NULL,
         "share of each province's eligible cases drawn each month, in (0, 1]; or callback_count"},
        {"callback_count", CFG_INT, S(callback_count), 0, 100000, "0",
         "cases drawn per province each month; 0: callback_share (neither: no draws)"},
        {"callback_text", CFG_STRING, S(callback_text), 1, 256,
         "您好！您此前反映的事项已办理完毕。请回复数字评价办理情况：1满意，2基本满意，3不满意。感谢您的支持"
         "！",
         "the callback SMS (at most 70 characters, names nothing of the matter)"},
        {"callback_open", CFG_DURATION, S(callback_open), HOUR_MS, 8760 * HOUR_MS, "720h",
         "how long after its draw a callback takes replies"},
        {"status_spool", CFG_STRING, S(status_spool), 0, PATH, NULL,
         "status spool directory the reverse link sends from; empty: no bulletins are published"},
        {"status_key", CFG_STRING, S(status_key), 0, PATH, NULL,
         "signing key of status bulletins (private; the intake trusts its .pub)"},
        {"retired_status_keys", CFG_STRING, S(retired_status_keys), 0,
         sizeof(((struct casemgr_conf *)0)->retired_status_keys), NULL,
         "retired bulletin keys (public, space-separated): the status spool may end in a record one signed"},
        {"status_origin", CFG_STRING, S(status_origin), 1, 65, "internal", "origin name of status bulletins"},
        {"status_batch", CFG_INT, S(status_batch), 1, 10000, "500",
         "status bulletins per spool sync and transaction"},
        {"status_poll", CFG_DURATION, S(status_poll), 10, 60000, "1s", "how often the status outbox is read"},
        CFG_PROCESS_ENTRIES(struct casemgr_conf, "9106"),
};
const size_t casemgr_conf_entries = sizeof(casemgr_conf_table) / sizeof(casemgr_conf_table[0]);

int casemgr_conf_check(void *conf, const char *path, char err[CFG_ERR_MAX])
{
	struct casemgr_conf *c = conf;
	char after[6], before[6];

	if (c->callback_share[0] && callback_check_share(c->callback_share) != TIP_OK) {
		snprintf(err, CFG_ERR_MAX, "%s: callback_share: a decimal in (0, 1] with at most 6 decimals",
		         path);
		return TIP_EINVAL;
	}
	if (c->callback_share[0] && c->callback_count) {
		snprintf(err, CFG_ERR_MAX, "%s: callback_share and callback_count exclude each other", path);
		return TIP_EINVAL;
	}
	if (callback_parse_hours(c->sms_hours, after, before) != TIP_OK) {
		snprintf(err, CFG_ERR_MAX, "%s: sms_hours: HH:MM-HH:MM, the first before the second", path);
		return TIP_EINVAL;
	}
	if (callback_check_text(c->callback_text) != TIP_OK) {
		snprintf(err, CFG_ERR_MAX,
		         "%s: callback_text: 1 to %d characters, none beyond U+FFFF or control", path,
		         CALLBACK_TEXT_CHARS);
		return TIP_EINVAL;
	}
	if (c->status_spool[0] && !c->status_key[0]) {
		snprintf(err, CFG_ERR_MAX, "%s: status_key: required with status_spool", path);
		return TIP_EINVAL;
	}
	if (!rec_origin_ok(c->status_origin)) {
		snprintf(err, CFG_ERR_MAX,
		         "%s: status_origin: not an origin name ([A-Za-z0-9][A-Za-z0-9._-]{0,63})", path);
		return TIP_EINVAL;
	}
	return daemon_check_transport(c->plain_http, c->listen, c->tls_cert, c->tls_key, path, err);
}
