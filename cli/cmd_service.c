/*
 * `shoal service ...`: the docker CLI's service commands over the Engine
 * API (POST /services/create, GET /services, GET /services/{id}, POST
 * /services/{id}/update?version=, DELETE /services/{id}, GET /tasks, GET
 * /services/{id}/logs). Tables and words are the docker CLI's (docker/cli
 * cli/command/service and task): `service ls` columns ID NAME MODE
 * REPLICAS IMAGE PORTS sorted by name; `service ps` and `node ps` rows
 * sorted by task name with older tasks of a slot indented " \_ ".
 * create and update wait for the service to converge unless -d
 * (service_progress.c).
 */
#include "cli/ctr.h"
#include "cli/service.h"
#include "cli/swarm_call.h"
#include "cli/table.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int need_args(const char *cmd, int have, int want, const char *what)
{
	if (have >= want)
		return 0;
	fprintf(stderr,
		"\"shoal service %s\" requires at least %d argument%s.\nSee "
		"'shoal service %s --help'.\n\nUsage:  shoal service %s\n",
		cmd, want, want == 1 ? "" : "s", cmd, what);
	return -1;
}

/* GET /services/{ref}: the service object, owned; NULL (printed). */
static json_t *get_service(struct cli *cli, const char *ref)
{
	char path[600], esc[400];
	json_t *s = NULL;
	cli_escape(ref, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/services/%s", esc);
	if (cli__call(cli, "GET", path, NULL, &s) < 0)
		return NULL;
	return s;
}

/* Image without its digest, as docker shows it when truncating. */
static void short_image(const char *img, char *out, size_t cap)
{
	const char *at = strchr(img, '@');
	snprintf(out, cap, "%.*s", at ? (int)(at - img) : (int)strlen(img),
		 img);
}

static const char *mode_name(const json_t *spec)
{
	const json_t *m = json_object_get(spec, "Mode");
	if (json_object_get(m, "Global"))
		return "global";
	if (json_object_get(m, "ReplicatedJob"))
		return "replicated job";
	if (json_object_get(m, "GlobalJob"))
		return "global job";
	return "replicated";
}

/* ------------------------------------------------------------- create */

static int svc_create(struct cli *cli, int argc, char **argv)
{
	json_t *spec = json_object(), *ans = NULL, *cs;
	const json_t *w;
	const char *id;
	bool detach, quiet, rb;
	int first = cli__service_opts("service create", argc, argv, false, spec,
				      &detach, &quiet, &rb);
	int rc = 1;
	if (first == -2) {
		printf("Usage:  shoal service create [OPTIONS] IMAGE [COMMAND] "
		       "[ARG...]\n\nCreate a new service\n");
		json_decref(spec);
		return 0;
	}
	if (first < 0 ||
	    need_args("create", argc - first, 1,
		      "create [OPTIONS] IMAGE [COMMAND] [ARG...]") < 0)
		goto out;
	cs = jsonx_obj(jsonx_obj(spec, "TaskTemplate"), "ContainerSpec");
	json_object_set_new(cs, "Image", json_string(argv[first]));
	if (argc - first > 1) {
		json_t *args = json_array();
		for (int i = first + 1; i < argc; i++)
			json_array_append_new(args, json_string(argv[i]));
		json_object_set_new(cs, "Args", args);
	}
	if (cli__call(cli, "POST", "/services/create", spec, &ans) < 0)
		goto out;
	w = json_object_get(ans, "Warnings");
	for (size_t i = 0; i < json_array_size(w); i++)
		fprintf(stderr, "%s\n",
			json_string_value(json_array_get(w, i)));
	id = jsonx_str(ans, "ID", "");
	printf("%s\n", id);
	fflush(stdout);
	rc = detach ? 0 : cli__wait_converged(cli, id, id, quiet);
out:
	json_decref(ans);
	json_decref(spec);
	return rc;
}

/* ------------------------------------------------------------- update */

static int post_update(struct cli *cli, const json_t *svc, const json_t *spec,
		       const char *extra)
{
	char path[700];
	json_t *ans = NULL;
	snprintf(path, sizeof(path), "/services/%s/update?version=%lld%s",
		 jsonx_str(svc, "ID", ""),
		 (long long)jsonx_int(jsonx_obj(svc, "Version"), "Index", 0),
		 extra ? extra : "");
	if (cli__call(cli, "POST", path, spec, &ans) < 0)
		return -1;
	const json_t *w = json_object_get(ans, "Warnings");
	for (size_t i = 0; i < json_array_size(w); i++)
		fprintf(stderr, "%s\n",
			json_string_value(json_array_get(w, i)));
	json_decref(ans);
	return 0;
}

static int svc_update(struct cli *cli, int argc, char **argv)
{
	bool detach, quiet, rb;
	json_t *probe = json_object();
	/* A first pass finds the service's name (the last argument). */
	char **copy = shoal_calloc((size_t)argc + 1, sizeof(char *));
	if (!copy)
		return 1;
	memcpy(copy, argv, (size_t)argc * sizeof(char *));
	int first = cli__service_opts("service update", argc, copy, true, probe,
				      &detach, &quiet, &rb);
	json_decref(probe);
	if (first == -2) {
		shoal_free(copy);
		printf("Usage:  shoal service update [OPTIONS] SERVICE\n\n"
		       "Update a service\n");
		return 0;
	}
	if (first < 0 || need_args("update", argc - first, 1,
				   "update [OPTIONS] SERVICE") < 0) {
		shoal_free(copy);
		return 1;
	}
	if (argc - first > 1) {
		fprintf(stderr, "\"shoal service update\" requires exactly 1 "
				"argument.\n");
		shoal_free(copy);
		return 1;
	}
	const char *ref = copy[first];
	json_t *svc = get_service(cli, ref);
	shoal_free(copy);
	if (!svc)
		return 1;
	json_t *spec = json_deep_copy(jsonx_obj(svc, "Spec"));
	int rc = 1;
	if (!spec)
		spec = json_object();
	cli__service_net_cli(cli); /* --network-rm NAME: its id */
	if (cli__service_opts("service update", argc, argv, true, spec, &detach,
			      &quiet, &rb) < 0)
		goto out;
	if (rb) {
		/* docker sends the current spec with rollback=previous */
		json_decref(spec);
		spec = json_deep_copy(jsonx_obj(svc, "Spec"));
	}
	if (rb && cli__service_rebalance()) {
		fprintf(stderr, "--rollback and --rebalance cannot be used "
				"together: run them one after the other\n");
		goto out;
	}
	if (post_update(cli, svc, spec,
			rb			   ? "&rollback=previous"
			: cli__service_rebalance() ? "&rebalance=true"
						   : NULL) < 0)
		goto out;
	printf("%s\n", argv[argc - 1]);
	fflush(stdout);
	rc = detach ? 0
		    : cli__wait_converged(cli, jsonx_str(svc, "ID", ""),
					  argv[argc - 1], quiet);
out:
	json_decref(spec);
	json_decref(svc);
	return rc;
}

static int svc_rollback(struct cli *cli, int argc, char **argv)
{
	bool detach = false, quiet = false;
	const char *ref = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli__flag(argv[i], "--detach", "-d"))
			detach = true;
		else if (cli__flag(argv[i], "--quiet", "-q"))
			quiet = true;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 1;
		} else if (ref) {
			fprintf(stderr, "\"shoal service rollback\" requires "
					"exactly 1 argument.\n");
			return 1;
		} else
			ref = argv[i];
	}
	if (!ref) {
		fprintf(stderr, "\"shoal service rollback\" requires exactly 1 "
				"argument.\n");
		return 1;
	}
	json_t *svc = get_service(cli, ref);
	if (!svc)
		return 1;
	int rc = post_update(cli, svc, jsonx_obj(svc, "Spec"),
			     "&rollback=previous");
	if (rc == 0) {
		printf("%s\n", ref);
		fflush(stdout);
		rc = detach ? 0
			    : cli__wait_converged(cli, jsonx_str(svc, "ID", ""),
						  ref, quiet);
	}
	json_decref(svc);
	return rc < 0 ? 1 : rc;
}

