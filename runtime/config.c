/*
 * The container's config.json and state.json. config.json is written once
 * by rt_container_create() and read by the monitor, the exec helper and by
 * every later struct rt (daemon restarts); state.json is written by the
 * monitor (running, exited) with an atomic rename, so a reader sees either
 * the old or the new state, never a torn one. Both are validated on read:
 * a file from disk is outside input.
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "common/alloc.h"
#include "runtime/internal.h"

#define CONFIG_MAX (1 << 20)

static const char *const kind_names[] = {"bind", "volume", "anonymous",
					 "tmpfs"};

void rt__config_free(struct rt__config *c)
{
	if (!c)
		return;
	shoal_free(c->name);
	rt__strv_free(c->lower, c->n_lower);
	rt__strv_free(c->argv, c->argc);
	rt__strv_free(c->env, c->n_env);
	shoal_free(c->hostname);
	shoal_free(c->user);
	shoal_free(c->workdir);
	for (size_t i = 0; i < c->n_mounts; i++) {
		shoal_free(c->mounts[i].source);
		shoal_free(c->mounts[i].target);
		shoal_free(c->mounts[i].volume);
		shoal_free(c->mounts[i].options);
	}
	shoal_free(c->mounts);
	shoal_free(c->seccomp);
	shoal_free(c->network);
	shoal_free(c->rlimits);
	shoal_free(c->cgroup_parent);
	shoal_free(c->dir);
	shoal_free(c->run_dir);
	shoal_free(c->annotations);
	shoal_free(c->init_path);
	shoal_free(c->cpuset_cpus);
	shoal_free(c->cpuset_mems);
	rt__strv_free(c->group_add, c->n_group_add);
	rt__strv_free(c->sysctls, c->n_sysctls);
	rt__devices_free(c);
	rt__strv_free(c->dev_rules, c->n_dev_rules);
	shoal_free(c->pid_mode);
	shoal_free(c->ipc_mode);
	shoal_free(c->uts_mode);
	shoal_free(c->log_driver);
	shoal_free(c);
}

/* json_dumps() allocates with jansson's allocator; copy into ours. */
static char *dump(json_t *o, size_t flags)
{
	json_free_t jfree;
	char *t = json_dumps(o, flags), *s;

	if (!t)
		return NULL;
	s = shoal_strdup(t);
	json_get_alloc_funcs(NULL, &jfree);
	jfree(t);
	return s;
}

/* A local check: the monitor links no more of common/ than it needs. */
static bool id_ok(const char *id)
{
	if (!id || strlen(id) != RT_ID_LEN)
		return false;
	for (size_t i = 0; i < RT_ID_LEN; i++)
		if (!strchr("0123456789abcdef", id[i]))
			return false;
	return true;
}

