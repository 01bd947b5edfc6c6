/*
 * `shoal compose [-f FILE]... [-p PROJECT] up [-d] | down [-v] | ps | logs`:
 * a compose file on this one host, no swarm, the way docker-compose 1.29
 * runs it, so either tool can manage the other's project: containers
 * PROJECT_SERVICE_N with Compose's labels (com.docker.compose.project,
 * .service, .container-number, .oneoff, .config-hash), the project's
 * networks (PROJECT_default and those the file declares, bridge driver)
 * and named volumes (PROJECT_NAME), all found again by their labels.
 *
 * The file goes through the same reader and converter as `stack deploy`
 * (compose/compose.h, in its local mode); each ServiceSpec is then turned
 * into a container create body; `restart` becomes the containers'
 * restart policy and `depends_on` the order services start in (the
 * converter's "Local" table). What a single host cannot apply is not
 * dropped silently: deploy's placement, update and rollback settings,
 * restart_policy, reservations, mode global and endpoint_mode are named
 * in a warning, as docker-compose warns about deploy. `up` starts what is
 * missing, recreates a container whose config hash changed, removes
 * replicas beyond deploy.replicas, and leaves the rest running. Without
 * -d it then follows every container's log (one child per container
 * running `logs -f`, its lines prefixed "NAME | ") until they all end; ^C
 * stops the project's containers, as docker-compose does.
 */
#include "cli/compose.h"
#include "cli/swarm_call.h"
#include "cli/table.h"
#include "common/crypto.h"
#include "common/jsonx.h"
#include "compose/compose.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_LABEL "com.docker.compose.container-number"
#define H_LABEL "com.docker.compose.config-hash"

extern char **environ;

/* docker-compose 1.29's default project name: the folder's name,
 * lowercased, without characters other than [a-z0-9_-]. */
static void default_name(const char *file, char *out, size_t cap)
{
	char path[PATH_MAX], *slash, *base;
	size_t n = 0;
	if (!realpath(file, path) && !getcwd(path, sizeof(path)))
		snprintf(path, sizeof(path), "default");
	else if ((slash = strrchr(path, '/')) && strcmp(file, "."))
		*slash = '\0';
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	for (; *base && n + 1 < cap; base++) {
		char c = (char)tolower((unsigned char)*base);
		if (isalnum((unsigned char)c) || c == '_' || c == '-')
			out[n++] = c;
	}
	out[n] = '\0';
	if (!n)
		snprintf(out, cap, "default");
}

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

