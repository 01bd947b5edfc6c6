/*
 * The json-file log writer, used by the monitor: one record per line in
 * Docker's format, {"log":"text\n","stream":"stdout","time":"RFC3339Nano"},
 * each written with one write(2) on an O_APPEND fd. Text is escaped by
 * hand (no jansson object per line); invalid UTF-8 becomes U+FFFD, as in
 * Docker. The reader lives in logs.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "runtime/internal.h"

/* Length of the valid UTF-8 sequence at @p (0 if invalid). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] < 0xc2)
		return 0;
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
	if (!len || len > n)
		return 0;
	cp = p[0] & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static size_t escape(char *out, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		unsigned char ch = p[i];
		size_t l;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else if (ch == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[ch >> 4];
			out[o + 5] = hex[ch & 15];
			o += 6;
		} else if (ch < 0x80) {
			out[o++] = (char)ch;
		} else if ((l = utf8_len(p + i, n - i)) > 0) {
			memcpy(out + o, p + i, l);
			o += l;
			i += l;
			continue;
		} else {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
		}
		i++;
	}
	return o;
}

int rt__log_format(int stream, const char *data, size_t len, int64_t ns,
		   char **out, size_t *n)
{
	char ts[48], *rec;
	size_t o;

	if (len > 16384)
		return -EINVAL;
	rec = shoal_malloc(len * 6 + 128);
	if (!rec)
		return -ENOMEM;
	memcpy(rec, "{\"log\":\"", 8);
	o = 8 + escape(rec + 8, data, len);
	time_format_rfc3339(ns, ts, sizeof(ts));
	o += (size_t)sprintf(rec + o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
			     stream == 2 ? "stderr" : "stdout", ts);
	*out = rec;
	*n = o;
	return 0;
}

int rt__log_append(int fd, int stream, const char *data, size_t len, int64_t ns)
{
	char *rec;
	size_t o;
	ssize_t w;
	int rc = rt__log_format(stream, data, len, ns, &rec, &o);

	if (rc < 0)
		return rc;
	w = write(fd, rec, o);
	shoal_free(rec);
	return w == (ssize_t)o ? 0 : -EIO;
}