static json_t *strv_json(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The block of docker run's runtime flags (struct rt__config). */
static int flags_to_json(const struct rt__config *c, json_t *o)
{
	json_t *devs = json_array();
	int rc = 0;

	for (size_t i = 0; devs && i < c->n_devices; i++) {
		const struct rt__device *d = &c->devices[i];
		json_array_append_new(
			devs,
			json_pack("{s:s,s:s,s:s,s:s#,s:i,s:i,s:i,s:i,s:i}",
				  "host", d->host, "path", d->path, "perms",
				  d->perms, "type", &d->type, (size_t)1,
				  "major", (int)d->major, "minor",
				  (int)d->minor, "mode", (int)d->mode, "uid",
				  (int)d->uid, "gid", (int)d->gid));
	}
	rc |= json_object_set_new(o, "devices", devs ? devs : json_array());
	rc |= json_object_set_new(o, "init_path", str_or_null(c->init_path));
	rc |= json_object_set_new(o, "shm_size", json_integer(c->shm_size));
	rc |= json_object_set_new(o, "memory_swap",
				  json_integer(c->memory_swap));
	rc |= json_object_set_new(o, "memory_swappiness",
				  json_integer(c->memory_swappiness));
	rc |= json_object_set_new(o, "oom_kill_disable",
				  json_boolean(c->oom_kill_disable));
	rc |= json_object_set_new(o, "oom_score_adj",
				  c->oom_score_adj_set
					  ? json_integer(c->oom_score_adj)
					  : json_null());
	rc |= json_object_set_new(o, "cpuset_cpus",
				  str_or_null(c->cpuset_cpus));
	rc |= json_object_set_new(o, "cpuset_mems",
				  str_or_null(c->cpuset_mems));
	rc |= json_object_set_new(o, "group_add",
				  strv_json(c->group_add, c->n_group_add));
	rc |= json_object_set_new(o, "sysctls",
				  strv_json(c->sysctls, c->n_sysctls));
	rc |= json_object_set_new(o, "device_rules",
				  strv_json(c->dev_rules, c->n_dev_rules));
	rc |= json_object_set_new(
		o, "pid_mode",
		json_string(c->pid_mode ? c->pid_mode : "private"));
	rc |= json_object_set_new(
		o, "ipc_mode",
		json_string(c->ipc_mode ? c->ipc_mode : "private"));
	rc |= json_object_set_new(
		o, "uts_mode",
		json_string(c->uts_mode ? c->uts_mode : "private"));
	rc |= json_object_set_new(o, "cgroupns_host",
				  json_boolean(c->cgroupns_host));
	rc |= json_object_set_new(
		o, "log_driver",
		json_string(c->log_driver ? c->log_driver : "json-file"));
	rc |= json_object_set_new(o, "log_max_size",
				  json_integer(c->log_max_size));
	rc |= json_object_set_new(o, "log_max_file",
				  json_integer(c->log_max_file));
	rc |= json_object_set_new(o, "log_compress",
				  json_boolean(c->log_compress));
	return rc ? -ENOMEM : 0;
}

char *rt__config_to_json(const struct rt__config *c)
{
	json_t *o = json_object(), *mounts = json_array(), *rl = json_array();
	char *text;

	if (!o || !mounts || !rl) {
		json_decref(o);
		json_decref(mounts);
		json_decref(rl);
		return NULL;
	}
	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct rt__mount *m = &c->mounts[i];
		json_array_append_new(
			mounts,
			json_pack("{s:s,s:o,s:s,s:o,s:o,s:b}", "kind",
				  kind_names[m->kind], "source",
				  str_or_null(m->source), "target", m->target,
				  "volume", str_or_null(m->volume), "options",
				  str_or_null(m->options), "readonly",
				  m->readonly));
	}
	for (size_t i = 0; i < c->n_rlimits; i++)
		json_array_append_new(
			rl, json_pack("{s:i,s:I,s:I}", "resource",
				      c->rlimits[i].resource, "soft",
				      (json_int_t)c->rlimits[i].soft, "hard",
				      (json_int_t)c->rlimits[i].hard));
	json_object_set_new(o, "id", json_string(c->id));
	json_object_set_new(o, "name", str_or_null(c->name));
	json_object_set_new(o, "lower", strv_json(c->lower, c->n_lower));
	json_object_set_new(o, "argv", strv_json(c->argv, c->argc));
	json_object_set_new(o, "env", strv_json(c->env, c->n_env));
	json_object_set_new(o, "hostname", json_string(c->hostname));
	json_object_set_new(o, "user", str_or_null(c->user));
	json_object_set_new(o, "workdir", json_string(c->workdir));
	json_object_set_new(o, "tty", json_boolean(c->tty));
	json_object_set_new(o, "open_stdin", json_boolean(c->open_stdin));
	json_object_set_new(o, "privileged", json_boolean(c->privileged));
	json_object_set_new(o, "no_new_privs", json_boolean(c->no_new_privs));
	json_object_set_new(o, "readonly_rootfs",
			    json_boolean(c->readonly_rootfs));
	json_object_set_new(o, "mounts", mounts);
	json_object_set_new(o, "caps", json_integer((json_int_t)c->caps));
	json_object_set_new(o, "seccomp", json_string(c->seccomp));
	json_object_set_new(o, "network", json_string(c->network));
	json_object_set_new(o, "userns_host_id",
			    json_integer(c->userns_host_id));
	json_object_set_new(o, "userns_size", json_integer(c->userns_size));
	json_object_set_new(o, "memory", json_integer(c->memory));
	json_object_set_new(o, "memory_reservation",
			    json_integer(c->memory_reservation));
	json_object_set_new(o, "cpu_shares", json_integer(c->cpu_shares));
	json_object_set_new(o, "nano_cpus", json_integer(c->nano_cpus));
	json_object_set_new(o, "pids_limit", json_integer(c->pids_limit));
	json_object_set_new(o, "rlimits", rl);
	json_object_set_new(o, "cgroup_parent", json_string(c->cgroup_parent));
	json_object_set_new(o, "dir", json_string(c->dir));
	json_object_set_new(o, "run_dir", json_string(c->run_dir));
	json_object_set_new(o, "created", json_integer(c->created_ns));
	json_object_set_new(o, "annotations", str_or_null(c->annotations));
	if (flags_to_json(c, o) < 0) {
		json_decref(o);
		return NULL;
	}
	text = dump(o, JSON_INDENT(1));
	json_decref(o);
	return text;
}