static int load(struct project *p, const char *name)
{
	static const char *const defaults[] = {"compose.yaml", "compose.yml",
					       "docker-compose.yml",
					       "docker-compose.yaml"};
	if (!p->files.n) {
		for (size_t i = 0; i < 4 && !p->files.n; i++)
			if (!access(defaults[i], R_OK))
				p->files.v[p->files.n++] = defaults[i];
		if (!p->files.n) {
			fprintf(stderr, "Can't find a suitable configuration "
					"file in this directory. Are you in "
					"the right directory?\n\nSupported "
					"filenames: docker-compose.yml, "
					"docker-compose.yaml, compose.yml, "
					"compose.yaml\n");
			return -1;
		}
	}
	if (name)
		snprintf(p->name, sizeof(p->name), "%s", name);
	else
		default_name(p->files.v[0], p->name, sizeof(p->name));
	if (!compose_valid_stack_name(p->name)) {
		fprintf(stderr,
			"invalid project name \"%s\": use letters, "
			"digits, '_', '.' and '-'\n",
			p->name);
		return -1;
	}
	json_t *vars = environment();
	struct compose_env env = {vars};
	struct compose_opts o = {.stack = p->name,
				 .env = &env,
				 .read = compose_read_file,
				 .local = true};
	struct shoal_err err = {{0}};
	int rc = compose_load(p->files.v, p->files.n, &o, &p->stack, &err);
	json_decref(vars);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

/* GET @what?all=1&filters={"label":[P_LABEL=project, more]} (owned). */
json_t *cli__compose_by_label(struct cli *cli, const char *what,
			      const char *proj, const char *more)
{
	json_t *f = json_pack("{s:[s+]}", "label", P_LABEL "=", proj), *out;
	char *text, esc[2048], path[2300];
	if (more)
		json_array_append_new(json_object_get(f, "label"),
				      json_string(more));
	text = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	if (!text)
		return NULL;
	cli_escape(text, esc, sizeof(esc));
	free(text);
	snprintf(path, sizeof(path), "%s%sfilters=%s", what,
		 strchr(what, '?') ? "&" : "?", esc);
	if (cli__call(cli, "GET", path, NULL, &out) < 0)
		return NULL;
	if (json_is_object(out) && json_object_get(out, "Volumes")) {
		json_t *v = json_incref(json_object_get(out, "Volumes"));
		json_decref(out);
		out = v;
	}
	return out;
}

/* ------------------------------------------------------ the conversion */

/* What a single host does not apply, named once per service. */
static void warn_unapplied(const char *svc, const json_t *spec)
{
	const json_t *tt = jsonx_obj(spec, "TaskTemplate");
	const json_t *pl = jsonx_obj(tt, "Placement");
	char list[512] = "";
	struct {
		bool on;
		const char *what;
	} k[] = {
		{json_object_get(jsonx_obj(spec, "Mode"), "Global") != NULL,
		 "deploy.mode"},
		{json_object_size(pl) > 0, "deploy.placement"},
		{json_object_get(spec, "UpdateConfig") != NULL,
		 "deploy.update_config"},
		{json_object_get(spec, "RollbackConfig") != NULL,
		 "deploy.rollback_config"},
		{json_object_get(tt, "RestartPolicy") != NULL,
		 "deploy.restart_policy"},
		{json_object_size(jsonx_obj(jsonx_obj(tt, "Resources"),
					    "Reservations")) > 0,
		 "deploy.resources.reservations"},
		{strcmp(jsonx_str(jsonx_obj(spec, "EndpointSpec"), "Mode",
				  "vip"),
			"vip") != 0,
		 "deploy.endpoint_mode"},
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (k[i].on)
			snprintf(list + strlen(list),
				 sizeof(list) - strlen(list), "%s%s",
				 *list ? ", " : "", k[i].what);
	if (*list)
		fprintf(stderr,
			"WARNING: service %s: %s ignored on a single host "
			"(use `shoal stack deploy` to deploy to a swarm)\n",
			svc, list);
}

static void bind_file(json_t *mounts, const char *src, const char *dst)
{
	json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b}", "Type",
						"bind", "Source", src, "Target",
						dst, "ReadOnly", 1));
}

/* Secrets at /run/secrets/TARGET and configs at their target, bound
 * read-only from their files, as docker-compose 1.29 does. */
static int object_mounts(const struct project *p, const json_t *cs,
			 json_t *mounts, bool secret)
{
	const json_t *refs =
		json_object_get(cs, secret ? "Secrets" : "Configs");
	const json_t *table =
		json_object_get(p->stack, secret ? "Secrets" : "Configs");
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r)
	{
		const char *name =
			jsonx_str(r, secret ? "SecretName" : "ConfigName", "");
		const char *target =
			jsonx_str(jsonx_obj(r, "File"), "Name", "");
		const char *k;
		json_t *def, *found = NULL;
		char dst[PATH_MAX];
		json_object_foreach((json_t *)table, k, def)
		{
			if (!strcmp(jsonx_str(def, "Name", ""), name))
				found = def;
		}
		if (!found || !jsonx_str(found, "File", NULL)) {
			fprintf(stderr,
				"%s %s: an external %s needs a swarm (use "
				"file: on a single host)\n",
				secret ? "secret" : "config", name,
				secret ? "secret" : "config");
			return -1;
		}
		if (secret && target[0] != '/')
			snprintf(dst, sizeof(dst), "/run/secrets/%s", target);
		else
			snprintf(dst, sizeof(dst), "%s%s",
				 target[0] == '/' ? "" : "/", target);
		bind_file(mounts, jsonx_str(found, "File", ""), dst);
	}
	return 0;
}

