/* casemgrd's settings: one typed table, defaults and bounds in internal/conf.c, documented in
 * docs/operations.md. */
#ifndef TIP_INTERNAL_CONF_H
#define TIP_INTERNAL_CONF_H

#include <stddef.h>

#include "common/config.h"
#include "internal/callback.h"

#define CASEMGR_PATH_MAX 256
#define CASEMGR_DB_MAX   512

struct casemgr_conf {
	char listen[64];
	long long port;
	char tls_cert[CASEMGR_PATH_MAX], tls_key[CASEMGR_PATH_MAX];
	int plain_http;
	char db_app[CASEMGR_DB_MAX];    /* libpq conninfo of the request path's role */
	char db_owner[CASEMGR_DB_MAX];  /* libpq conninfo of the schema owner (migrations only) */
	char db_ingest[CASEMGR_DB_MAX]; /* libpq conninfo of the ingest role */
	/* libpq conninfo of a hot standby for the dashboard; empty: none */
	char db_replica[CASEMGR_DB_MAX];
	char migrations[CASEMGR_PATH_MAX];
	char inbox[CASEMGR_PATH_MAX];
	char origin_keys[CASEMGR_PATH_MAX];
	char seal_key[CASEMGR_PATH_MAX];
	char retired_seal_keys[4 * CASEMGR_PATH_MAX];
	char taxonomy[CASEMGR_PATH_MAX];
	char index_key[CASEMGR_PATH_MAX];
	long long ingest_batch, ingest_threads, ingest_poll, db_retry;
	long long db_connections, db_queue, max_connections, max_connections_per_address;
	long long head_timeout, body_timeout, idle_timeout, write_timeout;
	size_t max_body, max_head, min_body_rate, argon2_memory;
	long long session_ttl, login_failures, lockout, rate_login, burst_login;
	long long argon2_time, hash_threads;
	char pledge_version[32];
	char audit_key[CASEMGR_PATH_MAX];
	long long audit_head_events, audit_head_interval;
	int clocks;
	long long clock_max_wait;
	size_t max_record;
	int sms;
	long long sms_poll;
	char sms_hours[16];
	char callback_share[CALLBACK_SHARE_MAX];
	long long callback_count, callback_open;
	char callback_text[256];
	char status_spool[CASEMGR_PATH_MAX]; /* empty: the publisher is off */
	char status_key[CASEMGR_PATH_MAX];
	char retired_status_keys[4 * CASEMGR_PATH_MAX];
	char status_origin[65];
	long long status_batch, status_poll;
	char metrics_listen[64];
	long long metrics_port;
	char user[64];
	int syslog, debug;
};

extern const struct cfg_entry casemgr_conf_table[];
extern const size_t casemgr_conf_entries;

/*
 * What the table cannot check (conf is a struct casemgr_conf): the listener's transport; the callback
 * rule, send hours and text; with a status spool, a status key and an origin name.
 */
int casemgr_conf_check(void *conf, const char *path, char err[CFG_ERR_MAX]);

#endif
