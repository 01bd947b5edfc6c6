/*
 * Logging: see log.h. Lines longer than the local buffer are cut with "...";
 * a log line is never worth an allocation that can fail.
 */
#include "common/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static _Atomic int cur_level = LOG_LEVEL_INFO;
static _Atomic int cur_format = LOG_FORMAT_TEXT;
static _Atomic int cur_fd = 2;
static log_sink_fn *sink;
static void *sink_arg;

static const char *const level_names[] = {"debug", "info", "warn", "error",
					  "fatal"};

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_LEVEL_FATAL; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

void log_set_format(enum log_format format)
{
	cur_format = format;
}

void log_set_fd(int fd)
{
	cur_fd = fd;
}

void log_set_sink(log_sink_fn *fn, void *arg)
{
	sink_arg = arg;
	sink = fn;
}

/* Appends @s to @out as the body of a JSON string, escaping as needed. */
static size_t json_escape(char *out, size_t cap, size_t len, const char *s)
{
	for (; *s && len + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[len++] = '\\';
			out[len++] = (char)c;
		} else if (c < 0x20) {
			len += (size_t)snprintf(out + len, cap - len, "\\u%04x",
						c);
		} else {
			out[len++] = (char)c;
		}
	}
	return len;
}

static size_t format_time(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(out + n, cap - n, ".%03ldZ",
			      ts.tv_nsec / 1000000);
	return n;
}

void log_vwrite(enum log_level level, const char *module, const char *fmt,
		va_list ap)
{
	if ((int)level < cur_level)
		return;
	int saved_errno = errno;
	char msg[LOG_LINE_MAX];
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	if (sink) {
		sink(level, module, msg, sink_arg);
		errno = saved_errno;
		return;
	}
	char line[LOG_LINE_MAX + 256];
	char ts[40];
	format_time(ts, sizeof(ts));
	size_t n;
	if (cur_format == LOG_FORMAT_JSON) {
		n = (size_t)snprintf(line, sizeof(line),
				     "{\"time\":\"%s\",\"level\":\"%s\","
				     "\"module\":\"%s\",\"msg\":\"",
				     ts, level_names[level], module);
		n = json_escape(line, sizeof(line) - 3, n, msg);
		memcpy(line + n, "\"}\n", 3);
		n += 3;
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%s %s %s: %s\n", ts,
				     level_names[level], module, msg);
		if (n >= sizeof(line)) {
			n = sizeof(line);
			line[n - 1] = '\n';
		}
	}
	ssize_t w = write(cur_fd, line, n);
	(void)w;
	errno = saved_errno;
}

void log_write(enum log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, module, fmt, ap);
	va_end(ap);
}

bool log_ratelimit_pass(struct log_ratelimit *rl, int64_t now_ns,
			unsigned long *held)
{
	if (rl->started && now_ns - rl->last_ns < rl->interval_ns) {
		rl->held++;
		return false;
	}
	*held = rl->held;
	rl->held = 0;
	rl->last_ns = now_ns;
	rl->started = true;
	return true;
}
