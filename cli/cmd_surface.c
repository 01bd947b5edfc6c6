/*
 * shoal rename, diff, update, events, system df|prune|info-less parts and
 * image prune: docker's commands of the same names over the routes of
 * issue 10 (docs/containers-api.md). Output is docker's: diff's "A /x"
 * lines, events' "TIME TYPE ACTION ID (k=v, ...)" lines (or --format
 * json), system df's table, prune's "Deleted ..." and "Total reclaimed
 * space" lines.
 */
#include "cli/cli.h"
#include "cli/ctr.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

static int usage(const char *cmd, const char *args)
{
	printf("Usage:  shoal %s %s\n", cmd, args);
	return 0;
}

int cli_ctr_rename(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("rename", NULL, 0, argc, argv, true);
	char a[512], b[512], path[1200];
	if (i == -2)
		return usage("rename", "CONTAINER NEW_NAME");
	if (i < 0)
		return 1;
	if (argc - i != 2) {
		fprintf(stderr, "\"shoal rename\" requires exactly 2 "
				"arguments.\n");
		return 1;
	}
	cli_escape(argv[i], a, sizeof(a));
	cli_escape(argv[i + 1], b, sizeof(b));
	snprintf(path, sizeof(path), "/containers/%s/rename?name=%s", a, b);
	if (cli_call(cli, "POST", path, NULL, 0, NULL, NULL, 0) < 0) {
		fprintf(stderr, "Error: failed to rename container named %s\n",
			argv[i]);
		return 1;
	}
	return 0;
}

int cli_ctr_diff(struct cli *cli, int argc, char **argv)
{
	static const char kinds[] = "CAD";
	int i = cli_flags("diff", NULL, 0, argc, argv, true);
	char a[512], path[600];
	json_t *o;
	if (i == -2)
		return usage("diff", "CONTAINER");
	if (i < 0)
		return 1;
	if (argc - i != 1) {
		fprintf(stderr,
			"\"shoal diff\" requires exactly 1 argument.\n");
		return 1;
	}
	cli_escape(argv[i], a, sizeof(a));
	snprintf(path, sizeof(path), "/containers/%s/changes", a);
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	for (size_t k = 0; k < json_array_size(o); k++) {
		const json_t *c = json_array_get(o, k);
		json_int_t kind = jsonx_int(c, "Kind", 0);
		printf("%c %s\n", kind >= 0 && kind < 3 ? kinds[kind] : '?',
		       jsonx_str(c, "Path", ""));
	}
	json_decref(o);
	return 0;
}

/* docker's --cpus ("0.5") in nano CPUs; -1 on junk. */
static int64_t nano_cpus(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || v < 0 || v > 1e6)
		return -1;
	return (int64_t)(v * 1e9 + 0.5);
}

