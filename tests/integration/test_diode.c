/*
 * diode-send → lossy-relay → diode-recv over loopback: every record of every
 * origin arrives exactly once, in order, through loss, duplication, reordering
 * and corruption, and through SIGKILL of either end; forged datagrams and
 * records signed by an unknown key never reach an inbox.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon.h"
#include "diode/spool.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static struct key origin_key[2], stranger;
static const char *const origins[2] = {"intake-a", "intake-b"};
static size_t max_payload = 50000;

/* A fresh directory with both origins' keys (verifier keys in keys/), the link key, and empty chains. */
static void make_world(struct rec_chain chain[2])
{
	char path[600];

	dir = tu_mkdtemp();
	tu_diode_keys(dir, origins[0], &origin_key[0]);
	assert_int_equal(key_generate(KEY_ED25519, origins[1], &origin_key[1]), TIP_OK);
	snprintf(path, sizeof(path), "%s/keys/%s.pub", dir, origins[1]);
	assert_int_equal(key_write_public(path, &origin_key[1]), TIP_OK);
	for (int i = 0; i < 2; i++)
		rec_chain_init(&chain[i], origins[i]);
}

/* Appends n records of origin i (continuing its chain) to its outbox spool; sizes vary up to ~50 KiB. */
static void produce(int i, struct rec_chain *chain, int n, const struct key *signer)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/outbox-%s", dir, origins[i]);
	tu_fill_spool(path, signer, chain, n, max_payload);
}

/* Records in origin i's inbox, checked: consecutive seqs from 0, each verifying. -1 on a broken chain. */
static long inbox_count(int i)
{
	char path[600];
	struct spool_fault f;
	int err;
	const uint8_t *buf;
	size_t len;
	uint64_t index;
	long n = 0;
	struct ed25519_pub *pub = ed25519_pub_new(origin_key[i].pub);
	struct rec_chain chain;

	snprintf(path, sizeof(path), "%s/inbox/%s", dir, origins[i]);
	struct spool_reader *r = spool_reader_open(path, "test", NULL, &f, &err);
	if (!r) {
		ed25519_pub_free(pub);
		return 0;
	}
	rec_chain_init(&chain, origins[i]);
	while (spool_reader_next(r, &buf, &len, &index, &f) == 1) {
		struct rec rec;

		if (rec_decode(buf, len, 1 << 20, &rec) != TIP_OK ||
		    rec_chain_check(&chain, &rec) != REC_CHAIN_NEXT || rec_verify(&rec, pub) != TIP_OK) {
			n = -1;
			break;
		}
		rec_chain_advance(&chain, rec.hash);
		rec_release(&rec);
		n++;
	}
	spool_reader_close(r);
	ed25519_pub_free(pub);
	return n;
}

static int wait_for(long want_a, long want_b, int seconds)
{
	for (int t = 0; t < seconds * 10; t++) {
		long a = inbox_count(0), b = inbox_count(1);

		if (a < 0 || b < 0)
			return -1;
		if (a == want_a && b == want_b)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "inbox holds %ld and %ld, want %ld and %ld\n", inbox_count(0), inbox_count(1), want_a,
	        want_b);
	return -1;
}

static pid_t relay_pid;

