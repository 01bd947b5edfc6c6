/*
 * `shoal stack deploy/ls/ps/services/rm`: compose files deployed to the
 * swarm through the Engine API routes the docker CLI uses for `docker
 * stack` (docker/cli cli/command/stack/swarm). The file is read and
 * converted on this side by libshoal-compose (compose/compose.h); every
 * object is STACK_NAME with the label com.docker.stack.namespace=STACK,
 * and a stack is nothing but the objects carrying that label.
 *
 * deploy: networks first (created when missing; external ones must
 * exist), then secrets and configs (created, or updated in place when
 * they exist, as docker does: the daemon refuses a change of data), then
 * services. A service whose current spec already equals the one the file
 * gives (same fields; fields the daemon filled with defaults are ignored
 * when ours lacks them and theirs are empty) is left alone, so a deploy
 * only rolls what changed. --prune removes the stack's services the
 * files no longer name. Nothing is rolled back when a later step fails:
 * deploying again resumes, as with docker.
 */
#include "cli/cli.h"
#include "cli/ctr.h"
#include "cli/service.h"
#include "cli/stack.h"
#include "cli/swarm_call.h"
#include "cli/table.h"
#include "common/jsonx.h"
#include "compose/compose.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_LABEL "com.docker.stack.namespace"

extern char **environ;

static int need_stack(const char *cmd, int first, int argc, const char *use)
{
	if (argc - first == 1)
		return 0;
	fprintf(stderr,
		"\"shoal stack %s\" requires exactly 1 argument.\nSee 'shoal "
		"stack %s --help'.\n\nUsage:  shoal stack %s\n",
		cmd, cmd, use);
	return -1;
}

static int check_name(const char *stack)
{
	if (compose_valid_stack_name(stack))
		return 0;
	fprintf(stderr,
		"invalid stack name \"%s\": use letters, digits, '_', '.' "
		"and '-', starting with a letter or digit\n",
		stack);
	return -1;
}

/* GET @what?filters={"label":["NS=stack"]} into *@out (owned). */
static int list_of(struct cli *cli, const char *what, const char *stack,
		   json_t **out)
{
	char f[400], esc[1200], path[1400];
	snprintf(f, sizeof(f), "{\"label\":[\"" NS_LABEL "=%s\"]}", stack);
	cli_escape(f, esc, sizeof(esc));
	snprintf(path, sizeof(path), "%s?filters=%s", what, esc);
	return cli__call(cli, "GET", path, NULL, out);
}

static const char *spec_name(const json_t *o)
{
	const char *n = jsonx_str(jsonx_obj(o, "Spec"), "Name", NULL);
	return n ? n : jsonx_str(o, "Name", "");
}

static json_t *find_named(const json_t *arr, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x)
	{
		if (!strcmp(spec_name(x), name))
			return x;
	}
	return NULL;
}

/* ---------------------------------------------------------------- diff */

/* Empty, recursively: what a daemon fills in as a default. */
static bool is_zero(const json_t *v)
{
	const char *k;
	json_t *x;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			if (!is_zero(x))
				return false;
		}
		return true;
	}
	return !v || json_is_null(v) || json_is_false(v) ||
	       (json_is_integer(v) && !json_integer_value(v)) ||
	       (json_is_real(v) && json_real_value(v) == 0) ||
	       (json_is_string(v) && !*json_string_value(v)) ||
	       (json_is_array(v) && !json_array_size(v));
}

bool cli__stack_same(const json_t *want, const json_t *have)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_number(want) && json_is_number(have))
		return json_number_value(want) == json_number_value(have);
	if (json_is_object(want)) {
		if (!json_is_object(have))
			return is_zero(want) && is_zero(have);
		json_object_foreach((json_t *)want, k, v)
		{
			if (!cli__stack_same(v, json_object_get(have, k)))
				return false;
		}
		json_object_foreach((json_t *)have, k, v)
		{
			if (!json_object_get(want, k) && !is_zero(v))
				return false;
		}
		return true;
	}
	if (json_is_array(want)) {
		if (!json_is_array(have))
			return is_zero(want) && is_zero(have);
		if (json_array_size(want) != json_array_size(have))
			return false;
		json_array_foreach(want, i, v)
		{
			if (!cli__stack_same(v, json_array_get(have, i)))
				return false;
		}
		return true;
	}
	if (!have)
		return is_zero(want);
	return json_equal(want, have);
}

