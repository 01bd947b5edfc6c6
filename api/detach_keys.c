/*
 * Docker's detach keys: the spec parser (moby term.ToBytes()) and the
 * stdin scanner (moby term.EscapeProxy): see detach_keys.h. The parser
 * reads bytes from an HTTP query or a JSON body, so it is a decoder of
 * outside bytes with a fuzz target (tests/fuzz/api).
 */
#include "api/detach_keys.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* "ctrl-X" (any case): its control code, or -1. */
static int ctrl_code(const char *k, size_t len)
{
	static const char tail[] = "@[\\]^_";
	if (len != 6 || strncasecmp(k, "ctrl-", 5) != 0)
		return -1;
	char c = k[5];
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 1;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 1;
	const char *p = c ? strchr(tail, c) : NULL;
	if (!p)
		return -1;
	return p == tail ? 0 : 27 + (int)(p - tail - 1);
}

int api__detach_parse(const char *spec, struct api__detach *out)
{
	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		spec = "ctrl-p,ctrl-q";
	const char *p = spec;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int code = len == 1 ? (unsigned char)p[0] : ctrl_code(p, len);
		if (code < 0 || out->n >= API__DETACH_MAX)
			return -EINVAL;
		out->keys[out->n++] = (unsigned char)code;
		if (!end)
			return 0;
		p = end + 1;
	}
}

bool api__detach_scan(struct api__detach *d, const char *in, size_t n,
		      char *out, size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == d->keys[d->matched]) {
			if (++d->matched == d->n) {
				d->matched = 0;
				*out_len = o;
				return true;
			}
			continue;
		}
		/* The sequence broke: give back what was held. */
		memcpy(out + o, d->keys, d->matched);
		o += d->matched;
		d->matched = 0;
		if (c == d->keys[0]) {
			if (d->n == 1) {
				*out_len = o;
				return true;
			}
			d->matched = 1;
			continue;
		}
		out[o++] = (char)c;
	}
	*out_len = o;
	return false;
}
