/*
 * System routes of the Docker Engine API: GET/HEAD /_ping, GET /version,
 * GET /info. Shapes follow the Engine API reference (v1.45, "System"); the
 * fields the docker CLI prints in `docker version` and `docker info` are
 * filled with real values from the host and the daemon's services, and the
 * rest with Docker's neutral values (empty lists, false) so that clients
 * decoding them strictly do not fail. What /info says the host can limit
 * (MemoryLimit, SwapLimit, CPUSet, ...) is read from the cgroup files at
 * each request (rt_cgroup_probe()), never assumed, and each missing
 * capability brings Docker's warning; Plugins names only drivers that
 * exist.
 */
#include "api/api.h"
#include "api/internal.h"
#include "api/swarm.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "image/registry.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

#ifndef SHOAL_GIT_COMMIT
#define SHOAL_GIT_COMMIT "unknown"
#endif
#ifndef SHOAL_BUILD_TIME
#define SHOAL_BUILD_TIME "unknown"
#endif

/* Docker reports its Go version; Shoal reports its C compiler. */
#ifdef __clang__
#define COMPILER_VERSION "n/a (C, clang " __clang_version__ ")"
#else
#define COMPILER_VERSION "n/a (C, gcc " __VERSION__ ")"
#endif

static void ping(struct api_call *call)
{
	const char *swarm = call->svc->swarm_state
				    ? call->svc->swarm_state(call->svc->arg)
				    : "inactive";
	char sw[64];
	snprintf(sw, sizeof(sw), "%s", swarm);
	http_response_header(call->res, "Swarm", sw);
	http_response_header(call->res, "Cache-Control",
			     "no-cache, no-store, must-revalidate");
	http_response_header(call->res, "Pragma", "no-cache");
	http_response_send(call->res, 200, "text/plain; charset=utf-8", "OK",
			   2);
}

static json_t *version_json(const struct api__host *h)
{
	json_t *details = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ApiVersion",
		API_VERSION, "Arch", h->goarch, "BuildTime", SHOAL_BUILD_TIME,
		"Experimental", "false", "GitCommit", SHOAL_GIT_COMMIT,
		"GoVersion", COMPILER_VERSION, "KernelVersion", h->kernel,
		"MinAPIVersion", API_MIN_VERSION, "Os", "linux");
	if (!details)
		return NULL;
	return json_pack(
		"{s:{s:s}, s:[{s:s, s:s, s:o}], s:s, s:s, s:s, s:s, s:s, s:s, "
		"s:s, s:s, s:s}",
		"Platform", "Name", "Shoal Engine", "Components", "Name",
		"Engine", "Version", SHOAL_VERSION, "Details", details,
		"Version", SHOAL_VERSION, "ApiVersion", API_VERSION,
		"MinAPIVersion", API_MIN_VERSION, "GitCommit", SHOAL_GIT_COMMIT,
		"GoVersion", COMPILER_VERSION, "Os", "linux", "Arch", h->goarch,
		"KernelVersion", h->kernel, "BuildTime", SHOAL_BUILD_TIME);
}

static void version(struct api_call *call)
{
	struct api__host h;
	api__host_read(&h);
	api_reply_json(call, 200, version_json(&h));
}

/*
 * Only drivers that exist: the runtime's one volume driver and one log
 * driver, and overlay-net's bridge, host and null network drivers
 * (docs/networking.md).
 */
static json_t *info_plugins(void)
{
	return json_pack("{s:[s], s:[sss], s:n, s:[s]}", "Volume", "local",
			 "Network", "bridge", "host", "null", "Authorization",
			 "Log", "json-file");
}

/* Docker's warnings (daemon/info_unix.go) for what the host cannot limit;
 * the bridge-nf ones are left out: Shoal's bridges do not go through
 * br_netfilter (its rules hook routed traffic only, docs/networking.md). */