/* service scale S=N...: one update per service, as docker does. */
static int svc_scale(struct cli *cli, int argc, char **argv)
{
	bool detach = false;
	int rc = 0, n = 0;
	for (int i = 1; i < argc; i++)
		if (cli__flag(argv[i], "--detach", "-d"))
			detach = true;
	for (int i = 1; i < argc; i++) {
		char name[256];
		const char *eq = strchr(argv[i], '=');
		char *end;
		if (argv[i][0] == '-')
			continue;
		n++;
		long long v = eq ? strtoll(eq + 1, &end, 10) : -1;
		if (!eq || eq == argv[i] || !eq[1] || *end || v < 0) {
			fprintf(stderr,
				"Invalid scale specifier '%s'.\nSee 'shoal "
				"service scale --help'.\n\nUsage:  shoal "
				"service scale SERVICE=REPLICAS "
				"[SERVICE=REPLICAS...]\n",
				argv[i]);
			return 1;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]),
			 argv[i]);
		json_t *svc = get_service(cli, name);
		if (!svc) {
			rc = 1;
			continue;
		}
		json_t *spec = json_deep_copy(jsonx_obj(svc, "Spec"));
		json_t *mode = jsonx_obj(spec, "Mode");
		json_t *rep = jsonx_obj(mode, "Replicated");
		json_t *job = jsonx_obj(mode, "ReplicatedJob");
		if (!rep && !job) {
			fprintf(stderr,
				"%s: scale can only be used with replicated or "
				"replicated-job mode\n",
				name);
			rc = 1;
		} else {
			json_object_set_new(rep ? rep : job,
					    rep ? "Replicas"
						: "TotalCompletions",
					    json_integer(v));
			if (post_update(cli, svc, spec, NULL) < 0) {
				rc = 1;
			} else {
				printf("%s scaled to %lld\n", name, v);
				fflush(stdout);
				if (!detach &&
				    cli__wait_converged(
					    cli, jsonx_str(svc, "ID", ""), name,
					    false))
					rc = 1;
			}
		}
		json_decref(spec);
		json_decref(svc);
	}
	if (n == 0) {
		fprintf(stderr, "\"shoal service scale\" requires at least 1 "
				"argument.\n");
		return 1;
	}
	return rc;
}

