/*
 * The flags of `shoal service create` and `shoal service update` as the
 * docker CLI spells them, into Docker's ServiceSpec JSON (Docker Engine
 * API, ServiceSpec; docker/cli's service/opts.go and update.go are the
 * reference for what each flag sets and its defaults).
 *
 * create starts from an empty spec; update starts from the service's
 * current spec and changes only what a flag names: scalar flags replace,
 * the -add/-rm pairs edit lists (env by name, labels by key, mounts by
 * target, hosts by name, ulimits by name), as docker does. A value that
 * does not parse is an error naming the flag, before anything is sent.
 */
#include "cli/ctr.h"
#include "cli/service.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sopts {
	bool detach, quiet, no_healthcheck, read_only, init, init_set, force,
		rollback, tty, no_resolve, rebalance;
	const char *name, *replicas, *mode, *max_concurrent, *max_per_node,
		*entrypoint, *workdir, *user, *hostname, *limit_cpu,
		*limit_memory, *limit_pids, *reserve_cpu, *reserve_memory,
		*restart_condition, *restart_delay, *restart_max_attempts,
		*restart_window, *health_cmd, *health_interval, *health_timeout,
		*health_retries, *health_start_period, *stop_signal,
		*stop_grace_period, *image, *args;
	const char *upd[6], *rb[6]; /* parallelism, delay, failure-action,
				      monitor, max-failure-ratio, order */
	struct cli_list env, env_file, label, container_label, mount,
		constraint, placement_pref, cap_add, cap_drop, ulimit, sysctl,
		dns, dns_search, dns_option, host, secret, config;
	/* update only */
	struct cli_list env_add, env_rm, label_add, label_rm, clabel_add,
		clabel_rm, mount_add, mount_rm, constraint_add, constraint_rm,
		pref_add, pref_rm, ulimit_add, ulimit_rm, sysctl_add, sysctl_rm,
		dns_add, dns_rm, dns_search_add, dns_search_rm, dns_option_add,
		dns_option_rm, host_add, host_rm, secret_add, secret_rm,
		config_add, config_rm;
	bool set_detach;
	struct cli_service_net net;
};

static const char *const upd_names[6] = {"parallelism",	      "delay",
					 "failure-action",    "monitor",
					 "max-failure-ratio", "order"};

#define B(n, s, d)                                                             \
	{                                                                      \
		n, s, CLI_FLAG_BOOL, d                                         \
	}
#define S(n, s, d)                                                             \
	{                                                                      \
		n, s, CLI_FLAG_STR, d                                          \
	}
#define L(n, s, d)                                                             \
	{                                                                      \
		n, s, CLI_FLAG_LIST, d                                         \
	}

static size_t common_flags(struct sopts *o, struct cli_flag *f)
{
	size_t n = 0;
	struct cli_flag c[] = {
		B("detach", 'd', &o->detach),
		B("quiet", 'q', &o->quiet),
		S("replicas", 0, &o->replicas),
		S("max-concurrent", 0, &o->max_concurrent),
		S("replicas-max-per-node", 0, &o->max_per_node),
		S("entrypoint", 0, &o->entrypoint),
		S("workdir", 'w', &o->workdir),
		S("user", 'u', &o->user),
		S("hostname", 0, &o->hostname),
		S("limit-cpu", 0, &o->limit_cpu),
		S("limit-memory", 0, &o->limit_memory),
		S("limit-pids", 0, &o->limit_pids),
		S("reserve-cpu", 0, &o->reserve_cpu),
		S("reserve-memory", 0, &o->reserve_memory),
		S("restart-condition", 0, &o->restart_condition),
		S("restart-delay", 0, &o->restart_delay),
		S("restart-max-attempts", 0, &o->restart_max_attempts),
		S("restart-window", 0, &o->restart_window),
		S("update-parallelism", 0, &o->upd[0]),
		S("update-delay", 0, &o->upd[1]),
		S("update-failure-action", 0, &o->upd[2]),
		S("update-monitor", 0, &o->upd[3]),
		S("update-max-failure-ratio", 0, &o->upd[4]),
		S("update-order", 0, &o->upd[5]),
		S("rollback-parallelism", 0, &o->rb[0]),
		S("rollback-delay", 0, &o->rb[1]),
		S("rollback-failure-action", 0, &o->rb[2]),
		S("rollback-monitor", 0, &o->rb[3]),
		S("rollback-max-failure-ratio", 0, &o->rb[4]),
		S("rollback-order", 0, &o->rb[5]),
		S("health-cmd", 0, &o->health_cmd),
		S("health-interval", 0, &o->health_interval),
		S("health-timeout", 0, &o->health_timeout),
		S("health-retries", 0, &o->health_retries),
		S("health-start-period", 0, &o->health_start_period),
		B("no-healthcheck", 0, &o->no_healthcheck),
		S("stop-signal", 0, &o->stop_signal),
		S("stop-grace-period", 0, &o->stop_grace_period),
		B("read-only", 0, &o->read_only),
		B("init", 0, &o->init),
		B("tty", 't', &o->tty),
		B("no-resolve-image", 0, &o->no_resolve),
		L("cap-add", 0, &o->cap_add),
		L("cap-drop", 0, &o->cap_drop),
		S("endpoint-mode", 0, &o->net.mode),
	};
	memcpy(f + n, c, sizeof(c));
	return n + sizeof(c) / sizeof(c[0]);
}

