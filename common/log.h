/*
 * Process logging: to stderr (default) or syslog. Messages are single lines;
 * callers never pass report contents or reporter addresses.
 */
#ifndef TIP_COMMON_LOG_H
#define TIP_COMMON_LOG_H

#include <syslog.h>

/* Sets the program name, the destination and the most verbose level kept (LOG_ERR..LOG_DEBUG). */
void log_init(const char *ident, int to_syslog, int max_level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
