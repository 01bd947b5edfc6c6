/*
 * Decoding a task (task.h). The item comes from the leader, which is
 * trusted to be the leader but not to be bug-free or of the same version:
 * every field is type-checked, every list bounded, and a field of the
 * container spec the agent does not apply is refused with its name (the
 * task is rejected) rather than ignored. Docker's ContainerSpec and
 * TaskSpec as of API 1.44 are the reference.
 */
#define LOG_MODULE "agent"
#include "worker/task_internal.h"

#include "common/alloc.h"
#include "common/jsonx.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ----------------------------------------------------------- container */

/* Fields of ContainerSpec the agent applies, or checks to be default. */
static const char *const cs_applied[] = {
	"Image",	 "Labels",	   "Command",
	"Args",		 "Hostname",	   "Env",
	"Dir",		 "User",	   "Privileges",
	"TTY",		 "OpenStdin",	   "ReadOnly",
	"Mounts",	 "StopSignal",	   "StopGracePeriod",
	"Healthcheck",	 "Hosts",	   "DNSConfig",
	"CapabilityAdd", "CapabilityDrop", "Ulimits",
	"Isolation",	 "Init",	   "Groups",
	"Sysctls",	 "Secrets",	   "Configs",
};

static bool in_list(const char *const *l, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i], s) == 0)
			return true;
	return false;
}

