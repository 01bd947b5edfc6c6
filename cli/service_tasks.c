/*
 * The task tables of `service ps` and `node ps`, as docker/cli's task
 * package prints them: ID (12 digits unless --no-trunc), NAME (service.slot,
 * or service.node-id for a global service's task), IMAGE (without its
 * digest when truncating), NODE (the hostname), DESIRED STATE and CURRENT
 * STATE ("Running 3 seconds ago"), ERROR (quoted, cut to 30 characters
 * with "…"), PORTS. Rows are sorted by name in natural order, the newest
 * task of a slot first; the older ones are indented " \_ ".
 */
#include "cli/ctr.h"
#include "cli/service.h"
#include "cli/swarm_call.h"
#include "cli/table.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct task_row {
	const json_t *t;
	char name[300];
	int64_t created;
};

/* Natural order: runs of digits compare as numbers ("web.2" < "web.10"). */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			size_t la = strspn(a, "0123456789");
			size_t lb = strspn(b, "0123456789");
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = strncmp(a, b, la);
			if (c)
				return c;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int row_cmp(const void *x, const void *y)
{
	const struct task_row *a = x, *b = y;
	int c = natural_cmp(a->name, b->name);
	if (c)
		return c;
	return a->created > b->created ? -1 : a->created < b->created;
}

static const char *lookup(const json_t *list, const char *id, const char *path1,
			  const char *path2)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *o = json_array_get(list, i);
		if (!strcmp(jsonx_str(o, "ID", ""), id))
			return jsonx_str(jsonx_obj(o, path1), path2, id);
	}
	return id;
}

static void capital(const char *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s", s);
	if (out[0])
		out[0] = (char)toupper((unsigned char)out[0]);
}