/* ------------------------------------------------------------- rm, inspect */

static int svc_rm(struct cli *cli, int argc, char **argv)
{
	int rc = 0, n = 0;
	for (int i = 1; i < argc; i++) {
		char path[600], esc[400];
		if (argv[i][0] == '-') {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			return 1;
		}
		n++;
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/services/%s", esc);
		if (cli__call(cli, "DELETE", path, NULL, NULL) < 0)
			rc = 1;
		else
			printf("%s\n", argv[i]);
	}
	if (n == 0)
		return need_args("rm", 0, 1, "rm SERVICE [SERVICE...]") ? 1 : 0;
	return rc;
}

static void pretty_update(const json_t *u, const char *title,
			  const char *order_word)
{
	char d[64];
	printf("\n%s:\n Parallelism:\t%lld", title,
	       (long long)jsonx_int(u, "Parallelism", 0));
	if (jsonx_int(u, "Delay", 0) > 0) {
		cli__go_duration(jsonx_int(u, "Delay", 0), d, sizeof(d));
		printf("\n Delay:\t\t%s", d);
	}
	printf("\n On failure:\t%s", jsonx_str(u, "FailureAction", ""));
	if (jsonx_int(u, "Monitor", 0) > 0) {
		cli__go_duration(jsonx_int(u, "Monitor", 0), d, sizeof(d));
		printf("\n Monitoring Period: %s", d);
	}
	const json_t *r = json_object_get(u, "MaxFailureRatio");
	printf("\n Max failure ratio: %g",
	       json_is_number(r) ? json_number_value(r) : 0.0);
	/* docker's template aligns the two words differently */
	printf("\n %s order:%s%s", order_word,
	       strcmp(order_word, "Update") ? "    " : "      ",
	       jsonx_str(u, "Order", ""));
}

static void print_strs(const json_t *a, const char *sep)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		printf("%s%s", json_string_value(json_array_get(a, i)), sep);
}