static json_t *info_warnings(const struct rt_cgroup_caps *cg, bool v1)
{
	static const struct {
		size_t off;
		bool v1_only;
		const char *text;
	} w[] = {
		{offsetof(struct rt_cgroup_caps, memory_limit), false,
		 "WARNING: No memory limit support"},
		{offsetof(struct rt_cgroup_caps, swap_limit), false,
		 "WARNING: No swap limit support"},
		{offsetof(struct rt_cgroup_caps, kernel_memory_tcp), true,
		 "WARNING: No kernel memory TCP limit support"},
		{offsetof(struct rt_cgroup_caps, oom_kill_disable), true,
		 "WARNING: No oom kill disable support"},
		{offsetof(struct rt_cgroup_caps, cpu_cfs_quota), false,
		 "WARNING: No cpu cfs quota support"},
		{offsetof(struct rt_cgroup_caps, cpu_cfs_period), false,
		 "WARNING: No cpu cfs period support"},
		{offsetof(struct rt_cgroup_caps, cpu_shares), false,
		 "WARNING: No cpu shares support"},
		{offsetof(struct rt_cgroup_caps, cpuset), false,
		 "WARNING: No cpuset support"},
	};
	json_t *a = json_array();
	for (size_t i = 0; a && i < sizeof(w) / sizeof(w[0]); i++) {
		bool has = *(const bool *)((const char *)cg + w[i].off);
		if (!has && (v1 || !w[i].v1_only))
			json_array_append_new(a, json_string(w[i].text));
	}
	return a;
}

static json_t *info_swarm(const char *state)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:s, s:n}", "NodeID", "",
			 "NodeAddr", "", "LocalNodeState", state,
			 "ControlAvailable", 0, "Error", "", "RemoteManagers");
}

/* Docker's RegistryConfig, with shoald's --insecure-registry values. */
static json_t *info_registry(const struct api_services *s)
{
	return img_registry_config_json(s->insecure_registries,
					s->n_insecure_registries);
}

static json_t *security_options(const struct api__host *h)
{
	json_t *a = json_pack("[s]", "name=seccomp,profile=builtin");
	if (a && strcmp(h->cgroup_version, "2") == 0)
		json_array_append_new(a, json_string("name=cgroupns"));
	return a;
}

static json_t *commit(void)
{
	return json_pack("{s:s}", "ID", "n/a");
}