/* The create body of service @svc's container number @num. */
static json_t *container_body(const struct project *p, const char *svc,
			      const json_t *spec, int num)
{
	const json_t *tt = jsonx_obj(spec, "TaskTemplate");
	const json_t *cs = jsonx_obj(tt, "ContainerSpec");
	const json_t *lim = jsonx_obj(jsonx_obj(tt, "Resources"), "Limits");
	const json_t *nets = json_object_get(tt, "Networks");
	json_t *b = json_object(), *hc = json_object(), *labels, *mounts;
	static const char *const copy[][2] = {{"Image", "Image"},
					      {"Args", "Cmd"},
					      {"Command", "Entrypoint"},
					      {"Env", "Env"},
					      {"User", "User"},
					      {"Dir", "WorkingDir"},
					      {"Hostname", "Hostname"},
					      {"Healthcheck", "Healthcheck"},
					      {"StopSignal", "StopSignal"},
					      {"TTY", "Tty"},
					      {"OpenStdin", "OpenStdin"}};
	for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
		const json_t *v = json_object_get(cs, copy[i][0]);
		if (v)
			json_object_set(b, copy[i][1], (json_t *)v);
	}
	if (jsonx_int(cs, "StopGracePeriod", 0) > 0)
		json_object_set_new(
			b, "StopTimeout",
			json_integer((jsonx_int(cs, "StopGracePeriod", 0) +
				      999999999) /
				     1000000000));
	labels = json_deep_copy(jsonx_obj(cs, "Labels"));
	json_object_del(labels, "com.docker.stack.namespace");
	json_object_set_new(labels, P_LABEL, json_string(p->name));
	json_object_set_new(labels, S_LABEL, json_string(svc));
	json_object_set_new(labels, "com.docker.compose.oneoff",
			    json_string("False"));
	char n[16];
	snprintf(n, sizeof(n), "%d", num);
	json_object_set_new(labels, N_LABEL, json_string(n));
	json_object_set_new(b, "Labels", labels);
	/* Mounts without the swarm's VolumeOptions: volumes exist already. */
	mounts = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(cs, "Mounts"), i, m)
	{
		json_t *c = json_deep_copy(m);
		json_object_del(c, "VolumeOptions");
		if (jsonx_bool(jsonx_obj(m, "VolumeOptions"), "NoCopy", false))
			json_object_set_new(c, "VolumeOptions",
					    json_pack("{s:b}", "NoCopy", 1));
		json_array_append_new(mounts, c);
	}
	if (object_mounts(p, cs, mounts, true) < 0 ||
	    object_mounts(p, cs, mounts, false) < 0) {
		json_decref(mounts);
		json_decref(hc);
		json_decref(b);
		return NULL;
	}
	if (json_array_size(mounts))
		json_object_set_new(hc, "Mounts", mounts);
	else
		json_decref(mounts);
	/* Ports: published ones bound on the host, as `-p P:T`. */
	json_t *exposed = json_object(), *bind = json_object();
	json_array_foreach(
		json_object_get(jsonx_obj(spec, "EndpointSpec"), "Ports"), i, m)
	{
		char key[32], hp[16] = "";
		snprintf(key, sizeof(key), "%lld/%s",
			 (long long)jsonx_int(m, "TargetPort", 0),
			 jsonx_str(m, "Protocol", "tcp"));
		if (jsonx_int(m, "PublishedPort", 0))
			snprintf(hp, sizeof(hp), "%lld",
				 (long long)jsonx_int(m, "PublishedPort", 0));
		json_object_set_new(exposed, key, json_object());
		json_t *a = json_object_get(bind, key);
		if (!a) {
			a = json_array();
			json_object_set_new(bind, key, a);
		}
		json_array_append_new(a, json_pack("{s:s, s:s}", "HostIp",
						   jsonx_str(m, "HostIp", ""),
						   "HostPort", hp));
	}
	json_object_set_new(b, "ExposedPorts", exposed);
	json_object_set_new(hc, "PortBindings", bind);
	const json_t *restart = jsonx_obj(
		jsonx_obj(jsonx_obj(p->stack, "Local"), svc), "Restart");
	if (restart)
		json_object_set(hc, "RestartPolicy", (json_t *)restart);
	if (jsonx_bool(cs, "Init", false))
		json_object_set_new(hc, "Init", json_true());
	if (jsonx_bool(cs, "ReadOnly", false))
		json_object_set_new(hc, "ReadonlyRootfs", json_true());
	if (jsonx_int(lim, "NanoCPUs", 0))
		json_object_set(hc, "NanoCpus",
				json_object_get(lim, "NanoCPUs"));
	if (jsonx_int(lim, "MemoryBytes", 0))
		json_object_set(hc, "Memory",
				json_object_get(lim, "MemoryBytes"));
	if (jsonx_int(lim, "Pids", 0))
		json_object_set(hc, "PidsLimit", json_object_get(lim, "Pids"));
	/* The first network at create, the others connected after. */
	const json_t *first = json_array_get(nets, 0);
	json_object_set_new(hc, "NetworkMode",
			    json_string(jsonx_str(first, "Target", "")));
	json_object_set_new(b, "HostConfig", hc);
	json_object_set_new(b, "NetworkingConfig",
			    json_pack("{s:{s:{s:O}}}", "EndpointsConfig",
				      jsonx_str(first, "Target", ""), "Aliases",
				      json_object_get(first, "Aliases")));
	/* The hash of everything but the number: a change recreates. */
	json_t *h = json_deep_copy(b);
	json_object_del(json_object_get(h, "Labels"), N_LABEL);
	json_object_set(h, "MoreNetworks", (json_t *)nets);
	char *text = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
	char digest[DIGEST_STR_LEN];
	json_decref(h);
	shoal_sha256_str(text ? text : "", text ? strlen(text) : 0, digest);
	free(text);
	json_object_set_new(labels, H_LABEL, json_string(digest + 7));
	return b;
}

