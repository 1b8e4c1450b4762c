#include "intake/conf.h"

#include "common/err.h"
#include "common/daemon.h"

#include <stdio.h>
#include <string.h>

#define S(field) offsetof(struct intake_conf, field)
#define PATH     INTAKE_PATH_MAX
#define HOUR_MS  3600000LL

const struct cfg_entry intake_conf_table[] = {
        {"origin", CFG_STRING, S(origin), 1, 65, NULL, "this intake node's origin name"},
        CFG_LISTENER_ENTRIES(struct intake_conf, "public", "8443"),
        {"metrics_listen", CFG_STRING, S(metrics_listen), 1, 64, "127.0.0.1",
         "address of the metrics listener"},
        {"metrics_port", CFG_INT, S(metrics_port), 0, 65535, "9101", "metrics port; 0 turns metrics off"},
        {"signing_key", CFG_STRING, S(signing_key), 1, PATH, NULL, "this intake's signing key (private)"},
        {"seal_key", CFG_STRING, S(seal_key), 1, PATH, NULL, "the internal zone's HPKE public key"},
        {"retired_signing_keys", CFG_STRING, S(retired_signing_keys), 0,
         sizeof(((struct intake_conf *)0)->retired_signing_keys), NULL,
         "this intake's retired signing keys (public, space-separated)"},
        {"status_key", CFG_STRING, S(status_key), 1, PATH, NULL, "the internal zone's bulletin key (public)"},
        {"retired_status_keys", CFG_STRING, S(retired_status_keys), 0,
         sizeof(((struct intake_conf *)0)->retired_status_keys), NULL,
         "the internal zone's retired bulletin keys (public, space-separated)"},
        {"status_origin", CFG_STRING, S(status_origin), 1, 65, "internal", "origin name of status bulletins"},
        {"aead", CFG_STRING, S(aead), 1, 24, "aes128gcm", "HPKE AEAD: aes128gcm or chacha20poly1305"},
        {"outbox", CFG_STRING, S(outbox), 1, PATH, NULL, "outbox spool directory"},
        {"status_spool", CFG_STRING, S(status_spool), 1, PATH, NULL, "status spool directory"},
        {"taxonomy", CFG_STRING, S(taxonomy), 1, PATH, NULL, "directory of taxonomy.json and regions.json"},
        {"public_url", CFG_STRING, S(public_url), 0, QR_URL_MAX + 1, NULL,
         "public address of the report form, encoded in /qr.svg"},
        {"user", CFG_STRING, S(user), 0, 64, NULL, "user to run as after binding (when started as root)"},
        {"max_body", CFG_SIZE, S(max_body), 1024, 1LL << 30, "28M", "request body"},
        {"max_connections", CFG_INT, S(max_connections), 1, 1000000, "1024", "open client connections"},
        CFG_HTTP_LIMIT_ENTRIES(struct intake_conf),
        {"max_attachments", CFG_INT, S(max_attachments), 0, 100, "10", "attachments per report"},
        {"max_attachment_bytes", CFG_SIZE, S(max_attachment_bytes), 0, 1LL << 30, "20M",
         "all attachments of one report"},
        {"max_pending", CFG_INT, S(max_pending), 1, 1000000, "8192", "reports waiting to become durable"},
        {"seal_threads", CFG_INT, S(seal_threads), 0, 64, "0", "threads sealing reports; 0: one per CPU"},
        {"segment_bytes", CFG_SIZE, S(segment_bytes), 1 << 20, 1LL << 40, "64M", "outbox spool segment size"},
        {"pow_bits", CFG_INT, S(pow_bits), 0, 32, "18", "proof-of-work difficulty; 0 turns the check off"},
        {"pow_ttl", CFG_DURATION, S(pow_ttl), 10000, 24 * HOUR_MS, "2m", "lifetime of a challenge"},
        {"pow_spent", CFG_INT, S(pow_spent), 1024, 16777216, "1000000", "spent challenges remembered"},
        {"rate_reports", CFG_INT, S(rate_reports), 1, 1000000000, "30",
         "reports per hour per address prefix"},
        {"burst_reports", CFG_INT, S(burst_reports), 1, 1000000, "10", "report burst per address prefix"},
        {"rate_status", CFG_INT, S(rate_status), 1, 1000000000, "120", "status queries per hour per prefix"},
        {"burst_status", CFG_INT, S(burst_status), 1, 1000000, "10", "status query burst per prefix"},
        {"rate_challenge", CFG_INT, S(rate_challenge), 1, 1000000000, "600",
         "challenges per hour per prefix"},
        {"burst_challenge", CFG_INT, S(burst_challenge), 1, 1000000, "30", "challenge burst per prefix"},
        {"rate_table", CFG_INT, S(rate_table), 16, 16777216, "65536", "address prefixes tracked"},
        {"rate_v4_prefix", CFG_INT, S(rate_v4_prefix), 8, 32, "24", "IPv4 prefix length rate-limited as one"},
        {"rate_v6_prefix", CFG_INT, S(rate_v6_prefix), 16, 128, "48",
         "IPv6 prefix length rate-limited as one"},
        {"status_min_latency", CFG_DURATION, S(status_min_latency), 0, 10000, "250ms",
         "every status answer waits at least this long"},
        {"status_poll", CFG_DURATION, S(status_poll), 10, 60000, "1s", "how often the status spool is read"},
        {"status_history", CFG_INT, S(status_history), 1, 1000, "32", "bulletins kept per report"},
        {"syslog", CFG_BOOL, S(syslog), 0, 1, "no", "log to syslog instead of stderr"},
        {"debug", CFG_BOOL, S(debug), 0, 1, "no", "log debug messages"},
};
const size_t intake_conf_entries = sizeof(intake_conf_table) / sizeof(intake_conf_table[0]);

int intake_conf_check(void *conf, const char *path, char err[CFG_ERR_MAX])
{
	struct intake_conf *c = conf;
	int rc = daemon_check_transport(c->plain_http, c->listen, c->tls_cert, c->tls_key, path, err);

	if (rc != TIP_OK)
		return rc;
	if (strcmp(c->aead, "aes128gcm") != 0 && strcmp(c->aead, "chacha20poly1305") != 0) {
		snprintf(err, CFG_ERR_MAX, "%s: aead: expected aes128gcm or chacha20poly1305", path);
		return TIP_EINVAL;
	}
	if (c->public_url[0] && !qr_url_ok(c->public_url)) {
		snprintf(err, CFG_ERR_MAX,
		         "%s: public_url: expected an http:// or https:// address without & ' \" < >", path);
		return TIP_EINVAL;
	}
	return TIP_OK;
}
