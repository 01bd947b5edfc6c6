/*
 * Fuzz target: the flag parsers (-v, --tmpfs, -u, --memory, --cpus,
 * --ulimit) and config.json, all of which take text from outside. The
 * input is split at its first NUL-free line; parsers must reject or
 * accept without crashing, and accepted mount specs must be absolute.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_mount_spec m;
	struct rt_user_spec u;
	struct rt_rlimit r;
	struct shoal_err err;
	struct rt__config *c;
	char *s;
	int64_t v;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (rt_parse_volume(s, &m, &err) == 0 &&
	    (m.target[0] != '/' || (m.source && !m.source[0])))
		abort();
	if (rt_parse_tmpfs(s, &m, &err) == 0 && m.target[0] != '/')
		abort();
	rt_parse_user(s, &u);
	rt_parse_memory(s, &v);
	rt_parse_cpus(s, &v);
	rt_parse_ulimit(s, &r);
	if (rt__config_from_json(s, &c, &err) == 0)
		rt__config_free(c);
	free(s);
	return 0;
}