static int get_strv(json_t *o, const char *key, char ***out, size_t *n)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > RT_MAX_ITEMS)
		return -EINVAL;
	*out = shoal_calloc(json_array_size(a) + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return -EINVAL;
		(*out)[i] = shoal_strdup(json_string_value(v));
		if (!(*out)[i])
			return -ENOMEM;
		*n = i + 1;
	}
	return 0;
}

static int get_str(json_t *o, const char *key, bool nullable, char **out)
{
	json_t *v = json_object_get(o, key);

	if (nullable && (!v || json_is_null(v)))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	*out = shoal_strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int get_mounts(json_t *o, struct rt__config *c)
{
	json_t *a = json_object_get(o, "mounts"), *m;
	size_t i;
	int rc;

	if (!json_is_array(a) || json_array_size(a) > RT_MAX_ITEMS)
		return -EINVAL;
	c->mounts = shoal_calloc(json_array_size(a) + 1, sizeof(*c->mounts));
	if (!c->mounts)
		return -ENOMEM;
	json_array_foreach(a, i, m)
	{
		struct rt__mount *x = &c->mounts[i];
		const char *kind =
			json_string_value(json_object_get(m, "kind"));
		size_t k;
		c->n_mounts = i + 1;
		for (k = 0; kind && k < 4; k++)
			if (!strcmp(kind, kind_names[k]))
				break;
		if (!kind || k == 4)
			return -EINVAL;
		x->kind = (enum rt_mount_kind)k;
		x->readonly = json_is_true(json_object_get(m, "readonly"));
		if ((rc = get_str(m, "source", true, &x->source)) < 0 ||
		    (rc = get_str(m, "target", false, &x->target)) < 0 ||
		    (rc = get_str(m, "volume", true, &x->volume)) < 0 ||
		    (rc = get_str(m, "options", true, &x->options)) < 0)
			return rc;
		if (x->target[0] != '/' ||
		    (x->kind != RT_MOUNT_TMPFS && !x->source))
			return -EINVAL;
	}
	return 0;
}

static int get_rlimits(json_t *o, struct rt__config *c)
{
	json_t *a = json_object_get(o, "rlimits"), *r;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > 64)
		return -EINVAL;
	c->rlimits = shoal_calloc(json_array_size(a) + 1, sizeof(*c->rlimits));
	if (!c->rlimits)
		return -ENOMEM;
	json_array_foreach(a, i, r)
	{
		json_t *res = json_object_get(r, "resource");
		if (!json_is_integer(res))
			return -EINVAL;
		c->rlimits[i].resource = (int)json_integer_value(res);
		c->rlimits[i].soft = (uint64_t)json_integer_value(
			json_object_get(r, "soft"));
		c->rlimits[i].hard = (uint64_t)json_integer_value(
			json_object_get(r, "hard"));
		c->n_rlimits = i + 1;
	}
	return 0;
}