static void start_relay(int listen_port, int forward_port, const char *extra)
{
	char cmd[1024], bin[600];

	snprintf(bin, sizeof(bin), "%s/tests/lossy-relay", getenv("TIP_BINARY_DIR"));
	snprintf(cmd, sizeof(cmd), "exec %s -l 127.0.0.1:%d -f 127.0.0.1:%d %s > %s/relay.log 2>&1", bin,
	         listen_port, forward_port, extra, dir);
	relay_pid = fork();
	if (relay_pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	usleep(200000);
}

static void stop_relay(void)
{
	int status;

	kill(relay_pid, SIGTERM);
	waitpid(relay_pid, &status, 0);
}

static void test_diode_end_to_end(void **state)
{
	(void)state;
	char path[600], conf_send[600], conf_recv[600], log[600], spools[700];
	struct tdaemon recv_d, send_d;
	struct rec_chain chain[2];
	int recv_port = tfree_port(), relay_port = tfree_port();

	make_world(chain);
	assert_int_equal(key_generate(KEY_ED25519, "intake-a", &stranger), TIP_OK);
	produce(0, &chain[0], 300, &origin_key[0]);
	produce(1, &chain[1], 200, &origin_key[1]);

	/* Pruning every 200 ms runs the retention pass under the sandbox while records flow. */
	tu_diode_recv_conf(conf_recv, dir, "127.0.0.1", recv_port,
	                   "block_age 500ms\ngap_timeout 1s\nprune_interval 200ms\n");
	snprintf(spools, sizeof(spools), "intake-a=%s/outbox-intake-a intake-b=%s/outbox-intake-b", dir, dir);
	tu_diode_send_conf(conf_send, dir, relay_port, spools,
	                   "replay 1s 3s\nrate_mbit 200\nheartbeat 200ms\n");

	/* 5% random loss, a burst of 30 every 2000, 1% duplicated, 1% reordered, 0.5% flipped, 0.5%
	 * truncated. */
	start_relay(relay_port, recv_port, "-p 0.05 -b 2000:30 -d 0.01 -r 0.01 -x 0.005 -t 0.005 -s 11");
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	assert_int_equal(wait_for(300, 200, 60), 0);

	/* Forged datagrams straight at the receiver, and a record signed by a stranger with intake-a's name.
	 */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)recv_port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	uint8_t junk[1452];
	memset(junk, 0x5a, sizeof(junk));
	memcpy(junk, "TD\x01\x01", 4);
	for (int i = 0; i < 100; i++)
		sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	struct rec_chain forged = chain[0];
	produce(0, &forged, 1, &stranger);

	/* SIGKILL the sender, then the receiver, while more records flow; restart both. */
	produce(0, &chain[0], 200, &origin_key[0]);
	usleep(300000);
	assert_int_equal(tdaemon_stop(&send_d, SIGKILL), 128 + SIGKILL);
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	usleep(300000);
	assert_int_equal(tdaemon_stop(&recv_d, SIGKILL), 128 + SIGKILL);
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	produce(1, &chain[1], 100, &origin_key[1]);
	/* The stranger's record claimed intake-a's seq 300 and was refused; the real 300..499 after it
	 * arrive. */
	assert_int_equal(wait_for(500, 300, 60), 0);
	assert_int_equal(tdaemon_stop(&send_d, SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&recv_d, SIGTERM), 0);
	stop_relay();
	/* Show what the link went through: the relay's counters and the receiver's own account. */
	snprintf(path, sizeof(path),
	         "cat %s/relay.log; grep -h -E 'rejected|gap' %s/recv.log | sort | uniq -c | head", dir, dir);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/relay.log", dir);
	char *relay = tu_read_file(path, NULL);
	assert_non_null(relay);
	assert_non_null(strstr(relay, "dropped="));
	assert_null(strstr(relay, "dropped=0 ")); /* the loss really happened */
	free(relay);

	/* The stranger's record sits in quarantine with the reason "key". */
	snprintf(path, sizeof(path), "%s/quarantine", dir);
	struct spool_fault sf;
	int err, quarantined_key = 0;
	const uint8_t *buf;
	size_t len;
	uint64_t index;
	struct spool_reader *q = spool_reader_open(path, "test", NULL, &sf, &err);
	assert_non_null(q);
	while (spool_reader_next(q, &buf, &len, &index, &sf) == 1)
		quarantined_key += buf[0] == 2; /* REJECT_KEY */
	spool_reader_close(q);
	assert_true(quarantined_key >= 1);
	tu_rmtree(dir);
	free(dir);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/*
 * Two network namespaces joined by a veth pair, set up as a real diode is: no IPv6 and no ARP on the
 * high side's link interface, a static neighbour entry on the low side, and an nftables rule in the
 * high namespace that drops (and counts) every packet leaving on the link. 5% loss comes from the
 * relay on the low side. 10,000 records arrive exactly once; the counter shows the high side sent nothing.
 */
static void test_diode_namespaces(void **state)
{
	(void)state;
	char low[32], high[32], conf_send[600], conf_recv[600], log[600], path[600], mac[64] = "",
	                                                                             spools[700], listen[32];
	struct tdaemon recv_d, send_d;
	struct rec_chain chain[2];
	int relay_port = tfree_port(), net = 1 + (int)(getpid() % 250);
	FILE *f;

	if (geteuid() != 0 || sh("command -v ip >/dev/null && command -v nft >/dev/null") != 0) {
		skip();
		return;
	}
	snprintf(low, sizeof(low), "tiplow%d", (int)getpid());
	snprintf(high, sizeof(high), "tiphigh%d", (int)getpid());
	if (sh("ip netns add %s && ip netns add %s", low, high) != 0) {
		skip(); /* no network namespaces in this sandbox */
		return;
	}
	assert_int_equal(
	        sh("ip link add dl%d netns %s type veth peer name dh%d netns %s", net, low, net, high), 0);
	assert_int_equal(sh("ip -n %s addr add 10.254.%d.1/30 dev dl%d && ip -n %s link set dl%d up && "
	                    "ip -n %s link set lo up",
	                    low, net, net, low, net, low),
	                 0);
	assert_int_equal(sh("ip netns exec %s sysctl -qw net.ipv6.conf.dh%d.disable_ipv6=1 && "
	                    "ip -n %s link set dh%d arp off && ip -n %s addr add 10.254.%d.2/30 dev dh%d && "
	                    "ip -n %s link set dh%d up",
	                    high, net, high, net, high, net, net, high, net),
	                 0);
	/* The low side cannot ask for the high side's address (no ARP answers): a static entry. */
	snprintf(path, sizeof(path),
	         "ip -n %s -o link show dh%d | sed -E 's/.*link\\/ether ([0-9a-f:]+).*/\\1/'", high, net);
	f = popen(path, "r");
	assert_non_null(fgets(mac, sizeof(mac), f));
	pclose(f);
	mac[strcspn(mac, "\n")] = 0;
	assert_int_equal(
	        sh("ip -n %s neigh add 10.254.%d.2 lladdr %s dev dl%d nud permanent", low, net, mac, net), 0);
	assert_int_equal(
	        sh("ip netns exec %s nft add table inet diode && ip netns exec %s nft add chain inet diode "
	           "out '{ type filter hook output priority 0; policy accept; }' && ip netns exec %s nft add "
	           "rule "
	           "inet diode out oifname dh%d counter drop",
	           high, high, high, net),
	        0);

	max_payload = 2000;
	make_world(chain);
	produce(0, &chain[0], 6000, &origin_key[0]);
	produce(1, &chain[1], 4000, &origin_key[1]);
	snprintf(listen, sizeof(listen), "10.254.%d.2", net);
	tu_diode_recv_conf(conf_recv, dir, listen, 7700, "block_age 500ms\n");
	snprintf(spools, sizeof(spools), "intake-a=%s/outbox-intake-a intake-b=%s/outbox-intake-b", dir, dir);
	tu_diode_send_conf(conf_send, dir, relay_port, spools, "replay 1s 3s\nrate_mbit 200\n");
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start_in(&recv_d, high, "diode-recv", conf_recv, log), 0);
	/* The relay runs in the low namespace and forwards across the veth to the high side. */
	char bin[600], cmd[1600];
	snprintf(bin, sizeof(bin), "%s/tests/lossy-relay", getenv("TIP_BINARY_DIR"));
	snprintf(cmd, sizeof(cmd),
	         "exec ip netns exec %s %s -l 127.0.0.1:%d -f 10.254.%d.2:7700 -p 0.05 -s 5 > %s/relay.log "
	         "2>&1",
	         low, bin, relay_port, net, dir);
	relay_pid = fork();
	if (relay_pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start_in(&send_d, low, "diode-send", conf_send, log), 0);
	assert_int_equal(wait_for(6000, 4000, 120), 0);
	assert_int_equal(tdaemon_stop(&send_d, SIGTERM), 0);
	stop_relay();
	usleep(200000);
	assert_int_equal(tdaemon_stop(&recv_d, SIGTERM), 0);

	/* Nothing left the high side on the link. */
	snprintf(path, sizeof(path), "ip netns exec %s nft list chain inet diode out", high);
	f = popen(path, "r");
	char rules[4096];
	size_t n = fread(rules, 1, sizeof(rules) - 1, f);
	rules[n] = 0;
	pclose(f);
	if (!strstr(rules, "counter packets 0 bytes 0 drop"))
		fail_msg("the high side sent packets on the link:\n%s", rules);
	assert_int_equal(sh("cat %s/relay.log", dir), 0);
	sh("ip netns del %s; ip netns del %s", low, high);
	tu_rmtree(dir);
	free(dir);
}