static size_t create_flags(struct sopts *o, struct cli_flag *f)
{
	size_t n = common_flags(o, f);
	struct cli_flag c[] = {
		S("name", 0, &o->name),
		S("mode", 0, &o->mode),
		L("env", 'e', &o->env),
		L("env-file", 0, &o->env_file),
		L("label", 'l', &o->label),
		L("container-label", 0, &o->container_label),
		L("mount", 0, &o->mount),
		L("constraint", 0, &o->constraint),
		L("placement-pref", 0, &o->placement_pref),
		L("ulimit", 0, &o->ulimit),
		L("sysctl", 0, &o->sysctl),
		L("dns", 0, &o->dns),
		L("dns-search", 0, &o->dns_search),
		L("dns-option", 0, &o->dns_option),
		L("host", 0, &o->host),
		L("network", 0, &o->net.network),
		L("publish", 'p', &o->net.publish),
		L("secret", 0, &o->secret),
		L("config", 0, &o->config),
	};
	memcpy(f + n, c, sizeof(c));
	return n + sizeof(c) / sizeof(c[0]);
}

static size_t update_flags(struct sopts *o, struct cli_flag *f)
{
	size_t n = common_flags(o, f);
	struct cli_flag c[] = {
		S("image", 0, &o->image),
		S("args", 0, &o->args),
		B("force", 0, &o->force),
		B("rollback", 0, &o->rollback),
		B("rebalance", 0, &o->rebalance),
		L("env-add", 0, &o->env_add),
		L("env-rm", 0, &o->env_rm),
		L("label-add", 0, &o->label_add),
		L("label-rm", 0, &o->label_rm),
		L("container-label-add", 0, &o->clabel_add),
		L("container-label-rm", 0, &o->clabel_rm),
		L("mount-add", 0, &o->mount_add),
		L("mount-rm", 0, &o->mount_rm),
		L("constraint-add", 0, &o->constraint_add),
		L("constraint-rm", 0, &o->constraint_rm),
		L("placement-pref-add", 0, &o->pref_add),
		L("placement-pref-rm", 0, &o->pref_rm),
		L("ulimit-add", 0, &o->ulimit_add),
		L("ulimit-rm", 0, &o->ulimit_rm),
		L("sysctl-add", 0, &o->sysctl_add),
		L("sysctl-rm", 0, &o->sysctl_rm),
		L("dns-add", 0, &o->dns_add),
		L("dns-rm", 0, &o->dns_rm),
		L("dns-search-add", 0, &o->dns_search_add),
		L("dns-search-rm", 0, &o->dns_search_rm),
		L("dns-option-add", 0, &o->dns_option_add),
		L("dns-option-rm", 0, &o->dns_option_rm),
		L("host-add", 0, &o->host_add),
		L("host-rm", 0, &o->host_rm),
		L("network-add", 0, &o->net.network_add),
		L("network-rm", 0, &o->net.network_rm),
		L("publish-add", 0, &o->net.publish_add),
		L("publish-rm", 0, &o->net.publish_rm),
		L("secret-add", 0, &o->secret_add),
		L("secret-rm", 0, &o->secret_rm),
		L("config-add", 0, &o->config_add),
		L("config-rm", 0, &o->config_rm),
	};
	memcpy(f + n, c, sizeof(c));
	return n + sizeof(c) / sizeof(c[0]);
}

/* ------------------------------------------------------------ helpers */

static int bad(const char *flag, const char *val, const char *why)
{
	fprintf(stderr, "invalid argument \"%s\" for \"--%s\" flag: %s\n", val,
		flag, why);
	return -1;
}

/* An object member, made when absent. */
static json_t *obj(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(o, key, v);
	}
	return v;
}

static json_t *arr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_array(v)) {
		v = json_array();
		json_object_set_new(o, key, v);
	}
	return v;
}

static int uint_of(const char *flag, const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < 0) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"--%s\" flag: "
			"strconv.ParseUint: parsing \"%s\": invalid syntax\n",
			s, flag, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int dur_of(const char *flag, const char *s, int64_t *out)
{
	if (time_parse_duration(s, out) < 0 || *out < 0) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"--%s\" flag: time: "
			"invalid duration \"%s\"\n",
			s, flag, s);
		return -1;
	}
	return 0;
}

static int cpu_of(const char *flag, const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || v < 0)
		return bad(flag, s, "failed to parse as a decimal");
	*out = (int64_t)(v * 1e9 + 0.5);
	return 0;
}

static int mem_of(const char *flag, const char *s, int64_t *out)
{
	*out = cli_parse_size(s);
	if (*out < 0)
		return bad(flag, s, "invalid size");
	return 0;
}