/* ------------------------------------------------------------------ up */

static int ensure_networks(struct cli *cli, const struct project *p)
{
	json_t *have = cli__compose_by_label(cli, "/networks", p->name, NULL),
	       *one;
	const char *key;
	int rc = 0;
	if (!have)
		return -1;
	json_object_foreach(json_object_get(p->stack, "Networks"), key, one)
	{
		const char *name = jsonx_str(one, "Name", "");
		bool found = false;
		size_t i;
		json_t *x;
		if (jsonx_bool(one, "External", false))
			continue;
		json_array_foreach(have, i, x)
		{
			found |= !strcmp(jsonx_str(x, "Name", ""), name);
		}
		if (found)
			continue;
		json_t *body = json_deep_copy(one);
		if (!jsonx_bool(body, "Attachable", true))
			json_object_del(body, "Attachable");
		printf("Creating network \"%s\" with driver \"%s\"\n", name,
		       jsonx_str(one, "Driver", "bridge"));
		rc = cli__call(cli, "POST", "/networks/create", body, NULL);
		json_decref(body);
		if (rc < 0)
			break;
	}
	json_decref(have);
	return rc;
}

static int ensure_volumes(struct cli *cli, const struct project *p)
{
	json_t *have = cli__compose_by_label(cli, "/volumes", p->name, NULL),
	       *one;
	const char *key;
	if (!have)
		return -1;
	json_object_foreach(json_object_get(p->stack, "Volumes"), key, one)
	{
		const char *name = jsonx_str(one, "Name", "");
		bool found = false;
		size_t i;
		json_t *x;
		if (jsonx_bool(one, "External", false))
			continue;
		json_array_foreach(have, i, x)
		{
			found |= !strcmp(jsonx_str(x, "Name", ""), name);
		}
		if (found)
			continue;
		printf("Creating volume \"%s\" with %s driver\n", name,
		       jsonx_str(one, "Driver", "local"));
		if (cli__call(cli, "POST", "/volumes/create", one, NULL) < 0) {
			json_decref(have);
			return -1;
		}
	}
	json_decref(have);
	return 0;
}

