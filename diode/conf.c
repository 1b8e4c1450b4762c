#include "diode/conf.h"

#define PATH    DIODE_PATH_MAX
#define HOUR_MS 3600000LL

#define DAY_MS (24 * HOUR_MS)

/* Retention (diode/retention.h): how often, and whether the auditors' marker must have passed. */
// clang-format off
#define RETENTION_ENTRIES(type) \
	{"prune_interval", CFG_DURATION, offsetof(type, prune_interval), 0, 24 * HOUR_MS, "1h", \
	 "how often spent spool segments are removed; 0: only by the prune command"}, \
	{"prune_audited", CFG_BOOL, offsetof(type, prune_audited), 0, 1, "yes", \
	 "remove only segments below the auditors' marker (diode-audit mark)"}
// clang-format on

#define S(field) offsetof(struct diode_send_conf, field)
const struct cfg_entry diode_send_table[] = {
        {"link_key", CFG_STRING, S(link_key), 1, PATH, NULL, "the link's HMAC key (tipkey link)"},
        {"destination", CFG_STRING, S(destination), 1, 64, NULL, "the receiver's address across the diode"},
        {"port", CFG_INT, S(port), 1, 65535, "7700", "the receiver's UDP port"},
        {"spools", CFG_STRING, S(spools), 1, DIODE_LIST_MAX, NULL,
         "spools to send: origin=directory, space-separated"},
        {"replay", CFG_STRING, S(replay), 0, 256, "10s 2m 30m",
         "delays after which each record is sent again"},
        {"log_dir", CFG_STRING, S(log_dir), 1, PATH, NULL,
         "the transfer log: trees, signer states, checkpoints"},
        {"log_key", CFG_STRING, S(log_key), 1, PATH, NULL,
         "the log's signing key (tipkey sign); its name is the checkpoint records' origin"},
        {"checkpoint_records", CFG_INT, S(checkpoint_records), 1, 100000000, "10000",
         "a checkpoint after this many new records of an origin"},
        {"checkpoint_interval", CFG_DURATION, S(checkpoint_interval), 100, 24 * HOUR_MS, "10s",
         "or after this long, when an origin has new records"},
        {"rate_mbit", CFG_INT, S(rate_mbit), 1, 100000, "100",
         "link rate in megabits per second: every datagram byte counts (paced)"},
        {"replay_share", CFG_INT, S(replay_share), 1, 100, "10",
         "percent of rate_mbit replays may take while new records wait"},
        {"datagram_size", CFG_SIZE, S(datagram_size), 256, 65507, "1452",
         "bytes per datagram (all the same)"},
        {"fec_k", CFG_INT, S(fec_k), 1, 254, "200", "data symbols per block"},
        {"fec_m", CFG_INT, S(fec_m), 0, 254, "30", "repair symbols per block"},
        {"depth", CFG_INT, S(depth), 1, 64, "8", "blocks interleaved"},
        {"heartbeat", CFG_DURATION, S(heartbeat), 100, 60000, "1s", "heartbeat interval"},
        {"batch", CFG_INT, S(batch), 1, 1024, "64", "datagrams per sendmmsg"},
        {"sndbuf", CFG_SIZE, S(sndbuf), 65536, 1LL << 30, "8M", "socket send buffer"},
        {"max_record", CFG_SIZE, S(max_record), 1024, 1LL << 30, "32M", "largest record read from a spool"},
        RETENTION_ENTRIES(struct diode_send_conf),
        {"keep_sent", CFG_DURATION, S(keep_sent), HOUR_MS, 3650 * DAY_MS, "168h",
         "a sent spool segment is kept at least this long after its last write"},
        CFG_PROCESS_ENTRIES(struct diode_send_conf, "9102"),
};
const size_t diode_send_entries = sizeof(diode_send_table) / sizeof(diode_send_table[0]);
#undef S