/* A shell-like split (quotes and backslashes) of @s into a JSON array. */
static json_t *shlex(const char *s)
{
	json_t *a = json_array();
	char word[4096];
	size_t n = 0;
	bool in = false;
	char q = 0;
	for (const char *p = s;; p++) {
		char c = *p;
		if (!c || (!q && isspace((unsigned char)c))) {
			if (in)
				json_array_append_new(a, json_stringn(word, n));
			in = false;
			n = 0;
			if (!c)
				break;
			continue;
		}
		in = true;
		if (!q && (c == '\'' || c == '"')) {
			q = c;
			continue;
		}
		if (q && c == q) {
			q = 0;
			continue;
		}
		if (c == '\\' && q != '\'' && p[1])
			c = *++p;
		if (n < sizeof(word) - 1)
			word[n++] = c;
	}
	return a;
}

/* Remove from array @a the strings whose key (up to @sep, or the whole
 * string) is @key. */
static void rm_keyed(json_t *a, const char *key, char sep)
{
	for (size_t i = json_array_size(a); i-- > 0;) {
		const char *s = json_string_value(json_array_get(a, i));
		size_t kl = strlen(key);
		if (!s)
			continue;
		const char *e = sep ? strchr(s, sep) : NULL;
		size_t sl = e ? (size_t)(e - s) : strlen(s);
		if (sl == kl && !strncmp(s, key, kl))
			json_array_remove(a, i);
	}
}

static void add_unique(json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (!strcmp(json_string_value(json_array_get(a, i)), s))
			return;
	json_array_append_new(a, json_string(s));
}

/* "K=V" into an object; "K" alone means "" (docker's labels). */
static void kv_set(json_t *o, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char k[512];
	snprintf(k, sizeof(k), "%.*s", eq ? (int)(eq - kv) : (int)strlen(kv),
		 kv);
	json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
}

/* ------------------------------------------------------------- mounts */

static int mount_of(const char *flag, const char *csv, json_t **out)
{
	json_t *m = json_pack("{s:s}", "Type", "volume");
	char buf[2048];
	char *save = NULL;
	snprintf(buf, sizeof(buf), "%s", csv);
	for (char *f = strtok_r(buf, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		const char *v = eq ? eq + 1 : NULL;
		if (eq)
			*eq = '\0';
		if (!strcmp(f, "readonly") || !strcmp(f, "ro")) {
			bool ro = !v || !strcmp(v, "1") || !strcmp(v, "true");
			if (v && !ro && strcmp(v, "0") && strcmp(v, "false"))
				goto bad_value;
			json_object_set_new(m, "ReadOnly", json_boolean(ro));
			continue;
		}
		if (!strcmp(f, "volume-nocopy") && !v) {
			json_object_set_new(obj(m, "VolumeOptions"), "NoCopy",
					    json_true());
			continue;
		}
		if (!v) {
			fprintf(stderr,
				"invalid argument \"%s\" for \"--%s\" flag: "
				"invalid field '%s' must be a key=value pair\n",
				csv, flag, f);
			goto fail;
		}
		if (!strcmp(f, "type")) {
			json_object_set_new(m, "Type", json_string(v));
		} else if (!strcmp(f, "source") || !strcmp(f, "src")) {
			json_object_set_new(m, "Source", json_string(v));
		} else if (!strcmp(f, "target") || !strcmp(f, "dst") ||
			   !strcmp(f, "destination")) {
			json_object_set_new(m, "Target", json_string(v));
		} else if (!strcmp(f, "consistency")) {
			json_object_set_new(m, "Consistency", json_string(v));
		} else if (!strcmp(f, "bind-propagation")) {
			json_object_set_new(obj(m, "BindOptions"),
					    "Propagation", json_string(v));
		} else if (!strcmp(f, "volume-driver")) {
			json_object_set_new(
				obj(obj(m, "VolumeOptions"), "DriverConfig"),
				"Name", json_string(v));
		} else if (!strcmp(f, "volume-label")) {
			kv_set(obj(obj(m, "VolumeOptions"), "Labels"), v);
		} else if (!strcmp(f, "volume-opt")) {
			kv_set(obj(obj(obj(m, "VolumeOptions"), "DriverConfig"),
				   "Options"),
			       v);
		} else if (!strcmp(f, "volume-nocopy")) {
			bool nc = !strcmp(v, "1") || !strcmp(v, "true");
			json_object_set_new(obj(m, "VolumeOptions"), "NoCopy",
					    json_boolean(nc));
		} else if (!strcmp(f, "tmpfs-size")) {
			int64_t sz = cli_parse_size(v);
			if (sz < 0)
				goto bad_value;
			json_object_set_new(obj(m, "TmpfsOptions"), "SizeBytes",
					    json_integer(sz));
		} else if (!strcmp(f, "tmpfs-mode")) {
			char *end;
			long mode = strtol(v, &end, 8);
			if (!*v || *end || mode < 0)
				goto bad_value;
			json_object_set_new(obj(m, "TmpfsOptions"), "Mode",
					    json_integer(mode));
		} else {
			fprintf(stderr,
				"invalid argument \"%s\" for \"--%s\" flag: "
				"unexpected key '%s' in '%s'\n",
				csv, flag, f, csv);
			goto fail;
		}
	}
	if (!*jsonx_str(m, "Target", "")) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"--%s\" flag: target is "
			"required\n",
			csv, flag);
		goto fail;
	}
	*out = m;
	return 0;
