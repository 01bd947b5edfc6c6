/*
 * Time helpers of the service commands: Go's time.Duration text (inspect
 * --pretty shows durations as the docker CLI prints them) and RFC 3339
 * timestamps with fractions (the API's task and update times).
 */
#include "cli/service.h"
#include "common/clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void cli__go_duration(int64_t ns, char *out, size_t cap)
{
	char buf[64] = "";
	size_t n = 0;
	if (ns == 0) {
		snprintf(out, cap, "0s");
		return;
	}
	if (ns < NSEC_PER_SEC) {
		if (ns % NSEC_PER_MSEC == 0)
			snprintf(out, cap, "%lldms",
				 (long long)(ns / NSEC_PER_MSEC));
		else if (ns % 1000 == 0)
			snprintf(out, cap, "%lldµs", (long long)(ns / 1000));
		else
			snprintf(out, cap, "%lldns", (long long)ns);
		return;
	}
	int64_t h = ns / (3600 * NSEC_PER_SEC);
	int64_t m = ns / (60 * NSEC_PER_SEC) % 60;
	int64_t s = ns / NSEC_PER_SEC % 60;
	int64_t frac = ns % NSEC_PER_SEC;
	if (h)
		n += snprintf(buf + n, sizeof(buf) - n, "%lldh", (long long)h);
	if (h || m)
		n += snprintf(buf + n, sizeof(buf) - n, "%lldm", (long long)m);
	n += snprintf(buf + n, sizeof(buf) - n, "%lld", (long long)s);
	if (frac) {
		char f[16];
		snprintf(f, sizeof(f), "%09lld", (long long)frac);
		for (int i = 8; i >= 0 && f[i] == '0'; i--)
			f[i] = '\0';
		n += snprintf(buf + n, sizeof(buf) - n, ".%s", f);
	}
	snprintf(buf + n, sizeof(buf) - n, "s");
	snprintf(out, cap, "%s", buf);
}

int64_t cli__parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	int64_t frac = 0, scale = 100000000;
	if (!p)
		return 0;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	int64_t off = 0;
	if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;
		if (sscanf(p + 1, "%d:%d", &hh, &mm) == 2)
			off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
	}
	return ((int64_t)timegm(&tm) - off) * NSEC_PER_SEC + frac;
}