static int remove_ctr(struct cli *cli, const json_t *c, bool quiet)
{
	char path[300];
	const char *id = jsonx_str(c, "Id", "");
	const json_t *names = json_object_get(c, "Names");
	const char *name = json_string_value(json_array_get(names, 0));
	if (!quiet)
		printf("Removing %s\n", name ? name + (*name == '/') : id);
	snprintf(path, sizeof(path), "/containers/%s/stop", id);
	cli_call(cli, "POST", path, NULL, 0, NULL, NULL, 304);
	snprintf(path, sizeof(path), "/containers/%s?force=1", id);
	return cli__call(cli, "DELETE", path, NULL, NULL);
}

static int create_one(struct cli *cli, const struct project *p, const char *svc,
		      const json_t *spec, json_t *body, const char *cname)
{
	char path[400];
	json_t *ans = NULL;
	size_t i;
	json_t *n;
	snprintf(path, sizeof(path), "/containers/create?name=%s", cname);
	printf("Creating %s\n", cname);
	fflush(stdout);
	if (cli__call(cli, "POST", path, body, &ans) < 0)
		return -1;
	char id[80];
	snprintf(id, sizeof(id), "%s", jsonx_str(ans, "Id", ""));
	json_decref(ans);
	json_array_foreach(
		json_object_get(jsonx_obj(spec, "TaskTemplate"), "Networks"), i,
		n)
	{
		if (i == 0)
			continue;
		snprintf(path, sizeof(path), "/networks/%s/connect",
			 jsonx_str(n, "Target", ""));
		json_t *c = json_pack("{s:s, s:{s:O}}", "Container", id,
				      "EndpointConfig", "Aliases",
				      json_object_get(n, "Aliases"));
		int rc = cli__call(cli, "POST", path, c, NULL);
		json_decref(c);
		if (rc < 0)
			return -1;
	}
	(void)p;
	(void)svc;
	snprintf(path, sizeof(path), "/containers/%s/start", id);
	return cli__call(cli, "POST", path, NULL, NULL);
}

static int up_service(struct cli *cli, const struct project *p, const char *svc,
		      const json_t *spec)
{
	char more[300];
	long long want =
		jsonx_int(jsonx_obj(jsonx_obj(spec, "Mode"), "Replicated"),
			  "Replicas", 1);
	snprintf(more, sizeof(more), S_LABEL "=%s", svc);
	json_t *have = cli__compose_by_label(cli, "/containers/json?all=1",
					     p->name, more);
	if (!have)
		return -1;
	warn_unapplied(svc, spec);
	int rc = 0;
	for (long long num = 1; rc == 0 && num <= want; num++) {
		json_t *body = container_body(p, svc, spec, (int)num), *c,
		       *cur = NULL;
		char cname[300], path[400];
		size_t i;
		if (!body) {
			rc = -1;
			break;
		}
		json_array_foreach(have, i, c)
		{
			if (atoll(jsonx_str(jsonx_obj(c, "Labels"), N_LABEL,
					    "0")) == num)
				cur = c;
		}
		snprintf(cname, sizeof(cname), "%s_%s_%lld", p->name, svc, num);
		const char *hash =
			jsonx_str(jsonx_obj(body, "Labels"), H_LABEL, "");
		if (cur &&
		    !strcmp(jsonx_str(jsonx_obj(cur, "Labels"), H_LABEL, ""),
			    hash)) {
			if (strcmp(jsonx_str(cur, "State", ""), "running")) {
				printf("Starting %s\n", cname);
				snprintf(path, sizeof(path),
					 "/containers/%s/start",
					 jsonx_str(cur, "Id", ""));
				rc = cli__call(cli, "POST", path, NULL, NULL);
			} else {
				printf("%s is up-to-date\n", cname);
			}
		} else {
			if (cur)
				rc = remove_ctr(cli, cur, false);
			if (rc == 0)
				rc = create_one(cli, p, svc, spec, body, cname);
		}
		json_decref(body);
	}
	/* Replicas beyond the count (docker-compose up --scale down). */
	size_t i;
	json_t *c;
	json_array_foreach(rc == 0 ? have : NULL, i, c)
	{
		if (atoll(jsonx_str(jsonx_obj(c, "Labels"), N_LABEL, "0")) >
		    want)
			rc = remove_ctr(cli, c, false);
	}
	json_decref(have);
	fflush(stdout);
	return rc;
}