static int64_t get_int(json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

/* A string of @key that must be one of @allowed. */
static int get_enum(json_t *o, const char *key, const char *const *allowed,
		    char **out)
{
	json_t *j = json_object_get(o, key);
	const char *v = j ? json_string_value(j) : allowed[0];

	/* Absent: a config.json written before the field existed. */
	for (size_t i = 0; v && allowed[i]; i++)
		if (!strcmp(v, allowed[i]) ||
		    (!strcmp(allowed[i], "ctr:") && !strncmp(v, "ctr:", 4) &&
		     id_ok(v + 4))) {
			*out = shoal_strdup(v);
			return *out ? 0 : -ENOMEM;
		}
	return -EINVAL;
}

static int devices_from(json_t *a, struct rt__config *c);

static int get_devices(json_t *o, struct rt__config *c)
{
	json_t *a = json_object_get(o, "devices");
	int rc;

	if (!a)
		a = json_array(); /* written before --device existed */
	else
		json_incref(a);
	if (!json_is_array(a) || json_array_size(a) > 256) {
		json_decref(a);
		return -EINVAL;
	}
	rc = devices_from(a, c);
	json_decref(a);
	return rc;
}

static int devices_from(json_t *a, struct rt__config *c)
{
	json_t *d;
	size_t i;
	int rc;

	c->devices = shoal_calloc(json_array_size(a) + 1, sizeof(*c->devices));
	if (!c->devices)
		return -ENOMEM;
	json_array_foreach(a, i, d)
	{
		struct rt__device *x = &c->devices[i];
		const char *perms =
			json_string_value(json_object_get(d, "perms"));
		const char *type =
			json_string_value(json_object_get(d, "type"));
		c->n_devices = i + 1;
		if ((rc = get_str(d, "host", false, &x->host)) < 0 ||
		    (rc = get_str(d, "path", false, &x->path)) < 0)
			return rc;
		if (!perms || strlen(perms) > 3 || !type ||
		    (strcmp(type, "c") && strcmp(type, "b")) ||
		    strncmp(x->path, "/dev/", 5) || strstr(x->path, ".."))
			return -EINVAL;
		snprintf(x->perms, sizeof(x->perms), "%s", perms);
		x->type = type[0];
		x->major = (unsigned)get_int(d, "major");
		x->minor = (unsigned)get_int(d, "minor");
		x->mode = (unsigned)get_int(d, "mode") & 07777;
		x->uid = (unsigned)get_int(d, "uid");
		x->gid = (unsigned)get_int(d, "gid");
	}
	return 0;
}

/* get_strv() of a list added later: absent is empty. */
static int get_strv_opt(json_t *o, const char *key, char ***out, size_t *n)
{
	if (json_object_get(o, key))
		return get_strv(o, key, out, n);
	*out = shoal_calloc(1, sizeof(char *));
	return *out ? 0 : -ENOMEM;
}

static int flags_from_json(json_t *o, struct rt__config *c)
{
	static const char *const pid[] = {"private", "host", "ctr:", NULL};
	static const char *const ipc[] = {"private", "shareable", "host",
					  "ctr:", NULL};
	static const char *const uts[] = {"private", "host", NULL};
	static const char *const logd[] = {"json-file", "local", "none", NULL};
	json_t *adj = json_object_get(o, "oom_score_adj");
	int rc;

	if ((rc = get_devices(o, c)) < 0 ||
	    (rc = get_str(o, "init_path", true, &c->init_path)) < 0 ||
	    (rc = get_str(o, "cpuset_cpus", true, &c->cpuset_cpus)) < 0 ||
	    (rc = get_str(o, "cpuset_mems", true, &c->cpuset_mems)) < 0 ||
	    (rc = get_strv_opt(o, "group_add", &c->group_add,
			       &c->n_group_add)) < 0 ||
	    (rc = get_strv_opt(o, "sysctls", &c->sysctls, &c->n_sysctls)) < 0 ||
	    (rc = get_strv_opt(o, "device_rules", &c->dev_rules,
			       &c->n_dev_rules)) < 0 ||
	    (rc = get_enum(o, "pid_mode", pid, &c->pid_mode)) < 0 ||
	    (rc = get_enum(o, "ipc_mode", ipc, &c->ipc_mode)) < 0 ||
	    (rc = get_enum(o, "uts_mode", uts, &c->uts_mode)) < 0 ||
	    (rc = get_enum(o, "log_driver", logd, &c->log_driver)) < 0)
		return rc;
	for (size_t i = 0; i < c->n_dev_rules; i++)
		if (rt_parse_device_rule(c->dev_rules[i], NULL) < 0)
			return -EINVAL;
	for (size_t i = 0; i < c->n_sysctls; i++)
		if (!strchr(c->sysctls[i], '=') ||
		    strstr(c->sysctls[i], "..") || strchr(c->sysctls[i], '/'))
			return -EINVAL;
	c->shm_size = get_int(o, "shm_size");
	c->memory_swap = get_int(o, "memory_swap");
	c->memory_swappiness = json_object_get(o, "memory_swappiness")
				       ? get_int(o, "memory_swappiness")
				       : -1;
	c->oom_kill_disable =
		json_is_true(json_object_get(o, "oom_kill_disable"));
	c->oom_score_adj_set = json_is_integer(adj);
	c->oom_score_adj = (int)json_integer_value(adj);
	c->cgroupns_host = json_is_true(json_object_get(o, "cgroupns_host"));
	c->log_max_size = get_int(o, "log_max_size");
	c->log_max_file = (int)get_int(o, "log_max_file");
	c->log_compress = json_is_true(json_object_get(o, "log_compress"));
	if (c->shm_size < 0 || c->log_max_size < 0 || c->log_max_file < 0 ||
	    c->oom_score_adj < -1000 || c->oom_score_adj > 1000)
		return -EINVAL;
	return 0;
}

int rt__config_from_json(const char *text, struct rt__config **out,
			 struct shoal_err *err)
{
	struct rt__config *c;
	json_error_t jerr;
	json_t *o;
	char *id = NULL;
	int rc;

	o = json_loads(text, 0, &jerr);
	if (!o || !json_is_object(o)) {
		rt__err(err, "corrupt container config: %s",
			o ? "not an object" : jerr.text);
		json_decref(o);
		return -EINVAL;
	}
	c = shoal_calloc(1, sizeof(*c));
	if (!c) {
		json_decref(o);
		return -ENOMEM;
	}
	if ((rc = get_str(o, "id", false, &id)) < 0)
		goto err_free;
	if (!id_ok(id)) {
		rc = -EINVAL;
		goto err_free;
	}
	memcpy(c->id, id, RT_ID_LEN + 1);
	if ((rc = get_str(o, "name", true, &c->name)) < 0 ||
	    (rc = get_strv(o, "lower", &c->lower, &c->n_lower)) < 0 ||
	    (rc = get_strv(o, "argv", &c->argv, &c->argc)) < 0 ||
	    (rc = get_strv(o, "env", &c->env, &c->n_env)) < 0 ||
	    (rc = get_str(o, "hostname", false, &c->hostname)) < 0 ||
	    (rc = get_str(o, "user", true, &c->user)) < 0 ||
	    (rc = get_str(o, "workdir", false, &c->workdir)) < 0 ||
	    (rc = get_mounts(o, c)) < 0 ||
	    (rc = get_str(o, "seccomp", false, &c->seccomp)) < 0 ||
	    (rc = get_str(o, "network", false, &c->network)) < 0 ||
	    (rc = get_rlimits(o, c)) < 0 ||
	    (rc = get_str(o, "cgroup_parent", false, &c->cgroup_parent)) < 0 ||
	    (rc = get_str(o, "dir", false, &c->dir)) < 0 ||
	    (rc = get_str(o, "run_dir", false, &c->run_dir)) < 0 ||
	    (rc = get_str(o, "annotations", true, &c->annotations)) < 0 ||
	    (rc = flags_from_json(o, c)) < 0)
		goto err_free;
	if (c->argc == 0 || c->n_lower == 0) {
		rc = -EINVAL;
		goto err_free;
	}
	c->tty = json_is_true(json_object_get(o, "tty"));
	c->open_stdin = json_is_true(json_object_get(o, "open_stdin"));
	c->privileged = json_is_true(json_object_get(o, "privileged"));
	c->no_new_privs = json_is_true(json_object_get(o, "no_new_privs"));
	c->readonly_rootfs =
		json_is_true(json_object_get(o, "readonly_rootfs"));
	c->caps = (uint64_t)get_int(o, "caps");
	c->userns_host_id = (uint32_t)get_int(o, "userns_host_id");
	c->userns_size = (uint32_t)get_int(o, "userns_size");
	c->memory = get_int(o, "memory");
	c->memory_reservation = get_int(o, "memory_reservation");
	c->cpu_shares = get_int(o, "cpu_shares");
	c->nano_cpus = get_int(o, "nano_cpus");
	c->pids_limit = get_int(o, "pids_limit");
	c->created_ns = get_int(o, "created");
	shoal_free(id);
	json_decref(o);
	*out = c;
	return 0;
err_free:
	rt__err(err, "corrupt container config: %s",
		rc == -ENOMEM ? "out of memory" : "bad or missing field");
	shoal_free(id);
	rt__config_free(c);
	json_decref(o);
	return rc;
}

int rt__config_load(const char *dir, struct rt__config **out,
		    struct shoal_err *err)
{
	char *path = rt__path("%s/%s", dir, RT_CONFIG_FILE), *text;
	int rc;

	if (!path)
		return -ENOMEM;
	rc = rt__read_file(path, CONFIG_MAX, &text, NULL);
	shoal_free(path);
	if (rc < 0) {
		rt__err(err, "cannot read container config in %s: %s", dir,
			strerror(-rc));
		return rc;
	}
	rc = rt__config_from_json(text, out, err);
	shoal_free(text);
	return rc;
}

static const char *const status_names[] = {"created", "running", "paused",
					   "exited"};

const char *rt_status_name(enum rt_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "unknown";
}

int rt__state_load(const char *dir, struct rt__state *st)
{
	char *path = rt__path("%s/%s", dir, RT_STATE_FILE), *text;
	const char *status, *error;
	json_t *o;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!path)
		return -ENOMEM;
	rc = rt__read_file(path, 65536, &text, NULL);
	shoal_free(path);
	if (rc == -ENOENT) {
		st->status = RT_STATUS_CREATED;
		return 0;
	}
	if (rc < 0)
		return rc;
	o = json_loads(text, 0, NULL);
	shoal_free(text);
	status = json_string_value(json_object_get(o, "status"));
	if (!o || !status) {
		json_decref(o);
		return -EINVAL;
	}
	if (!strcmp(status, "running"))
		st->status = RT_STATUS_RUNNING;
	else if (!strcmp(status, "exited"))
		st->status = RT_STATUS_EXITED;
	else
		st->status = RT_STATUS_CREATED;
	st->pid = (pid_t)get_int(o, "pid");
	st->pid_start = (uint64_t)get_int(o, "pid_start");
	st->monitor_pid = (pid_t)get_int(o, "monitor_pid");
	st->monitor_start = (uint64_t)get_int(o, "monitor_start");
	st->exit_code = (int)get_int(o, "exit_code");
	st->oom_killed = json_is_true(json_object_get(o, "oom_killed"));
	st->started_ns = get_int(o, "started");
	st->finished_ns = get_int(o, "finished");
	st->monitor_maxrss_kb = get_int(o, "monitor_maxrss_kb");
	st->init_maxrss_kb = get_int(o, "init_maxrss_kb");
	error = json_string_value(json_object_get(o, "error"));
	if (error)
		snprintf(st->error, sizeof(st->error), "%s", error);
	json_decref(o);
	return 0;
}

