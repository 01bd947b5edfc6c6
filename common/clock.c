/*
 * Clocks and time text: see clock.h.
 */
#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int64_t time_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

size_t time_format_rfc3339(int64_t ns, char *out, size_t cap)
{
	time_t sec = (time_t)(ns / NSEC_PER_SEC);
	long frac = (long)(ns % NSEC_PER_SEC);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	int m = snprintf(out + n, cap - n, ".%09ldZ", frac);
	return m < 0 ? n : n + (size_t)m;
}

int time_parse_duration(const char *s, int64_t *out_ns)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
		{"ns", 1},
		{"us", 1000},
		{"ms", NSEC_PER_MSEC},
		{"s", NSEC_PER_SEC},
		{"m", 60 * NSEC_PER_SEC},
		{"h", 3600 * NSEC_PER_SEC},
		{"d", 86400 * NSEC_PER_SEC},
	};
	int64_t total = 0;
	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		if (end == s || errno || v < 0)
			return -EINVAL;
		s = end;
		size_t ulen = 0;
		while (s[ulen] && (s[ulen] < '0' || s[ulen] > '9') &&
		       s[ulen] != '.')
			ulen++;
		int found = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strlen(units[i].unit) == ulen &&
			    strncmp(units[i].unit, s, ulen) == 0) {
				double add = v * (double)units[i].ns;
				if (add > 9.2e18 - (double)total)
					return -ERANGE;
				total += (int64_t)add;
				found = 1;
				break;
			}
		}
		if (!found)
			return -EINVAL;
		s += ulen;
	}
	*out_ns = total;
	return 0;
}

void time_format_human(int64_t s, char *out, size_t cap)
{
	int64_t m = s / 60, h = m / 60;
	if (s < 1)
		snprintf(out, cap, "Less than a second");
	else if (s == 1)
		snprintf(out, cap, "1 second");
	else if (s < 60)
		snprintf(out, cap, "%lld seconds", (long long)s);
	else if (m == 1)
		snprintf(out, cap, "About a minute");
	else if (m < 60)
		snprintf(out, cap, "%lld minutes", (long long)m);
	else if (h == 1)
		snprintf(out, cap, "About an hour");
	else if (h < 48)
		snprintf(out, cap, "%lld hours", (long long)h);
	else if (h < 24 * 7 * 2)
		snprintf(out, cap, "%lld days", (long long)(h / 24));
	else if (h < 24 * 30 * 2)
		snprintf(out, cap, "%lld weeks", (long long)(h / 24 / 7));
	else if (h < 24 * 365 * 2)
		snprintf(out, cap, "%lld months", (long long)(h / 24 / 30));
	else
		snprintf(out, cap, "%lld years", (long long)(h / 24 / 365));
}