/* ------------------------------------------------------------- deploy */

static json_t *environment(void)
{
	json_t *o = json_object();
	for (char **e = environ; o && *e; e++) {
		const char *eq = strchr(*e, '=');
		char k[256];
		if (!eq || (size_t)(eq - *e) >= sizeof(k))
			continue;
		snprintf(k, sizeof(k), "%.*s", (int)(eq - *e), *e);
		json_object_set_new(o, k, json_string(eq + 1));
	}
	return o;
}

static int deploy_networks(struct cli *cli, const char *stack,
			   const json_t *nets)
{
	json_t *have = NULL, *one;
	const char *key;
	int rc = 0;
	if (list_of(cli, "/networks", stack, &have) < 0)
		return -1;
	json_object_foreach((json_t *)nets, key, one)
	{
		const char *name = jsonx_str(one, "Name", "");
		if (jsonx_bool(one, "External", false)) {
			char esc[600], path[700];
			json_t *n = NULL;
			cli_escape(name, esc, sizeof(esc));
			snprintf(path, sizeof(path), "/networks/%s", esc);
			if (cli__call_err(cli, "GET", path, NULL, &n, esc,
					  sizeof(esc)) < 0) {
				fprintf(stderr,
					"network \"%s\" is declared as "
					"external, but could not be found. "
					"You need to create a swarm-scoped "
					"network before the stack is "
					"deployed\n",
					name);
				rc = -1;
				break;
			}
			json_decref(n);
			continue;
		}
		if (find_named(have, name))
			continue;
		printf("Creating network %s\n", name);
		fflush(stdout);
		if (cli__call(cli, "POST", "/networks/create", one, NULL) < 0) {
			rc = -1;
			break;
		}
	}
	json_decref(have);
	return rc;
}

/* Secrets or configs: created or updated; @ids gets name -> ID. */
static int deploy_objects(struct cli *cli, const char *what, const char *kind,
			  const json_t *objs, json_t *ids)
{
	const char *key;
	json_t *one;
	json_object_foreach((json_t *)objs, key, one)
	{
		const char *name = jsonx_str(one, "Name", "");
		char f[600], esc[1800], path[2000], e[400];
		json_t *have = NULL, *spec;
		/* The file's path is compose.h's, not Docker's spec. */
		json_object_del(one, "File");
		snprintf(f, sizeof(f), "{\"name\":[\"%s\"]}", name);
		cli_escape(f, esc, sizeof(esc));
		snprintf(path, sizeof(path), "/%s?filters=%s", what, esc);
		if (cli__call_err(cli, "GET", path, NULL, &have, e, sizeof(e)) <
		    0) {
			if (strstr(e, "page not found"))
				fprintf(stderr,
					"this daemon does not serve /%s: the "
					"%s %s cannot be created (remove the "
					"%ss from the compose file or update "
					"shoald)\n",
					what, kind, name, kind);
			else
				fprintf(stderr,
					"Error response from daemon: "
					"%s\n",
					e);
			return -1;
		}
		json_t *cur = find_named(have, name);
		if (jsonx_bool(one, "External", false)) {
			if (!cur) {
				fprintf(stderr,
					"%s not found: %s (it is declared "
					"external: create it first)\n",
					kind, name);
				json_decref(have);
				return -1;
			}
		} else if (cur) {
			printf("Updating %s %s\n", kind, name);
			spec = json_deep_copy(one);
			snprintf(path, sizeof(path),
				 "/%s/%s/update?version=%lld", what,
				 jsonx_str(cur, "ID", ""),
				 (long long)jsonx_int(jsonx_obj(cur, "Version"),
						      "Index", 0));
			int rc = cli__call(cli, "POST", path, spec, NULL);
			json_decref(spec);
			if (rc < 0) {
				json_decref(have);
				return -1;
			}
		} else {
			json_t *ans = NULL;
			printf("Creating %s %s\n", kind, name);
			snprintf(path, sizeof(path), "/%s/create", what);
			if (cli__call(cli, "POST", path, one, &ans) < 0) {
				json_decref(have);
				return -1;
			}
			json_object_set_new(
				ids, name,
				json_string(jsonx_str(ans, "ID", "")));
			json_decref(ans);
			json_decref(have);
			continue;
		}
		json_object_set_new(ids, name,
				    json_string(jsonx_str(cur, "ID", "")));
		json_decref(have);
	}
	fflush(stdout);
	return 0;
}