bad_value:
	fprintf(stderr,
		"invalid argument \"%s\" for \"--%s\" flag: invalid "
		"value in '%s'\n",
		csv, flag, csv);
fail:
	json_decref(m);
	return -1;
}

/* ---------------------------------------------------- the spec's parts */

static int set_mode(const struct sopts *o, json_t *spec, bool update)
{
	json_t *mode = obj(spec, "Mode");
	int64_t v;
	if (!update) {
		const char *m = o->mode ? o->mode : "replicated";
		json_object_clear(mode);
		if (!strcmp(m, "replicated"))
			json_object_set_new(mode, "Replicated",
					    json_pack("{s:i}", "Replicas", 1));
		else if (!strcmp(m, "global"))
			json_object_set_new(mode, "Global", json_object());
		else if (!strcmp(m, "replicated-job"))
			json_object_set_new(mode, "ReplicatedJob",
					    json_pack("{s:i, s:i}",
						      "MaxConcurrent", 1,
						      "TotalCompletions", 1));
		else if (!strcmp(m, "global-job"))
			json_object_set_new(mode, "GlobalJob", json_object());
		else
			return bad("mode", m,
				   "must be replicated, global, "
				   "replicated-job or global-job");
	}
	json_t *rep = json_object_get(mode, "Replicated");
	json_t *job = json_object_get(mode, "ReplicatedJob");
	if (o->replicas) {
		if (uint_of("replicas", o->replicas, &v) < 0)
			return -1;
		if (rep)
			json_object_set_new(rep, "Replicas", json_integer(v));
		else if (job)
			json_object_set_new(job, "TotalCompletions",
					    json_integer(v));
		else {
			fprintf(stderr, "replicas can only be used with "
					"replicated or replicated-job mode\n");
			return -1;
		}
	}
	if (o->max_concurrent) {
		if (!job) {
			fprintf(stderr, "max-concurrent can only be used with "
					"replicated-job mode\n");
			return -1;
		}
		if (uint_of("max-concurrent", o->max_concurrent, &v) < 0)
			return -1;
		json_object_set_new(job, "MaxConcurrent", json_integer(v));
	}
	if (o->max_per_node) {
		if (uint_of("replicas-max-per-node", o->max_per_node, &v) < 0)
			return -1;
		json_object_set_new(obj(obj(spec, "TaskTemplate"), "Placement"),
				    "MaxReplicas", json_integer(v));
	}
	return 0;
}

static int set_env(const struct sopts *o, json_t *cs)
{
	json_t *env = arr(cs, "Env");
	for (size_t i = 0; i < o->env_file.n; i++) {
		FILE *f = fopen(o->env_file.v[i], "r");
		char line[8192];
		if (!f) {
			fprintf(stderr, "open %s: %s\n", o->env_file.v[i],
				strerror(errno));
			return -1;
		}
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = '\0';
			char *p = line;
			while (isspace((unsigned char)*p))
				p++;
			if (!*p || *p == '#')
				continue;
			if (!strchr(p, '=')) {
				const char *val = getenv(p);
				if (!val)
					continue;
				char kv[8400];
				snprintf(kv, sizeof(kv), "%s=%s", p, val);
				json_array_append_new(env, json_string(kv));
			} else {
				json_array_append_new(env, json_string(p));
			}
		}
		fclose(f);
	}
	const struct cli_list *lists[] = {&o->env, &o->env_add};
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			const char *e = lists[l]->v[i];
			char kv[8400];
			if (!strchr(e, '=')) {
				const char *val = getenv(e);
				if (!val)
					continue; /* docker drops it too */
				snprintf(kv, sizeof(kv), "%s=%s", e, val);
				e = kv;
			}
			char key[512];
			snprintf(key, sizeof(key), "%.*s",
				 (int)(strchr(e, '=') - e), e);
			rm_keyed(env, key, '=');
			json_array_append_new(env, json_string(e));
		}
	}
	for (size_t i = 0; i < o->env_rm.n; i++)
		rm_keyed(env, o->env_rm.v[i], '=');
	return 0;
}

static void set_labels(json_t *o, const struct cli_list *set,
		       const struct cli_list *add, const struct cli_list *rm)
{
	for (size_t i = 0; i < set->n; i++)
		kv_set(o, set->v[i]);
	for (size_t i = 0; i < add->n; i++)
		kv_set(o, add->v[i]);
	for (size_t i = 0; i < rm->n; i++) {
		char k[512];
		snprintf(k, sizeof(k), "%.*s", (int)strcspn(rm->v[i], "="),
			 rm->v[i]);
		json_object_del(o, k);
	}
}

static int set_mounts(const struct sopts *o, json_t *cs)
{
	json_t *ms = arr(cs, "Mounts");
	for (size_t i = 0; i < o->mount_rm.n; i++)
		for (size_t k = json_array_size(ms); k-- > 0;)
			if (!strcmp(jsonx_str(json_array_get(ms, k), "Target",
					      ""),
				    o->mount_rm.v[i]))
				json_array_remove(ms, k);
	const struct cli_list *lists[] = {&o->mount, &o->mount_add};
	const char *names[] = {"mount", "mount-add"};
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			json_t *m;
			if (mount_of(names[l], lists[l]->v[i], &m) < 0)
				return -1;
			const char *tgt = jsonx_str(m, "Target", "");
			for (size_t k = json_array_size(ms); k-- > 0;)
				if (!strcmp(jsonx_str(json_array_get(ms, k),
						      "Target", ""),
					    tgt))
					json_array_remove(ms, k);
			json_array_append_new(ms, m);
		}
	}
	return 0;
}