int cli_ctr_update(struct cli *cli, int argc, char **argv)
{
	const char *mem = NULL, *res = NULL, *cpus = NULL, *shares = NULL,
		   *pids = NULL, *restart = NULL;
	const struct cli_flag flags[] = {
		{"memory", 'm', CLI_FLAG_STR, &mem},
		{"memory-reservation", 0, CLI_FLAG_STR, &res},
		{"cpus", 0, CLI_FLAG_STR, &cpus},
		{"cpu-shares", 'c', CLI_FLAG_STR, &shares},
		{"pids-limit", 0, CLI_FLAG_STR, &pids},
		{"restart", 0, CLI_FLAG_STR, &restart},
	};
	int i = cli_flags("update", flags, NFLAGS(flags), argc, argv, true);
	int rc = 0;
	if (i == -2)
		return usage("update", "[OPTIONS] CONTAINER [CONTAINER...]");
	if (i < 0)
		return 1;
	if (i >= argc) {
		fprintf(stderr, "\"shoal update\" requires at least 1 "
				"argument.\n");
		return 1;
	}
	json_t *b = json_object();
	if (mem && (cli_parse_size(mem) < 0 ||
		    jsonx_set(b, "Memory", json_integer(cli_parse_size(mem)))))
		goto err_value;
	if (res && (cli_parse_size(res) < 0 ||
		    jsonx_set(b, "MemoryReservation",
			      json_integer(cli_parse_size(res)))))
		goto err_value;
	if (cpus && (nano_cpus(cpus) < 0 ||
		     jsonx_set(b, "NanoCpus", json_integer(nano_cpus(cpus)))))
		goto err_value;
	if (shares &&
	    jsonx_set(b, "CpuShares", json_integer(strtoll(shares, NULL, 10))))
		goto err_value;
	if (pids &&
	    jsonx_set(b, "PidsLimit", json_integer(strtoll(pids, NULL, 10))))
		goto err_value;
	if (restart) {
		char name[64];
		const char *colon = strchr(restart, ':');
		snprintf(name, sizeof(name), "%.*s",
			 colon ? (int)(colon - restart) : (int)strlen(restart),
			 restart);
		if (jsonx_set(b, "RestartPolicy",
			      json_pack("{s:s, s:I}", "Name", name,
					"MaximumRetryCount",
					(json_int_t)(colon ? atoll(colon + 1)
							   : 0))))
			goto err_value;
	}
	for (; i < argc; i++) {
		char a[512], path[600];
		json_t *o;
		cli_escape(argv[i], a, sizeof(a));
		snprintf(path, sizeof(path), "/containers/%s/update", a);
		if (cli_call_json(cli, "POST", path, b, &o) < 0) {
			rc = 1;
			continue;
		}
		json_decref(o);
		printf("%s\n", argv[i]);
	}
	json_decref(b);
	return rc;
err_value:
	json_decref(b);
	fprintf(stderr, "invalid value: see shoal update --help\n");
	return 1;
}

/* ---- events ---- */

static void print_event(const json_t *ev, bool json)
{
	if (json) {
		char *line = json_dumps(ev, JSON_COMPACT);
		if (line)
			printf("%s\n", line);
		free(line);
		fflush(stdout);
		return;
	}
	char t[48];
	time_format_rfc3339(jsonx_int(ev, "timeNano", 0), t, sizeof(t));
	const json_t *actor = json_object_get(ev, "Actor");
	const json_t *attrs = json_object_get(actor, "Attributes");
	printf("%s %s %s %s", t, jsonx_str(ev, "Type", ""),
	       jsonx_str(ev, "Action", ""), jsonx_str(actor, "ID", ""));
	/* docker sorts the attributes by key */
	const char *keys[256];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)attrs, k, v)
	{
		if (n < 256)
			keys[n++] = k;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0;
		     j--) {
			const char *x = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = x;
		}
	for (size_t i = 0; i < n; i++)
		printf("%s%s=%s", i ? ", " : " (", keys[i],
		       jsonx_str(attrs, keys[i], ""));
	printf("%s\n", n ? ")" : "");
	fflush(stdout);
}

