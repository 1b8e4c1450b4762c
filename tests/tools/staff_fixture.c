/*
 * staff-fixture: a throwaway PostgreSQL and a casemgrd with the organisation, accounts and cases the
 * browser tests of the staff pages need, run until standard input closes (then both stop and every file
 * is removed). It prints "listening on 127.0.0.1:PORT" once casemgrd has ingested the cases.
 *
 * Units: 1 national office, 2 Beijing office, 3 Shanghai office, 4 Chaoyang unit (110105), 5 Dongcheng
 * unit (110101), 6 Beijing review, 7 Huangpu unit (310101), 8 Shanghai review. Accounts (password
 * TSTAFF_PASSWORD, no pledge given yet): nat (national, with the TOTP secret "12345678901234567890"),
 * bj and sh (provincial), cy (Chaoyang), rev (Beijing review), aud (auditor), adm (administrator). Cases
 * 1-3 in Beijing (Dongcheng, 110101), cases 4-5 in Shanghai (Huangpu, 310101), cases 6-11 in Guangzhou
 * (440104; Guangdong has no office here, so the national office handles them). The reports are alike
 * (the same reporter's ID number and phone, person, official and place), so the comparison proposes a
 * link between every two cases of a province, and none across provinces; "listening" is printed once
 * every case is compared.
 *
 * `staff-fixture hostile` adds case 12 in Beijing (Dongcheng) whose every free-text field carries the
 * markup, script, injection and template text of STAFF_FIXTURE_HOSTILE, for the test that the pages render
 * it inert.
 */
#include "daemon.h"
#include "pg.h"
#include "staffc.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Markup that would run or inject if a page put it into HTML, SQL and template text, an RTL override. */
#define STAFF_FIXTURE_HOSTILE                                                                                \
	"<script>alert(1)</script>\"><img src=x onerror=alert(1)>'; DROP TABLE cases;-- {{7*7}} ${7*7} "     \
	"\u202e"

static const char *const users[][4] = {
        {"nat", "national", "1", "\\x3132333435363738393031323334353637383930"},
        {"bj", "provincial", "2", NULL},
        {"sh", "provincial", "3", NULL},
        {"cy", "unit_officer", "4", NULL},
        {"rev", "reviewer", "6", NULL},
        {"aud", "auditor", "1", NULL},
        {"adm", "administrator", "1", NULL},
};

/* A Beijing report whose every free-text field is hostile text (with the field's name, to tell them apart).
 */
static void add_hostile_case(struct tcm *f)
{
	static char text[12][160];
	struct tu_report r;
	uint8_t *rec;
	size_t len;
	char **slots[] = {&r.reporter.name,     &r.reporter.address,   &r.person.name,
	                  &r.aliases[0],        &r.person.description, &r.activity.place,
	                  &r.activity.time,     &r.activity.narrative, &r.official.name,
	                  &r.official.position, &r.official.unit,      &r.official.description};

	tu_report_init(&r);
	memset(r.query_hash, 0x5a, sizeof(r.query_hash));
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		snprintf(text[i], sizeof(text[i]), "%zu %s", i, STAFF_FIXTURE_HOSTILE);
		*slots[i] = text[i];
	}
	/* A file name may hold anything but a path separator. */
	r.attachment.filename = "12 <img src=x onerror=alert(1)>'\";{{7*7}}.jpg";
	tcm_seal(f, &r.r, NULL, &rec, &len);
	tcm_append(f, &rec, &len, 1);
	free(rec);
}

int main(int argc, char **argv)
{
	int hostile = argc == 2 && strcmp(argv[1], "hostile") == 0;
	long long n_cases = hostile ? 12 : 11;
	static struct tcm f;
	struct tdaemon d;
	PGconn *owner;
	char log[300], buf[64];
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	tcm_setup(&f, 1);
	owner = tpg_connect(&f.pg, "tip_owner");
	if (tpg_exec(owner, "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
	                    "(NULL, 'national', NULL, NULL, '全国扫黑办');"
	                    "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
	                    "(1, 'provincial', '110000', '110000', '北京市扫黑办'), "
	                    "(1, 'provincial', '310000', '310000', '上海市扫黑办'), "
	                    "(2, 'verification', '110105', '110000', '朝阳分局核查组'), "
	                    "(2, 'verification', '110101', '110000', '东城分局核查组'), "
	                    "(2, 'review', '110000', '110000', '北京市公安局审核处'), "
	                    "(3, 'verification', '310101', '310000', '黄浦分局核查组'), "
	                    "(3, 'review', '310000', '310000', '上海市公安局审核处')") != 0) {
		fprintf(stderr, "staff-fixture: units: %s", PQerrorMessage(owner));
		goto out;
	}
	tstaff_users(owner, users, sizeof(users) / sizeof(users[0]));
	/* A browser test logs in a dozen times from one address, and submits results with files. */
	FILE *conf = fopen(f.conf, "a");
	if (!conf || fputs("burst_login 1000\nrate_login 100000\nmax_body 1M\n", conf) < 0 ||
	    fclose(conf) != 0) {
		fprintf(stderr, "staff-fixture: cannot extend %s\n", f.conf);
		goto out;
	}
	tcm_add_reports(&f, 3);
	f.region = "310101";
	tcm_add_reports(&f, 2);
	f.region = "440104";
	tcm_add_reports(&f, 6);
	if (hostile)
		add_hostile_case(&f);
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	if (tdaemon_start(&d, "casemgrd", f.conf, log) != 0)
		goto out;
	static const char compared[] = "SELECT count(*) FROM cases WHERE compared_at IS NOT NULL";
	for (int i = 0; i < 2000 && tpg_value(owner, compared) < n_cases; i++)
		usleep(10000);
	if (tpg_value(owner, "SELECT count(*) FROM cases") != n_cases ||
	    tpg_value(owner, compared) != n_cases) {
		fprintf(stderr, "staff-fixture: the cases were not ingested and compared\n");
		tdaemon_stop(&d, SIGTERM);
		goto out;
	}
	printf("listening on 127.0.0.1:%d\n", d.port);
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin))
		;
	rc = tdaemon_stop(&d, SIGTERM) == 0 ? 0 : 1;
out:
	PQfinish(owner);
	tcm_teardown(&f);
	return rc;
}
