/*
 * shoal node ls|inspect|update|promote|demote|rm|ps: docker's node
 * commands over the Engine API. `node ls` prints docker's columns (ID with
 * " *" on the current node, HOSTNAME, STATUS, AVAILABILITY, MANAGER
 * STATUS, ENGINE VERSION), sorted by hostname then id as docker does.
 * Updates read the node, change its spec and send it back with the
 * version read, so a concurrent change is never overwritten: on "update
 * out of sequence" the node is read and edited again (a few times).
 */
#include "cli/service.h"
#include "cli/swarm_call.h"
#include "cli/table.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(const char *cmd, const char *arg)
{
	fprintf(stderr,
		"shoal node %s: unknown argument: %s\nSee 'shoal node %s "
		"--help'.\n",
		cmd, arg, cmd);
	return 1;
}

static char *self_id(struct cli *cli)
{
	json_t *info = NULL;
	if (cli__call(cli, "GET", "/info", NULL, &info) < 0)
		return NULL;
	char *id =
		shoal_strdup(jsonx_str(jsonx_obj(info, "Swarm"), "NodeID", ""));
	json_decref(info);
	return id;
}

static const char *hostname_of(const json_t *n)
{
	return jsonx_str(jsonx_obj(n, "Description"), "Hostname", "");
}

static int by_host(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a;
	const json_t *y = *(const json_t *const *)b;
	int c = strcmp(hostname_of(x), hostname_of(y));
	return c ? c : strcmp(jsonx_str(x, "ID", ""), jsonx_str(y, "ID", ""));
}

static void manager_status(const json_t *n, char *out, size_t cap)
{
	const json_t *ms = jsonx_obj(n, "ManagerStatus");
	out[0] = '\0';
	if (!ms)
		return;
	if (jsonx_bool(ms, "Leader", false))
		snprintf(out, cap, "Leader");
	else
		cli__capitalize(jsonx_str(ms, "Reachability", ""), out, cap);
}

static int print_table(json_t *nodes, const char *self, bool quiet)
{
	size_t n = json_array_size(nodes);
	json_t **v = shoal_calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return 1;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(nodes, i);
	qsort(v, n, sizeof(*v), by_host);
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", jsonx_str(v[i], "ID", ""));
		shoal_free(v);
		return 0;
	}
	static const char *const hdr[] = {
		"ID",		"HOSTNAME",	  "STATUS",
		"AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"};
	struct cli_table *t;
	if (cli_table_new(6, hdr, &t) < 0) {
		shoal_free(v);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char id[80], st[32], av[32], ms[32];
		const char *nid = jsonx_str(v[i], "ID", "");
		snprintf(id, sizeof(id), "%s%s", nid,
			 self && strcmp(nid, self) == 0 ? " *" : "");
		cli__capitalize(
			jsonx_str(jsonx_obj(v[i], "Status"), "State", ""), st,
			sizeof(st));
		cli__capitalize(
			jsonx_str(jsonx_obj(v[i], "Spec"), "Availability", ""),
			av, sizeof(av));
		manager_status(v[i], ms, sizeof(ms));
		const char *cells[] = {
			id,
			hostname_of(v[i]),
			st,
			av,
			ms,
			jsonx_str(jsonx_obj(jsonx_obj(v[i], "Description"),
					    "Engine"),
				  "EngineVersion", ""),
		};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	shoal_free(v);
	return 0;
}

/* -f KEY=VALUE into Docker's filters object {"KEY":{"VALUE":true}}. */
static int add_filter(json_t *filters, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv) {
		fprintf(stderr, "invalid filter '%s': expected KEY=VALUE\n",
			kv);
		return -1;
	}
	char key[64];
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	json_t *vals = json_object_get(filters, key);
	if (!vals) {
		vals = json_object();
		json_object_set_new(filters, key, vals);
	}
	return json_object_set_new(vals, eq + 1, json_true());
}