int cli_cmd_events(struct cli *cli, int argc, char **argv)
{
	const char *since = NULL, *until = NULL, *format = NULL;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"since", 0, CLI_FLAG_STR, &since},
		{"until", 0, CLI_FLAG_STR, &until},
		{"filter", 'f', CLI_FLAG_LIST, &filt},
		{"format", 0, CLI_FLAG_STR, &format},
	};
	int i = cli_flags("events", flags, NFLAGS(flags), argc, argv, true);
	char f[2048], s[128] = "", u[128] = "", path[2600];
	if (i == -2)
		return usage("events", "[OPTIONS]");
	if (i < 0)
		return 1;
	if (format && strcmp(format, "json") != 0) {
		fprintf(stderr, "shoal events: --format takes only \"json\" "
				"(Go templates are docker's)\n");
		return 1;
	}
	if (cli_filters_query(&filt, NULL, f, sizeof(f)) < 0)
		return 1;
	if (since)
		cli_escape(since, s, sizeof(s));
	if (until)
		cli_escape(until, u, sizeof(u));
	snprintf(path, sizeof(path), "/events?since=%s&until=%s%s%s", s, u,
		 f[0] ? "&filters=" : "", f);
	struct cli_conn c;
	if (cli_conn_open(cli, "GET", path, NULL, CLI_CONN_STREAM, &c) < 0)
		return 1;
	if (c.status >= 400) {
		fprintf(stderr, "Error response from daemon: %s\n", c.msg);
		cli_conn_close(&c);
		return 1;
	}
	char line[65536];
	size_t len = 0;
	for (;;) {
		char buf[4096];
		ssize_t n;
		const char *p;
		if (c.nleft) {
			n = (ssize_t)(c.nleft < sizeof(buf) ? c.nleft
							    : sizeof(buf));
			memcpy(buf, c.left, (size_t)n);
			memmove(c.left, c.left + n, c.nleft - (size_t)n);
			c.nleft -= (size_t)n;
		} else {
			n = read(c.fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
		}
		for (p = buf; p < buf + n; p++) {
			if (*p != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = *p;
				continue;
			}
			json_t *ev = json_loadb(line, len, 0, NULL);
			if (ev)
				print_event(ev, format != NULL);
			json_decref(ev);
			len = 0;
		}
	}
	cli_conn_close(&c);
	return 0;
}

/* ---- system, image prune ---- */

static int system_df(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("system df", NULL, 0, argc, argv, true);
	json_t *o;
	if (i == -2)
		return usage("system df", "");
	if (i < 0)
		return 1;
	if (cli_call_json(cli, "GET", "/system/df", NULL, &o) < 0)
		return 1;
	double isz = 0, irecl = 0, csz = 0, crecl = 0, vsz = 0, vrecl = 0;
	int iact = 0, cact = 0, vact = 0;
	const json_t *im = json_object_get(o, "Images");
	const json_t *cs = json_object_get(o, "Containers");
	const json_t *vs = json_object_get(o, "Volumes");
	for (size_t k = 0; k < json_array_size(im); k++) {
		const json_t *x = json_array_get(im, k);
		double sz = (double)jsonx_int(x, "Size", 0);
		bool used = jsonx_int(x, "Containers", 0) > 0;
		isz += sz;
		iact += used;
		irecl += used ? 0 : sz;
	}
	for (size_t k = 0; k < json_array_size(cs); k++) {
		const json_t *x = json_array_get(cs, k);
		double sz = (double)jsonx_int(x, "SizeRw", 0);
		bool up = !strcmp(jsonx_str(x, "State", ""), "running") ||
			  !strcmp(jsonx_str(x, "State", ""), "paused");
		csz += sz;
		cact += up;
		crecl += up ? 0 : sz;
	}
	for (size_t k = 0; k < json_array_size(vs); k++) {
		const json_t *u =
			json_object_get(json_array_get(vs, k), "UsageData");
		double sz = (double)jsonx_int(u, "Size", 0);
		bool used = jsonx_int(u, "RefCount", 0) > 0;
		vsz += sz;
		vact += used;
		vrecl += used ? 0 : sz;
	}
	struct {
		const char *type;
		size_t total;
		int active;
		double size, recl;
	} rows[] = {
		{"Images", json_array_size(im), iact, isz, irecl},
		{"Containers", json_array_size(cs), cact, csz, crecl},
		{"Local Volumes", json_array_size(vs), vact, vsz, vrecl},
		{"Build Cache", 0, 0, 0, 0},
	};
	printf("%-15s %-9s %-9s %-9s %s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE",
	       "RECLAIMABLE");
	for (size_t k = 0; k < 4; k++) {
		char s[32], r[32], rp[48];
		cli_human_size(rows[k].size, s, sizeof(s));
		cli_human_size(rows[k].recl, r, sizeof(r));
		if (k == 3)
			snprintf(rp, sizeof(rp), "%s", r);
		else
			snprintf(rp, sizeof(rp), "%s (%d%%)", r,
				 rows[k].size > 0 ? (int)(rows[k].recl * 100 /
							  rows[k].size)
						  : 0);
		printf("%-15s %-9zu %-9d %-9s %s\n", rows[k].type,
		       rows[k].total, rows[k].active, s, rp);
	}
	json_decref(o);
	return 0;
}

