/*
 * Logging: one line per event, to stderr by default, as text
 * ("2026-11-27T22:10:00.123Z warn raft: node=3 ...") or as JSON lines
 * ({"time":...,"level":"warn","module":"raft","msg":"..."}). The level and
 * format are process-wide and set once at start. Thread-safe: each line is
 * formatted in a local buffer and written with one write(2).
 *
 * Tests capture lines with log_set_sink() to assert "one logged reason".
 */
#ifndef SHOAL_COMMON_LOG_H
#define SHOAL_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_FATAL,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

/** log_parse_level() - "debug"|"info"|"warn"|"error"|"fatal"; -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
/** log_parse_format() - "text"|"json"; -EINVAL otherwise. */
int log_parse_format(const char *s, enum log_format *out);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_format(enum log_format format);
/** log_set_fd() - where lines go (default 2); the fd is borrowed. */
void log_set_fd(int fd);

/**
 * log_set_sink() - divert every line to @fn (NULL restores the fd). @fn gets
 * the level, the module and the formatted message, without a newline.
 */
typedef void log_sink_fn(enum log_level level, const char *module,
			 const char *msg, void *arg);
void log_set_sink(log_sink_fn *fn, void *arg);

void log_write(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vwrite(enum log_level level, const char *module, const char *fmt,
		va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * A rate limit for a line that outsiders can cause (a refused connection):
 * at most one line per @interval_ns, each saying how many were held back
 * since the last. Zero-initialise it with the interval set; not
 * thread-safe (one per loop).
 */
struct log_ratelimit {
	int64_t interval_ns;
	int64_t last_ns;    /* monotonic time of the last line written */
	unsigned long held; /* lines held back since */
	bool started;
};

/**
 * log_ratelimit_pass() - whether a line may be written at monotonic time
 * @now_ns; when it may, *@held gets the number held back since the last
 * one (the caller adds it to its line) and the count restarts.
 */
bool log_ratelimit_pass(struct log_ratelimit *rl, int64_t now_ns,
			unsigned long *held);

#ifndef LOG_MODULE
#define LOG_MODULE "shoal"
#endif

#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_get_level() <= LOG_LEVEL_DEBUG)                        \
			log_write(LOG_LEVEL_DEBUG, LOG_MODULE, __VA_ARGS__);   \
	} while (0)
#define log_info(...) log_write(LOG_LEVEL_INFO, LOG_MODULE, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, LOG_MODULE, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, LOG_MODULE, __VA_ARGS__)
#define log_fatal(...) log_write(LOG_LEVEL_FATAL, LOG_MODULE, __VA_ARGS__)

#endif