/* "/nodes?filters=<percent-encoded JSON>" into @out. */
static void nodes_path(const json_t *filters, char *out, size_t cap)
{
	snprintf(out, cap, "/nodes");
	if (json_object_size(filters) == 0)
		return;
	char *text = json_dumps(filters, JSON_COMPACT);
	if (!text)
		return;
	size_t n = strlen(out);
	n += (size_t)snprintf(out + n, cap - n, "?filters=");
	for (const char *p = text; *p && n + 4 < cap; p++) {
		unsigned char ch = (unsigned char)*p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
			out[n++] = (char)ch;
		else
			n += (size_t)snprintf(out + n, cap - n, "%%%02X", ch);
	}
	out[n] = '\0';
	free(text);
}

static int node_ls(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, json = false;
	json_t *filters = json_object();
	if (!filters)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *fmt = NULL, *flt = NULL;
		int r = cli__opt(argc, argv, &i, "--format", &fmt);
		if (r == 0)
			r = cli__opt(argc, argv, &i, "--filter", &flt);
		if (r == 0)
			r = cli__opt(argc, argv, &i, "-f", &flt);
		if (r == 0 && cli__flag(argv[i], "--quiet", "-q")) {
			quiet = true;
			continue;
		}
		if (r == 0) {
			json_decref(filters);
			return usage_error("ls", argv[i]);
		}
		if (r == 1 && fmt && strcmp(fmt, "json") != 0) {
			fprintf(stderr, "shoal node ls: only --format json is "
					"supported\n");
			r = -1;
		} else if (r == 1 && fmt) {
			json = true;
		} else if (r == 1) {
			r = add_filter(filters, flt);
		}
		if (r < 0) {
			json_decref(filters);
			return 1;
		}
	}
	char path[1024];
	nodes_path(filters, path, sizeof(path));
	json_decref(filters);
	json_t *nodes = NULL;
	if (cli__call(cli, "GET", path, NULL, &nodes) < 0)
		return 1;
	int rc = 0;
	if (json) {
		cli_print_json(nodes);
	} else {
		char *self = self_id(cli);
		rc = print_table(nodes, self, quiet);
		shoal_free(self);
	}
	json_decref(nodes);
	return rc;
}

static json_t *get_node(struct cli *cli, const char *ref)
{
	char path[300];
	snprintf(path, sizeof(path), "/nodes/%s", ref);
	json_t *n = NULL;
	return cli__call(cli, "GET", path, NULL, &n) < 0 ? NULL : n;
}

static void pretty(const json_t *n)
{
	const json_t *d = jsonx_obj(n, "Description");
	const json_t *spec = jsonx_obj(n, "Spec");
	char s[32];
	printf("ID:\t\t\t%s\n", jsonx_str(n, "ID", ""));
	printf("Hostname:\t\t%s\n", hostname_of(n));
	printf("Joined at:\t\t%s\n", jsonx_str(n, "CreatedAt", ""));
	printf("Status:\n");
	cli__capitalize(jsonx_str(jsonx_obj(n, "Status"), "State", ""), s,
			sizeof(s));
	printf(" State:\t\t\t%s\n", s);
	cli__capitalize(jsonx_str(spec, "Availability", ""), s, sizeof(s));
	printf(" Availability:\t\t%s\n", s);
	printf(" Address:\t\t%s\n",
	       jsonx_str(jsonx_obj(n, "Status"), "Addr", ""));
	const json_t *ms = jsonx_obj(n, "ManagerStatus");
	if (ms) {
		printf("Manager Status:\n");
		printf(" Address:\t\t%s\n", jsonx_str(ms, "Addr", ""));
		cli__capitalize(jsonx_str(ms, "Reachability", ""), s,
				sizeof(s));
		printf(" Raft Status:\t\t%s\n", s);
		printf(" Leader:\t\t%s\n",
		       jsonx_bool(ms, "Leader", false) ? "Yes" : "No");
	}
	printf("Platform:\n");
	printf(" Operating System:\t%s\n",
	       jsonx_str(jsonx_obj(d, "Platform"), "OS", ""));
	printf(" Architecture:\t\t%s\n",
	       jsonx_str(jsonx_obj(d, "Platform"), "Architecture", ""));
	printf("Resources:\n");
	printf(" CPUs:\t\t\t%lld\n",
	       (long long)jsonx_int(jsonx_obj(d, "Resources"), "NanoCPUs", 0) /
		       1000000000);
	char mem[32];
	cli_bytes(
		(double)jsonx_int(jsonx_obj(d, "Resources"), "MemoryBytes", 0),
		mem, sizeof(mem));
	printf(" Memory:\t\t%s\n", mem);
	printf("Engine Version:\t\t%s\n",
	       jsonx_str(jsonx_obj(d, "Engine"), "EngineVersion", ""));
}

