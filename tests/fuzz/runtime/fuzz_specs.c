/*
 * Fuzz target: the flag parsers (-v, --tmpfs, -u, --memory, --cpus,
 * --ulimit, --device, --device-cgroup-rule, --sysctl, --cpuset-*) and
 * config.json, all of which take text from outside. Parsers must reject
 * or accept without crashing; accepted mount specs must be absolute, an
 * accepted device path must stay below /dev without a ".." component,
 * and an accepted sysctl key must be free of '/' (it becomes a path
 * below /proc/sys).
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
	struct rt_device_spec d;
	struct rt_sysctl_ns ns = {0};
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
	if (rt_parse_device(s, &d, &err) == 0 &&
	    (strncmp(d.path, "/dev/", 5) || d.host[0] != '/' ||
	     strstr(d.path, "/../") || !d.perms[0]))
		abort();
	rt_parse_device_rule(s, &err);
	if (rt_sysctl_check(s, &ns, &err) == 0 &&
	    memchr(s, '/', (size_t)(strchr(s, '=') - s)))
		abort();
	rt_parse_cpuset(s);
	if (rt__config_from_json(s, &c, &err) == 0)
		rt__config_free(c);
	free(s);
	return 0;
}