/* ------------------------------------------------- secrets and configs */

/* "NAME" or "source=NAME,target=T,uid=U,gid=G,mode=0444" (docker's
 * --secret and --config) into a reference by name; the managers resolve
 * the name to its id. */
static int ref_of(const char *flag, const char *csv, bool secret, json_t **out)
{
	char buf[1024], src[1024] = "", tgt[1024] = "", uid[1024] = "0",
			gid[1024] = "0";
	long mode = 0444;
	snprintf(buf, sizeof(buf), "%s", csv);
	if (!strchr(buf, '=')) {
		snprintf(src, sizeof(src), "%s", buf);
	} else {
		for (char *save = NULL, *f = strtok_r(buf, ",", &save); f;
		     f = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(f, '=');
			if (!eq)
				return bad(flag, csv,
					   "invalid field: expected "
					   "key=value");
			*eq++ = '\0';
			char *end;
			if (!strcmp(f, "source") || !strcmp(f, "src"))
				snprintf(src, sizeof(src), "%s", eq);
			else if (!strcmp(f, "target"))
				snprintf(tgt, sizeof(tgt), "%s", eq);
			else if (!strcmp(f, "uid"))
				snprintf(uid, sizeof(uid), "%s", eq);
			else if (!strcmp(f, "gid"))
				snprintf(gid, sizeof(gid), "%s", eq);
			else if (!strcmp(f, "mode") &&
				 (mode = strtol(eq, &end, 8),
				  !*end && *eq && mode >= 0 && mode <= 0777))
				continue;
			else
				return bad(flag, csv,
					   !strcmp(f, "mode")
						   ? "invalid mode: an octal "
						     "number up to 0777"
						   : "invalid field: use "
						     "source, target, uid, "
						     "gid or mode");
		}
	}
	if (!*src)
		return bad(flag, csv, "source is required");
	if (!*tgt)
		snprintf(tgt, sizeof(tgt), secret ? "%s" : "/%s", src);
	*out = json_pack("{s:s, s:{s:s, s:s, s:s, s:i}}",
			 secret ? "SecretName" : "ConfigName", src, "File",
			 "Name", tgt, "UID", uid, "GID", gid, "Mode",
			 (int)mode);
	return *out ? 0 : -1;
}

static int set_refs(const struct cli_list *set, const struct cli_list *add,
		    const struct cli_list *rm, bool secret, json_t *cs)
{
	const char *key = secret ? "Secrets" : "Configs";
	const char *nk = secret ? "SecretName" : "ConfigName";
	const char *ik = secret ? "SecretID" : "ConfigID";
	if (!set->n && !add->n && !rm->n)
		return 0;
	json_t *rs = arr(cs, key);
	for (size_t i = 0; i < rm->n; i++)
		for (size_t k = json_array_size(rs); k-- > 0;) {
			const json_t *r = json_array_get(rs, k);
			if (!strcmp(jsonx_str(r, nk, ""), rm->v[i]) ||
			    !strcmp(jsonx_str(r, ik, ""), rm->v[i]))
				json_array_remove(rs, k);
		}
	const struct cli_list *lists[] = {set, add};
	const char *names[2][2] = {{"config", "config-add"},
				   {"secret", "secret-add"}};
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			json_t *r;
			if (ref_of(names[secret][l], lists[l]->v[i], secret,
				   &r) < 0)
				return -1;
			json_array_append_new(rs, r);
		}
	return 0;
}

static int set_placement(const struct sopts *o, json_t *tt)
{
	json_t *pl = obj(tt, "Placement");
	json_t *cons = arr(pl, "Constraints");
	for (size_t i = 0; i < o->constraint.n; i++)
		add_unique(cons, o->constraint.v[i]);
	for (size_t i = 0; i < o->constraint_add.n; i++)
		add_unique(cons, o->constraint_add.v[i]);
	for (size_t i = 0; i < o->constraint_rm.n; i++)
		rm_keyed(cons, o->constraint_rm.v[i], 0);
	json_t *prefs = arr(pl, "Preferences");
	const struct cli_list *lists[] = {&o->placement_pref, &o->pref_add,
					  &o->pref_rm};
	const char *names[] = {"placement-pref", "placement-pref-add",
			       "placement-pref-rm"};
	for (size_t l = 0; l < 3; l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			const char *p = lists[l]->v[i];
			if (strncmp(p, "spread=", 7) || !p[7])
				return bad(names[l], p,
					   "the only placement preference is "
					   "spread=DESCRIPTOR");
			if (l < 2) {
				json_array_append_new(
					prefs,
					json_pack("{s:{s:s}}", "Spread",
						  "SpreadDescriptor", p + 7));
				continue;
			}
			for (size_t k = json_array_size(prefs); k-- > 0;)
				if (!strcmp(jsonx_str(
						    jsonx_obj(json_array_get(
								      prefs, k),
							      "Spread"),
						    "SpreadDescriptor", ""),
					    p + 7))
					json_array_remove(prefs, k);
		}
	}
	return 0;
}