int cli__print_tasks(struct cli *cli, const char *filters, bool trunc,
		     bool quiet)
{
	char esc[4096], path[4200];
	json_t *tasks = NULL, *svcs = NULL, *nodes = NULL;
	cli_escape(filters, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/tasks?filters=%s", esc);
	if (cli__call(cli, "GET", path, NULL, &tasks) < 0)
		return 1;
	if (quiet) {
		for (size_t i = 0; i < json_array_size(tasks); i++)
			printf("%s\n",
			       jsonx_str(json_array_get(tasks, i), "ID", ""));
		json_decref(tasks);
		return 0;
	}
	if (cli__call(cli, "GET", "/services", NULL, &svcs) < 0 ||
	    cli__call(cli, "GET", "/nodes", NULL, &nodes) < 0) {
		json_decref(tasks);
		json_decref(svcs);
		return 1;
	}
	size_t n = json_array_size(tasks);
	struct task_row *rows = shoal_calloc(n ? n : 1, sizeof(*rows));
	for (size_t i = 0; rows && i < n; i++) {
		const json_t *t = json_array_get(tasks, i);
		const char *svc = lookup(svcs, jsonx_str(t, "ServiceID", ""),
					 "Spec", "Name");
		rows[i].t = t;
		if (jsonx_int(t, "Slot", 0))
			snprintf(rows[i].name, sizeof(rows[i].name), "%s.%lld",
				 svc, (long long)jsonx_int(t, "Slot", 0));
		else
			snprintf(rows[i].name, sizeof(rows[i].name), "%s.%s",
				 svc, jsonx_str(t, "NodeID", ""));
		rows[i].created =
			cli__parse_time(jsonx_str(t, "CreatedAt", ""));
	}
	if (rows)
		qsort(rows, n, sizeof(*rows), row_cmp);
	static const char *const hdr[] = {
		"ID",	 "NAME",	  "IMAGE",
		"NODE",	 "DESIRED STATE", "CURRENT STATE",
		"ERROR", "PORTS"};
	struct cli_table *tb = NULL;
	if (!rows || cli_table_new(8, hdr, &tb) < 0) {
		shoal_free(rows);
		json_decref(tasks);
		json_decref(svcs);
		json_decref(nodes);
		return 1;
	}
	int64_t now = time_real_ns();
	for (size_t i = 0; i < n; i++) {
		const json_t *t = rows[i].t;
		const json_t *st = jsonx_obj(t, "Status");
		char id[80], name[310], img[512], want[32], cur[128], ago[64],
			err[400], state[32];
		snprintf(id, sizeof(id), "%.*s", trunc ? 12 : 64,
			 jsonx_str(t, "ID", ""));
		snprintf(name, sizeof(name), "%s%s",
			 i && !strcmp(rows[i - 1].name, rows[i].name) ? " \\_ "
								      : "",
			 rows[i].name);
		const char *image = jsonx_str(
			jsonx_obj(jsonx_obj(t, "Spec"), "ContainerSpec"),
			"Image", "");
		const char *at = trunc ? strchr(image, '@') : NULL;
		snprintf(img, sizeof(img), "%.*s",
			 at ? (int)(at - image) : (int)strlen(image), image);
		const char *node =
			*jsonx_str(t, "NodeID", "")
				? lookup(nodes, jsonx_str(t, "NodeID", ""),
					 "Description", "Hostname")
				: "";
		capital(jsonx_str(t, "DesiredState", ""), want, sizeof(want));
		capital(jsonx_str(st, "State", ""), state, sizeof(state));
		int64_t ts = cli__parse_time(jsonx_str(st, "Timestamp", ""));
		time_format_human(ts ? (now - ts) / NSEC_PER_SEC : 0, ago,
				  sizeof(ago));
		for (char *p = ago; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(cur, sizeof(cur), "%s %s ago", state, ago);
		const char *e = jsonx_str(st, "Err", "");
		char cut[320];
		if (trunc)
			cli_ellipsis(e, 30, cut, sizeof(cut));
		else
			snprintf(cut, sizeof(cut), "%s", e);
		snprintf(err, sizeof(err), *e ? "\"%s\"" : "%s", cut);
		const char *cells[] = {id, name, img, node, want, cur, err, ""};
		cli_table_add(tb, cells);
	}
	cli_table_print(tb, stdout);
	cli_table_free(tb);
	shoal_free(rows);
	json_decref(tasks);
	json_decref(svcs);
	json_decref(nodes);
	return 0;
}

/* node ps [OPTIONS] [NODE...]: the tasks on these nodes ("self": this
 * one), with service ps's table and flags. */
int cli__node_ps(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, no_trunc = false;
	struct cli_list filters = {{0}, 0};
	struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"no-trunc", 0, CLI_FLAG_BOOL, &no_trunc},
		{"filter", 'f', CLI_FLAG_LIST, &filters},
	};
	int first = cli_flags("node ps", flags, 3, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal node ps [OPTIONS] [NODE...]\n\nList "
		       "tasks running on one or more nodes, defaults to "
		       "current node\n");
		return 0;
	}
	if (first < 0)
		return 1;
	json_t *f = json_object(), *ids = json_array();
	json_object_set_new(f, "node", ids);
	for (int i = first; i < argc || i == first; i++) {
		const char *ref = i < argc ? argv[i] : "self";
		char path[600], esc[400];
		json_t *n = NULL;
		cli_escape(ref, esc, sizeof(esc));
		snprintf(path, sizeof(path), "/nodes/%s", esc);
		if (cli__call(cli, "GET", path, NULL, &n) < 0) {
			json_decref(f);
			return 1;
		}
		json_array_append_new(ids, json_string(jsonx_str(n, "ID", "")));
		json_decref(n);
		if (i >= argc)
			break;
	}
	for (size_t i = 0; i < filters.n; i++)
		if (cli_filter_add(f, filters.v[i]) < 0) {
			json_decref(f);
			return 1;
		}
	char *text = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	int rc = text ? cli__print_tasks(cli, text, !no_trunc, quiet) : 1;
	free(text);
	return rc;
}