/* All lost, then sent again by hand: the operator's resend, range by range, out of order. */
static void test_resend(void **state)
{
	(void)state;
	char conf_send[600], conf_recv[600], log[600], spools[700];
	struct tdaemon recv_d, send_d;
	struct rec_chain chain[2];
	int recv_port = tfree_port(), relay_port = tfree_port();

	max_payload = 3000;
	make_world(chain);
	produce(0, &chain[0], 10, &origin_key[0]);
	tu_diode_recv_conf(conf_recv, dir, "127.0.0.1", recv_port, "");
	snprintf(spools, sizeof(spools), "intake-a=%s/outbox-intake-a", dir);
	tu_diode_send_conf(conf_send, dir, relay_port, spools, "replay\nrate_mbit 100\n");
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	start_relay(relay_port, recv_port, "-p 1"); /* the link is down: everything is lost */
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	usleep(500000);
	assert_int_equal(tdaemon_stop(&send_d, SIGTERM), 0);
	stop_relay();
	assert_int_equal(inbox_count(0), 0);

	start_relay(relay_port, recv_port, "");
	const char *middle[] = {"resend", "--origin", "intake-a", "--from",  "3",
	                        "--to",   "7",        "-c",       conf_send, NULL};
	assert_int_equal(trun("diode-send", middle), 0);
	usleep(300000);
	assert_int_equal(inbox_count(0), 0); /* 3..7 wait for 0..2 */
	const char *first[] = {"resend", "--origin", "intake-a", "--from",  "0",
	                       "--to",   "2",        "-c",       conf_send, NULL};
	assert_int_equal(trun("diode-send", first), 0);
	assert_int_equal(wait_for(8, 0, 10), 0);
	const char *last[] = {"resend", "--origin", "intake-a", "--from",  "8",
	                      "--to",   "9",        "-c",       conf_send, NULL};
	assert_int_equal(trun("diode-send", last), 0);
	assert_int_equal(wait_for(10, 0, 10), 0);
	const char *bad[] = {"resend", "--origin", "intake-z", "--from",  "0",
	                     "--to",   "1",        "-c",       conf_send, NULL};
	assert_int_equal(trun("diode-send", bad), 74);
	const char *usage[] = {"resend", "--from", "0", NULL};
	assert_int_equal(trun("diode-send", usage), 64);
	stop_relay();
	assert_int_equal(tdaemon_stop(&recv_d, SIGTERM), 0);
	tu_rmtree(dir);
	free(dir);
}