/* The services in an order that starts each after its depends_on (by
 * name otherwise); NULL (printed) for a cycle. Owned. */
static json_t *start_order(const struct project *p)
{
	const json_t *svcs = json_object_get(p->stack, "Services");
	const json_t *local = json_object_get(p->stack, "Local");
	json_t *order = json_array(), *x;
	const char *name;
	bool progress = true;
	while (order && progress &&
	       json_array_size(order) < json_object_size(svcs)) {
		progress = false;
		json_object_foreach((json_t *)svcs, name, x)
		{
			bool done = false, ready = true;
			size_t i;
			json_t *d, *y;
			json_array_foreach(order, i, y)
			{
				done |= !strcmp(json_string_value(y), name);
			}
			json_array_foreach(
				json_object_get(json_object_get(local, name),
						"DependsOn"),
				i, d)
			{
				bool started = false;
				size_t j;
				json_array_foreach(order, j, y)
				{
					started |= json_equal(y, d);
				}
				ready &= started;
			}
			if (done || !ready)
				continue;
			json_array_append_new(order, json_string(name));
			progress = true;
		}
	}
	if (order && json_array_size(order) < json_object_size(svcs)) {
		fprintf(stderr, "Circular dependency between services:");
		json_object_foreach((json_t *)svcs, name, x)
		{
			bool done = false;
			size_t i;
			json_t *y;
			json_array_foreach(order, i, y)
			{
				done |= !strcmp(json_string_value(y), name);
			}
			if (!done)
				fprintf(stderr, " %s", name);
		}
		fprintf(stderr, "\n");
		json_decref(order);
		return NULL;
	}
	return order;
}

static int compose_up(struct cli *cli, struct project *p, int argc, char **argv)
{
	bool detach = false;
	struct cli_flag flags[] = {{"detach", 'd', CLI_FLAG_BOOL, &detach}};
	int first = cli_flags("compose up", flags, 1, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal compose up [-d] [SERVICE...]\n\nCreate "
		       "and start containers; without -d, follow their logs "
		       "until they end or ^C stops them\n");
		return 0;
	}
	if (first < 0)
		return 1;
	const json_t *svcs = json_object_get(p->stack, "Services");
	for (int i = first; i < argc; i++)
		if (!json_object_get(svcs, argv[i])) {
			fprintf(stderr, "No such service: %s\n", argv[i]);
			return 1;
		}
	/* A cycle is refused before anything is made. */
	json_t *order = start_order(p);
	size_t k;
	json_t *nm;
	if (!order)
		return 1;
	if (ensure_networks(cli, p) < 0 || ensure_volumes(cli, p) < 0) {
		json_decref(order);
		return 1;
	}
	json_array_foreach(order, k, nm)
	{
		const char *name = json_string_value(nm);
		bool pick = first >= argc;
		for (int i = first; i < argc; i++)
			pick |= !strcmp(argv[i], name);
		if (pick &&
		    up_service(cli, p, name, json_object_get(svcs, name)) < 0) {
			json_decref(order);
			return 1;
		}
	}
	json_decref(order);
	return detach ? 0
		      : cli__compose_follow(cli, p, argc - first, argv + first);
}