static void fill_ids(json_t *spec, const char *list, const char *name_key,
		     const char *id_key, const json_t *ids)
{
	json_t *refs = json_object_get(
		jsonx_obj(jsonx_obj(spec, "TaskTemplate"), "ContainerSpec"),
		list);
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r)
	{
		const char *id = json_string_value(
			json_object_get(ids, jsonx_str(r, name_key, "")));
		json_object_set_new(r, id_key, json_string(id ? id : ""));
	}
}

/* @spec's network Targets (names, as the file gives them) as the ids the
 * managers store them under (they resolve names on write), from @nets
 * (GET /networks): what the comparison with the stored spec needs. */
static void targets_to_ids(json_t *spec, const json_t *nets)
{
	json_t *list =
		json_object_get(jsonx_obj(spec, "TaskTemplate"), "Networks");
	size_t i, j;
	json_t *a, *n;
	json_array_foreach(list, i, a)
	{
		const char *t = jsonx_str(a, "Target", "");
		json_array_foreach(nets, j, n)
		{
			if (!strcmp(jsonx_str(n, "Name", ""), t)) {
				json_object_set_new(
					a, "Target",
					json_string(jsonx_str(n, "Id", t)));
				break;
			}
		}
	}
}

static int deploy_services(struct cli *cli, const char *stack,
			   const json_t *svcs, const json_t *sids,
			   const json_t *cids, bool prune)
{
	json_t *have = NULL, *spec;
	const char *key;
	size_t i;
	int rc = 0;
	if (list_of(cli, "/services", stack, &have) < 0)
		return -1;
	/* Without the list every service is sent again (an update that
	 * changes nothing), never skipped wrongly. */
	json_t *nets = NULL;
	char e[256];
	if (cli__call_err(cli, "GET", "/networks", NULL, &nets, e, sizeof(e)) <
	    0)
		nets = NULL;
	json_object_foreach((json_t *)svcs, key, spec)
	{
		const char *name = jsonx_str(spec, "Name", "");
		json_t *cur = find_named(have, name);
		fill_ids(spec, "Secrets", "SecretName", "SecretID", sids);
		fill_ids(spec, "Configs", "ConfigName", "ConfigID", cids);
		json_t *want = cur ? json_deep_copy(spec) : NULL;
		targets_to_ids(want, nets);
		bool same =
			want && cli__stack_same(want, jsonx_obj(cur, "Spec"));
		json_decref(want);
		if (same) {
			printf("Service %s is up to date\n", name);
			continue;
		}
		json_t *ans = NULL;
		if (cur) {
			char path[400];
			printf("Updating service %s (id: %s)\n", name,
			       jsonx_str(cur, "ID", ""));
			snprintf(path, sizeof(path),
				 "/services/%s/update?version=%lld",
				 jsonx_str(cur, "ID", ""),
				 (long long)jsonx_int(jsonx_obj(cur, "Version"),
						      "Index", 0));
			rc = cli__call(cli, "POST", path, spec, &ans);
		} else {
			printf("Creating service %s\n", name);
			rc = cli__call(cli, "POST", "/services/create", spec,
				       &ans);
		}
		fflush(stdout);
		const json_t *w = json_object_get(ans, "Warnings");
		for (size_t k = 0; k < json_array_size(w); k++)
			fprintf(stderr, "%s\n",
				json_string_value(json_array_get(w, k)));
		json_decref(ans);
		if (rc < 0)
			break;
	}
	json_array_foreach(rc == 0 && prune ? have : NULL, i, spec)
	{
		const char *name = spec_name(spec);
		bool keep = false;
		const char *k2;
		json_t *s2;
		json_object_foreach((json_t *)svcs, k2, s2)
		{
			keep |= !strcmp(jsonx_str(s2, "Name", ""), name);
		}
		if (keep)
			continue;
		char path[300];
		printf("Removing service %s\n", name);
		snprintf(path, sizeof(path), "/services/%s",
			 jsonx_str(spec, "ID", ""));
		if (cli__call(cli, "DELETE", path, NULL, NULL) < 0)
			rc = -1;
	}
	json_decref(nets);
	json_decref(have);
	return rc;
}

