/*
 * shoal network ...: create, ls, inspect, rm, prune, connect, disconnect,
 * with docker's table (NETWORK ID, NAME, DRIVER, SCOPE) and messages;
 * `shoal port` (from the container's inspect, as the docker CLI does);
 * and the networking flags of run/create (-p, -P, --network-alias, --ip,
 * --mac-address, --dns-search, --dns-option, --link) into the create body.
 */
#include "cli/ctr.h"
#include "cli/table.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

static json_t *labels_of(const struct cli_list *l)
{
	json_t *o = json_object();

	for (size_t k = 0; o && k < l->n; k++) {
		char key[256];
		const char *eq = strchr(l->v[k], '=');
		snprintf(key, sizeof(key), "%.*s",
			 eq ? (int)(eq - l->v[k]) : (int)strlen(l->v[k]),
			 l->v[k]);
		json_object_set_new(o, key, json_string(eq ? eq + 1 : ""));
	}
	return o;
}

static int net_create(struct cli *cli, int argc, char **argv)
{
	const char *driver = NULL, *subnet = NULL, *gateway = NULL,
		   *range = NULL;
	bool internal = false, attachable = false, ipv6 = false;
	struct cli_list labels = {0}, opts = {0};
	const struct cli_flag flags[] = {
		{"driver", 'd', CLI_FLAG_STR, &driver},
		{"subnet", 0, CLI_FLAG_STR, &subnet},
		{"gateway", 0, CLI_FLAG_STR, &gateway},
		{"ip-range", 0, CLI_FLAG_STR, &range},
		{"internal", 0, CLI_FLAG_BOOL, &internal},
		{"attachable", 0, CLI_FLAG_BOOL, &attachable},
		{"ipv6", 0, CLI_FLAG_BOOL, &ipv6},
		{"label", 0, CLI_FLAG_LIST, &labels},
		{"opt", 'o', CLI_FLAG_LIST, &opts},
	};
	int i = cli_flags("network create", flags, NFLAGS(flags), argc, argv,
			  true);
	json_t *body, *ipam = json_array(), *v;

	if (i == -2) {
		printf("Usage:  shoal network create [OPTIONS] NETWORK\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i != argc - 1) {
		fprintf(stderr, "\"shoal network create\" requires exactly 1 "
				"argument.\nSee 'shoal network create "
				"--help'.\n");
		return 1;
	}
	if (subnet || gateway || range) {
		json_t *c = json_object();
		if (subnet)
			json_object_set_new(c, "Subnet", json_string(subnet));
		if (gateway)
			json_object_set_new(c, "Gateway", json_string(gateway));
		if (range)
			json_object_set_new(c, "IPRange", json_string(range));
		json_array_append_new(ipam, c);
	}
	body = json_pack("{s:s, s:s, s:b, s:b, s:b, s:{s:s, s:o}, s:o, s:o}",
			 "Name", argv[i], "Driver", driver ? driver : "bridge",
			 "Internal", internal, "Attachable", attachable,
			 "EnableIPv6", ipv6, "IPAM", "Driver", "default",
			 "Config", ipam, "Labels", labels_of(&labels),
			 "Options", labels_of(&opts));
	int rc = cli_call_json(cli, "POST", "/networks/create", body, &v);
	json_decref(body);
	if (rc < 0)
		return 1;
	printf("%s\n", jsonx_str(v, "Id", ""));
	json_decref(v);
	return 0;
}

static int net_ls(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, notrunc = false;
	const char *format = NULL;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"no-trunc", 0, CLI_FLAG_BOOL, &notrunc},
		{"format", 0, CLI_FLAG_STR, &format},
		{"filter", 'f', CLI_FLAG_LIST, &filt},
	};
	static const char *const h[] = {"NETWORK ID", "NAME", "DRIVER",
					"SCOPE"};
	struct cli_table *t = NULL;
	char f[2048], path[2200];
	int i = cli_flags("network ls", flags, NFLAGS(flags), argc, argv, true);
	json_t *o;

	if (i == -2) {
		printf("Usage:  shoal network ls [OPTIONS]\n");
		return 0;
	}
	if (i < 0 || cli_filters_query(&filt, NULL, f, sizeof(f)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/networks%s%s", f[0] ? "?filters=" : "",
		 f);
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	if (!quiet && !format && cli_table_new(4, h, &t) < 0) {
		json_decref(o);
		return 1;
	}
	for (size_t k = 0; k < json_array_size(o); k++) {
		const json_t *n = json_array_get(o, k);
		char id[65];
		snprintf(id, sizeof(id), "%.*s", notrunc ? 64 : 12,
			 jsonx_str(n, "Id", ""));
		if (quiet) {
			printf("%s\n", id);
		} else if (format) {
			char *s = json_dumps(n, JSON_COMPACT);
			if (s)
				printf("%s\n", s);
			free(s);
		} else {
			const char *row[] = {id, jsonx_str(n, "Name", ""),
					     jsonx_str(n, "Driver", ""),
					     jsonx_str(n, "Scope", "")};
			cli_table_add(t, row);
		}
	}
	if (t) {
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	json_decref(o);
	return 0;
}

static int net_inspect(struct cli *cli, int argc, char **argv)
{
	const char *format = NULL;
	const struct cli_flag flags[] = {
		{"format", 'f', CLI_FLAG_STR, &format},
	};
	int i = cli_flags("network inspect", flags, NFLAGS(flags), argc, argv,
			  true);
	json_t *out = json_array();
	int rc = 0;

	if (i == -2) {
		printf("Usage:  shoal network inspect NETWORK [NETWORK...]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (format) {
		fprintf(stderr, "--format is not supported by shoal network "
				"inspect yet: use the docker CLI or jq\n");
		return 1;
	}
	for (; i < argc; i++) {
		char path[1024], esc[512];
		json_t *v;
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/networks/%s", esc);
		if (cli_call_json(cli, "GET", path, NULL, &v) < 0) {
			rc = 1;
			continue;
		}
		json_array_append_new(out, v);
	}
	cli_print_json(out);
	json_decref(out);
	return rc;
}

static int net_rm(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("network rm", NULL, 0, argc, argv, true);
	int rc = 0;

	if (i == -2) {
		printf("Usage:  shoal network rm NETWORK [NETWORK...]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	for (; i < argc; i++) {
		char path[1024], esc[512];
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/networks/%s", esc);
		if (cli_call(cli, "DELETE", path, NULL, 0, NULL, NULL, 0) == 0)
			printf("%s\n", argv[i]);
		else
			rc = 1;
	}
	return rc;
}

static int net_prune(struct cli *cli, int argc, char **argv)
{
	bool force = false;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
		{"filter", 0, CLI_FLAG_LIST, &filt},
	};
	char f[2048], path[2200];
	int i = cli_flags("network prune", flags, NFLAGS(flags), argc, argv,
			  true);
	json_t *o, *del;

	if (i == -2) {
		printf("Usage:  shoal network prune [OPTIONS]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (!force && !cli_confirm("WARNING! This will remove all custom "
				   "networks not used by at least one "
				   "container."))
		return 0;
	if (cli_filters_query(&filt, NULL, f, sizeof(f)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/networks/prune%s%s",
		 f[0] ? "?filters=" : "", f);
	if (cli_call_json(cli, "POST", path, NULL, &o) < 0)
		return 1;
	del = json_object_get(o, "NetworksDeleted");
	if (json_array_size(del)) {
		printf("Deleted Networks:\n");
		for (size_t k = 0; k < json_array_size(del); k++)
			printf("%s\n",
			       json_string_value(json_array_get(del, k)));
	}
	json_decref(o);
	return 0;
}

static int connect_or_not(struct cli *cli, int argc, char **argv, bool on)
{
	const char *ip = NULL;
	bool force = false;
	struct cli_list aliases = {0};
	const struct cli_flag flags[] = {
		{"alias", 0, CLI_FLAG_LIST, &aliases},
		{"ip", 0, CLI_FLAG_STR, &ip},
		{"force", 'f', CLI_FLAG_BOOL, &force},
	};
	const char *cmd = on ? "network connect" : "network disconnect";
	int i = cli_flags(cmd, flags, NFLAGS(flags), argc, argv, true);
	char path[1024], esc[512];
	json_t *body, *al = json_array();

	if (i == -2) {
		printf("Usage:  shoal %s [OPTIONS] NETWORK CONTAINER\n", cmd);
		return 0;
	}
	if (i < 0)
		return 1;
	if (i != argc - 2) {
		fprintf(stderr,
			"\"shoal %s\" requires exactly 2 arguments.\nSee "
			"'shoal %s --help'.\n",
			cmd, cmd);
		return 1;
	}
	for (size_t k = 0; al && k < aliases.n; k++)
		json_array_append_new(al, json_string(aliases.v[k]));
	cli_escape(argv[i], esc, sizeof(esc));
	snprintf(path, sizeof(path), "/networks/%s/%s", esc,
		 on ? "connect" : "disconnect");
	body = on ? json_pack("{s:s, s:{s:o, s:{s:s}}}", "Container",
			      argv[i + 1], "EndpointConfig", "Aliases", al,
			      "IPAMConfig", "IPv4Address", ip ? ip : "")
		  : json_pack("{s:s, s:b}", "Container", argv[i + 1], "Force",
			      force);
	if (!on)
		json_decref(al);
	int rc = cli_call_json(cli, "POST", path, body, NULL);
	json_decref(body);
	return rc < 0 ? 1 : 0;
}

static int net_connect(struct cli *cli, int argc, char **argv)
{
	return connect_or_not(cli, argc, argv, true);
}

static int net_disconnect(struct cli *cli, int argc, char **argv)
{
	return connect_or_not(cli, argc, argv, false);
}

static const struct cli_command cmds[] = {
	{"connect", net_connect, "Connect a container to a network"},
	{"create", net_create, "Create a network"},
	{"disconnect", net_disconnect, "Disconnect a container from a network"},
	{"inspect", net_inspect,
	 "Display detailed information on one or more networks"},
	{"ls", net_ls, "List networks"},
	{"prune", net_prune, "Remove all unused networks"},
	{"rm", net_rm, "Remove one or more networks"},
};

int cli_cmd_network(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal network", cmds,
			    sizeof(cmds) / sizeof(cmds[0]), argc - 1, argv + 1);
}

/* --- shoal port ------------------------------------------------------------
 */

static void print_binding(const char *key, const json_t *b, bool with_key)
{
	if (with_key)
		printf("%s -> ", key);
	printf("%s:%s\n", jsonx_str(b, "HostIp", ""),
	       jsonx_str(b, "HostPort", ""));
}

int cli_ctr_port(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("port", NULL, 0, argc, argv, true);
	char path[1024], esc[512], want[32] = "";
	const char *k;
	json_t *o, *ports, *a, *b;
	size_t j;
	bool found = false;

	if (i == -2) {
		printf("Usage:  shoal port CONTAINER [PRIVATE_PORT[/PROTO]]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i >= argc || argc - i > 2) {
		fprintf(stderr, "\"shoal port\" requires 1 or 2 arguments.\n");
		return 1;
	}
	if (argc - i == 2)
		snprintf(want, sizeof(want), "%s%s", argv[i + 1],
			 strchr(argv[i + 1], '/') ? "" : "/tcp");
	cli_escape(argv[i], esc, sizeof(esc));
	snprintf(path, sizeof(path), "/containers/%s/json", esc);
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	ports = jsonx_obj(jsonx_obj(o, "NetworkSettings"), "Ports");
	json_object_foreach(ports, k, a)
	{
		if (*want && strcmp(k, want))
			continue;
		json_array_foreach(a, j, b)
		{
			print_binding(k, b, !*want);
			found = true;
		}
	}
	json_decref(o);
	if (*want && !found) {
		fprintf(stderr, "Error: No public port '%s' published for %s\n",
			want, argv[i]);
		return 1;
	}
	return 0;
}

/* --- run/create flags --------------------------------------------------------
 */

/* "[IP:][HOST:]CTR[/PROTO]" into the body's ExposedPorts and the host
 * config's PortBindings; -1 with docker's message. */
static int publish(const char *spec, json_t *exposed, json_t *bindings)
{
	char buf[256], *parts[3] = {NULL}, *proto, key[64];
	int n = 0;
	json_t *a;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
		goto bad;
	proto = strchr(buf, '/');
	if (proto)
		*proto++ = '\0';
	/* An IPv6 address in brackets is not supported (IPv4 only). */
	for (char *p = buf, *c; n < 3; p = c + 1) {
		parts[n++] = p;
		if (!(c = strchr(p, ':')))
			break;
		*c = '\0';
	}
	if (strchr(parts[n - 1], ':') || !*parts[n - 1] ||
	    strspn(parts[n - 1], "0123456789") != strlen(parts[n - 1]))
		goto bad;
	snprintf(key, sizeof(key), "%s/%s", parts[n - 1],
		 proto && *proto ? proto : "tcp");
	json_object_set_new(exposed, key, json_object());
	a = json_object_get(bindings, key);
	if (!a) {
		a = json_array();
		json_object_set_new(bindings, key, a);
	}
	json_array_append_new(a, json_pack("{s:s, s:s}", "HostIp",
					   n == 3 ? parts[0] : "", "HostPort",
					   n == 3   ? parts[1]
					   : n == 2 ? parts[0]
						    : ""));
	return 0;
bad:
	fprintf(stderr,
		"invalid argument \"%s\" for \"-p, --publish\" flag: invalid "
		"port format: expected [IP:][HOST_PORT:]CONTAINER_PORT"
		"[/PROTO]\n",
		spec);
	return -1;
}

int cli_net_run_flags(const struct cli_net_opts *o, json_t *body, json_t *hc)
{
	json_t *exposed = json_object(), *bindings = json_object();
	json_t *al = json_array(), *ep, *eps;
	const char *net = o->network && *o->network ? o->network : "default";

	for (size_t i = 0; i < o->publish.n; i++)
		if (publish(o->publish.v[i], exposed, bindings) < 0) {
			json_decref(exposed);
			json_decref(bindings);
			json_decref(al);
			return -1;
		}
	json_object_set_new(body, "ExposedPorts", exposed);
	json_object_set_new(hc, "PortBindings", bindings);
	json_object_set_new(hc, "PublishAllPorts",
			    json_boolean(o->publish_all));
	for (size_t i = 0; i < o->aliases.n; i++)
		json_array_append_new(al, json_string(o->aliases.v[i]));
	ep = json_pack("{s:o, s:{s:s}, s:s}", "Aliases", al, "IPAMConfig",
		       "IPv4Address", o->ip ? o->ip : "", "MacAddress",
		       o->mac ? o->mac : "");
	eps = json_object();
	json_object_set_new(eps, net, ep);
	json_object_set_new(body, "NetworkingConfig",
			    json_pack("{s:o}", "EndpointsConfig", eps));
	json_t *s = json_array(), *opt = json_array(), *links = json_array();
	for (size_t i = 0; i < o->dns_search.n; i++)
		json_array_append_new(s, json_string(o->dns_search.v[i]));
	for (size_t i = 0; i < o->dns_opt.n; i++)
		json_array_append_new(opt, json_string(o->dns_opt.v[i]));
	for (size_t i = 0; i < o->links.n; i++)
		json_array_append_new(links, json_string(o->links.v[i]));
	json_object_set_new(hc, "DnsSearch", s);
	json_object_set_new(hc, "DnsOptions", opt);
	json_object_set_new(hc, "Links", links);
	return 0;
}
