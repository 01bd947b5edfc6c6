/*
 * shoal info: `docker info`'s layout from GET /info, with a Client section
 * first. Fields the daemon leaves out are skipped rather than printed
 * empty, so an older or newer daemon still prints cleanly.
 */
#include "cli/cli.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <string.h>

static void line(const json_t *o, const char *label, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_string(v))
		printf(" %s: %s\n", label, json_string_value(v));
	else if (json_is_integer(v))
		printf(" %s: %lld\n", label, (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		printf(" %s: %s\n", label, json_is_true(v) ? "true" : "false");
}

static void joined(const char *label, const json_t *arr)
{
	if (!json_is_array(arr))
		return;
	printf("  %s:", label);
	size_t i;
	const json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v))
			printf(" %s", json_string_value(v));
	}
	printf("\n");
}

static void containers(const json_t *o)
{
	line(o, "Containers", "Containers");
	printf("  Running: %lld\n",
	       (long long)jsonx_int(o, "ContainersRunning", 0));
	printf("  Paused: %lld\n",
	       (long long)jsonx_int(o, "ContainersPaused", 0));
	printf("  Stopped: %lld\n",
	       (long long)jsonx_int(o, "ContainersStopped", 0));
	line(o, "Images", "Images");
}

static void plugins_swarm_runtimes(const json_t *o)
{
	const json_t *p = jsonx_obj(o, "Plugins");
	if (p) {
		printf(" Plugins:\n");
		joined("Volume", json_object_get(p, "Volume"));
		joined("Network", json_object_get(p, "Network"));
		joined("Log", json_object_get(p, "Log"));
	}
	const json_t *sw = jsonx_obj(o, "Swarm");
	if (sw) {
		printf(" Swarm: %s\n", jsonx_str(sw, "LocalNodeState", ""));
		const char *node = jsonx_str(sw, "NodeID", "");
		if (*node)
			printf("  NodeID: %s\n", node);
	}
	const json_t *rt = jsonx_obj(o, "Runtimes");
	if (rt) {
		printf(" Runtimes:");
		const char *k;
		const json_t *v;
		json_object_foreach((json_t *)rt, k, v)
		{
			printf(" %s", k);
		}
		printf("\n");
	}
	line(o, "Default Runtime", "DefaultRuntime");
}

static void security(const json_t *o)
{
	const json_t *sec = json_object_get(o, "SecurityOptions");
	if (!json_is_array(sec) || json_array_size(sec) == 0)
		return;
	printf(" Security Options:\n");
	size_t i;
	const json_t *v;
	json_array_foreach(sec, i, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			continue;
		/* "name=seccomp,profile=builtin" -> seccomp / Profile: */
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", s);
		char *save = NULL;
		for (char *kv = strtok_r(buf, ",", &save); kv;
		     kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');
			if (!eq)
				continue;
			*eq = '\0';
			if (strcmp(kv, "name") == 0)
				printf("  %s\n", eq + 1);
			else
				printf("   %c%s: %s\n", kv[0] & ~0x20, kv + 1,
				       eq + 1);
		}
	}
}

static void print_server(const json_t *o)
{
	printf("\nServer:\n");
	containers(o);
	line(o, "Server Version", "ServerVersion");
	line(o, "Storage Driver", "Driver");
	line(o, "Logging Driver", "LoggingDriver");
	line(o, "Cgroup Driver", "CgroupDriver");
	line(o, "Cgroup Version", "CgroupVersion");
	plugins_swarm_runtimes(o);
	security(o);
	line(o, "Kernel Version", "KernelVersion");
	line(o, "Operating System", "OperatingSystem");
	line(o, "OSType", "OSType");
	line(o, "Architecture", "Architecture");
	line(o, "CPUs", "NCPU");
	char mem[32];
	cli_bytes((double)jsonx_int(o, "MemTotal", 0), mem, sizeof(mem));
	printf(" Total Memory: %s\n", mem);
	line(o, "Name", "Name");
	line(o, "ID", "ID");
	line(o, "Docker Root Dir", "DockerRootDir");
	line(o, "Debug Mode", "Debug");
	line(o, "Experimental", "ExperimentalBuild");
	line(o, "Live Restore Enabled", "LiveRestoreEnabled");
}

int cli_cmd_info(struct cli *cli, int argc, char **argv)
{
	bool json;
	int rc = cli_format_flag("info", argc, argv, &json);
	if (rc != 0)
		return rc < 0 ? 1 : 0;
	if (!json) {
		printf("Client:\n Version:    %s\n Context:    default\n"
		       " Debug Mode: false\n",
		       SHOAL_VERSION);
		fflush(stdout);
	}
	json_t *info = NULL;
	if (cli_api_get(cli, "/info", &info) < 0)
		return 1;
	if (json)
		cli_print_json(info);
	else
		print_server(info);
	json_decref(info);
	return 0;
}