/* ---------------------------------------------------------------- down */

static int compose_down(struct cli *cli, struct project *p, int argc,
			char **argv)
{
	bool vols = false;
	struct cli_flag flags[] = {{"volumes", 'v', CLI_FLAG_BOOL, &vols}};
	int first = cli_flags("compose down", flags, 1, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal compose down [-v]\n\nStop and remove "
		       "containers, networks and (-v) volumes\n");
		return 0;
	}
	if (first < 0)
		return 1;
	if (first < argc) {
		fprintf(stderr, "\"shoal compose down\" accepts no "
				"arguments.\n");
		return 1;
	}
	int rc = 0;
	size_t i;
	json_t *x;
	json_t *ctrs = cli__compose_by_label(cli, "/containers/json?all=1",
					     p->name, NULL);
	if (!ctrs)
		return 1;
	json_array_foreach(ctrs, i, x)
	{
		if (remove_ctr(cli, x, false) < 0)
			rc = 1;
	}
	json_decref(ctrs);
	json_t *nets = cli__compose_by_label(cli, "/networks", p->name, NULL);
	json_array_foreach(nets, i, x)
	{
		char path[300];
		printf("Removing network %s\n", jsonx_str(x, "Name", ""));
		snprintf(path, sizeof(path), "/networks/%s",
			 jsonx_str(x, "Id", ""));
		if (cli__call(cli, "DELETE", path, NULL, NULL) < 0)
			rc = 1;
	}
	json_decref(nets);
	if (!vols)
		return rc;
	json_t *vs = cli__compose_by_label(cli, "/volumes", p->name, NULL);
	json_array_foreach(vs, i, x)
	{
		char path[300];
		printf("Removing volume %s\n", jsonx_str(x, "Name", ""));
		snprintf(path, sizeof(path), "/volumes/%s",
			 jsonx_str(x, "Name", ""));
		if (cli__call(cli, "DELETE", path, NULL, NULL) < 0)
			rc = 1;
	}
	json_decref(vs);
	return rc;
}

/* ---------------------------------------------------------------- main */

typedef int compose_fn(struct cli *cli, struct project *p, int argc,
		       char **argv);

static void usage(void)
{
	printf("Usage:  shoal compose [-f FILE]... [-p PROJECT] COMMAND\n\n"
	       "Run a compose file on this host (no swarm)\n\nCommands:\n"
	       "  down        Stop and remove containers, networks and (-v) "
	       "volumes\n"
	       "  logs        View output from containers\n"
	       "  ps          List containers\n"
	       "  up          Create and start containers\n");
}

int cli_cmd_compose(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		compose_fn *fn;
	} cmds[] = {{"down", compose_down},
		    {"logs", cli__compose_logs},
		    {"ps", cli__compose_ps},
		    {"up", compose_up}};
	struct project p;
	memset(&p, 0, sizeof(p));
	const char *name = NULL;
	struct cli_flag flags[] = {
		{"file", 'f', CLI_FLAG_LIST, &p.files},
		{"project-name", 'p', CLI_FLAG_STR, &name},
	};
	int first = cli_flags("compose", flags, 2, argc, argv, false);
	if (first == -2 || (first >= 0 && first >= argc)) {
		usage();
		return first == -2 ? 0 : 1;
	}
	if (first < 0)
		return 1;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[first], cmds[i].name))
			continue;
		if (load(&p, name) < 0)
			return 1;
		int rc = cmds[i].fn(cli, &p, argc - first, argv + first);
		json_decref(p.stack);
		return rc;
	}
	fprintf(stderr,
		"shoal compose: unknown command \"%s\" (down, logs, "
		"ps, up)\n",
		argv[first]);
	return 1;
}