static void pretty(const json_t *s)
{
	const json_t *spec = jsonx_obj(s, "Spec");
	const json_t *tt = jsonx_obj(spec, "TaskTemplate");
	const json_t *cs = jsonx_obj(tt, "ContainerSpec");
	const json_t *pl = jsonx_obj(tt, "Placement");
	const json_t *mode = jsonx_obj(spec, "Mode");
	const json_t *us = jsonx_obj(s, "UpdateStatus");
	const char *k;
	json_t *v;
	char d[64];
	printf("\nID:\t\t%s\nName:\t\t%s", jsonx_str(s, "ID", ""),
	       jsonx_str(spec, "Name", ""));
	if (json_object_size(jsonx_obj(spec, "Labels"))) {
		printf("\nLabels:");
		json_object_foreach((json_t *)jsonx_obj(spec, "Labels"), k, v)
			printf("\n %s%s%s", k, *json_string_value(v) ? "=" : "",
			       json_string_value(v));
	}
	printf("\nService Mode:");
	if (json_object_get(mode, "Global"))
		printf("\tGlobal");
	else if (json_object_get(mode, "Replicated")) {
		printf("\tReplicated");
		printf("\n Replicas:\t%lld",
		       (long long)jsonx_int(jsonx_obj(mode, "Replicated"),
					    "Replicas", 0));
	}
	if (us && *jsonx_str(us, "State", "")) {
		printf("\nUpdateStatus:\n State:\t\t%s",
		       jsonx_str(us, "State", ""));
		int64_t now = time_real_ns();
		int64_t st = cli__parse_time(jsonx_str(us, "StartedAt", ""));
		int64_t ct = cli__parse_time(jsonx_str(us, "CompletedAt", ""));
		if (st) {
			time_format_human((now - st) / NSEC_PER_SEC, d,
					  sizeof(d));
			printf("\n Started:\t%s ago", d);
		}
		if (ct && !strcmp(jsonx_str(us, "State", ""), "completed")) {
			time_format_human((now - ct) / NSEC_PER_SEC, d,
					  sizeof(d));
			printf("\n Completed:\t%s ago", d);
		}
		printf("\n Message:\t%s", jsonx_str(us, "Message", ""));
	}
	printf("\nPlacement:");
	const json_t *cons = json_object_get(pl, "Constraints");
	if (json_array_size(cons)) {
		printf("\n Constraints:\t[");
		for (size_t i = 0; i < json_array_size(cons); i++)
			printf("%s%s", i ? " " : "",
			       json_string_value(json_array_get(cons, i)));
		printf("]");
	}
	const json_t *prefs = json_object_get(pl, "Preferences");
	if (json_array_size(prefs)) {
		printf("\n Preferences:   [");
		for (size_t i = 0; i < json_array_size(prefs); i++)
			printf("%sspread=%s", i ? " " : "",
			       jsonx_str(jsonx_obj(json_array_get(prefs, i),
						   "Spread"),
					 "SpreadDescriptor", ""));
		printf("]");
	}
	if (jsonx_int(pl, "MaxReplicas", 0))
		printf("\n Max Replicas Per Node:   %lld",
		       (long long)jsonx_int(pl, "MaxReplicas", 0));
	if (jsonx_obj(spec, "UpdateConfig"))
		pretty_update(jsonx_obj(spec, "UpdateConfig"), "UpdateConfig",
			      "Update");
	if (jsonx_obj(spec, "RollbackConfig"))
		pretty_update(jsonx_obj(spec, "RollbackConfig"),
			      "RollbackConfig", "Rollback");
	printf("\nContainerSpec:\n Image:\t\t%s", jsonx_str(cs, "Image", ""));
	if (json_array_size(json_object_get(cs, "Args"))) {
		printf("\n Args:\t\t");
		print_strs(json_object_get(cs, "Args"), " ");
	}
	if (json_array_size(json_object_get(cs, "Env"))) {
		printf("\n Env:\t\t");
		print_strs(json_object_get(cs, "Env"), " ");
	}
	if (*jsonx_str(cs, "Dir", ""))
		printf("\n Dir:\t\t%s", jsonx_str(cs, "Dir", ""));
	if (json_is_boolean(json_object_get(cs, "Init")))
		printf("\n Init:\t\t%s",
		       jsonx_bool(cs, "Init", false) ? "true" : "false");
	if (*jsonx_str(cs, "User", ""))
		printf("\n User: %s", jsonx_str(cs, "User", ""));
	const json_t *ms = json_object_get(cs, "Mounts");
	if (json_array_size(ms))
		printf("\nMounts:");
	for (size_t i = 0; i < json_array_size(ms); i++) {
		const json_t *m = json_array_get(ms, i);
		printf("\n Target:\t%s\n  Source:\t%s\n  ReadOnly:\t%s\n  "
		       "Type:\t\t%s",
		       jsonx_str(m, "Target", ""), jsonx_str(m, "Source", ""),
		       jsonx_bool(m, "ReadOnly", false) ? "true" : "false",
		       jsonx_str(m, "Type", ""));
	}
	const json_t *res = jsonx_obj(tt, "Resources");
	if (res) {
		const json_t *rs = jsonx_obj(res, "Reservations");
		const json_t *li = jsonx_obj(res, "Limits");
		printf("\nResources:");
		if (jsonx_int(rs, "NanoCPUs", 0) ||
		    jsonx_int(rs, "MemoryBytes", 0)) {
			printf("\n Reservations:");
			if (jsonx_int(rs, "NanoCPUs", 0))
				printf("\n  CPU:\t\t%g",
				       jsonx_int(rs, "NanoCPUs", 0) / 1e9);
			if (jsonx_int(rs, "MemoryBytes", 0)) {
				cli_bytes(
					(double)jsonx_int(rs, "MemoryBytes", 0),
					d, sizeof(d));
				printf("\n  Memory:\t%s", d);
			}
		}
		if (jsonx_int(li, "NanoCPUs", 0) ||
		    jsonx_int(li, "MemoryBytes", 0) ||
		    jsonx_int(li, "Pids", 0)) {
			printf("\n Limits:");
			if (jsonx_int(li, "NanoCPUs", 0))
				printf("\n  CPU:\t\t%g",
				       jsonx_int(li, "NanoCPUs", 0) / 1e9);
			if (jsonx_int(li, "MemoryBytes", 0)) {
				cli_bytes(
					(double)jsonx_int(li, "MemoryBytes", 0),
					d, sizeof(d));
				printf("\n  Memory:\t%s", d);
			}
		}
		if (jsonx_int(li, "Pids", 0))
			printf("\n  PIDs:\t\t%lld",
			       (long long)jsonx_int(li, "Pids", 0));
	}
	printf("\nEndpoint Mode:\t%s",
	       jsonx_str(jsonx_obj(spec, "EndpointSpec"), "Mode", "vip"));
	const json_t *hc = jsonx_obj(cs, "Healthcheck");
	if (hc) {
		char iv[32], sp[32], to[32];
		cli__go_duration(jsonx_int(hc, "Interval", 0), iv, sizeof(iv));
		cli__go_duration(jsonx_int(hc, "StartPeriod", 0), sp,
				 sizeof(sp));
		cli__go_duration(jsonx_int(hc, "Timeout", 0), to, sizeof(to));
		printf("\n Healthcheck:\n  Interval = %s\n  Retries = %lld\n  "
		       "StartPeriod =\t%s\n  Timeout =\t%s",
		       iv, (long long)jsonx_int(hc, "Retries", 0), sp, to);
		const json_t *t = json_object_get(hc, "Test");
		if (json_array_size(t)) {
			printf("\n  Tests:");
			for (size_t i = 0; i < json_array_size(t); i++)
				printf("\n\t Test = %s",
				       json_string_value(json_array_get(t, i)));
			printf(" ");
		}
	}
	printf("\n");
}