static int set_resources(const struct sopts *o, json_t *tt)
{
	json_t *res = obj(tt, "Resources");
	int64_t v;
	const struct {
		const char *flag, *val, *part, *key;
		int (*parse)(const char *, const char *, int64_t *);
	} f[] = {
		{"limit-cpu", o->limit_cpu, "Limits", "NanoCPUs", cpu_of},
		{"limit-memory", o->limit_memory, "Limits", "MemoryBytes",
		 mem_of},
		{"limit-pids", o->limit_pids, "Limits", "Pids", uint_of},
		{"reserve-cpu", o->reserve_cpu, "Reservations", "NanoCPUs",
		 cpu_of},
		{"reserve-memory", o->reserve_memory, "Reservations",
		 "MemoryBytes", mem_of},
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!f[i].val)
			continue;
		if (f[i].parse(f[i].flag, f[i].val, &v) < 0)
			return -1;
		json_object_set_new(obj(res, f[i].part), f[i].key,
				    json_integer(v));
	}
	return 0;
}

static int set_restart(const struct sopts *o, json_t *tt)
{
	int64_t v;
	if (!o->restart_condition && !o->restart_delay &&
	    !o->restart_max_attempts && !o->restart_window)
		return 0;
	json_t *rp = obj(tt, "RestartPolicy");
	if (o->restart_condition) {
		const char *c = o->restart_condition;
		if (strcmp(c, "none") && strcmp(c, "on-failure") &&
		    strcmp(c, "any"))
			return bad("restart-condition", c,
				   "must be none, on-failure or any");
		json_object_set_new(rp, "Condition", json_string(c));
	}
	if (o->restart_delay) {
		if (dur_of("restart-delay", o->restart_delay, &v) < 0)
			return -1;
		json_object_set_new(rp, "Delay", json_integer(v));
	}
	if (o->restart_max_attempts) {
		if (uint_of("restart-max-attempts", o->restart_max_attempts,
			    &v) < 0)
			return -1;
		json_object_set_new(rp, "MaxAttempts", json_integer(v));
	}
	if (o->restart_window) {
		if (dur_of("restart-window", o->restart_window, &v) < 0)
			return -1;
		json_object_set_new(rp, "Window", json_integer(v));
	}
	return 0;
}

/* UpdateConfig or RollbackConfig; docker's defaults on create. */
static int set_update(const char *const *vals, const char *prefix,
		      const char *key, json_t *spec, bool update)
{
	json_t *u = json_object_get(spec, key);
	char flag[64];
	int64_t v;
	if (!json_is_object(u)) {
		u = json_pack("{s:i, s:s, s:I, s:f, s:s}", "Parallelism", 1,
			      "FailureAction", "pause", "Monitor",
			      (json_int_t)5000000000LL, "MaxFailureRatio", 0.0,
			      "Order", "stop-first");
		json_object_set_new(spec, key, u);
	}
	(void)update;
	for (size_t i = 0; i < 6; i++) {
		const char *s = vals[i];
		if (!s)
			continue;
		snprintf(flag, sizeof(flag), "%s-%s", prefix, upd_names[i]);
		if (i == 0) {
			if (uint_of(flag, s, &v) < 0)
				return -1;
			json_object_set_new(u, "Parallelism", json_integer(v));
		} else if (i == 1 || i == 3) {
			if (dur_of(flag, s, &v) < 0)
				return -1;
			json_object_set_new(u, i == 1 ? "Delay" : "Monitor",
					    json_integer(v));
		} else if (i == 2) {
			if (strcmp(s, "pause") && strcmp(s, "continue") &&
			    strcmp(s, "rollback"))
				return bad(flag, s,
					   "must be pause, continue or "
					   "rollback");
			if (!strcmp(s, "rollback") &&
			    !strcmp(prefix, "rollback"))
				return bad(flag, s,
					   "must be pause or continue");
			json_object_set_new(u, "FailureAction", json_string(s));
		} else if (i == 4) {
			char *end;
			double r = strtod(s, &end);
			if (!*s || *end || r < 0 || r > 1)
				return bad(flag, s,
					   "must be a number between 0 and 1");
			json_object_set_new(u, "MaxFailureRatio", json_real(r));
		} else {
			if (strcmp(s, "start-first") && strcmp(s, "stop-first"))
				return bad(flag, s,
					   "must be start-first or stop-first");
			json_object_set_new(u, "Order", json_string(s));
		}
	}
	return 0;
}

