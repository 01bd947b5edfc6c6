/*
 * Fuzz target for two decoders of outside bytes on the attach, exec and
 * events paths: Docker's detach-keys spec (the `detachKeys` query and
 * exec's DetachKeys, api/detach_keys.c) with its stdin scanner, and the
 * events `filters` query (api__filters_parse() with GET /events' names)
 * matched against a few recorded events (eng_event_match()).
 *
 * Input: the first byte picks the part; the rest is, for the detach keys,
 * a spec and after its first NUL the stdin bytes to scan (in reads of 1
 * to 8 bytes), and for the events, the query text. Any crash, leak or
 * sanitizer report is a bug; so is a scan that forwards more than it was
 * given plus what it held back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/detach_keys.h"
#include "api/internal.h"
#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void detach(const uint8_t *data, size_t size)
{
	char spec[256];
	size_t i = 0;
	for (; i < size && i < sizeof(spec) - 1 && data[i]; i++)
		spec[i] = (char)data[i];
	spec[i] = '\0';
	struct api__detach d;
	if (api__detach_parse(spec, &d) < 0)
		return;
	if (d.n == 0 || d.n > API__DETACH_MAX)
		abort();
	const char *in = (const char *)data + i;
	size_t left = size - i, step = 1;
	char out[8 + API__DETACH_MAX];
	while (left) {
		size_t n = step < left ? step : left, len, held = d.matched;
		bool done = api__detach_scan(&d, in, n, out, &len);
		if (len > n + held)
			abort();
		if (done)
			return;
		in += n;
		left -= n;
		step = step % 8 + 1;
	}
}

static void events(const uint8_t *data, size_t size)
{
	static const char *const known[] = {
		"type",	  "container", "image",	 "volume",  "event",
		"label",  "network",   "node",	 "service", "secret",
		"config", "plugin",    "daemon", "scope",   NULL};
	char *q = malloc(size + 1);
	if (!q)
		return;
	memcpy(q, data, size);
	q[size] = '\0';
	json_t *f = NULL;
	char err[256];
	if (api__filters_parse(q, known, &f, err, sizeof(err)) == 0) {
		const char *v[14][API__FILTER_VALUES + 1];
		for (size_t i = 0; i < 14; i++)
			api__filter_values(f, known[i], v[i]);
		struct eng_event_filter ef = {
			.type = v[0],
			.container = v[1],
			.image = v[2],
			.volume = v[3],
			.event = v[4],
			.labels = {.want = v[5]},
			.network = v[6],
			.node = v[7],
			.service = v[8],
			.secret = v[9],
			.config = v[10],
			.plugin = v[11],
			.daemon = v[12],
			.scope = v[13],
		};
		json_t *msgs[] = {
			json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}}}",
				  "Type", "container", "Action",
				  "exec_start: sh", "Actor", "ID", "abc",
				  "Attributes", "name", "web", "image",
				  "busybox:latest", "a", "b"),
			json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "Type",
				  "image", "Action", "tag", "Actor", "ID",
				  "sha256:00", "Attributes", "name", "x:1"),
			json_pack("{s:s}", "Type", "volume"),
		};
		for (size_t i = 0; i < 3; i++) {
			if (msgs[i])
				(void)eng_event_match(&ef, msgs[i]);
			json_decref(msgs[i]);
		}
	}
	json_decref(f);
	free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		detach(data + 1, size - 1);
	else
		events(data + 1, size - 1);
	return 0;
}