static int svc_inspect(struct cli *cli, int argc, char **argv)
{
	bool pr = false;
	int rc = 0, n = 0;
	json_t *all = json_array();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pretty")) {
			pr = true;
			continue;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			json_decref(all);
			return 1;
		}
		n++;
	}
	if (n == 0) {
		json_decref(all);
		return need_args("inspect", 0, 1,
				 "inspect [OPTIONS] SERVICE [SERVICE...]")
			       ? 1
			       : 0;
	}
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		json_t *s = get_service(cli, argv[i]);
		if (!s) {
			rc = 1;
			continue;
		}
		json_array_append_new(all, s);
	}
	if (pr) {
		for (size_t i = 0; i < json_array_size(all); i++) {
			if (i)
				printf("\n\n");
			pretty(json_array_get(all, i));
		}
	} else {
		cli_print_json(all);
	}
	json_decref(all);
	return rc;
}

/* ----------------------------------------------------------------- ls */

struct svc_row {
	const json_t *s;
	const char *name;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct svc_row *)a)->name,
		      ((const struct svc_row *)b)->name);
}

/* Running and desired tasks from the tasks themselves, for a daemon that
 * has no ServiceStatus. */
static void count_tasks(const json_t *tasks, const char *sid, int64_t *run,
			int64_t *want)
{
	*run = *want = 0;
	for (size_t i = 0; i < json_array_size(tasks); i++) {
		const json_t *t = json_array_get(tasks, i);
		if (strcmp(jsonx_str(t, "ServiceID", ""), sid))
			continue;
		if (!strcmp(jsonx_str(t, "DesiredState", ""), "running")) {
			(*want)++;
			if (!strcmp(jsonx_str(jsonx_obj(t, "Status"), "State",
					      ""),
				    "running"))
				(*run)++;
		}
	}
}