/* docker's check before a deploy: this daemon manages a swarm. */
static int need_manager(struct cli *cli)
{
	json_t *info = NULL;
	if (cli__call(cli, "GET", "/info", NULL, &info) < 0)
		return -1;
	bool ok =
		jsonx_bool(jsonx_obj(info, "Swarm"), "ControlAvailable", false);
	json_decref(info);
	if (ok)
		return 0;
	fprintf(stderr, "this node is not a swarm manager. Use \"shoal swarm "
			"init\" or \"shoal swarm join\" to connect this node "
			"to swarm and try again\n");
	return -1;
}

static int stack_deploy(struct cli *cli, int argc, char **argv)
{
	struct cli_list files = {{0}, 0};
	bool prune = false, detach = true;
	const char *resolve = NULL;
	struct cli_flag flags[] = {
		{"compose-file", 'c', CLI_FLAG_LIST, &files},
		{"prune", 0, CLI_FLAG_BOOL, &prune},
		{"detach", 'd', CLI_FLAG_BOOL, &detach},
		{"resolve-image", 0, CLI_FLAG_STR, &resolve},
	};
	int first = cli_flags("stack deploy", flags, 4, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal stack deploy [OPTIONS] STACK\n\nDeploy a "
		       "new stack or update an existing stack\n\nOptions:\n"
		       "  -c, --compose-file strings   Path to a Compose file\n"
		       "      --prune                  Prune services that are "
		       "no longer referenced\n");
		return 0;
	}
	if (first < 0 ||
	    need_stack("deploy", first, argc, "deploy [OPTIONS] STACK") < 0 ||
	    check_name(argv[first]) < 0)
		return 1;
	if (resolve && strcmp(resolve, "never")) {
		fprintf(stderr,
			"shoal stack deploy: --resolve-image %s is not "
			"supported (images are resolved by the nodes "
			"that pull them; use never)\n",
			resolve);
		return 1;
	}
	if (!files.n) {
		fprintf(stderr, "Please specify a Compose file (with "
				"--compose-file).\n");
		return 1;
	}
	json_t *vars = environment(), *stack = NULL;
	struct compose_env env = {vars};
	struct compose_opts o = {
		.stack = argv[first], .env = &env, .read = compose_read_file};
	struct shoal_err err = {{0}};
	if (compose_load(files.v, files.n, &o, &stack, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		json_decref(vars);
		return 1;
	}
	json_decref(vars);
	if (need_manager(cli) < 0) {
		json_decref(stack);
		return 1;
	}
	json_t *sids = json_object(), *cids = json_object();
	int rc = deploy_networks(cli, argv[first],
				 json_object_get(stack, "Networks"));
	if (rc == 0)
		rc = deploy_objects(cli, "secrets", "secret",
				    json_object_get(stack, "Secrets"), sids);
	if (rc == 0)
		rc = deploy_objects(cli, "configs", "config",
				    json_object_get(stack, "Configs"), cids);
	if (rc == 0)
		rc = deploy_services(cli, argv[first],
				     json_object_get(stack, "Services"), sids,
				     cids, prune);
	json_decref(sids);
	json_decref(cids);
	json_decref(stack);
	return rc < 0 ? 1 : 0;
}

/* ----------------------------------------------------------------- ls */