/*
 * diode-recv's sandbox: a forbidden system call (the self-test's execve on SIGUSR2) kills it with
 * SIGSYS while records flow; started again, as systemd's Restart=on-failure does, it delivers every
 * record exactly once (the inbox chain is checked from seq 0 without a gap or a repeat).
 */
static void test_sandbox_kill_loses_nothing(void **state)
{
	(void)state;
	char conf_send[600], conf_recv[600], log[600], spools[700];
	struct tdaemon recv_d, send_d;
	struct rec_chain chain[2];
	int recv_port = tfree_port();

	max_payload = 3000;
	make_world(chain);
	produce(0, &chain[0], 100, &origin_key[0]);
	tu_diode_recv_conf(conf_recv, dir, "127.0.0.1", recv_port, "");
	snprintf(spools, sizeof(spools), "intake-a=%s/outbox-intake-a", dir);
	tu_diode_send_conf(conf_send, dir, recv_port, spools,
	                   "replay 1s 3s\nrate_mbit 100\nheartbeat 200ms\n");
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	setenv("TIP_SANDBOX_SELFTEST", "1", 1);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	unsetenv("TIP_SANDBOX_SELFTEST");
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	assert_int_equal(wait_for(100, 0, 60), 0);
	produce(0, &chain[0], 100, &origin_key[0]);
	usleep(100000);
	assert_int_equal(tdaemon_stop(&recv_d, SIGUSR2), 128 + SIGSYS);
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	assert_int_equal(wait_for(200, 0, 60), 0);
	assert_int_equal(tdaemon_stop(&send_d, SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&recv_d, SIGTERM), 0);
	tu_rmtree(dir);
	free(dir);
}

/* The settings tables in docs/operations.md are the ones the programs print. */
static void test_settings_documented(void **state)
{
	(void)state;
	static const char *const programs[] = {"diode-send", "diode-recv"};
	char cmd[700], table[16384], *docs;

	snprintf(cmd, sizeof(cmd), "%s/docs/operations.md", getenv("TIP_SOURCE_DIR"));
	assert_non_null(docs = tu_read_file(cmd, NULL));
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "%s/%s -s", getenv("TIP_BINARY_DIR"), programs[i]);
		FILE *p = popen(cmd, "r");
		size_t n = fread(table, 1, sizeof(table) - 1, p);

		table[n] = 0;
		assert_int_equal(pclose(p), 0);
		if (n < 500 || !strstr(docs, table))
			fail_msg("docs/operations.md does not hold the table `%s -s` prints", programs[i]);
	}
	free(docs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_diode_end_to_end),
	        cmocka_unit_test(test_diode_namespaces),
	        cmocka_unit_test(test_resend),
	        cmocka_unit_test(test_sandbox_kill_loses_nothing),
	        cmocka_unit_test(test_settings_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
