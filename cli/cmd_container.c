/*
 * shoal container ...: the table of container subcommands and the short
 * ones (ps, start, stop, restart, kill, rm, pause, unpause, wait, inspect,
 * top, stats), with docker's flags, tables and messages. Commands that
 * take several containers act on each, print each name that succeeded,
 * report each failure, and exit 1 if any failed, as docker does.
 */
#include "cli/ctr.h"
#include "cli/table.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

static int usage(const char *cmd, const char *args)
{
	printf("Usage:  shoal %s %s\n", cmd, args);
	return 0;
}

/* ---- ps ---- */

static void command_cell(const json_t *c, bool trunc, char *out, size_t cap)
{
	char cut[1024];
	const char *cmd = jsonx_str(c, "Command", "");
	if (trunc)
		cli_ellipsis(cmd, 20, cut, sizeof(cut));
	else
		snprintf(cut, sizeof(cut), "%s", cmd);
	snprintf(out, cap, "\"%s\"", cut);
}

static void names_cell(const json_t *c, char *out, size_t cap)
{
	const json_t *n = json_object_get(c, "Names");
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(n) && o < cap; i++) {
		const char *s = json_string_value(json_array_get(n, i));
		if (s)
			o += (size_t)snprintf(out + o, cap - o, "%s%s",
					      i ? "," : "",
					      s[0] == '/' ? s + 1 : s);
	}
}

static void ago(int64_t unix_s, char *out, size_t cap)
{
	char d[64];
	time_format_human((int64_t)time(NULL) - unix_s, d, sizeof(d));
	snprintf(out, cap, "%s ago", d);
}

static void ps_json_line(const json_t *c)
{
	char cmd[1100], names[512], created[96], labels[1024] = "", at[64];
	command_cell(c, false, cmd, sizeof(cmd));
	names_cell(c, names, sizeof(names));
	ago(jsonx_int(c, "Created", 0), created, sizeof(created));
	time_t t = (time_t)jsonx_int(c, "Created", 0);
	strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S +0000 UTC", gmtime(&t));
	const json_t *l = jsonx_obj(c, "Labels");
	size_t o = 0;
	void *it = l ? json_object_iter((json_t *)l) : NULL;
	for (; it && o < sizeof(labels);
	     it = json_object_iter_next((json_t *)l, it))
		o += (size_t)snprintf(
			labels + o, sizeof(labels) - o, "%s%s=%s", o ? "," : "",
			json_object_iter_key(it),
			json_string_value(json_object_iter_value(it)));
	char id[13];
	snprintf(id, sizeof(id), "%s", jsonx_str(c, "Id", ""));
	json_t *o2 = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		"Command", cmd, "CreatedAt", at, "ID", id, "Image",
		jsonx_str(c, "Image", ""), "Labels", labels, "Names", names,
		"Ports", "", "RunningFor", created, "Size", "", "State",
		jsonx_str(c, "State", ""), "Status",
		jsonx_str(c, "Status", ""));
	if (o2) {
		char *s = json_dumps(o2, JSON_COMPACT);
		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(o2);
	}
}