static int node_inspect(struct cli *cli, int argc, char **argv)
{
	bool pr = false;
	int rc = 0, nrefs = 0;
	json_t *all = json_array();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pretty") == 0) {
			pr = true;
			continue;
		}
		if (argv[i][0] == '-') {
			json_decref(all);
			return usage_error("inspect", argv[i]);
		}
		nrefs++;
		const char *ref = strcmp(argv[i], "self") == 0 ? NULL : argv[i];
		char *self = ref ? NULL : self_id(cli);
		json_t *n = get_node(cli, ref ? ref : self ? self : "");
		shoal_free(self);
		if (!n) {
			rc = 1;
			continue;
		}
		json_array_append_new(all, n);
	}
	if (nrefs == 0) {
		fprintf(stderr, "\"shoal node inspect\" requires at least 1 "
				"argument.\n");
		json_decref(all);
		return 1;
	}
	if (pr) {
		for (size_t i = 0; i < json_array_size(all); i++) {
			if (i)
				printf("\n");
			pretty(json_array_get(all, i));
		}
	} else {
		cli_print_json(all);
	}
	json_decref(all);
	return rc;
}

/*
 * GET the node, let @edit change its spec, POST it back at its version.
 * The edits are relative (a label added, a role set), so when the node
 * changed between the read and the write (its status moves its version
 * too) the read and the edit are simply done again, a few times at most;
 * nothing another client wrote is overwritten.
 */
#define UPDATE_TRIES 5

static int update_spec(struct cli *cli, const char *ref,
		       int (*edit)(json_t *spec, void *arg), void *arg)
{
	char err[1024] = "";
	for (int attempt = 1;; attempt++) {
		json_t *n = get_node(cli, ref);
		if (!n)
			return -1;
		json_t *spec = jsonx_obj(n, "Spec");
		int rc = spec ? edit(spec, arg) : -1;
		char path[300];
		snprintf(path, sizeof(path), "/nodes/%s/update?version=%lld",
			 jsonx_str(n, "ID", ref),
			 (long long)jsonx_int(jsonx_obj(n, "Version"), "Index",
					      0));
		err[0] = '\0';
		if (rc == 0)
			rc = cli__call_err(cli, "POST", path, spec, NULL, err,
					   sizeof(err));
		json_decref(n);
		if (rc == 0 || !err[0])
			return rc;
		if (!strstr(err, "update out of sequence") ||
		    attempt == UPDATE_TRIES) {
			fprintf(stderr, "Error response from daemon: %s\n",
				err);
			return rc;
		}
	}
}

struct edits {
	const char *availability;
	const char *role;
	const char *add[32];
	int nadd;
	const char *rm[32];
	int nrm;
};

static int apply_edits(json_t *spec, void *arg)
{
	const struct edits *e = arg;
	if (e->availability)
		json_object_set_new(spec, "Availability",
				    json_string(e->availability));
	if (e->role)
		json_object_set_new(spec, "Role", json_string(e->role));
	json_t *labels = json_object_get(spec, "Labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(spec, "Labels", labels);
	}
	for (int i = 0; i < e->nadd; i++) {
		char key[256];
		const char *eq = strchr(e->add[i], '=');
		size_t klen = eq ? (size_t)(eq - e->add[i]) : strlen(e->add[i]);
		snprintf(key, sizeof(key), "%.*s", (int)klen, e->add[i]);
		json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
	}
	for (int i = 0; i < e->nrm; i++) {
		if (json_object_del(labels, e->rm[i]) < 0) {
			fprintf(stderr,
				"Error: key %s doesn't exist in node's labels\n",
				e->rm[i]);
			return -1;
		}
	}
	return 0;
}