static int stack_ls(struct cli *cli, int argc, char **argv)
{
	const char *format = NULL;
	struct cli_flag flags[] = {{"format", 0, CLI_FLAG_STR, &format}};
	int first = cli_flags("stack ls", flags, 1, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal stack ls [OPTIONS]\n\nList stacks\n");
		return 0;
	}
	if (first < 0)
		return 1;
	if (first < argc) {
		fprintf(stderr, "\"shoal stack ls\" accepts no arguments.\n");
		return 1;
	}
	if (format && strcmp(format, "json")) {
		fprintf(stderr,
			"shoal stack ls: --format %s is not supported "
			"(json only)\n",
			format);
		return 1;
	}
	json_t *svcs = NULL, *counts = json_object();
	char esc[200], path[300];
	cli_escape("{\"label\":[\"" NS_LABEL "\"]}", esc, sizeof(esc));
	snprintf(path, sizeof(path), "/services?filters=%s", esc);
	if (cli__call(cli, "GET", path, NULL, &svcs) < 0) {
		json_decref(counts);
		return 1;
	}
	size_t i;
	json_t *s;
	json_array_foreach(svcs, i, s)
	{
		const char *st =
			jsonx_str(jsonx_obj(jsonx_obj(s, "Spec"), "Labels"),
				  NS_LABEL, NULL);
		if (!st)
			continue;
		json_object_set_new(counts, st,
				    json_integer(jsonx_int(counts, st, 0) + 1));
	}
	json_decref(svcs);
	/* Sorted by name, as docker prints them. */
	size_t n = json_object_size(counts), k = 0;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	const char *name;
	json_object_foreach(counts, name, s)
	{
		names[k++] = name;
	}
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0;
		     b--) {
			const char *t = names[b];
			names[b] = names[b - 1];
			names[b - 1] = t;
		}
	if (format) {
		for (k = 0; k < n; k++)
			printf("{\"Name\":\"%s\",\"Namespace\":\"\","
			       "\"Orchestrator\":\"Swarm\",\"Services\":\"%lld\"}"
			       "\n",
			       names[k],
			       (long long)jsonx_int(counts, names[k], 0));
	} else {
		static const char *const hdr[] = {"NAME", "SERVICES"};
		struct cli_table *t;
		if (cli_table_new(2, hdr, &t) == 0) {
			for (k = 0; k < n; k++) {
				char c[32];
				snprintf(c, sizeof(c), "%lld",
					 (long long)jsonx_int(counts, names[k],
							      0));
				const char *cells[] = {names[k], c};
				cli_table_add(t, cells);
			}
			cli_table_print(t, stdout);
			cli_table_free(t);
		}
	}
	free(names);
	json_decref(counts);
	return 0;
}

/* ---------------------------------------------------- services and ps */

static int stack_services(struct cli *cli, int argc, char **argv)
{
	bool quiet = false;
	struct cli_list filters = {{0}, 0};
	struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"filter", 'f', CLI_FLAG_LIST, &filters},
	};
	int first = cli_flags("stack services", flags, 2, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal stack services [OPTIONS] STACK\n\nList "
		       "the services in the stack\n");
		return 0;
	}
	if (first < 0 ||
	    need_stack("services", first, argc, "services [OPTIONS] STACK") <
		    0 ||
	    check_name(argv[first]) < 0)
		return 1;
	json_t *have = NULL;
	if (list_of(cli, "/services", argv[first], &have) < 0)
		return 1;
	size_t n = json_array_size(have);
	json_decref(have);
	if (!n) {
		fprintf(stderr, "Nothing found in stack: %s\n", argv[first]);
		return 0;
	}
	/* `service ls` with the stack's label filter added. */
	char label[300];
	char *av[2 * CLI_MAX_LIST + 8];
	int ac = 0;
	snprintf(label, sizeof(label), "label=" NS_LABEL "=%s", argv[first]);
	av[ac++] = (char *)"service";
	av[ac++] = (char *)"ls";
	if (quiet)
		av[ac++] = (char *)"-q";
	av[ac++] = (char *)"--filter";
	av[ac++] = label;
	for (size_t i = 0; i < filters.n; i++) {
		av[ac++] = (char *)"--filter";
		av[ac++] = (char *)filters.v[i];
	}
	av[ac] = NULL;
	return cli_cmd_service(cli, ac, av);
}