static void ports_of(const json_t *s, char *out, size_t cap)
{
	const json_t *ps = json_object_get(jsonx_obj(s, "Endpoint"), "Ports");
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(ps) && n < cap; i++) {
		const json_t *p = json_array_get(ps, i);
		n += snprintf(out + n, cap - n, "%s*:%lld->%lld/%s",
			      i ? ", " : "",
			      (long long)jsonx_int(p, "PublishedPort", 0),
			      (long long)jsonx_int(p, "TargetPort", 0),
			      jsonx_str(p, "Protocol", "tcp"));
	}
}

static int svc_ls(struct cli *cli, int argc, char **argv)
{
	bool quiet = false;
	struct cli_list filters = {{0}, 0};
	const char *format = NULL;
	struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"filter", 'f', CLI_FLAG_LIST, &filters},
		{"format", 0, CLI_FLAG_STR, &format},
	};
	int first = cli_flags("service ls", flags, 3, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal service ls [OPTIONS]\n\nList services\n");
		return 0;
	}
	if (first < 0)
		return 1;
	if (first < argc) {
		fprintf(stderr, "\"shoal service ls\" accepts no arguments.\n");
		return 1;
	}
	char q[2048], path[2200];
	if (cli_filters_query(&filters, NULL, q, sizeof(q)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/services?status=true%s%s",
		 *q ? "&filters=" : "", q);
	json_t *svcs = NULL, *tasks = NULL;
	if (cli__call(cli, "GET", path, NULL, &svcs) < 0)
		return 1;
	if (format && !strcmp(format, "json")) {
		for (size_t i = 0; i < json_array_size(svcs); i++) {
			char *t = json_dumps(json_array_get(svcs, i),
					     JSON_COMPACT);
			printf("%s\n", t ? t : "{}");
			free(t);
		}
		json_decref(svcs);
		return 0;
	}
	size_t n = json_array_size(svcs);
	struct svc_row *rows = shoal_calloc(n ? n : 1, sizeof(*rows));
	for (size_t i = 0; rows && i < n; i++) {
		rows[i].s = json_array_get(svcs, i);
		rows[i].name =
			jsonx_str(jsonx_obj(rows[i].s, "Spec"), "Name", "");
	}
	if (rows)
		qsort(rows, n, sizeof(*rows), by_name);
	if (quiet) {
		for (size_t i = 0; rows && i < n; i++)
			printf("%s\n", jsonx_str(rows[i].s, "ID", ""));
		shoal_free(rows);
		json_decref(svcs);
		return 0;
	}
	static const char *const hdr[] = {"ID",	      "NAME",  "MODE",
					  "REPLICAS", "IMAGE", "PORTS"};
	struct cli_table *t;
	if (!rows || cli_table_new(6, hdr, &t) < 0) {
		shoal_free(rows);
		json_decref(svcs);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *s = rows[i].s;
		const json_t *spec = jsonx_obj(s, "Spec");
		const json_t *st = jsonx_obj(s, "ServiceStatus");
		const json_t *mode = jsonx_obj(spec, "Mode");
		char id[13], img[512], rep[96], ports[512];
		int64_t run = jsonx_int(st, "RunningTasks", 0);
		int64_t want = jsonx_int(st, "DesiredTasks", 0);
		int64_t done = jsonx_int(st, "CompletedTasks", 0);
		if (!st) {
			if (!tasks &&
			    cli__call(cli, "GET", "/tasks", NULL, &tasks) < 0)
				tasks = json_array();
			count_tasks(tasks, jsonx_str(s, "ID", ""), &run, &want);
			if (json_object_get(mode, "Replicated"))
				want = jsonx_int(jsonx_obj(mode, "Replicated"),
						 "Replicas", 0);
		}
		snprintf(id, sizeof(id), "%s", jsonx_str(s, "ID", ""));
		short_image(jsonx_str(jsonx_obj(jsonx_obj(spec, "TaskTemplate"),
						"ContainerSpec"),
				      "Image", ""),
			    img, sizeof(img));
		int64_t maxr = jsonx_int(
			jsonx_obj(jsonx_obj(spec, "TaskTemplate"), "Placement"),
			"MaxReplicas", 0);
		if (json_object_get(mode, "ReplicatedJob"))
			snprintf(rep, sizeof(rep),
				 "%lld/%lld (%lld/%lld completed)",
				 (long long)run, (long long)want,
				 (long long)done,
				 (long long)jsonx_int(
					 jsonx_obj(mode, "ReplicatedJob"),
					 "TotalCompletions", 0));
		else if (json_object_get(mode, "GlobalJob"))
			snprintf(rep, sizeof(rep),
				 "%lld/%lld (%lld/%lld completed)",
				 (long long)run, (long long)want,
				 (long long)done, (long long)(want + done));
		else if (maxr > 0)
			snprintf(rep, sizeof(rep),
				 "%lld/%lld (max %lld per node)",
				 (long long)run, (long long)want,
				 (long long)maxr);
		else
			snprintf(rep, sizeof(rep), "%lld/%lld", (long long)run,
				 (long long)want);
		ports_of(s, ports, sizeof(ports));
		const char *cells[] = {id,  rows[i].name, mode_name(spec),
				       rep, img,	  ports};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	shoal_free(rows);
	json_decref(tasks);
	json_decref(svcs);
	return 0;
}

/* ----------------------------------------------------------------- ps */

static int svc_ps(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, no_trunc = false, no_resolve = false;
	struct cli_list filters = {{0}, 0};
	const char *format = NULL;
	struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"no-trunc", 0, CLI_FLAG_BOOL, &no_trunc},
		{"no-resolve", 0, CLI_FLAG_BOOL, &no_resolve},
		{"filter", 'f', CLI_FLAG_LIST, &filters},
		{"format", 0, CLI_FLAG_STR, &format},
	};
	int first = cli_flags("service ps", flags, 5, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal service ps [OPTIONS] SERVICE "
		       "[SERVICE...]\n\nList the tasks of one or more "
		       "services\n");
		return 0;
	}
	if (first < 0 || need_args("ps", argc - first, 1,
				   "ps [OPTIONS] SERVICE [SERVICE...]") < 0)
		return 1;
	if (no_resolve || format) {
		fprintf(stderr, "shoal service ps: --%s is not supported\n",
			no_resolve ? "no-resolve" : "format");
		return 1;
	}
	/* Each service by name or id; then one filter naming them all. */
	json_t *f = json_object(), *ids = json_array();
	int rc = 0;
	for (int i = first; i < argc; i++) {
		json_t *s = get_service(cli, argv[i]);
		if (!s) {
			rc = 1;
			continue;
		}
		json_array_append_new(ids, json_string(jsonx_str(s, "ID", "")));
		json_decref(s);
	}
	if (rc) {
		json_decref(ids);
		json_decref(f);
		return 1;
	}
	json_object_set_new(f, "service", ids);
	for (size_t i = 0; i < filters.n; i++)
		if (cli_filter_add(f, filters.v[i]) < 0) {
			json_decref(f);
			return 1;
		}
	char *text = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	rc = text ? cli__print_tasks(cli, text, !no_trunc, quiet) : 1;
	free(text);
	return rc;
}

static const struct cli_command service_cmds[] = {
	{"create", svc_create, "Create a new service"},
	{"inspect", svc_inspect,
	 "Display detailed information on one or "
	 "more services"},
	{"logs", cli__service_logs, "Fetch the logs of a service or task"},
	{"ls", svc_ls, "List services"},
	{"ps", svc_ps, "List the tasks of one or more services"},
	{"rm", svc_rm, "Remove one or more services"},
	{"rollback", svc_rollback,
	 "Revert changes to a service's "
	 "configuration"},
	{"scale", svc_scale, "Scale one or multiple replicated services"},
	{"update", svc_update, "Update a service"},
};

int cli_cmd_service(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal service", service_cmds,
			    sizeof(service_cmds) / sizeof(service_cmds[0]),
			    argc - 1, argv + 1);
}