int rt__state_save(const char *dir, const struct rt__state *st)
{
	char *path, *text;
	json_t *o;
	int rc;

	o = json_pack("{s:s,s:i,s:I,s:i,s:I,s:i,s:b,s:I,s:I,s:I,s:I,s:s}",
		      "status", rt_status_name(st->status), "pid", (int)st->pid,
		      "pid_start", (json_int_t)st->pid_start, "monitor_pid",
		      (int)st->monitor_pid, "monitor_start",
		      (json_int_t)st->monitor_start, "exit_code", st->exit_code,
		      "oom_killed", st->oom_killed, "started",
		      (json_int_t)st->started_ns, "finished",
		      (json_int_t)st->finished_ns, "monitor_maxrss_kb",
		      (json_int_t)st->monitor_maxrss_kb, "init_maxrss_kb",
		      (json_int_t)st->init_maxrss_kb, "error", st->error);
	if (!o)
		return -ENOMEM;
	text = dump(o, 0);
	json_decref(o);
	path = rt__path("%s/%s", dir, RT_STATE_FILE);
	if (!text || !path) {
		shoal_free(text);
		shoal_free(path);
		return -ENOMEM;
	}
	rc = rt__write_atomic(path, text, strlen(text));
	shoal_free(text);
	shoal_free(path);
	return rc;
}