static int prune_call(struct cli *cli, const char *path, const char *key,
		      const char *title)
{
	json_t *o;
	if (cli_call_json(cli, "POST", path, NULL, &o) < 0)
		return -1;
	cli_print_prune(o, key, title);
	json_decref(o);
	return 0;
}

int cli_img_prune(struct cli *cli, int argc, char **argv)
{
	bool force = false, all = false;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
		{"all", 'a', CLI_FLAG_BOOL, &all},
		{"filter", 0, CLI_FLAG_LIST, &filt},
	};
	char f[2048], path[2200];
	int i = cli_flags("image prune", flags, NFLAGS(flags), argc, argv,
			  true);
	if (i == -2)
		return usage("image prune", "[OPTIONS]");
	if (i < 0)
		return 1;
	if (!force &&
	    !cli_confirm(all ? "WARNING! This will remove all images without "
			       "at least one container associated to them."
			     : "WARNING! This will remove all dangling "
			       "images."))
		return 0;
	if (cli_filters_query(&filt, all ? "dangling=false" : NULL, f,
			      sizeof(f)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/images/prune%s%s",
		 f[0] ? "?filters=" : "", f);
	return prune_call(cli, path, "ImagesDeleted", "Deleted Images") < 0;
}

static int system_prune(struct cli *cli, int argc, char **argv)
{
	bool force = false, all = false, vols = false;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
		{"all", 'a', CLI_FLAG_BOOL, &all},
		{"volumes", 0, CLI_FLAG_BOOL, &vols},
		{"filter", 0, CLI_FLAG_LIST, &filt},
	};
	char f[2048], fi[2048], path[2400];
	int i = cli_flags("system prune", flags, NFLAGS(flags), argc, argv,
			  true);
	if (i == -2)
		return usage("system prune", "[OPTIONS]");
	if (i < 0)
		return 1;
	if (!force && !cli_confirm("WARNING! This will remove:\n"
				   "  - all stopped containers\n"
				   "  - all unused images (dangling ones "
				   "unless -a)\n"
				   "  - unused volumes with --volumes"))
		return 0;
	if (cli_filters_query(&filt, NULL, f, sizeof(f)) < 0 ||
	    cli_filters_query(&filt, all ? "dangling=false" : NULL, fi,
			      sizeof(fi)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/containers/prune%s%s",
		 f[0] ? "?filters=" : "", f);
	if (prune_call(cli, path, "ContainersDeleted", "Deleted Containers"))
		return 1;
	if (vols) {
		snprintf(path, sizeof(path), "/volumes/prune%s%s",
			 f[0] ? "?filters=" : "", f);
		if (prune_call(cli, path, "VolumesDeleted", "Deleted Volumes"))
			return 1;
	}
	snprintf(path, sizeof(path), "/images/prune%s%s",
		 fi[0] ? "?filters=" : "", fi);
	return prune_call(cli, path, "ImagesDeleted", "Deleted Images") < 0;
}

static const struct cli_command system_cmds[] = {
	{"df", system_df, "Show docker disk usage"},
	{"events", cli_cmd_events, "Get real time events from the server"},
	{"info", cli_cmd_info, "Display system-wide information"},
	{"prune", system_prune, "Remove unused data"},
};

int cli_cmd_system(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal system", system_cmds,
			    sizeof(system_cmds) / sizeof(system_cmds[0]),
			    argc - 1, argv + 1);
}

/* ---- attach ---- */

