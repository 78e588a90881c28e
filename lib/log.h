/* SPDX-License-Identifier: MIT */
/* One-line logging to stderr: "<time> <prog>[<pid>] <level>: <message>". */
#ifndef MG_LOG_H
#define MG_LOG_H

enum mg_log_level { MG_LOG_ERR = 0, MG_LOG_WARN, MG_LOG_INFO, MG_LOG_DEBUG };

/* prog: short program name; level: most verbose level printed. */
void log_init(const char *prog, enum mg_log_level level);
void log_set_level(enum mg_log_level level);
enum mg_log_level log_get_level(void);
/* Parse "error|warn|info|debug"; returns -1 on anything else. */
int log_level_parse(const char *s);
void log_msg(enum mg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(MG_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(MG_LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(MG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(MG_LOG_DEBUG, __VA_ARGS__)

#endif