int cli_ctr_ps(struct cli *cli, int argc, char **argv)
{
	bool all = false, quiet = false, notrunc = false;
	const char *format = NULL;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"all", 'a', CLI_FLAG_BOOL, &all},
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"no-trunc", 0, CLI_FLAG_BOOL, &notrunc},
		{"filter", 'f', CLI_FLAG_LIST, &filt},
		{"format", 0, CLI_FLAG_STR, &format},
	};
	int i = cli_flags("ps", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage("ps", "[OPTIONS]");
	if (i < 0)
		return 1;
	if (format && strcmp(format, "json") != 0) {
		fprintf(stderr, "shoal ps: only --format json is supported\n");
		return 1;
	}
	char path[4096], f[2048] = "";
	if (cli_filters_query(&filt, NULL, f, sizeof(f)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/containers/json?all=%d%s%s", all ? 1 : 0,
		 f[0] ? "&filters=" : "", f);
	json_t *list;
	if (cli_call_json(cli, "GET", path, NULL, &list) < 0)
		return 1;
	static const char *const h[] = {"CONTAINER ID", "IMAGE",  "COMMAND",
					"CREATED",	"STATUS", "PORTS",
					"NAMES"};
	struct cli_table *t = NULL;
	if (!quiet && !format && cli_table_new(7, h, &t) < 0) {
		json_decref(list);
		return 1;
	}
	for (size_t k = 0; k < json_array_size(list); k++) {
		const json_t *c = json_array_get(list, k);
		char id[65], cmd[1100], created[96], names[512];
		snprintf(id, notrunc ? sizeof(id) : 13, "%s",
			 jsonx_str(c, "Id", ""));
		if (quiet) {
			printf("%s\n", id);
			continue;
		}
		if (format) {
			ps_json_line(c);
			continue;
		}
		command_cell(c, !notrunc, cmd, sizeof(cmd));
		ago(jsonx_int(c, "Created", 0), created, sizeof(created));
		names_cell(c, names, sizeof(names));
		const char *row[] = {id,      jsonx_str(c, "Image", ""),  cmd,
				     created, jsonx_str(c, "Status", ""), "",
				     names};
		cli_table_add(t, row);
	}
	if (t) {
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	json_decref(list);
	return 0;
}

/* ---- simple actions on several containers ---- */

static int each(struct cli *cli, const char *cmd, int argc, char **argv,
		int first, const char *method, const char *suffix,
		const char *query)
{
	int rc = 0;
	if (first >= argc) {
		fprintf(stderr,
			"\"shoal %s\" requires at least 1 argument.\nSee "
			"'shoal %s --help'.\n",
			cmd, cmd);
		return 1;
	}
	for (int i = first; i < argc; i++) {
		char path[1024], esc[512];
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/containers/%s%s", esc, suffix);
		if (query)
			strncat(path, query, sizeof(path) - strlen(path) - 1);
		if (cli_call(cli, method, path, NULL, 0, NULL, NULL, 0) == 0)
			printf("%s\n", argv[i]);
		else
			rc = 1;
	}
	return rc;
}

int cli_ctr_start(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("start", NULL, 0, argc, argv, true);
	if (i == -2)
		return usage("start", "[OPTIONS] CONTAINER [CONTAINER...]");
	if (i < 0)
		return 1;
	return each(cli, "start", argc, argv, i, "POST", "/start", NULL);
}

static int stop_like(struct cli *cli, const char *cmd, int argc, char **argv)
{
	const char *t = NULL, *sig = NULL;
	const struct cli_flag flags[] = {
		{"time", 't', CLI_FLAG_STR, &t},
		{"timeout", 0, CLI_FLAG_STR, &t},
		{"signal", 's', CLI_FLAG_STR, &sig},
	};
	int i = cli_flags(cmd, flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage(cmd, "[OPTIONS] CONTAINER [CONTAINER...]");
	if (i < 0)
		return 1;
	char q[256] = "", e[128];
	size_t o = 0;
	if (t) {
		cli_escape(t, e, sizeof(e));
		o += (size_t)snprintf(q + o, sizeof(q) - o, "?t=%s", e);
	}
	if (sig) {
		cli_escape(sig, e, sizeof(e));
		snprintf(q + o, sizeof(q) - o, "%csignal=%s", o ? '&' : '?', e);
	}
	char suffix[64];
	snprintf(suffix, sizeof(suffix), "/%s", cmd);
	return each(cli, cmd, argc, argv, i, "POST", suffix, q);
}

int cli_ctr_stop(struct cli *cli, int argc, char **argv)
{
	return stop_like(cli, "stop", argc, argv);
}

int cli_ctr_restart(struct cli *cli, int argc, char **argv)
{
	return stop_like(cli, "restart", argc, argv);
}

int cli_ctr_kill(struct cli *cli, int argc, char **argv)
{
	const char *sig = NULL;
	const struct cli_flag flags[] = {
		{"signal", 's', CLI_FLAG_STR, &sig},
	};
	int i = cli_flags("kill", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage("kill", "[OPTIONS] CONTAINER [CONTAINER...]");
	if (i < 0)
		return 1;
	char q[128] = "", e[64];
	if (sig) {
		cli_escape(sig, e, sizeof(e));
		snprintf(q, sizeof(q), "?signal=%s", e);
	}
	return each(cli, "kill", argc, argv, i, "POST", "/kill", q);
}

int cli_ctr_rm(struct cli *cli, int argc, char **argv)
{
	bool force = false, vols = false;
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
		{"volumes", 'v', CLI_FLAG_BOOL, &vols},
	};
	int i = cli_flags("rm", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage("rm", "[OPTIONS] CONTAINER [CONTAINER...]");
	if (i < 0)
		return 1;
	char q[64];
	snprintf(q, sizeof(q), "?force=%d&v=%d", force, vols);
	return each(cli, "rm", argc, argv, i, "DELETE", "", q);
}

static int no_flags(struct cli *cli, const char *cmd, int argc, char **argv,
		    const char *suffix)
{
	int i = cli_flags(cmd, NULL, 0, argc, argv, true);
	if (i == -2)
		return usage(cmd, "CONTAINER [CONTAINER...]");
	if (i < 0)
		return 1;
	return each(cli, cmd, argc, argv, i, "POST", suffix, NULL);
}

int cli_ctr_pause(struct cli *cli, int argc, char **argv)
{
	return no_flags(cli, "pause", argc, argv, "/pause");
}

int cli_ctr_unpause(struct cli *cli, int argc, char **argv)
{
	return no_flags(cli, "unpause", argc, argv, "/unpause");
}

int cli_ctr_wait(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("wait", NULL, 0, argc, argv, true), rc = 0;
	if (i == -2)
		return usage("wait", "CONTAINER [CONTAINER...]");
	if (i < 0)
		return 1;
	if (i >= argc) {
		fprintf(stderr, "\"shoal wait\" requires at least 1 "
				"argument.\n");
		return 1;
	}
	for (; i < argc; i++) {
		char path[1024], esc[512];
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/containers/%s/wait", esc);
		json_t *o;
		if (cli_call_json(cli, "POST", path, NULL, &o) < 0) {
			rc = 1;
			continue;
		}
		printf("%lld\n", (long long)jsonx_int(o, "StatusCode", 0));
		json_decref(o);
	}
	return rc;
}

/* ---- inspect ---- */

static int inspect_kind(struct cli *cli, const char *cmd, int argc, char **argv,
			bool containers, bool images)
{
	const char *format = NULL;
	const struct cli_flag flags[] = {
		{"format", 'f', CLI_FLAG_STR, &format},
	};
	int i = cli_flags(cmd, flags, NFLAGS(flags), argc, argv, true), rc = 0;
	if (i == -2)
		return usage(cmd, "NAME|ID [NAME|ID...]");
	if (i < 0)
		return 1;
	if (format && strcmp(format, "json") != 0) {
		fprintf(stderr, "shoal %s: only --format json is supported\n",
			cmd);
		return 1;
	}
	json_t *out = json_array();
	for (; i < argc; i++) {
		char path[1024], esc[512];
		struct http_result r;
		int st = 404;
		cli_escape(argv[i], esc, sizeof(esc));
		if (containers) {
			snprintf(path, sizeof(path), "/containers/%s/json",
				 esc);
			st = cli_call(cli, "GET", path, NULL, 0, NULL, &r, 404);
		}
		if (st == 404 && images) {
			snprintf(path, sizeof(path), "/images/%s/json",
				 argv[i]);
			st = cli_call(cli, "GET", path, NULL, 0, NULL, &r, 404);
		}
		if (st == 404)
			fprintf(stderr, "Error: No such %s: %s\n",
				containers && images ? "object"
				: containers	     ? "container"
						     : "image",
				argv[i]);
		if (st != 0) {
			rc = 1;
			continue;
		}
		json_t *v = NULL;
		if (jsonx_parse(r.body, r.body_len, &v, NULL, 0) == 0)
			json_array_append_new(out, v);
		http_result_fini(&r);
	}
	cli_print_json(out);
	json_decref(out);
	return rc;
}

int cli_ctr_inspect(struct cli *cli, int argc, char **argv)
{
	return inspect_kind(cli, "container inspect", argc, argv, true, false);
}

int cli_img_inspect(struct cli *cli, int argc, char **argv)
{
	return inspect_kind(cli, "image inspect", argc, argv, false, true);
}

int cli_inspect_any(struct cli *cli, int argc, char **argv)
{
	return inspect_kind(cli, "inspect", argc, argv, true, true);
}

/* ---- top ---- */

int cli_ctr_top(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("top", NULL, 0, argc, argv, false);
	if (i == -2)
		return usage("top", "CONTAINER");
	if (i < 0)
		return 1;
	if (i >= argc) {
		fprintf(stderr,
			"\"shoal top\" requires at least 1 argument.\n");
		return 1;
	}
	char path[1024], esc[512];
	cli_escape(argv[i], esc, sizeof(esc));
	snprintf(path, sizeof(path), "/containers/%s/top", esc);
	json_t *o;
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	const json_t *titles = json_object_get(o, "Titles");
	size_t nc = json_array_size(titles);
	const char *h[16];
	for (size_t k = 0; k < nc && k < 16; k++)
		h[k] = json_string_value(json_array_get(titles, k));
	struct cli_table *t;
	if (nc == 0 || nc > 16 || cli_table_new(nc, h, &t) < 0) {
		json_decref(o);
		return 1;
	}
	const json_t *procs = json_object_get(o, "Processes");
	for (size_t k = 0; k < json_array_size(procs); k++) {
		const json_t *row = json_array_get(procs, k);
		const char *cells[16];
		for (size_t c = 0; c < nc; c++) {
			const char *s =
				json_string_value(json_array_get(row, c));
			cells[c] = s ? s : "";
		}
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	json_decref(o);
	return 0;
}

/* ---- stats ---- */

static double cpu_percent(const json_t *s)
{
	const json_t *cs = jsonx_obj(s, "cpu_stats"),
		     *ps = jsonx_obj(s, "precpu_stats");
	double cpu =
		(double)jsonx_int(jsonx_obj(cs, "cpu_usage"), "total_usage",
				  0) -
		(double)jsonx_int(jsonx_obj(ps, "cpu_usage"), "total_usage", 0);
	double sys = (double)jsonx_int(cs, "system_cpu_usage", 0) -
		     (double)jsonx_int(ps, "system_cpu_usage", 0);
	double n = (double)jsonx_int(cs, "online_cpus", 1);
	return sys > 0 && cpu > 0 ? cpu / sys * n * 100.0 : 0.0;
}

static int stats_row(struct cli *cli, const char *ref, struct cli_table *t)
{
	char path[1024], esc[512];
	cli_escape(ref, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/containers/%s/stats?stream=0", esc);
	json_t *s;
	if (cli_call_json(cli, "GET", path, NULL, &s) < 0)
		return -1;
	const json_t *m = jsonx_obj(s, "memory_stats");
	double use = (double)jsonx_int(m, "usage", 0),
	       lim = (double)jsonx_int(m, "limit", 0);
	/* NET I/O sums every interface, as docker stats does (none: 0B). */
	double rx = 0, tx = 0;
	const char *ifname;
	json_t *iface;
	json_object_foreach(json_object_get(s, "networks"), ifname, iface)
	{
		rx += (double)jsonx_int(iface, "rx_bytes", 0);
		tx += (double)jsonx_int(iface, "tx_bytes", 0);
	}
	char id[13], cpu[32], mem[128], mp[32], net[128], pids[32], a[32],
		b[32];
	snprintf(id, sizeof(id), "%s", jsonx_str(s, "id", ""));
	snprintf(cpu, sizeof(cpu), "%.2f%%", cpu_percent(s));
	cli_bytes(use, a, sizeof(a));
	cli_bytes(lim, b, sizeof(b));
	snprintf(mem, sizeof(mem), "%s / %s", a, b);
	snprintf(mp, sizeof(mp), "%.2f%%", lim > 0 ? use / lim * 100 : 0.0);
	cli_human_size(rx, a, sizeof(a));
	cli_human_size(tx, b, sizeof(b));
	snprintf(net, sizeof(net), "%s / %s", a, b);
	snprintf(
		pids, sizeof(pids), "%lld",
		(long long)jsonx_int(jsonx_obj(s, "pids_stats"), "current", 0));
	const char *name = jsonx_str(s, "name", "/");
	const char *row[] = {id,	name[0] == '/' ? name + 1 : name,
			     cpu,	mem,
			     mp,	net,
			     "0B / 0B", pids};
	cli_table_add(t, row);
	json_decref(s);
	return 0;
}

int cli_ctr_stats(struct cli *cli, int argc, char **argv)
{
	bool nostream = false, all = false;
	const struct cli_flag flags[] = {
		{"no-stream", 0, CLI_FLAG_BOOL, &nostream},
		{"all", 'a', CLI_FLAG_BOOL, &all},
	};
	int i = cli_flags("stats", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage("stats", "[OPTIONS] [CONTAINER...]");
	if (i < 0)
		return 1;
	static const char *const h[] = {"CONTAINER ID",	     "NAME",  "CPU %",
					"MEM USAGE / LIMIT", "MEM %", "NET I/O",
					"BLOCK I/O",	     "PIDS"};
	const char *refs[256];
	int n = 0;
	json_t *list = NULL;
	if (i < argc) {
		for (; i < argc && n < 256; i++)
			refs[n++] = argv[i];
	} else {
		if (cli_call_json(cli, "GET",
				  all ? "/containers/json?all=1"
				      : "/containers/json",
				  NULL, &list) < 0)
			return 1;
		for (size_t k = 0; k < json_array_size(list) && n < 256; k++)
			refs[n++] =
				jsonx_str(json_array_get(list, k), "Id", "");
	}
	int rc = 0;
	for (;;) {
		struct cli_table *t;
		if (cli_table_new(8, h, &t) < 0)
			break;
		for (int k = 0; k < n; k++)
			if (stats_row(cli, refs[k], t) < 0)
				rc = 1;
		if (!nostream && isatty(STDOUT_FILENO))
			printf("\033[2J\033[H");
		cli_table_print(t, stdout);
		cli_table_free(t);
		fflush(stdout);
		if (nostream || rc)
			break;
	}
	json_decref(list);
	return rc;
}

/* ---- prune ---- */

static int prune(struct cli *cli, int argc, char **argv)
{
	bool force = false;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
		{"filter", 0, CLI_FLAG_LIST, &filt},
	};
	char f[2048], path[2200];
	int i = cli_flags("container prune", flags, NFLAGS(flags), argc, argv,
			  true);
	if (i == -2)
		return usage("container prune", "[OPTIONS]");
	if (i < 0)
		return 1;
	if (!force &&
	    !cli_confirm("WARNING! This will remove all stopped containers."))
		return 0;
	if (cli_filters_query(&filt, NULL, f, sizeof(f)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/containers/prune%s%s",
		 f[0] ? "?filters=" : "", f);
	json_t *o;
	if (cli_call_json(cli, "POST", path, NULL, &o) < 0)
		return 1;
	cli_print_prune(o, "ContainersDeleted", "Deleted Containers");
	json_decref(o);
	return 0;
}

/* ---- the table ---- */

static const struct cli_command cmds[] = {
	{"attach", cli_ctr_attach,
	 "Attach local standard input, output, and error streams to a "
	 "running container"},
	{"cp", cli_ctr_cp,
	 "Copy files/folders between a container and the "
	 "local filesystem"},
	{"create", cli_ctr_create, "Create a new container"},
	{"diff", cli_ctr_diff,
	 "Inspect changes to files or directories on a container's "
	 "filesystem"},
	{"exec", cli_ctr_exec, "Execute a command in a running container"},
	{"inspect", cli_ctr_inspect,
	 "Display detailed information on one or more containers"},
	{"kill", cli_ctr_kill, "Kill one or more running containers"},
	{"logs", cli_ctr_logs, "Fetch the logs of a container"},
	{"ls", cli_ctr_ps, "List containers"},
	{"pause", cli_ctr_pause,
	 "Pause all processes within one or more containers"},
	{"prune", prune, "Remove all stopped containers"},
	{"ps", cli_ctr_ps, "List containers"},
	{"rename", cli_ctr_rename, "Rename a container"},
	{"restart", cli_ctr_restart, "Restart one or more containers"},
	{"rm", cli_ctr_rm, "Remove one or more containers"},
	{"run", cli_ctr_run, "Create and run a new container from an image"},
	{"start", cli_ctr_start, "Start one or more stopped containers"},
	{"stats", cli_ctr_stats,
	 "Display a live stream of container(s) resource usage statistics"},
	{"stop", cli_ctr_stop, "Stop one or more running containers"},
	{"top", cli_ctr_top, "Display the running processes of a container"},
	{"unpause", cli_ctr_unpause,
	 "Unpause all processes within one or more containers"},
	{"update", cli_ctr_update,
	 "Update configuration of one or more containers"},
	{"wait", cli_ctr_wait,
	 "Block until one or more containers stop, then print their exit "
	 "codes"},
};

int cli_cmd_container(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal container", cmds,
			    sizeof(cmds) / sizeof(cmds[0]), argc - 1, argv + 1);
}