#define S(field) offsetof(struct diode_recv_conf, field)
const struct cfg_entry diode_recv_table[] = {
        {"link_key", CFG_STRING, S(link_key), 1, PATH, NULL, "the link's HMAC key (tipkey link)"},
        {"listen", CFG_STRING, S(listen), 1, 64, NULL, "address the link arrives on"},
        {"port", CFG_INT, S(port), 0, 65535, "7700", "UDP port"},
        {"origin_keys", CFG_STRING, S(origin_keys), 1, PATH, NULL,
         "directory of origins' verifier keys (*.pub)"},
        {"inbox", CFG_STRING, S(inbox), 1, PATH, NULL, "directory of inbox spools, one per origin"},
        {"quarantine", CFG_STRING, S(quarantine), 1, PATH, NULL, "spool of rejected records"},
        {"log_dir", CFG_STRING, S(log_dir), 1, PATH, NULL,
         "the transfer log: trees, cosignatures, the event log"},
        {"cosign_key", CFG_STRING, S(cosign_key), 1, PATH, NULL,
         "key cosigning the sender's checkpoints (tipkey cosign)"},
        {"event_key", CFG_STRING, S(event_key), 1, PATH, NULL, "key signing the event log (tipkey sign)"},
        {"checkpoint_records", CFG_INT, S(checkpoint_records), 1, 100000000, "1000",
         "the event log is signed after this many new events"},
        {"checkpoint_interval", CFG_DURATION, S(checkpoint_interval), 100, 24 * HOUR_MS, "10s",
         "or after this long, when there are new events"},
        {"datagram_size", CFG_SIZE, S(datagram_size), 256, 65507, "1452",
         "bytes per datagram (as the sender)"},
        {"rcvbuf", CFG_SIZE, S(rcvbuf), 65536, 1LL << 31, "64M", "socket receive buffer"},
        {"max_record", CFG_SIZE, S(max_record), 1024, 1LL << 30, "32M", "largest record accepted"},
        {"reassembly_bytes", CFG_SIZE, S(reassembly_bytes), 1 << 20, 1LL << 34, "256M",
         "memory for records waiting for pieces"},
        {"held_bytes", CFG_SIZE, S(held_bytes), 1 << 20, 1LL << 34, "256M",
         "memory for records waiting for a gap"},
        {"block_mem", CFG_SIZE, S(block_mem), 1 << 20, 1LL << 34, "128M",
         "memory for blocks collecting symbols"},
        {"verify_threads", CFG_INT, S(verify_threads), 0, 64, "0",
         "threads checking record signatures; 0: one per CPU"},
        {"verify_bytes", CFG_SIZE, S(verify_bytes), 1 << 20, 1LL << 34, "256M",
         "records waiting for a signature check"},
        {"window_blocks", CFG_INT, S(window_blocks), 1, 1000000, "512", "blocks open at once"},
        {"block_age", CFG_DURATION, S(block_age), 10, HOUR_MS, "2s",
         "a block still short of symbols is given up"},
        {"sync_interval", CFG_DURATION, S(sync_interval), 0, 10000, "10ms", "delivered records made durable"},
        {"gap_timeout", CFG_DURATION, S(gap_timeout), 100, 24 * HOUR_MS, "30s",
         "a gap older than this alerts"},
        {"batch", CFG_INT, S(batch), 1, 1024, "64", "datagrams per recvmmsg"},
        RETENTION_ENTRIES(struct diode_recv_conf),
        {"inbox_reader", CFG_STRING, S(inbox_reader), 1, 33, "casemgrd",
         "the reader whose cursor says an inbox record is consumed"},
        {"keep_delivered", CFG_DURATION, S(keep_delivered), HOUR_MS, 3650 * DAY_MS, "720h",
         "a consumed inbox segment is kept at least this long after its last write"},
        {"keep_quarantine", CFG_DURATION, S(keep_quarantine), DAY_MS, 3650 * DAY_MS, "8760h",
         "a quarantine segment is kept at least this long after its last write"},
        CFG_PROCESS_ENTRIES(struct diode_recv_conf, "9103"),
};
const size_t diode_recv_entries = sizeof(diode_recv_table) / sizeof(diode_recv_table[0]);