static int set_health(const struct sopts *o, json_t *cs)
{
	int64_t v;
	bool any = o->health_cmd || o->health_interval || o->health_timeout ||
		   o->health_retries || o->health_start_period;
	if (o->no_healthcheck && any) {
		fprintf(stderr, "--no-healthcheck conflicts with --health-* "
				"options\n");
		return -1;
	}
	if (o->no_healthcheck) {
		json_object_set_new(cs, "Healthcheck",
				    json_pack("{s:[s]}", "Test", "NONE"));
		return 0;
	}
	if (!any)
		return 0;
	json_t *hc = obj(cs, "Healthcheck");
	if (o->health_cmd)
		json_object_set_new(
			hc, "Test",
			json_pack("[s, s]", "CMD-SHELL", o->health_cmd));
	const char *durs[] = {o->health_interval, o->health_timeout,
			      o->health_start_period};
	const char *keys[] = {"Interval", "Timeout", "StartPeriod"};
	const char *flags[] = {"health-interval", "health-timeout",
			       "health-start-period"};
	for (size_t i = 0; i < 3; i++) {
		if (!durs[i])
			continue;
		if (dur_of(flags[i], durs[i], &v) < 0)
			return -1;
		json_object_set_new(hc, keys[i], json_integer(v));
	}
	if (o->health_retries) {
		if (uint_of("health-retries", o->health_retries, &v) < 0)
			return -1;
		json_object_set_new(hc, "Retries", json_integer(v));
	}
	return 0;
}

int cli__health_json(const char *cmd, const char *interval, const char *timeout,
		     const char *retries, const char *start_period, bool none,
		     json_t **out)
{
	struct sopts o;
	json_t *cs = json_object();
	memset(&o, 0, sizeof(o));
	o.health_cmd = cmd;
	o.health_interval = interval;
	o.health_timeout = timeout;
	o.health_retries = retries;
	o.health_start_period = start_period;
	o.no_healthcheck = none;
	*out = NULL;
	if (!cs || set_health(&o, cs) < 0) {
		json_decref(cs);
		return -1;
	}
	*out = json_incref(json_object_get(cs, "Healthcheck"));
	json_decref(cs);
	return 0;
}

static int ulimit_json(const char *flag, const char *s, json_t *a)
{
	char name[64];
	long long soft, hard;
	int n = 0;
	const char *eq = strchr(s, '=');
	if (!eq || eq == s || (size_t)(eq - s) >= sizeof(name))
		return bad(flag, s, "invalid ulimit argument");
	snprintf(name, sizeof(name), "%.*s", (int)(eq - s), s);
	bool pair = sscanf(eq + 1, "%lld:%lld%n", &soft, &hard, &n) == 2 &&
		    !eq[1 + n];
	if (!pair && sscanf(eq + 1, "%lld%n", &soft, &n) == 1 && !eq[1 + n])
		hard = soft;
	else if (!pair)
		return bad(flag, s, "invalid ulimit argument");
	if (soft > hard)
		return bad(flag, s,
			   "ulimit soft limit must be less than or "
			   "equal to hard limit");
	for (size_t i = json_array_size(a); i-- > 0;)
		if (!strcmp(jsonx_str(json_array_get(a, i), "Name", ""), name))
			json_array_remove(a, i);
	json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "Name", name,
					   "Soft", (json_int_t)soft, "Hard",
					   (json_int_t)hard));
	return 0;
}

/* --host NAME:IP into Docker's "IP NAME". */
static int host_entry(const char *flag, const char *s, char *out, size_t cap)
{
	const char *c = strchr(s, ':');
	if (!c || c == s || !c[1])
		return bad(flag, s, "bad format for add-host");
	snprintf(out, cap, "%s %.*s", c + 1, (int)(c - s), s);
	return 0;
}