static json_t *info_json(struct api_call *call, const struct api__host *h,
			 const struct rt_cgroup_caps *cg)
{
	const struct api_services *s = call->svc;
	struct api_counts c = {0};
	if (s->counts)
		s->counts(s->arg, &c);
	const char *swarm =
		s->swarm_state ? s->swarm_state(s->arg) : "inactive";
	int total = c.containers_running + c.containers_paused +
		    c.containers_stopped;
	json_t *o = json_object();
	if (!o)
		return NULL;
	int rc = 0;
	rc |= jsonx_set(o, "ID", json_string(s->engine_id ? s->engine_id : ""));
	rc |= jsonx_set(o, "Containers", json_integer(total));
	rc |= jsonx_set(o, "ContainersRunning",
			json_integer(c.containers_running));
	rc |= jsonx_set(o, "ContainersPaused",
			json_integer(c.containers_paused));
	rc |= jsonx_set(o, "ContainersStopped",
			json_integer(c.containers_stopped));
	rc |= jsonx_set(o, "Images", json_integer(c.images));
	rc |= jsonx_set(o, "Driver", json_string("overlay2"));
	rc |= jsonx_set(o, "DriverStatus", json_array());
	rc |= jsonx_set(o, "Plugins", info_plugins());
	rc |= jsonx_set(o, "MemoryLimit", json_boolean(cg->memory_limit));
	rc |= jsonx_set(o, "SwapLimit", json_boolean(cg->swap_limit));
	if (cg->kernel_memory_tcp) /* Docker omits it when false */
		rc |= jsonx_set(o, "KernelMemoryTCP", json_true());
	rc |= jsonx_set(o, "CpuCfsPeriod", json_boolean(cg->cpu_cfs_period));
	rc |= jsonx_set(o, "CpuCfsQuota", json_boolean(cg->cpu_cfs_quota));
	rc |= jsonx_set(o, "CPUShares", json_boolean(cg->cpu_shares));
	rc |= jsonx_set(o, "CPUSet", json_boolean(cg->cpuset));
	rc |= jsonx_set(o, "PidsLimit", json_boolean(cg->pids_limit));
	rc |= jsonx_set(o, "OomKillDisable",
			json_boolean(cg->oom_kill_disable));
	rc |= jsonx_set(o, "IPv4Forwarding", json_boolean(h->ipv4_forwarding));
	rc |= jsonx_set(o, "Debug", json_boolean(s->debug));
	rc |= jsonx_set(o, "NFd", json_integer(h->nfd));
	rc |= jsonx_set(o, "NGoroutines", json_integer(1));
	char now[48];
	time_format_rfc3339(time_real_ns(), now, sizeof(now));
	rc |= jsonx_set(o, "SystemTime", json_string(now));
	rc |= jsonx_set(o, "LoggingDriver", json_string("json-file"));
	rc |= jsonx_set(o, "CgroupDriver", json_string("cgroupfs"));
	rc |= jsonx_set(o, "CgroupVersion", json_string(h->cgroup_version));
	rc |= jsonx_set(o, "NEventsListener", json_integer(0));
	rc |= jsonx_set(o, "KernelVersion", json_string(h->kernel));
	rc |= jsonx_set(o, "OperatingSystem", json_string(h->os_name));
	rc |= jsonx_set(o, "OSVersion", json_string(h->os_version));
	rc |= jsonx_set(o, "OSType", json_string("linux"));
	rc |= jsonx_set(o, "Architecture", json_string(h->arch));
	rc |= jsonx_set(o, "IndexServerAddress",
			json_string("https://index.docker.io/v1/"));
	rc |= jsonx_set(o, "RegistryConfig", info_registry(s));
	rc |= jsonx_set(o, "NCPU", json_integer(h->ncpu));
	rc |= jsonx_set(o, "MemTotal", json_integer(h->mem_total));
	rc |= jsonx_set(o, "GenericResources", json_null());
	rc |= jsonx_set(o, "DockerRootDir", json_string(s->data_root));
	rc |= jsonx_set(o, "HttpProxy", json_string(""));
	rc |= jsonx_set(o, "HttpsProxy", json_string(""));
	rc |= jsonx_set(o, "NoProxy", json_string(""));
	rc |= jsonx_set(o, "Name", json_string(h->hostname));
	rc |= jsonx_set(o, "Labels", json_array());
	rc |= jsonx_set(o, "ExperimentalBuild", json_false());
	rc |= jsonx_set(o, "ServerVersion", json_string(SHOAL_VERSION));
	rc |= jsonx_set(o, "Runtimes",
			json_pack("{s:{s:s}}", "shoal", "path", "shoald"));
	rc |= jsonx_set(o, "DefaultRuntime", json_string("shoal"));
	rc |= jsonx_set(o, "Swarm",
			s->swarm_ops ? api__swarm_info(call)
				     : info_swarm(swarm));
	/* Containers outlive shoald: their monitors stay, and a new shoald
	 * finds them running (docs/runtime.md, "Re-attach"). */
	rc |= jsonx_set(o, "LiveRestoreEnabled", json_true());
	rc |= jsonx_set(o, "Isolation", json_string(""));
	rc |= jsonx_set(o, "InitBinary", json_string(""));
	rc |= jsonx_set(o, "ContainerdCommit", commit());
	rc |= jsonx_set(o, "RuncCommit", commit());
	rc |= jsonx_set(o, "InitCommit", commit());
	rc |= jsonx_set(o, "SecurityOptions", security_options(h));
	json_t *warn = info_warnings(cg, strcmp(h->cgroup_version, "1") == 0);
	/* Docker's daemon adds this one after the cgroups' (info_unix.go). */
	if (warn && !h->ipv4_forwarding)
		json_array_append_new(
			warn,
			json_string("WARNING: IPv4 forwarding is disabled"));
	rc |= jsonx_set(o, "Warnings", warn);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void info(struct api_call *call)
{
	struct api__host h;
	struct rt_cgroup_caps cg;
	api__host_read(&h);
	rt_cgroup_probe(CGROUP_ROOT, &cg); /* no cgroups: all false */
	api_reply_json(call, 200, info_json(call, &h, &cg));
}

static const struct api_route routes[] = {
	{"GET", "/_ping", ping},
	{"HEAD", "/_ping", ping},
	{"GET", "/version", version},
	{"GET", "/info", info},
};

const struct api_route_table api_system_table = {
	.name = "system",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