static int stack_ps(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, no_trunc = false;
	struct cli_list filters = {{0}, 0};
	struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"no-trunc", 0, CLI_FLAG_BOOL, &no_trunc},
		{"filter", 'f', CLI_FLAG_LIST, &filters},
	};
	int first = cli_flags("stack ps", flags, 3, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal stack ps [OPTIONS] STACK\n\nList the "
		       "tasks in the stack\n");
		return 0;
	}
	if (first < 0 ||
	    need_stack("ps", first, argc, "ps [OPTIONS] STACK") < 0 ||
	    check_name(argv[first]) < 0)
		return 1;
	json_t *have = NULL;
	if (list_of(cli, "/services", argv[first], &have) < 0)
		return 1;
	size_t n = json_array_size(have);
	json_decref(have);
	if (!n) {
		fprintf(stderr, "nothing found in stack: %s\n", argv[first]);
		return 1;
	}
	json_t *f = json_object();
	char label[300];
	snprintf(label, sizeof(label), "label=" NS_LABEL "=%s", argv[first]);
	cli_filter_add(f, label);
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

/* ----------------------------------------------------------------- rm */

static int remove_all(struct cli *cli, const char *stack, const char *what,
		      const char *kind, bool *any)
{
	json_t *have = NULL, *x;
	size_t i;
	int rc = 0;
	if (list_of(cli, what, stack, &have) < 0)
		return -1;
	json_array_foreach(have, i, x)
	{
		char path[300];
		*any = true;
		printf("Removing %s %s\n", kind, spec_name(x));
		fflush(stdout);
		snprintf(path, sizeof(path), "%s/%s", what,
			 jsonx_str(x, "ID", jsonx_str(x, "Id", "")));
		if (cli__call(cli, "DELETE", path, NULL, NULL) < 0)
			rc = -1;
	}
	json_decref(have);
	return rc;
}

static int stack_rm(struct cli *cli, int argc, char **argv)
{
	struct cli_flag flags[] = {{"detach", 'd', CLI_FLAG_BOOL, NULL}};
	bool detach = true;
	flags[0].dest = &detach;
	int first = cli_flags("stack rm", flags, 1, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal stack rm [OPTIONS] STACK [STACK...]\n\n"
		       "Remove one or more stacks\n");
		return 0;
	}
	if (first < 0)
		return 1;
	if (first >= argc) {
		fprintf(stderr, "\"shoal stack rm\" requires at least 1 "
				"argument.\n");
		return 1;
	}
	int rc = 0;
	for (int a = first; a < argc; a++) {
		bool any = false;
		if (check_name(argv[a]) < 0) {
			rc = 1;
			continue;
		}
		/* Services first: the networks, secrets and configs they use
		 * are refused while a service holds them. */
		if (remove_all(cli, argv[a], "/services", "service", &any) < 0)
			rc = 1;
		/* Secrets and configs exist only once their routes do: a
		 * daemon without them answers 404 for the list, skipped. */
		static const char *const what[][2] = {{"/secrets", "secret"},
						      {"/configs", "config"}};
		for (int k = 0; k < 2; k++) {
			char f[400], esc[1200], path[1400], e[300];
			json_t *have = NULL;
			snprintf(f, sizeof(f),
				 "{\"label\":[\"" NS_LABEL "=%s\"]}", argv[a]);
			cli_escape(f, esc, sizeof(esc));
			snprintf(path, sizeof(path), "%s?filters=%s",
				 what[k][0], esc);
			if (cli__call_err(cli, "GET", path, NULL, &have, e,
					  sizeof(e)) < 0)
				continue;
			json_decref(have);
			if (remove_all(cli, argv[a], what[k][0], what[k][1],
				       &any) < 0)
				rc = 1;
		}
		if (remove_all(cli, argv[a], "/networks", "network", &any) < 0)
			rc = 1;
		if (!any)
			fprintf(stderr, "Nothing found in stack: %s\n",
				argv[a]);
	}
	return rc;
}

static const struct cli_command stack_cmds[] = {
	{"deploy", stack_deploy,
	 "Deploy a new stack or update an existing "
	 "stack"},
	{"ls", stack_ls, "List stacks"},
	{"ps", stack_ps, "List the tasks in the stack"},
	{"rm", stack_rm, "Remove one or more stacks"},
	{"services", stack_services, "List the services in the stack"},
};

int cli_cmd_stack(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal stack", stack_cmds,
			    sizeof(stack_cmds) / sizeof(stack_cmds[0]),
			    argc - 1, argv + 1);
}