static int set_container_misc(const struct sopts *o, json_t *cs)
{
	int64_t v;
	char line[600];
	if (o->entrypoint)
		json_object_set_new(cs, "Command", shlex(o->entrypoint));
	if (o->args)
		json_object_set_new(cs, "Args", shlex(o->args));
	if (o->image)
		json_object_set_new(cs, "Image", json_string(o->image));
	if (o->workdir)
		json_object_set_new(cs, "Dir", json_string(o->workdir));
	if (o->user)
		json_object_set_new(cs, "User", json_string(o->user));
	if (o->hostname)
		json_object_set_new(cs, "Hostname", json_string(o->hostname));
	if (o->stop_signal)
		json_object_set_new(cs, "StopSignal",
				    json_string(o->stop_signal));
	if (o->stop_grace_period) {
		if (dur_of("stop-grace-period", o->stop_grace_period, &v) < 0)
			return -1;
		json_object_set_new(cs, "StopGracePeriod", json_integer(v));
	}
	if (o->read_only)
		json_object_set_new(cs, "ReadOnly", json_true());
	if (o->tty)
		json_object_set_new(cs, "TTY", json_true());
	if (o->init)
		json_object_set_new(cs, "Init", json_true());
	for (size_t i = 0; i < o->cap_add.n; i++)
		add_unique(arr(cs, "CapabilityAdd"), o->cap_add.v[i]);
	for (size_t i = 0; i < o->cap_drop.n; i++)
		add_unique(arr(cs, "CapabilityDrop"), o->cap_drop.v[i]);
	json_t *ul = arr(cs, "Ulimits");
	for (size_t i = 0; i < o->ulimit_rm.n; i++)
		for (size_t k = json_array_size(ul); k-- > 0;)
			if (!strcmp(jsonx_str(json_array_get(ul, k), "Name",
					      ""),
				    o->ulimit_rm.v[i]))
				json_array_remove(ul, k);
	for (size_t i = 0; i < o->ulimit.n; i++)
		if (ulimit_json("ulimit", o->ulimit.v[i], ul) < 0)
			return -1;
	for (size_t i = 0; i < o->ulimit_add.n; i++)
		if (ulimit_json("ulimit-add", o->ulimit_add.v[i], ul) < 0)
			return -1;
	set_labels(obj(cs, "Sysctls"), &o->sysctl, &o->sysctl_add,
		   &o->sysctl_rm);
	json_t *dns = obj(cs, "DNSConfig");
	const struct {
		const char *key;
		const struct cli_list *set, *add, *rm;
	} d[] = {
		{"Nameservers", &o->dns, &o->dns_add, &o->dns_rm},
		{"Search", &o->dns_search, &o->dns_search_add,
		 &o->dns_search_rm},
		{"Options", &o->dns_option, &o->dns_option_add,
		 &o->dns_option_rm},
	};
	for (size_t k = 0; k < 3; k++) {
		json_t *a = arr(dns, d[k].key);
		for (size_t i = 0; i < d[k].set->n; i++)
			add_unique(a, d[k].set->v[i]);
		for (size_t i = 0; i < d[k].add->n; i++)
			add_unique(a, d[k].add->v[i]);
		for (size_t i = 0; i < d[k].rm->n; i++)
			rm_keyed(a, d[k].rm->v[i], 0);
	}
	json_t *hosts = arr(cs, "Hosts");
	for (size_t i = 0; i < o->host_rm.n; i++) {
		/* by host name: "IP NAME" entries naming it go */
		const char *name = o->host_rm.v[i];
		size_t nl = strcspn(name, ":");
		for (size_t k = json_array_size(hosts); k-- > 0;) {
			const char *h =
				json_string_value(json_array_get(hosts, k));
			const char *sp = h ? strchr(h, ' ') : NULL;
			if (sp && strlen(sp + 1) == nl &&
			    !strncmp(sp + 1, name, nl))
				json_array_remove(hosts, k);
		}
	}
	for (size_t i = 0; i < o->host.n; i++) {
		if (host_entry("host", o->host.v[i], line, sizeof(line)) < 0)
			return -1;
		add_unique(hosts, line);
	}
	for (size_t i = 0; i < o->host_add.n; i++) {
		if (host_entry("host-add", o->host_add.v[i], line,
			       sizeof(line)) < 0)
			return -1;
		add_unique(hosts, line);
	}
	return 0;
}

/* Empty members added on the way out go again: the spec stays as small
 * as the user's flags make it. */
static void prune_empty(json_t *o)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o, tmp, k, v)
	{
		if (json_is_object(v) && strcmp(k, "Global") &&
		    strcmp(k, "GlobalJob"))
			prune_empty(v);
		if ((json_is_object(v) && json_object_size(v) == 0 &&
		     strcmp(k, "Global") && strcmp(k, "GlobalJob")) ||
		    (json_is_array(v) && json_array_size(v) == 0))
			json_object_del(o, k);
	}
}

static bool last_rebalance;

bool cli__service_rebalance(void)
{
	return last_rebalance;
}

int cli__service_opts(const char *cmd, int argc, char **argv, bool update,
		      json_t *spec, bool *detach, bool *quiet, bool *rollback)
{
	static struct sopts o;
	struct cli_flag flags[128];
	memset(&o, 0, sizeof(o));
	size_t n = update ? update_flags(&o, flags) : create_flags(&o, flags);
	int first = cli_flags(cmd, flags, n, argc, argv, update);
	if (first < 0)
		return first;
	*detach = o.detach;
	*quiet = o.quiet;
	*rollback = o.rollback;
	last_rebalance = o.rebalance;
	if (o.name)
		json_object_set_new(spec, "Name", json_string(o.name));
	json_t *tt = obj(spec, "TaskTemplate");
	json_t *cs = obj(tt, "ContainerSpec");
	if (set_mode(&o, spec, update) < 0 || set_env(&o, cs) < 0 ||
	    set_mounts(&o, cs) < 0 || set_placement(&o, tt) < 0 ||
	    set_resources(&o, tt) < 0 || set_restart(&o, tt) < 0 ||
	    set_update(o.upd, "update", "UpdateConfig", spec, update) < 0 ||
	    set_update(o.rb, "rollback", "RollbackConfig", spec, update) < 0 ||
	    set_health(&o, cs) < 0 || set_container_misc(&o, cs) < 0 ||
	    cli__service_net(spec, &o.net) < 0 ||
	    set_refs(&o.secret, &o.secret_add, &o.secret_rm, true, cs) < 0 ||
	    set_refs(&o.config, &o.config_add, &o.config_rm, false, cs) < 0)
		return -1;
	set_labels(obj(spec, "Labels"), &o.label, &o.label_add, &o.label_rm);
	set_labels(obj(cs, "Labels"), &o.container_label, &o.clabel_add,
		   &o.clabel_rm);
	if (o.force)
		json_object_set_new(
			tt, "ForceUpdate",
			json_integer(jsonx_int(tt, "ForceUpdate", 0) + 1));
	prune_empty(spec);
	/* The container spec and the task template are never left out. */
	obj(obj(spec, "TaskTemplate"), "ContainerSpec");
	return first;
}
