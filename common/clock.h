/*
 * Time for the shells around the pure cores: monotonic nanoseconds for
 * timeouts and durations, wall-clock nanoseconds for timestamps, and the
 * RFC 3339 text Docker's API uses. Cores (raft, scheduler) never call
 * these; time reaches them as an argument.
 */
#ifndef SHOAL_COMMON_CLOCK_H
#define SHOAL_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC 1000000000LL

int64_t time_mono_ns(void);
int64_t time_real_ns(void);
/**
 * time_format_rfc3339() - @ns since the epoch as "2006-01-02T15:04:05.
 * 999999999Z" into @out (at least 40 bytes); returns the length.
 */
size_t time_format_rfc3339(int64_t ns, char *out, size_t cap);
/**
 * time_format_human() - @secs as Docker's units.HumanDuration ("Less than a
 * second", "About a minute", "3 hours", "2 weeks") into @out.
 */
void time_format_human(int64_t secs, char *out, size_t cap);
/**
 * time_parse_duration() - Go-style durations ("1s", "500ms", "2h45m",
 * "90d" is not Go's but accepted as days) into nanoseconds; -EINVAL.
 */
int time_parse_duration(const char *s, int64_t *out_ns);

#endif