static int node_update(struct cli *cli, int argc, char **argv)
{
	struct edits e = {0};
	const char *ref = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = cli__opt(argc, argv, &i, "--availability", &v)) == 1)
			e.availability = v;
		else if (r == 0 &&
			 (r = cli__opt(argc, argv, &i, "--role", &v)) == 1)
			e.role = v;
		else if (r == 0 &&
			 (r = cli__opt(argc, argv, &i, "--label-add", &v)) ==
				 1 &&
			 e.nadd < 32)
			e.add[e.nadd++] = v;
		else if (r == 0 &&
			 (r = cli__opt(argc, argv, &i, "--label-rm", &v)) ==
				 1 &&
			 e.nrm < 32)
			e.rm[e.nrm++] = v;
		else if (r == 0 && argv[i][0] != '-' && !ref)
			ref = argv[i];
		else if (r == 0)
			return usage_error("update", argv[i]);
		if (r < 0)
			return 1;
	}
	if (!ref) {
		fprintf(stderr,
			"\"shoal node update\" requires exactly 1 argument.\n");
		return 1;
	}
	if (update_spec(cli, ref, apply_edits, &e) < 0)
		return 1;
	printf("%s\n", ref);
	return 0;
}

static int set_role(struct cli *cli, int argc, char **argv, const char *role)
{
	if (argc < 2) {
		fprintf(stderr,
			"\"shoal node %s\" requires at least 1 argument.\n",
			argv[0]);
		return 1;
	}
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		struct edits e = {.role = role};
		if (update_spec(cli, argv[i], apply_edits, &e) < 0) {
			rc = 1;
			continue;
		}
		if (strcmp(role, "manager") == 0)
			printf("Node %s promoted to a manager in the swarm.\n",
			       argv[i]);
		else
			printf("Manager %s demoted in the swarm.\n", argv[i]);
	}
	return rc;
}

static int node_promote(struct cli *cli, int argc, char **argv)
{
	return set_role(cli, argc, argv, "manager");
}

static int node_demote(struct cli *cli, int argc, char **argv)
{
	return set_role(cli, argc, argv, "worker");
}

static int node_rm(struct cli *cli, int argc, char **argv)
{
	bool force = false;
	int rc = 0, n = 0;
	for (int i = 1; i < argc; i++)
		if (cli__flag(argv[i], "--force", "-f"))
			force = true;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			if (!cli__flag(argv[i], "--force", "-f"))
				return usage_error("rm", argv[i]);
			continue;
		}
		n++;
		char path[300];
		snprintf(path, sizeof(path), "/nodes/%s%s", argv[i],
			 force ? "?force=1" : "");
		if (cli__call(cli, "DELETE", path, NULL, NULL) < 0)
			rc = 1;
		else
			printf("%s\n", argv[i]);
	}
	if (n == 0) {
		fprintf(stderr,
			"\"shoal node rm\" requires at least 1 argument.\n");
		return 1;
	}
	return rc;
}

/* node ps: the task table of service ps (service_tasks.c). */
static int node_ps(struct cli *cli, int argc, char **argv)
{
	return cli__node_ps(cli, argc, argv);
}

static const struct cli_command node_cmds[] = {
	{"demote", node_demote, "Demote one or more nodes from manager"},
	{"inspect", node_inspect, "Display detailed information on nodes"},
	{"ls", node_ls, "List nodes in the swarm"},
	{"promote", node_promote, "Promote one or more nodes to manager"},
	{"ps", node_ps, "List tasks running on one or more nodes"},
	{"rm", node_rm, "Remove one or more nodes from the swarm"},
	{"update", node_update, "Update a node"},
};

int cli_cmd_node(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal node", node_cmds,
			    sizeof(node_cmds) / sizeof(node_cmds[0]), argc - 1,
			    argv + 1);
}