static int labels_from(struct wtask *t, const json_t *cs, size_t *n)
{
	const json_t *l = json_object_get(cs, "Labels");
	const char *k;
	json_t *v;
	char kv[1024];
	if (!l || json_is_null(l))
		return 0;
	if (!json_is_object(l))
		return wtask__bad(t, "ContainerSpec.Labels must be an object");
	json_object_foreach((json_t *)l, k, v)
	{
		if (!json_is_string(v))
			return wtask__bad(
				t,
				"ContainerSpec.Labels.%.100s must be a "
				"string",
				k);
		if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", k,
				     json_string_value(v)) >= sizeof(kv))
			return wtask__bad(
				t, "ContainerSpec.Labels.%.100s is too long",
				k);
		int rc = wtask__strv_push(&t->labels, n, kv);
		if (rc == -E2BIG)
			return wtask__bad(t,
					  "ContainerSpec.Labels has too many "
					  "entries");
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int swarm_labels(struct wtask *t, size_t *n)
{
	const char *const keys[] = {
		"com.docker.swarm.service.id", "com.docker.swarm.service.name",
		"com.docker.swarm.task",       "com.docker.swarm.task.id",
		"com.docker.swarm.task.name",  "com.docker.swarm.node.id",
	};
	const char *const vals[] = {
		t->service_id, t->service_name, "",
		t->id,	       t->task_name,	t->node_id,
	};
	char kv[512];
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(kv, sizeof(kv), "%s=%s", keys[i], vals[i]);
		int rc = wtask__strv_push(&t->labels, n, kv);
		if (rc == -E2BIG)
			return wtask__bad(t,
					  "ContainerSpec.Labels has too many "
					  "entries");
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool abs_path(const char *p)
{
	return p && p[0] == '/' && !strchr(p, ':') && !strchr(p, ',');
}

static int mount_from(struct wtask *t, const struct wtask_node *node,
		      const json_t *m, size_t *nv, size_t *nt)
{
	char buf[4200];
	const char *type = jsonx_str(m, "Type", "");
	const char *tgt = jsonx_str(m, "Target", "");
	char *src = NULL;
	bool ro = jsonx_bool(m, "ReadOnly", false);
	int rc;
	if (!json_is_object(m))
		return wtask__bad(
			t, "ContainerSpec.Mounts must be a list of objects");
	if (!abs_path(tgt))
		return wtask__bad(
			t,
			"invalid mount target, must be an absolute path: "
			"%.200s",
			tgt);
	if (!wtask__is_default(json_object_get(m, "Consistency")) &&
	    strcmp(jsonx_str(m, "Consistency", ""), "default") != 0)
		return wtask__unsupported(t, "Mounts.Consistency");
	rc = wtask__str_from(t, m, "Source", "Mounts.Source", &src);
	if (rc == 0)
		rc = wtask__expand_dup(t, node, "Mounts.Source", &src);
	if (rc < 0)
		goto out;
	if (strcmp(type, "bind") == 0) {
		const json_t *bo = json_object_get(m, "BindOptions");
		const char *prop = jsonx_str(bo, "Propagation", "");
		if (!abs_path(src)) {
			rc = wtask__bad(t,
					"invalid bind mount source, must be an "
					"absolute path: %.200s",
					src ? src : "");
			goto out;
		}
		if ((*prop && strcmp(prop, "rprivate")) ||
		    !wtask__is_default(json_object_get(bo, "NonRecursive")) ||
		    !wtask__is_default(
			    json_object_get(bo, "CreateMountpoint"))) {
			rc = wtask__unsupported(t, "Mounts.BindOptions");
			goto out;
		}
		snprintf(buf, sizeof(buf), "%s:%s%s", src, tgt,
			 ro ? ":ro" : "");
		rc = wtask__strv_push(&t->volumes, nv, buf);
	} else if (strcmp(type, "volume") == 0) {
		const json_t *vo = json_object_get(m, "VolumeOptions");
		const json_t *dc = json_object_get(vo, "DriverConfig");
		const char *drv = jsonx_str(dc, "Name", "");
		const json_t *labels = json_object_get(vo, "Labels");
		const json_t *nocopy = json_object_get(vo, "NoCopy");
		/* NoCopy: Shoal's volumes never get the image's files, so
		 * true is what happens anyway and is accepted. */
		if ((!wtask__is_default(nocopy) && !json_is_boolean(nocopy)) ||
		    (*drv && strcmp(drv, "local")) ||
		    !wtask__is_default(json_object_get(dc, "Options")) ||
		    (!wtask__is_default(labels) && !json_is_object(labels))) {
			rc = wtask__unsupported(t, "Mounts.VolumeOptions");
			goto out;
		}
		if (src && *src && (strchr(src, ':') || strchr(src, '/'))) {
			rc = wtask__bad(t, "invalid volume name: %.200s", src);
			goto out;
		}
		/* Labels of a named volume the task creates (Docker: an
		 * existing volume keeps its own), as "NAME=key=value". */
		const char *lk;
		const json_t *lv;
		json_object_foreach((json_t *)labels, lk, lv)
		{
			if (!src || !*src) {
				rc = wtask__bad(t,
						"VolumeOptions.Labels need a "
						"named volume (Source)");
				goto out;
			}
			if (!json_is_string(lv) || !*lk || strchr(lk, '=')) {
				rc = wtask__bad(t,
						"invalid volume label "
						"\"%.100s\"",
						lk);
				goto out;
			}
			snprintf(buf, sizeof(buf), "%s=%s=%s", src, lk,
				 json_string_value(lv));
			if ((rc = wtask__strv_push(&t->volume_labels,
						   &t->n_volume_labels, buf)) <
			    0)
				goto out;
		}
		if ((!src || !*src) && ro) {
			rc = wtask__bad(
				t, "an anonymous volume cannot be read-only "
				   "in Shoal; name the volume");
			goto out;
		}
		if (src && *src)
			snprintf(buf, sizeof(buf), "%s:%s%s", src, tgt,
				 ro ? ":ro" : "");
		else
			snprintf(buf, sizeof(buf), "%s", tgt);
		rc = wtask__strv_push(&t->volumes, nv, buf);
	} else if (strcmp(type, "tmpfs") == 0) {
		const json_t *to = json_object_get(m, "TmpfsOptions");
		int64_t size = jsonx_int(to, "SizeBytes", 0);
		int64_t mode = jsonx_int(to, "Mode", 0);
		int n = snprintf(buf, sizeof(buf), "%s", tgt);
		const char *sep = ":";
		if (src && *src) {
			rc = wtask__bad(
				t, "invalid mount config for type \"tmpfs\": "
				   "source must not be specified");
			goto out;
		}
		if (size < 0 || mode < 0 || mode > 07777 ||
		    !wtask__is_default(json_object_get(to, "Options"))) {
			rc = wtask__bad(t, "invalid Mounts.TmpfsOptions");
			goto out;
		}
		if (size) {
			n += snprintf(buf + n, sizeof(buf) - n, "%ssize=%lld",
				      sep, (long long)size);
			sep = ",";
		}
		if (mode) {
			n += snprintf(buf + n, sizeof(buf) - n, "%smode=%llo",
				      sep, (long long)mode);
			sep = ",";
		}
		if (ro)
			snprintf(buf + n, sizeof(buf) - n, "%sro", sep);
		rc = wtask__strv_push(&t->tmpfs, nt, buf);
	} else {
		rc = wtask__bad(
			t,
			"mount type \"%.40s\" is not supported; use bind, "
			"volume or tmpfs",
			type);
	}
	if (rc == -E2BIG)
		rc = wtask__bad(t, "ContainerSpec.Mounts has too many entries");
out:
	shoal_free(src);
	return rc;
}

static int mounts_from(struct wtask *t, const struct wtask_node *node,
		       const json_t *cs)
{
	const json_t *ms = json_object_get(cs, "Mounts");
	size_t i, nv = 0, nt = 0;
	json_t *m;
	if (!ms || json_is_null(ms))
		return 0;
	if (!json_is_array(ms) || json_array_size(ms) > WTASK_MAX_LIST)
		return wtask__bad(
			t,
			"ContainerSpec.Mounts must be a list of at most "
			"%d mounts",
			WTASK_MAX_LIST);
	json_array_foreach(ms, i, m)
	{
		int rc = mount_from(t, node, m, &nv, &nt);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* "IP host [alias...]" (Docker's swarm form) into "host:IP" lines. */
static int hosts_from(struct wtask *t, const json_t *cs)
{
	char **raw = NULL;
	size_t n = 0;
	int rc = wtask__strv_from(t, json_object_get(cs, "Hosts"),
				  "ContainerSpec.Hosts", &raw);
	for (size_t i = 0; rc == 0 && raw && raw[i]; i++) {
		char *save = NULL, line[512], kv[600];
		snprintf(line, sizeof(line), "%s", raw[i]);
		char *ip = strtok_r(line, " \t", &save);
		char *h = ip ? strtok_r(NULL, " \t", &save) : NULL;
		if (!h) {
			rc = wtask__bad(
				t,
				"invalid ContainerSpec.Hosts entry "
				"\"%.100s\": expected \"IP HOSTNAME...\"",
				raw[i]);
			break;
		}
		for (; h && rc == 0; h = strtok_r(NULL, " \t", &save)) {
			snprintf(kv, sizeof(kv), "%s:%s", h, ip);
			rc = wtask__strv_push(&t->extra_hosts, &n, kv);
		}
	}
	if (rc == -E2BIG)
		rc = wtask__bad(t, "ContainerSpec.Hosts has too many entries");
	wtask__strv_free(raw);
	return rc;
}

static int ulimits_from(struct wtask *t, const json_t *cs)
{
	const json_t *ul = json_object_get(cs, "Ulimits");
	size_t i;
	json_t *u;
	char s[160];
	if (!ul || json_is_null(ul))
		return 0;
	if (!json_is_array(ul) || json_array_size(ul) > WTASK_MAX_RLIMITS)
		return wtask__bad(
			t,
			"ContainerSpec.Ulimits must be a list of at most "
			"%d limits",
			WTASK_MAX_RLIMITS);
	json_array_foreach(ul, i, u)
	{
		const char *name = jsonx_str(u, "Name", "");
		int64_t soft = jsonx_int(u, "Soft", -1);
		int64_t hard = jsonx_int(u, "Hard", -1);
		snprintf(s, sizeof(s), "%.64s=%lld:%lld", name, (long long)soft,
			 (long long)hard);
		if (soft < 0 || hard < 0 ||
		    rt_parse_ulimit(s, &t->rlimits[t->rlimit_count]) < 0)
			return wtask__bad(t, "invalid ulimit %.100s", s);
		t->rlimit_count++;
	}
	return 0;
}

static int dur_from(struct wtask *t, const json_t *o, const char *key,
		    int64_t *out)
{
	char field[64];
	snprintf(field, sizeof(field), "Healthcheck.%s", key);
	int rc = wtask__int_from(t, o, key, field, out);
	if (rc == 0 && *out != 0 && *out < 1000000)
		return wtask__bad(
			t, "%s in Healthcheck cannot be less than 1ms", key);
	return rc;
}

static int health_from(struct wtask *t, const json_t *cs)
{
	const json_t *hc = json_object_get(cs, "Healthcheck");
	int64_t retries = 0;
	int rc;
	if (!hc || json_is_null(hc))
		return 0;
	if (!json_is_object(hc))
		return wtask__bad(
			t, "ContainerSpec.Healthcheck must be an object");
	rc = wtask__strv_from(t, json_object_get(hc, "Test"),
			      "Healthcheck.Test", &t->health_test);
	if (rc < 0)
		return rc;
	if (t->health_test && t->health_test[0]) {
		const char *k = t->health_test[0];
		if (strcmp(k, "NONE") && strcmp(k, "CMD") &&
		    strcmp(k, "CMD-SHELL"))
			return wtask__bad(
				t,
				"Healthcheck.Test must start with NONE, "
				"CMD or CMD-SHELL, not %.40s",
				k);
		if (strcmp(k, "NONE") && !t->health_test[1])
			return wtask__bad(
				t, "Healthcheck.Test %s needs a command", k);
	} else if (t->health_test) {
		wtask__strv_free(t->health_test); /* [] inherits, as Docker */
		t->health_test = NULL;
	}
	if ((rc = dur_from(t, hc, "Interval", &t->health.interval_ns)) < 0 ||
	    (rc = dur_from(t, hc, "Timeout", &t->health.timeout_ns)) < 0 ||
	    (rc = dur_from(t, hc, "StartPeriod", &t->health.start_period_ns)) <
		    0 ||
	    (rc = wtask__int_from(t, hc, "Retries", "Healthcheck.Retries",
				  &retries)) < 0)
		return rc;
	if (!wtask__is_default(json_object_get(hc, "StartInterval")))
		return wtask__unsupported(t, "Healthcheck.StartInterval");
	if (retries > 1000)
		return wtask__bad(t,
				  "Healthcheck.Retries must be at most 1000");
	t->health.retries = (int)retries;
	t->health.test = (const char *const *)t->health_test;
	return 0;
}

static int privileges_from(struct wtask *t, const json_t *cs)
{
	const json_t *p = json_object_get(cs, "Privileges");
	const char *k;
	json_t *v;
	if (!p || json_is_null(p))
		return 0;
	if (!json_is_object(p))
		return wtask__bad(t,
				  "ContainerSpec.Privileges must be an object");
	json_object_foreach((json_t *)p, k, v)
	{
		const char *mode = jsonx_str(v, "Mode", "");
		if (strcmp(k, "NoNewPrivileges") == 0) {
			if (!json_is_boolean(v) && !json_is_null(v))
				return wtask__bad(
					t, "Privileges.NoNewPrivileges must "
					   "be true or false");
			t->no_new_privileges = json_is_true(v);
		} else if ((strcmp(k, "Seccomp") == 0 ||
			    strcmp(k, "AppArmor") == 0) &&
			   json_is_object(v) && json_object_size(v) == 1 &&
			   strcmp(mode, "default") == 0) {
			continue;
		} else if (!wtask__is_default(v)) {
			char f[80];
			snprintf(f, sizeof(f), "Privileges.%.40s", k);
			return wtask__unsupported(t, f);
		}
	}
	return 0;
}

static int dns_from(struct wtask *t, const json_t *cs)
{
	const json_t *d = json_object_get(cs, "DNSConfig");
	if (!d || json_is_null(d))
		return 0;
	int rc = wtask__strv_from(t, json_object_get(d, "Search"),
				  "DNSConfig.Search", &t->dns_search);
	if (rc == 0)
		rc = wtask__strv_from(t, json_object_get(d, "Options"),
				      "DNSConfig.Options", &t->dns_options);
	if (rc == 0)
		rc = wtask__strv_from(t, json_object_get(d, "Nameservers"),
				      "DNSConfig.Nameservers", &t->dns);
	return rc;
}

/* ContainerSpec.Sysctls ({"key": "value"}) as the engine's "key=value";
 * which keys a container may set is the runtime's check (namespaced
 * ones only), so a refused key rejects the task with its words. */
static int sysctls_from(struct wtask *t, const json_t *cs)
{
	const json_t *m = json_object_get(cs, "Sysctls");
	const char *k;
	json_t *v;
	size_t n = 0;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return wtask__bad(t, "ContainerSpec.Sysctls must be an object");
	t->sysctls = shoal_calloc(json_object_size(m) + 1, sizeof(char *));
	if (!t->sysctls)
		return -ENOMEM;
	json_object_foreach((json_t *)m, k, v)
	{
		if (!json_is_string(v) || !*k || strchr(k, '='))
			return wtask__bad(t,
					  "invalid ContainerSpec.Sysctls entry "
					  "'%.60s'",
					  k);
		size_t len = strlen(k) + 1 + strlen(json_string_value(v)) + 1;
		t->sysctls[n] = shoal_malloc(len);
		if (!t->sysctls[n])
			return -ENOMEM;
		snprintf(t->sysctls[n++], len, "%s=%s", k,
			 json_string_value(v));
	}
	return 0;
}

static int resources_from(struct wtask *t, const json_t *spec)
{
	const json_t *r = json_object_get(spec, "Resources");
	const json_t *l = json_object_get(r, "Limits");
	const json_t *s = json_object_get(r, "Reservations");
	int64_t ignored;
	int rc;
	if (!wtask__is_default(json_object_get(l, "GenericResources")) ||
	    !wtask__is_default(json_object_get(s, "GenericResources")))
		return wtask__unsupported(t, "Resources.GenericResources");
	if ((rc = wtask__int_from(t, l, "NanoCPUs", "Limits.NanoCPUs",
				  &t->nano_cpus)) < 0 ||
	    (rc = wtask__int_from(t, l, "MemoryBytes", "Limits.MemoryBytes",
				  &t->memory)) < 0 ||
	    (rc = wtask__int_from(t, l, "Pids", "Limits.Pids",
				  &t->pids_limit)) < 0 ||
	    (rc = wtask__int_from(t, s, "MemoryBytes",
				  "Reservations.MemoryBytes",
				  &t->memory_reservation)) < 0)
		return rc;
	/* Reservations.NanoCPUs is the scheduler's, not a limit. */
	return wtask__int_from(t, s, "NanoCPUs", "Reservations.NanoCPUs",
			       &ignored);
}

/* ContainerSpec.Secrets / Configs: a list of references, each naming
 * its object's id and a File; worker/secrets.c writes them. */
static int refs_from(struct wtask *t, const json_t *cs, bool secret)
{
	const char *key = secret ? "Secrets" : "Configs";
	const json_t *a = json_object_get(cs, key);
	size_t i;
	json_t *r;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > WTASK_MAX_LIST)
		return wtask__bad(t,
				  "ContainerSpec.%s must be a list of at most "
				  "%d references",
				  key, WTASK_MAX_LIST);
	json_array_foreach(a, i, r)
	{
		const char *id =
			jsonx_str(r, secret ? "SecretID" : "ConfigID", "");
		const json_t *f = json_object_get(r, "File");
		if (!json_is_object(r) || !*id || !json_is_object(f) ||
		    !*jsonx_str(f, "Name", ""))
			return wtask__bad(t,
					  "ContainerSpec.%s[%zu] needs %s and "
					  "File.Name",
					  key, i,
					  secret ? "SecretID" : "ConfigID");
	}
	return 0;
}

static int container_from(struct wtask *t, const struct wtask_node *node,
			  const json_t *spec)
{
	const json_t *cs = json_object_get(spec, "ContainerSpec");
	const char *k;
	json_t *v;
	size_t nl = 0;
	int64_t grace = 0;
	int rc;
	if (!json_is_object(cs))
		return wtask__bad(t, "the task has no ContainerSpec");
	json_object_foreach((json_t *)cs, k, v)
	{
		if (!in_list(cs_applied,
			     sizeof(cs_applied) / sizeof(*cs_applied), k) &&
		    !wtask__is_default(v)) {
			char f[80];
			snprintf(f, sizeof(f), "ContainerSpec.%.50s", k);
			return wtask__unsupported(t, f);
		}
	}
	t->init = json_is_true(json_object_get(cs, "Init"));
	if (!wtask__is_default(json_object_get(cs, "Isolation")) &&
	    strcmp(jsonx_str(cs, "Isolation", ""), "default") != 0)
		return wtask__unsupported(t, "ContainerSpec.Isolation");
	if ((rc = wtask__str_from(t, cs, "Image", "ContainerSpec.Image",
				  &t->image)) < 0)
		return rc;
	if (!t->image || !*t->image)
		return wtask__bad(t, "the task's ContainerSpec has no Image");
	if ((rc = wtask__strv_from(t, json_object_get(cs, "Command"),
				   "ContainerSpec.Command", &t->entrypoint)) <
		    0 ||
	    (rc = wtask__strv_from(t, json_object_get(cs, "Args"),
				   "ContainerSpec.Args", &t->cmd)) < 0 ||
	    (rc = wtask__strv_from(t, json_object_get(cs, "Env"),
				   "ContainerSpec.Env", &t->env)) < 0 ||
	    (rc = wtask__strv_from(t, json_object_get(cs, "CapabilityAdd"),
				   "ContainerSpec.CapabilityAdd",
				   &t->cap_add)) < 0 ||
	    (rc = wtask__strv_from(t, json_object_get(cs, "CapabilityDrop"),
				   "ContainerSpec.CapabilityDrop",
				   &t->cap_drop)) < 0 ||
	    (rc = wtask__str_from(t, cs, "Hostname", "ContainerSpec.Hostname",
				  &t->hostname)) < 0 ||
	    (rc = wtask__str_from(t, cs, "Dir", "ContainerSpec.Dir",
				  &t->workdir)) < 0 ||
	    (rc = wtask__str_from(t, cs, "User", "ContainerSpec.User",
				  &t->user)) < 0 ||
	    (rc = wtask__str_from(t, cs, "StopSignal",
				  "ContainerSpec.StopSignal",
				  &t->stop_signal_name)) < 0 ||
	    (rc = wtask__bool_from(t, cs, "TTY", "ContainerSpec.TTY",
				   &t->tty)) < 0 ||
	    (rc = wtask__bool_from(t, cs, "OpenStdin",
				   "ContainerSpec.OpenStdin", &t->open_stdin)) <
		    0 ||
	    (rc = wtask__bool_from(t, cs, "ReadOnly", "ContainerSpec.ReadOnly",
				   &t->read_only)) < 0 ||
	    (rc = wtask__int_from(t, cs, "StopGracePeriod",
				  "ContainerSpec.StopGracePeriod", &grace)) < 0)
		return rc;
	if (t->workdir && *t->workdir && t->workdir[0] != '/')
		return wtask__bad(
			t,
			"the working directory '%.200s' is invalid, it "
			"needs to be an absolute path",
			t->workdir);
	if (t->stop_signal_name && *t->stop_signal_name) {
		t->stop_signal = eng_signal_parse(t->stop_signal_name);
		if (t->stop_signal < 0)
			return wtask__bad(t, "invalid signal: %.40s",
					  t->stop_signal_name);
	}
	if (json_object_get(cs, "StopGracePeriod") &&
	    !json_is_null(json_object_get(cs, "StopGracePeriod"))) {
		t->stop_grace_set = true;
		t->stop_grace_ns = grace;
	}
	if ((rc = wtask__expand_dup(t, node, "ContainerSpec.Hostname",
				    &t->hostname)) < 0)
		return rc;
	for (size_t i = 0; t->env && t->env[i]; i++)
		if ((rc = wtask__expand_dup(t, node, "ContainerSpec.Env",
					    &t->env[i])) < 0)
			return rc;
	if ((rc = labels_from(t, cs, &nl)) < 0 ||
	    (rc = swarm_labels(t, &nl)) < 0 ||
	    (rc = mounts_from(t, node, cs)) < 0 ||
	    (rc = hosts_from(t, cs)) < 0 || (rc = ulimits_from(t, cs)) < 0 ||
	    (rc = health_from(t, cs)) < 0 ||
	    (rc = privileges_from(t, cs)) < 0 || (rc = dns_from(t, cs)) < 0 ||
	    (rc = sysctls_from(t, cs)) < 0 ||
	    (rc = refs_from(t, cs, true)) < 0 ||
	    (rc = refs_from(t, cs, false)) < 0 ||
	    (rc = wtask__strv_from(t, json_object_get(cs, "Groups"),
				   "ContainerSpec.Groups", &t->groups)) < 0)
		return rc;
	return resources_from(t, spec);
}

/* The TaskSpec around the container: what the agent must apply. */
static int task_spec_from(struct wtask *t, const struct wtask_node *node,
			  const json_t *spec)
{
	const char *drv = jsonx_str(jsonx_obj(spec, "LogDriver"), "Name", "");
	const char *runtime = jsonx_str(spec, "Runtime", "");
	if (!json_is_object(spec))
		return wtask__bad(t, "the task has no Spec");
	if (!wtask__is_default(json_object_get(spec, "PluginSpec")))
		return wtask__unsupported(t, "TaskSpec.PluginSpec");
	if (!wtask__is_default(json_object_get(spec, "NetworkAttachmentSpec")))
		return wtask__unsupported(t, "TaskSpec.NetworkAttachmentSpec");
	if (*runtime && strcmp(runtime, "container"))
		return wtask__unsupported(
			t, "TaskSpec.Runtime other than container");
	if (*drv && strcmp(drv, "json-file"))
		return wtask__bad(
			t,
			"log driver \"%.40s\" is not supported; Shoal "
			"logs with json-file",
			drv);
	if (!wtask__is_default(
		    json_object_get(jsonx_obj(spec, "LogDriver"), "Options")))
		return wtask__unsupported(t, "TaskSpec.LogDriver.Options");
	return container_from(t, node, spec);
}

/* ---------------------------------------------------------- annotations */

static json_t *strv_json(char **v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* What `docker inspect` shows of a task container's Config and
 * HostConfig, as Docker's executor sets them (api/ overlays what the
 * engine resolved). NULL on allocation failure: inspect shows less. */
static json_t *annotations_of(const struct wtask *t)
{
	json_t *hc = json_pack(
		"{s:I, s:I, s:I, s:I, s:b, s:o, s:o, s:o, s:o, s:{s:s, s:i}}",
		"Memory", (json_int_t)t->memory, "MemoryReservation",
		(json_int_t)t->memory_reservation, "NanoCpus",
		(json_int_t)t->nano_cpus, "PidsLimit",
		(json_int_t)t->pids_limit, "ReadonlyRootfs", t->read_only,
		"CapAdd", strv_json(t->cap_add), "CapDrop",
		strv_json(t->cap_drop), "Dns", strv_json(t->dns), "ExtraHosts",
		strv_json(t->extra_hosts), "RestartPolicy", "Name", "no",
		"MaximumRetryCount", 0);
	json_t *cfg = json_object();
	const json_t *hcheck = json_object_get(
		jsonx_obj(jsonx_obj(t->json, "Spec"), "ContainerSpec"),
		"Healthcheck");
	if (cfg && json_is_object(hcheck))
		json_object_set_new(cfg, "Healthcheck", json_deep_copy(hcheck));
	if (!hc || !cfg) {
		json_decref(hc);
		json_decref(cfg);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "Config", cfg, "HostConfig", hc);
}

/* ---------------------------------------------------------------- task */

static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > WTASK_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* Docker's service names: letters, digits, '-', '_' and '.', starting
 * with a letter or digit, at most 63 characters. */
static bool service_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/*
 * The task's identity. False: the item names no task (no valid ID), and
 * nothing can be reported. Any other flaw (service or node id, name,
 * desired state, slot) is a spec error: the task is rejected with it.
 */
static bool identity_from(struct wtask *t, const json_t *o,
			  struct shoal_err *err)
{
	const char *id = jsonx_str(o, "ID", NULL);
	const char *sid = jsonx_str(o, "ServiceID", "");
	const char *nid = jsonx_str(o, "NodeID", "");
	const char *sname =
		jsonx_str(jsonx_obj(o, "ServiceAnnotations"), "Name", "");
	const char *want = jsonx_str(o, "DesiredState", "");
	const json_t *slot = json_object_get(o, "Slot");
	const json_t *ver = jsonx_obj(o, "Version");
	if (!id_ok(id)) {
		snprintf(err->msg, sizeof(err->msg),
			 "an assignment without a valid task ID");
		return false;
	}
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->desired = WT_RUNNING;
	t->version = (uint64_t)jsonx_int(ver, "Index", 0);
	if (!id_ok(sid) || !id_ok(nid))
		wtask__bad(t, "task %s has no valid ServiceID and NodeID", id);
	else if (!service_name_ok(sname))
		wtask__bad(t, "task %s: invalid service name \"%.80s\"", id,
			   sname);
	else if (wtask_state_parse(want, &t->desired) < 0)
		wtask__bad(t, "task %s: invalid DesiredState \"%.40s\"", id,
			   want);
	else if (slot && !json_is_null(slot) &&
		 (!json_is_integer(slot) || json_integer_value(slot) < 0 ||
		  json_integer_value(slot) > 100000000))
		wtask__bad(t, "task %s: invalid Slot", id);
	if (t->spec_error[0])
		return true;
	snprintf(t->service_id, sizeof(t->service_id), "%s", sid);
	snprintf(t->node_id, sizeof(t->node_id), "%s", nid);
	snprintf(t->service_name, sizeof(t->service_name), "%s", sname);
	t->slot = slot ? json_integer_value(slot) : 0;
	if (t->slot)
		snprintf(t->task_name, sizeof(t->task_name), "%s.%lld.%s",
			 sname, (long long)t->slot, id);
	else
		snprintf(t->task_name, sizeof(t->task_name), "%s.%s.%s", sname,
			 nid, id);
	snprintf(t->container_name, sizeof(t->container_name), "%s",
		 t->task_name);
	if (!rt_name_valid(t->container_name))
		wtask__bad(t, "task %s: invalid container name \"%.100s\"", id,
			   t->container_name);
	return true;
}

/* Items of a set without "Kind" or with "task" are tasks; any other kind
 * (network, ingress, secret, config: docs/overlay.md) is someone else's. */
static bool kind_is_task(const json_t *o, struct shoal_err *err)
{
	const json_t *k = json_object_get(o, "Kind");
	if (!k || (json_is_string(k) && !strcmp(json_string_value(k), "task")))
		return true;
	snprintf(err->msg, sizeof(err->msg), "an item of kind \"%.40s\"",
		 json_is_string(k) ? json_string_value(k) : "?");
	return false;
}

int wtask_decode(const void *data, size_t len, const struct wtask_node *node,
		 struct wtask **out, struct shoal_err *err)
{
	json_t *o = NULL;
	char jerr[200];
	int rc = jsonx_parse_object(data, len, &o, jerr, sizeof(jerr));
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "a malformed assignment: "
			 "%s",
			 jerr);
		return -EINVAL;
	}
	struct wtask *t = shoal_calloc(1, sizeof(*t));
	if (!t) {
		json_decref(o);
		return -ENOMEM;
	}
	t->json = o;
	if (!kind_is_task(o, err)) {
		wtask_free(t);
		return -ENOMSG;
	}
	if (!identity_from(t, o, err)) {
		wtask_free(t);
		return -EINVAL;
	}
	rc = t->spec_error[0]
		     ? 0
		     : task_spec_from(t, node, json_object_get(o, "Spec"));
	if (rc == 0 && !t->spec_error[0])
		rc = wtask__net_from(t, o);
	if (rc == -ENOMEM) {
		wtask_free(t);
		return rc;
	}
	if (rc < 0 && !t->spec_error[0])
		wtask__bad(t, "the task spec cannot be applied (%s)",
			   shoal_strerror(rc));
	if (!t->spec_error[0])
		t->annotations = annotations_of(t);
	*out = t;
	return 0;
}

void wtask_free(struct wtask *t)
{
	if (!t)
		return;
	json_decref(t->json);
	json_decref(t->annotations);
	char **lists[] = {
		t->entrypoint,	t->cmd,	   t->env,	   t->labels,
		t->volumes,	t->tmpfs,  t->cap_add,	   t->cap_drop,
		t->extra_hosts, t->dns,	   t->health_test, t->dns_search,
		t->dns_options, t->groups, t->sysctls,	   t->volume_labels};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		wtask__strv_free(lists[i]);
	char *strs[] = {t->image, t->hostname, t->user, t->workdir,
			t->stop_signal_name};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		shoal_free(strs[i]);
	shoal_free(t->ports);
	shoal_free(t);
}

#define CV(x) ((const char *const *)(x))

void wtask_eng_spec(const struct wtask *t, struct eng_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->name = t->container_name;
	s->image = t->image;
	s->entrypoint = CV(t->entrypoint);
	s->cmd = CV(t->cmd);
	s->env = CV(t->env);
	s->labels = CV(t->labels);
	s->hostname = t->hostname && *t->hostname ? t->hostname : NULL;
	s->user = t->user && *t->user ? t->user : NULL;
	s->workdir = t->workdir && *t->workdir ? t->workdir : NULL;
	s->tty = t->tty;
	s->open_stdin = t->open_stdin;
	s->readonly_rootfs = t->read_only;
	s->no_new_privileges = t->no_new_privileges;
	s->volumes = CV(t->volumes);
	s->tmpfs = CV(t->tmpfs);
	s->cap_add = CV(t->cap_add);
	s->cap_drop = CV(t->cap_drop);
	s->extra_hosts = CV(t->extra_hosts);
	s->dns = CV(t->dns);
	s->dns_search = CV(t->dns_search);
	s->dns_options = CV(t->dns_options);
	s->group_add = CV(t->groups);
	s->sysctls = CV(t->sysctls);
	s->init = t->init;
	s->memory = t->memory;
	s->memory_reservation = t->memory_reservation;
	s->nano_cpus = t->nano_cpus;
	s->pids_limit = t->pids_limit;
	s->rlimits = t->rlimit_count ? t->rlimits : NULL;
	s->rlimit_count = t->rlimit_count;
	s->stop_signal = t->stop_signal;
	if (t->stop_grace_set) {
		s->stop_timeout_set = true;
		s->stop_timeout_s = t->stop_grace_ns / 1000000000LL;
	}
	s->restart.kind = ENG_RESTART_NO;
	s->health = t->health;
	s->annotations = t->annotations;
	if (t->n_nets) {
		s->network_mode = t->net_id[0];
		s->endpoints = &t->net_ep[0];
		s->n_endpoints = 1;
		s->more_networks = &t->net_ep[1];
		s->n_more_networks = t->n_nets - 1;
	}
	s->ports = t->ports;
	s->n_ports = t->n_ports;
}