/*
 * shoal attach [--no-stdin] [--detach-keys K] [--sig-proxy=B] C: the
 * container's output (framed unless it has a tty) and, when it has
 * OpenStdin, the terminal's input; the daemon watches for the detach keys
 * (default ctrl-p,ctrl-q). Without a tty the signals the CLI gets go to
 * the container unless --sig-proxy=false, as docker's.
 */
static void attach_proxy(int signo, void *arg)
{
	void **a = arg;
	char path[160];
	snprintf(path, sizeof(path), "/containers/%s/kill?signal=%d",
		 (const char *)a[1], signo);
	cli_call(a[0], "POST", path, NULL, 0, NULL, NULL, 409);
}

int cli_ctr_attach(struct cli *cli, int argc, char **argv)
{
	bool no_stdin = false;
	const char *keys = NULL, *proxy = NULL;
	const struct cli_flag flags[] = {
		{"no-stdin", 0, CLI_FLAG_BOOL, &no_stdin},
		{"detach-keys", 0, CLI_FLAG_STR, &keys},
		{"sig-proxy", 0, CLI_FLAG_STR, &proxy},
	};
	int i = cli_flags("attach", flags, NFLAGS(flags), argc, argv, true);
	char a[512], k[128] = "", path[1024];
	json_t *o = NULL;
	if (i == -2)
		return usage("attach", "[OPTIONS] CONTAINER");
	if (i < 0)
		return 1;
	if (argc - i != 1) {
		fprintf(stderr, "\"shoal attach\" requires exactly 1 "
				"argument.\n");
		return 1;
	}
	if (proxy && strcmp(proxy, "false") && strcmp(proxy, "true")) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"--sig-proxy\" flag: "
			"strconv.ParseBool: parsing \"%s\": invalid syntax\n",
			proxy, proxy);
		return 1;
	}
	cli_escape(argv[i], a, sizeof(a));
	snprintf(path, sizeof(path), "/containers/%s/json", a);
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	const json_t *cfg = json_object_get(o, "Config");
	bool tty = jsonx_bool(cfg, "Tty", false);
	bool in = !no_stdin && jsonx_bool(cfg, "OpenStdin", false);
	bool up = jsonx_bool(json_object_get(o, "State"), "Running", false);
	char id[80];
	snprintf(id, sizeof(id), "%s", jsonx_str(o, "Id", ""));
	json_decref(o);
	if (!up) {
		fprintf(stderr, "You cannot attach to a stopped container, "
				"start it first\n");
		return 1;
	}
	if (keys) {
		size_t n = (size_t)snprintf(k, sizeof(k), "&detachKeys=");
		cli_escape(keys, k + n, sizeof(k) - n);
	}
	snprintf(path, sizeof(path),
		 "/containers/%s/attach?stream=1&stdout=1&stderr=1%s%s", id,
		 in ? "&stdin=1" : "", k);
	struct cli_conn c;
	if (cli_conn_open(cli, "POST", path, NULL, CLI_CONN_UPGRADE, &c) < 0)
		return 1;
	if (c.status >= 400) {
		fprintf(stderr, "Error response from daemon: %s\n", c.msg);
		cli_conn_close(&c);
		return 1;
	}
	void *pa[2] = {cli, id};
	if (!proxy || !strcmp(proxy, "true"))
		cli_relay_set_proxy(attach_proxy, pa);
	cli_relay(&c, tty, in, NULL, NULL);
	cli_relay_set_proxy(NULL, NULL);
	cli_conn_close(&c);
	/* The stream ended: the container exited, or the keys detached. */
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	for (int tries = 0; tries < 20; tries++) {
		if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
			return 1;
		const json_t *st = json_object_get(o, "State");
		up = jsonx_bool(st, "Running", false);
		int code = (int)jsonx_int(st, "ExitCode", 0);
		json_decref(o);
		if (!up)
			return code;
		usleep(100000);
	}
	printf("read escape sequence\n");
	return 1;
}
