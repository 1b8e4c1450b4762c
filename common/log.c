#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_ident = "tip";
static int log_to_syslog;
static int log_max_level = LOG_INFO;

void log_init(const char *ident, int to_syslog, int max_level)
{
	log_ident = ident;
	log_to_syslog = to_syslog;
	log_max_level = max_level;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE:
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	if (log_to_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		char stamp[32];
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s %s: ", stamp, log_ident, level_name(level));
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
