/* diode-send and diode-recv settings: typed tables in diode/conf.c, documented in docs/operations.md. */
#ifndef TIP_DIODE_CONF_H
#define TIP_DIODE_CONF_H

#include <stddef.h>

#include "common/config.h"

#define DIODE_PATH_MAX 256
#define DIODE_LIST_MAX 2048

struct diode_send_conf {
	char link_key[DIODE_PATH_MAX];
	char destination[64];
	long long port;
	char spools[DIODE_LIST_MAX]; /* "origin=dir origin=dir ..." */
	char replay[256];            /* "5s 1m 10m": each record is sent again after these delays */
	char log_dir[DIODE_PATH_MAX];
	char log_key[DIODE_PATH_MAX];
	long long checkpoint_records, checkpoint_interval;
	long long rate_mbit, replay_share;
	size_t datagram_size;
	long long fec_k, fec_m, depth;
	long long heartbeat, batch;
	size_t sndbuf, max_record;
	long long prune_interval, keep_sent;
	int prune_audited;
	char metrics_listen[64];
	long long metrics_port;
	char user[64];
	int syslog, debug;
};

struct diode_recv_conf {
	char link_key[DIODE_PATH_MAX];
	char listen[64];
	long long port;
	char origin_keys[DIODE_PATH_MAX]; /* a directory of verifier-key files; each key's name is its origin
	                                   */
	char inbox[DIODE_PATH_MAX];
	char quarantine[DIODE_PATH_MAX];
	char log_dir[DIODE_PATH_MAX];
	char cosign_key[DIODE_PATH_MAX], event_key[DIODE_PATH_MAX];
	long long checkpoint_records, checkpoint_interval;
	size_t datagram_size, rcvbuf, max_record, reassembly_bytes, held_bytes, block_mem, verify_bytes;
	long long window_blocks, block_age, sync_interval, gap_timeout, batch, verify_threads;
	long long prune_interval, keep_delivered, keep_quarantine;
	int prune_audited;
	char inbox_reader[33];
	char metrics_listen[64];
	long long metrics_port;
	char user[64];
	int syslog, debug;
};

extern const struct cfg_entry diode_send_table[];
extern const size_t diode_send_entries;
extern const struct cfg_entry diode_recv_table[];
extern const size_t diode_recv_entries;

#endif
