/*
 * Docker's ServiceSpec (Engine API v1.44, "ServiceSpec"), checked for
 * POST /services/create and /services/{id}/update, and completed with
 * Shoal's defaults where it is read (docs/services.md).
 *
 * What is applied, and by whom:
 *
 *   Name, Labels                   the service object (name unique)
 *   Mode                           the orchestrator: Replicated.Replicas,
 *                                  Global, ReplicatedJob (MaxConcurrent,
 *                                  TotalCompletions), GlobalJob
 *   TaskTemplate.ContainerSpec     the agent (worker/), copied into each
 *                                  task; Image is required here
 *   TaskTemplate.Resources         Reservations: the scheduler; Limits:
 *                                  the agent
 *   TaskTemplate.RestartPolicy     the orchestrator
 *   TaskTemplate.Placement         the scheduler (Constraints,
 *                                  Preferences, MaxReplicas, Platforms)
 *   TaskTemplate.ForceUpdate       a change makes every task outdated
 *   UpdateConfig, RollbackConfig   the orchestrator's update supervisor
 *   TaskTemplate.Networks          the allocator (allocator.c): an
 *                                  address per task and overlay; the
 *                                  older top-level Networks is moved
 *                                  here; Targets are resolved to ids on
 *                                  the leader (ops_network.c)
 *   EndpointSpec.Mode              vip: a VIP per overlay; dnsrr: none
 *
 *   EndpointSpec.Ports             the allocator: ingress ports (a
 *                                  PublishedPort, or one of 30000-32767)
 *                                  on every node; host ports on the
 *                                  task's node (the agent)
 *   ContainerSpec.Secrets, Configs references checked here (shape,
 *                                  targets), resolved against the store
 *                                  on the leader (manager/ops_secret.c),
 *                                  delivered by the agent
 *                                  (worker/secrets.c)
 *
 * Refused by name until the issue that brings them:
 * Privileges, TaskTemplate.LogDriver, NetworkAttachmentSpec, PluginSpec,
 * GenericResources, a Runtime other than "container". Their empty forms
 * ([], {}, null, "") are accepted, as clients send them. Unknown fields
 * are refused at every level. Pure: no I/O, no clock.
 */
#include "common/jsonx.h"
#include "manager/service.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define INVALID "rpc error: code = InvalidArgument desc = "

/* null, [], "", 0, false, or an object of such values (a client's
 * {"CredentialSpec":null,"SELinuxContext":null} asks for nothing). */
static bool is_empty(const json_t *v)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			if (!is_empty(x))
				return false;
		}
		return true;
	}
	return !v || json_is_null(v) ||
	       (json_is_array(v) && json_array_size(v) == 0) ||
	       (json_is_string(v) && !*json_string_value(v)) ||
	       (json_is_integer(v) && json_integer_value(v) == 0) ||
	       json_is_false(v);
}

static bool in(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(k, *list) == 0)
			return true;
	return false;
}

/*
 * Every key of @o must be in @known; those in @later must be empty
 * (@why says what brings them). @o may be NULL or null (nothing to
 * check); anything else but an object is refused.
 */
static int fields(const json_t *o, const char *path, const char *const *known,
		  const char *const *later, const char *why, char *err,
		  size_t errlen)
{
	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o)) {
		snprintf(err, errlen,
			 "invalid ServiceSpec: %s must be an object", path);
		return -EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		if (later && in(k, later)) {
			if (is_empty(v))
				continue;
			snprintf(err, errlen,
				 "%s%s%s is not supported yet (%s): remove it "
				 "from the service",
				 path, *path ? "." : "", k, why);
			return -EINVAL;
		}
		if (!in(k, known)) {
			snprintf(
				err, errlen,
				"invalid ServiceSpec: unknown field \"%s%s%s\"",
				path, *path ? "." : "", k);
			return -EINVAL;
		}
	}
	return 0;
}

/* An optional non-negative integer at @key of @o (duration, count). */
static int uint_at(const json_t *o, const char *key, const char *path,
		   int64_t max, char *err, size_t errlen)
{
	const json_t *v = o ? json_object_get(o, key) : NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max) {
		snprintf(err, errlen,
			 INVALID "%s.%s must be an integer from 0 to %lld",
			 path, key, (long long)max);
		return -EINVAL;
	}
	return 0;
}

static int str_at(const json_t *o, const char *key, const char *path,
		  const char *const *allowed, char *err, size_t errlen)
{
	const json_t *v = o ? json_object_get(o, key) : NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, INVALID "%s.%s must be a string", path,
			 key);
		return -EINVAL;
	}
	if (allowed && *json_string_value(v) &&
	    !in(json_string_value(v), allowed)) {
		char list[160] = "";
		for (const char *const *a = allowed; *a; a++)
			snprintf(list + strlen(list),
				 sizeof(list) - strlen(list), "%s%s",
				 a == allowed ? "" : ", ", *a);
		snprintf(err, errlen,
			 INVALID "%s.%s: invalid value \"%.64s\" (one of: %s)",
			 path, key, json_string_value(v), list);
		return -EINVAL;
	}
	return 0;
}

static int labels_at(const json_t *o, const char *key, const char *path,
		     char *err, size_t errlen)
{
	const json_t *l = o ? json_object_get(o, key) : NULL;
	if (!l || json_is_null(l))
		return 0;
	const char *k;
	json_t *v;
	if (!json_is_object(l))
		goto bad;
	json_object_foreach((json_t *)l, k, v)
	{
		if (!*k || !json_is_string(v))
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen,
		 INVALID "%s.%s must be an object of string values", path, key);
	return -EINVAL;
}

static int strings_at(const json_t *o, const char *key, const char *path,
		      char *err, size_t errlen)
{
	const json_t *a = o ? json_object_get(o, key) : NULL;
	size_t i;
	json_t *v;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		goto bad;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, INVALID "%s.%s must be an array of strings", path,
		 key);
	return -EINVAL;
}

bool service_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > SERVICE_NAME_MAX)
		return false;
	if (!isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '_')
			return false;
	return true;
}

/* ---------------------------------------------------------- ContainerSpec */

/* ------------------------------------- ContainerSpec.Secrets / Configs */

/* A secret's target: a file name in /run/secrets (an absolute
 * /run/secrets/NAME is taken as NAME). A config's: an absolute path, or
 * a name under / (Docker's default is /CONFIGNAME). No "." or ".."
 * components, no empty ones, printable ASCII only. */
static bool target_ok(const char *t, bool secret)
{
	size_t n = strlen(t);
	if (!n || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~' || t[i] == ':' || t[i] == ',')
			return false;
	if (secret && !strncmp(t, "/run/secrets/", 13))
		t += 13;
	if (secret && strchr(t, '/'))
		return false;
	const char *c = t;
	while (*c == '/')
		c++;
	while (*c) {
		size_t l = strcspn(c, "/");
		if (!l || (l == 1 && c[0] == '.') ||
		    (l == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += l;
		if (*c == '/' && (c++, !*c))
			return false;
	}
	return true;
}

static bool digits(const char *s)
{
	if (!*s || strlen(s) > 10)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int check_ref(const json_t *r, bool secret, const char *path, char *err,
		     size_t errlen)
{
	static const char *const ks[] = {"SecretID", "SecretName", "File",
					 NULL};
	static const char *const kc[] = {"ConfigID", "ConfigName", "File",
					 "Runtime", NULL};
	static const char *const kf[] = {"Name", "UID", "GID", "Mode", NULL};
	const char *word = secret ? "secret" : "config";
	const char *idk = secret ? "SecretID" : "ConfigID";
	const char *namek = secret ? "SecretName" : "ConfigName";
	int rc = fields(r, path, secret ? ks : kc, NULL, NULL, err, errlen);
	if (rc < 0)
		return rc;
	if (!json_is_object(r) ||
	    (rc = str_at(r, idk, path, NULL, err, errlen)) < 0 ||
	    (rc = str_at(r, namek, path, NULL, err, errlen)) < 0) {
		if (!rc)
			snprintf(err, errlen, INVALID "malformed %s reference",
				 word);
		return -EINVAL;
	}
	if (!*jsonx_str(r, idk, "") && !*jsonx_str(r, namek, "")) {
		snprintf(err, errlen,
			 INVALID "malformed %s reference: %s or %s is required",
			 word, idk, namek);
		return -EINVAL;
	}
	const json_t *rt = json_object_get(r, "Runtime");
	if (rt && !json_is_null(rt)) {
		snprintf(err, errlen,
			 "%s.Runtime is not supported: give the config a File "
			 "(a target path)",
			 path);
		return -EINVAL;
	}
	const json_t *f = json_object_get(r, "File");
	char fp[96];
	snprintf(fp, sizeof(fp), "%s.File", path);
	if (!json_is_object(f)) {
		snprintf(err, errlen,
			 INVALID "malformed %s reference: %s is "
				 "required",
			 word, fp);
		return -EINVAL;
	}
	if ((rc = fields(f, fp, kf, NULL, NULL, err, errlen)) < 0 ||
	    (rc = str_at(f, "Name", fp, NULL, err, errlen)) < 0 ||
	    (rc = str_at(f, "UID", fp, NULL, err, errlen)) < 0 ||
	    (rc = str_at(f, "GID", fp, NULL, err, errlen)) < 0 ||
	    (rc = uint_at(f, "Mode", fp, 0777, err, errlen)) < 0)
		return rc;
	const char *uid = jsonx_str(f, "UID", ""),
		   *gid = jsonx_str(f, "GID", "");
	if ((*uid && !digits(uid)) || (*gid && !digits(gid))) {
		snprintf(err, errlen,
			 INVALID "%s.UID and GID must be numeric ids", fp);
		return -EINVAL;
	}
	if (!target_ok(jsonx_str(f, "Name", ""), secret)) {
		snprintf(err, errlen,
			 INVALID "invalid %s target \"%.100s\": %s", word,
			 jsonx_str(f, "Name", ""),
			 secret ? "a file name in /run/secrets (no '/', '.' "
				  "or '..')"
				: "an absolute path without '.' or '..' "
				  "components");
		return -EINVAL;
	}
	return 0;
}

/* Every reference checked; two references to one target refused, as
 * swarmkit does. */
static int check_refs(const json_t *c, bool secret, char *err, size_t errlen)
{
	const char *key = secret ? "Secrets" : "Configs";
	const json_t *a = json_object_get(c, key);
	char path[80];
	size_t i, j;
	json_t *r, *q;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 256) {
		snprintf(err, errlen,
			 INVALID "TaskTemplate.ContainerSpec.%s must be a "
				 "list of at most 256 references",
			 key);
		return -EINVAL;
	}
	json_array_foreach(a, i, r)
	{
		snprintf(path, sizeof(path), "TaskTemplate.ContainerSpec.%s",
			 key);
		int rc = check_ref(r, secret, path, err, errlen);
		if (rc < 0)
			return rc;
		const char *t = jsonx_str(jsonx_obj(r, "File"), "Name", "");
		json_array_foreach(a, j, q)
		{
			if (j < i && !strcmp(t, jsonx_str(jsonx_obj(q, "File"),
							  "Name", ""))) {
				snprintf(err, errlen,
					 INVALID "%s references have a "
						 "conflicting target: '%.100s'",
					 secret ? "secret" : "config", t);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_container(const json_t *c, char *err, size_t errlen)
{
	static const char *const known[] = {"Image",
					    "Labels",
					    "Command",
					    "Args",
					    "Hostname",
					    "Env",
					    "Dir",
					    "User",
					    "Groups",
					    "TTY",
					    "OpenStdin",
					    "ReadOnly",
					    "Mounts",
					    "StopSignal",
					    "StopGracePeriod",
					    "Healthcheck",
					    "Hosts",
					    "DNSConfig",
					    "Init",
					    "Sysctls",
					    "CapabilityAdd",
					    "CapabilityDrop",
					    "Ulimits",
					    "Isolation",
					    "Secrets",
					    "Configs",
					    NULL};
	static const char *const later[] = {"Privileges", NULL};
	const char *p = "TaskTemplate.ContainerSpec";
	if (!c || !json_is_object(c)) {
		snprintf(err, errlen,
			 INVALID "ContainerSpec: image reference must be "
				 "provided");
		return -EINVAL;
	}
	int rc = fields(c, p, known, later,
			"credential specs come with a later release", err,
			errlen);
	if (rc < 0)
		return rc;
	const char *image = jsonx_str(c, "Image", "");
	if (!*image) {
		snprintf(err, errlen,
			 INVALID "ContainerSpec: image reference must be "
				 "provided");
		return -EINVAL;
	}
	static const char *const isolation[] = {"default", NULL};
	if ((rc = str_at(c, "Image", p, NULL, err, errlen)) < 0 ||
	    (rc = str_at(c, "Hostname", p, NULL, err, errlen)) < 0 ||
	    (rc = str_at(c, "Dir", p, NULL, err, errlen)) < 0 ||
	    (rc = str_at(c, "User", p, NULL, err, errlen)) < 0 ||
	    (rc = str_at(c, "StopSignal", p, NULL, err, errlen)) < 0 ||
	    (rc = str_at(c, "Isolation", p, isolation, err, errlen)) < 0 ||
	    (rc = strings_at(c, "Command", p, err, errlen)) < 0 ||
	    (rc = strings_at(c, "Args", p, err, errlen)) < 0 ||
	    (rc = strings_at(c, "Env", p, err, errlen)) < 0 ||
	    (rc = strings_at(c, "Groups", p, err, errlen)) < 0 ||
	    (rc = strings_at(c, "Hosts", p, err, errlen)) < 0 ||
	    (rc = strings_at(c, "CapabilityAdd", p, err, errlen)) < 0 ||
	    (rc = strings_at(c, "CapabilityDrop", p, err, errlen)) < 0 ||
	    (rc = labels_at(c, "Labels", p, err, errlen)) < 0 ||
	    (rc = labels_at(c, "Sysctls", p, err, errlen)) < 0 ||
	    (rc = uint_at(c, "StopGracePeriod", p, INT64_MAX, err, errlen)) <
		    0 ||
	    (rc = check_refs(c, true, err, errlen)) < 0 ||
	    (rc = check_refs(c, false, err, errlen)) < 0)
		return rc;
	return 0;
}

/* ------------------------------------------------------------- Placement */

/* "node.labels.x == y": a known key, one operator, a value. */
static int check_constraint(const char *s, char *err, size_t errlen)
{
	const char *op = strstr(s, "==");
	const char *op2 = strstr(s, "!=");
	if ((op && op2) || (!op && !op2) || strstr((op ? op : op2) + 2, "==") ||
	    strstr((op ? op : op2) + 2, "!=")) {
		snprintf(err, errlen,
			 INVALID "constraint expected one operator from ==, "
				 "!=");
		return -EINVAL;
	}
	op = op ? op : op2;
	char key[256];
	size_t b = 0, e = (size_t)(op - s);
	while (b < e && isspace((unsigned char)s[b]))
		b++;
	while (e > b && isspace((unsigned char)s[e - 1]))
		e--;
	snprintf(key, sizeof(key), "%.*s", (int)(e - b), s + b);
	static const char *const exact[] = {
		"node.id",	    "node.hostname",	  "node.role",
		"node.platform.os", "node.platform.arch", NULL};
	bool ok = in(key, exact) ||
		  (strncmp(key, "node.labels.", 12) == 0 && key[12]) ||
		  (strncmp(key, "engine.labels.", 14) == 0 && key[14]);
	if (!ok) {
		snprintf(err, errlen,
			 INVALID "constraint key \"%.64s\" is not supported "
				 "(node.id, node.hostname, node.role, "
				 "node.platform.os, node.platform.arch, "
				 "node.labels.X, engine.labels.X)",
			 key);
		return -EINVAL;
	}
	const char *v = op + 2;
	while (isspace((unsigned char)*v))
		v++;
	if (!*v) {
		snprintf(err, errlen,
			 INVALID "constraint \"%.64s\" has no value", s);
		return -EINVAL;
	}
	return 0;
}

static int check_prefs(const json_t *prefs, char *err, size_t errlen)
{
	size_t i;
	json_t *p;
	if (!prefs || json_is_null(prefs))
		return 0;
	if (!json_is_array(prefs))
		goto bad;
	json_array_foreach(prefs, i, p)
	{
		static const char *const k1[] = {"Spread", NULL};
		static const char *const k2[] = {"SpreadDescriptor", NULL};
		const char *path = "TaskTemplate.Placement.Preferences";
		if (!json_is_object(p) || !json_object_get(p, "Spread"))
			goto bad;
		int rc = fields(p, path, k1, NULL, "", err, errlen);
		if (rc == 0)
			rc = fields(json_object_get(p, "Spread"), path, k2,
				    NULL, "", err, errlen);
		if (rc < 0)
			return rc;
		const char *d = jsonx_str(json_object_get(p, "Spread"),
					  "SpreadDescriptor", "");
		if (!((strncmp(d, "node.labels.", 12) == 0 && d[12]) ||
		      (strncmp(d, "engine.labels.", 14) == 0 && d[14]))) {
			snprintf(err, errlen,
				 INVALID "invalid placement preference: "
					 "spread over \"%.64s\" (node.labels.X "
					 "or engine.labels.X)",
				 d);
			return -EINVAL;
		}
	}
	return 0;
bad:
	snprintf(err, errlen,
		 INVALID "Placement.Preferences must be a list of "
			 "{\"Spread\":{\"SpreadDescriptor\":...}}");
	return -EINVAL;
}

static int check_placement(const json_t *p, char *err, size_t errlen)
{
	static const char *const known[] = {"Constraints", "Preferences",
					    "MaxReplicas", "Platforms", NULL};
	const char *path = "TaskTemplate.Placement";
	int rc = fields(p, path, known, NULL, "", err, errlen);
	if (rc < 0 || !p || json_is_null(p))
		return rc;
	if ((rc = strings_at(p, "Constraints", path, err, errlen)) < 0 ||
	    (rc = uint_at(p, "MaxReplicas", path, SERVICE_MAX_REPLICAS, err,
			  errlen)) < 0 ||
	    (rc = check_prefs(json_object_get(p, "Preferences"), err, errlen)) <
		    0)
		return rc;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(p, "Constraints"), i, v)
	{
		if ((rc = check_constraint(json_string_value(v), err, errlen)) <
		    0)
			return rc;
	}
	const json_t *plats = json_object_get(p, "Platforms");
	if (plats && !json_is_null(plats) && !json_is_array(plats)) {
		snprintf(err, errlen,
			 INVALID "Placement.Platforms must be a "
				 "list");
		return -EINVAL;
	}
	json_array_foreach(plats, i, v)
	{
		static const char *const pk[] = {"Architecture", "OS", NULL};
		if (!json_is_object(v) ||
		    (rc = fields(v, "TaskTemplate.Placement.Platforms", pk,
				 NULL, "", err, errlen)) < 0 ||
		    (rc = str_at(v, "Architecture", path, NULL, err, errlen)) <
			    0 ||
		    (rc = str_at(v, "OS", path, NULL, err, errlen)) < 0)
			return rc < 0 ? rc : -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ TaskTemplate */

static int check_resources(const json_t *r, char *err, size_t errlen)
{
	static const char *const known[] = {"Limits", "Reservations", NULL};
	static const char *const lim[] = {"NanoCPUs", "MemoryBytes", "Pids",
					  NULL};
	static const char *const res[] = {"NanoCPUs", "MemoryBytes", NULL};
	static const char *const later[] = {"GenericResources", NULL};
	const char *p = "TaskTemplate.Resources";
	int rc = fields(r, p, known, NULL, "", err, errlen);
	if (rc < 0 || !r || json_is_null(r))
		return rc;
	const json_t *l = json_object_get(r, "Limits");
	const json_t *s = json_object_get(r, "Reservations");
	if ((rc = fields(l, "TaskTemplate.Resources.Limits", lim, NULL, "", err,
			 errlen)) < 0 ||
	    (rc = fields(s, "TaskTemplate.Resources.Reservations", res, later,
			 "generic resources are not scheduled", err, errlen)) <
		    0)
		return rc;
	const char *const *k;
	for (k = lim; *k; k++)
		if ((rc = uint_at(l, *k, "Resources.Limits", INT64_MAX, err,
				  errlen)) < 0)
			return rc;
	for (k = res; *k; k++)
		if ((rc = uint_at(s, *k, "Resources.Reservations", INT64_MAX,
				  err, errlen)) < 0)
			return rc;
	return 0;
}

static int check_restart(const json_t *r, char *err, size_t errlen)
{
	static const char *const known[] = {"Condition", "Delay", "MaxAttempts",
					    "Window", NULL};
	static const char *const cond[] = {"none", "on-failure", "any", NULL};
	const char *p = "TaskTemplate.RestartPolicy";
	int rc = fields(r, p, known, NULL, "", err, errlen);
	if (rc < 0 || !r || json_is_null(r))
		return rc;
	if ((rc = str_at(r, "Condition", p, cond, err, errlen)) < 0 ||
	    (rc = uint_at(r, "Delay", p, INT64_MAX, err, errlen)) < 0 ||
	    (rc = uint_at(r, "MaxAttempts", p, UINT32_MAX, err, errlen)) < 0 ||
	    (rc = uint_at(r, "Window", p, INT64_MAX, err, errlen)) < 0)
		return rc;
	return 0;
}

static int check_template(const json_t *t, char *err, size_t errlen)
{
	static const char *const known[] = {
		"ContainerSpec", "Resources", "RestartPolicy", "Placement",
		"ForceUpdate",	 "Runtime",   "Networks",      NULL};
	static const char *const later[] = {
		"LogDriver", "NetworkAttachmentSpec", "PluginSpec", NULL};
	static const char *const runtime[] = {"container", NULL};
	if (!t || !json_is_object(t)) {
		snprintf(err, errlen,
			 INVALID "ContainerSpec: image reference must be "
				 "provided");
		return -EINVAL;
	}
	int rc = fields(t, "TaskTemplate", known, later,
			"networks, log drivers and plugins come with later "
			"releases",
			err, errlen);
	if (rc == 0)
		rc = check_container(json_object_get(t, "ContainerSpec"), err,
				     errlen);
	if (rc == 0)
		rc = check_resources(json_object_get(t, "Resources"), err,
				     errlen);
	if (rc == 0)
		rc = check_restart(json_object_get(t, "RestartPolicy"), err,
				   errlen);
	if (rc == 0)
		rc = check_placement(json_object_get(t, "Placement"), err,
				     errlen);
	if (rc == 0)
		rc = uint_at(t, "ForceUpdate", "TaskTemplate", INT64_MAX, err,
			     errlen);
	if (rc == 0)
		rc = str_at(t, "Runtime", "TaskTemplate", runtime, err, errlen);
	if (rc == 0)
		rc = service_spec_check_networks(json_object_get(t, "Networks"),
						 "TaskTemplate.Networks", err,
						 errlen);
	return rc;
}

/* ------------------------------------------------------- Mode, updates */

static int check_mode(const json_t *m, char *err, size_t errlen)
{
	static const char *const known[] = {"Replicated", "Global",
					    "ReplicatedJob", "GlobalJob", NULL};
	int rc = fields(m, "Mode", known, NULL, "", err, errlen);
	if (rc < 0 || !m || json_is_null(m))
		return rc;
	size_t n = 0;
	for (const char *const *k = known; *k; k++)
		n += json_object_get(m, *k) &&
		     !json_is_null(json_object_get(m, *k));
	if (n > 1) {
		snprintf(err, errlen,
			 INVALID "Mode: only one of Replicated, Global, "
				 "ReplicatedJob and GlobalJob may be given");
		return -EINVAL;
	}
	static const char *const rk[] = {"Replicas", NULL};
	static const char *const jk[] = {"MaxConcurrent", "TotalCompletions",
					 NULL};
	static const char *const none[] = {NULL};
	const json_t *r = json_object_get(m, "Replicated");
	const json_t *j = json_object_get(m, "ReplicatedJob");
	if ((rc = fields(r, "Mode.Replicated", rk, NULL, "", err, errlen)) <
		    0 ||
	    (rc = fields(j, "Mode.ReplicatedJob", jk, NULL, "", err, errlen)) <
		    0 ||
	    (rc = fields(json_object_get(m, "Global"), "Mode.Global", none,
			 NULL, "", err, errlen)) < 0 ||
	    (rc = fields(json_object_get(m, "GlobalJob"), "Mode.GlobalJob",
			 none, NULL, "", err, errlen)) < 0)
		return rc;
	if ((rc = uint_at(r, "Replicas", "Mode.Replicated",
			  SERVICE_MAX_REPLICAS, err, errlen)) < 0 ||
	    (rc = uint_at(j, "MaxConcurrent", "Mode.ReplicatedJob",
			  SERVICE_MAX_REPLICAS, err, errlen)) < 0 ||
	    (rc = uint_at(j, "TotalCompletions", "Mode.ReplicatedJob",
			  SERVICE_MAX_REPLICAS, err, errlen)) < 0)
		return rc;
	return 0;
}

static int check_update(const json_t *u, const char *path, char *err,
			size_t errlen)
{
	static const char *const known[] = {
		"Parallelism", "Delay",		  "FailureAction",
		"Monitor",     "MaxFailureRatio", "Order",
		NULL};
	static const char *const upd[] = {"pause", "continue", "rollback",
					  NULL};
	static const char *const rbk[] = {"pause", "continue", NULL};
	static const char *const order[] = {"stop-first", "start-first", NULL};
	int rc = fields(u, path, known, NULL, "", err, errlen);
	if (rc < 0 || !u || json_is_null(u))
		return rc;
	bool rollback = strcmp(path, "RollbackConfig") == 0;
	if ((rc = uint_at(u, "Parallelism", path, SERVICE_MAX_REPLICAS, err,
			  errlen)) < 0 ||
	    (rc = uint_at(u, "Delay", path, INT64_MAX, err, errlen)) < 0 ||
	    (rc = uint_at(u, "Monitor", path, INT64_MAX, err, errlen)) < 0 ||
	    (rc = str_at(u, "FailureAction", path, rollback ? rbk : upd, err,
			 errlen)) < 0 ||
	    (rc = str_at(u, "Order", path, order, err, errlen)) < 0)
		return rc;
	const json_t *r = json_object_get(u, "MaxFailureRatio");
	if (r && !json_is_null(r) &&
	    (!json_is_number(r) || json_number_value(r) < 0 ||
	     json_number_value(r) > 1)) {
		snprintf(err, errlen,
			 INVALID "%s.MaxFailureRatio must be a number from 0 "
				 "to 1",
			 path);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------- networks */

static int check_aliases(const json_t *a, const char *path, char *err,
			 size_t errlen)
{
	size_t i;
	json_t *x;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > SERVICE_MAX_ALIASES) {
		snprintf(err, errlen,
			 INVALID "%s.Aliases must be a list of at most %d "
				 "names",
			 path, SERVICE_MAX_ALIASES);
		return -EINVAL;
	}
	json_array_foreach(a, i, x)
	{
		if (!json_is_string(x) ||
		    !service_name_valid(json_string_value(x))) {
			snprintf(err, errlen,
				 INVALID "%s.Aliases: \"%.64s\" is not valid "
					 "as a DNS name",
				 path,
				 json_is_string(x) ? json_string_value(x)
						   : "?");
			return -EINVAL;
		}
	}
	return 0;
}

int service_spec_check_networks(const json_t *nets, const char *path, char *err,
				size_t errlen)
{
	static const char *const known[] = {"Target", "Aliases", NULL};
	static const char *const later[] = {"DriverOpts", NULL};
	size_t i;
	json_t *x;
	if (!nets || json_is_null(nets))
		return 0;
	if (!json_is_array(nets) ||
	    json_array_size(nets) > SERVICE_MAX_NETWORKS) {
		snprintf(err, errlen,
			 INVALID "%s must be a list of at most %d networks (a "
				 "task has at most 8 interfaces, one kept for "
				 "the ingress network)",
			 path, SERVICE_MAX_NETWORKS);
		return -EINVAL;
	}
	json_array_foreach(nets, i, x)
	{
		int rc = fields(x, path, known, later,
				"per-service driver options", err, errlen);
		if (rc < 0)
			return rc;
		const char *t = jsonx_str(x, "Target", "");
		if (!json_is_object(x) || !*t || strlen(t) > 128) {
			snprintf(err, errlen,
				 INVALID "%s: each network needs a Target (a "
					 "network's name or id)",
				 path);
			return -EINVAL;
		}
		if ((rc = check_aliases(json_object_get(x, "Aliases"), path,
					err, errlen)) < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(t, jsonx_str(json_array_get(nets, j),
						 "Target", ""))) {
				snprintf(err, errlen,
					 INVALID "%s: network %.64s is "
						 "attached more than once",
					 path, t);
				return -EINVAL;
			}
	}
	return 0;
}

static int check_port(const json_t *p, char *err, size_t errlen)
{
	static const char *const known[] = {"Name",	   "Protocol",
					    "TargetPort",  "PublishedPort",
					    "PublishMode", NULL};
	static const char *const protos[] = {"tcp", "udp", NULL};
	static const char *const modes[] = {"ingress", "host", NULL};
	const char *path = "EndpointSpec.Ports";
	int rc = fields(p, path, known, NULL, "", err, errlen);
	if (rc == 0 && !json_is_object(p)) {
		snprintf(err, errlen, INVALID "%s: each port is an object",
			 path);
		rc = -EINVAL;
	}
	if (rc == 0 && !strcmp(jsonx_str(p, "Protocol", ""), "sctp")) {
		snprintf(err, errlen,
			 INVALID "%s: sctp ports are not supported: use tcp "
				 "or udp",
			 path);
		return -EINVAL;
	}
	if (rc < 0 ||
	    (rc = str_at(p, "Protocol", path, protos, err, errlen)) < 0 ||
	    (rc = str_at(p, "PublishMode", path, modes, err, errlen)) < 0 ||
	    (rc = str_at(p, "Name", path, NULL, err, errlen)) < 0 ||
	    (rc = uint_at(p, "PublishedPort", path, 65535, err, errlen)) < 0 ||
	    (rc = uint_at(p, "TargetPort", path, 65535, err, errlen)) < 0)
		return rc;
	if (jsonx_int(p, "TargetPort", 0) == 0) {
		snprintf(err, errlen,
			 INVALID "%s: TargetPort must be from 1 to 65535",
			 path);
		return -EINVAL;
	}
	return 0;
}

/* Whether port @p is published in ingress mode (the default). */
static bool ingress_port(const json_t *p)
{
	const char *m = jsonx_str(p, "PublishMode", "");
	return !*m || !strcmp(m, "ingress");
}

static int check_ports(const json_t *ports, bool dnsrr, char *err,
		       size_t errlen)
{
	size_t i;
	json_t *p;
	if (!ports || json_is_null(ports))
		return 0;
	if (!json_is_array(ports) ||
	    json_array_size(ports) > SERVICE_MAX_PORTS) {
		snprintf(err, errlen,
			 INVALID "EndpointSpec.Ports must be a list of at most "
				 "%d ports",
			 SERVICE_MAX_PORTS);
		return -EINVAL;
	}
	json_array_foreach(ports, i, p)
	{
		int rc = check_port(p, err, errlen);
		if (rc < 0)
			return rc;
		if (dnsrr && ingress_port(p)) {
			snprintf(err, errlen,
				 INVALID "EndpointSpec: port published with "
					 "ingress mode can't be used with "
					 "dnsrr mode");
			return -EINVAL;
		}
		int64_t pub = jsonx_int(p, "PublishedPort", 0);
		const char *proto = jsonx_str(p, "Protocol", "tcp");
		for (size_t j = 0; pub && j < i; j++) {
			const json_t *q = json_array_get(ports, j);
			if (jsonx_int(q, "PublishedPort", 0) == pub &&
			    !strcmp(jsonx_str(q, "Protocol", "tcp"), proto) &&
			    ingress_port(q) == ingress_port(p)) {
				snprintf(err, errlen,
					 INVALID "EndpointSpec: duplicate "
						 "published ports provided");
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_endpoint(const json_t *e, char *err, size_t errlen)
{
	static const char *const known[] = {"Mode", "Ports", NULL};
	int rc = fields(e, "EndpointSpec", known, NULL, "", err, errlen);
	if (rc < 0 || !e || json_is_null(e))
		return rc;
	static const char *const modes[] = {"vip", "dnsrr", NULL};
	if ((rc = str_at(e, "Mode", "EndpointSpec", modes, err, errlen)) < 0)
		return rc;
	return check_ports(json_object_get(e, "Ports"),
			   !strcmp(jsonx_str(e, "Mode", ""), "dnsrr"), err,
			   errlen);
}

/* The older top-level Networks becomes TaskTemplate.Networks (where
 * swarmkit reads it when the template has none), so one place holds
 * them. */
static int move_networks(json_t *spec)
{
	json_t *top = json_object_get(spec, "Networks");
	json_t *t = json_object_get(spec, "TaskTemplate");
	if (!top || !json_is_object(t))
		return 0;
	int rc = 0;
	if (json_array_size(top) &&
	    !json_array_size(json_object_get(t, "Networks")))
		rc = json_object_set(t, "Networks", top) < 0 ? -ENOMEM : 0;
	json_object_del(spec, "Networks");
	return rc;
}

int service_spec_check(const json_t *spec, json_t **out, char *err,
		       size_t errlen)
{
	static const char *const known[] = {
		"Name",		"Labels",	"TaskTemplate",
		"Mode",		"UpdateConfig", "RollbackConfig",
		"EndpointSpec", "Networks",	NULL};
	*out = NULL;
	if (!json_is_object(spec)) {
		snprintf(err, errlen,
			 "invalid ServiceSpec: expected a JSON "
			 "object");
		return -EINVAL;
	}
	int rc = fields(spec, "", known, NULL, "", err, errlen);
	if (rc < 0)
		return rc;
	const json_t *name = json_object_get(spec, "Name");
	if (name && !json_is_null(name) &&
	    (!json_is_string(name) ||
	     (*json_string_value(name) &&
	      !service_name_valid(json_string_value(name))))) {
		snprintf(err, errlen,
			 INVALID "name must be valid as a DNS name component");
		return -EINVAL;
	}
	if ((rc = labels_at(spec, "Labels", "Spec", err, errlen)) < 0 ||
	    (rc = check_template(json_object_get(spec, "TaskTemplate"), err,
				 errlen)) < 0 ||
	    (rc = check_mode(json_object_get(spec, "Mode"), err, errlen)) < 0 ||
	    (rc = check_update(json_object_get(spec, "UpdateConfig"),
			       "UpdateConfig", err, errlen)) < 0 ||
	    (rc = check_update(json_object_get(spec, "RollbackConfig"),
			       "RollbackConfig", err, errlen)) < 0 ||
	    (rc = check_endpoint(json_object_get(spec, "EndpointSpec"), err,
				 errlen)) < 0 ||
	    (rc = service_spec_check_networks(json_object_get(spec, "Networks"),
					      "Networks", err, errlen)) < 0)
		return rc;
	*out = json_deep_copy(spec);
	if (!*out)
		return -ENOMEM;
	if ((rc = move_networks(*out)) < 0) {
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	/* Nulls removed at the top level: a stored spec has values only. */
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(*out, tmp, k, v)
	{
		if (json_is_null(v))
			json_object_del(*out, k);
	}
	return 0;
}

/* ---------------------------------------------------------------- defaults */

/* @o[@key] as an object, created empty when absent or null. */
static json_t *obj_at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_object(v))
		return v;
	v = json_object();
	if (!v || json_object_set_new(o, key, v) < 0)
		return NULL;
	return v;
}

static int def(json_t *o, const char *key, json_t *v)
{
	if (!o || !v) {
		json_decref(v);
		return -ENOMEM;
	}
	json_t *have = json_object_get(o, key);
	if (have && !json_is_null(have) &&
	    !(json_is_string(have) && !*json_string_value(have))) {
		json_decref(v);
		return 0;
	}
	return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static int update_defaults(json_t *u)
{
	int rc = 0;
	rc |= def(u, "Parallelism", json_integer(1));
	rc |= def(u, "Delay", json_integer(0));
	rc |= def(u, "FailureAction", json_string("pause"));
	if (u && jsonx_int(u, "Monitor", 0) == 0)
		rc |= json_object_set_new(
			u, "Monitor", json_integer(SERVICE_DEFAULT_MONITOR_NS));
	rc |= def(u, "MaxFailureRatio", json_integer(0));
	rc |= def(u, "Order", json_string("stop-first"));
	return rc;
}

json_t *service_spec_defaults(const json_t *spec)
{
	json_t *s = json_deep_copy(spec);
	if (!s)
		return NULL;
	int rc = def(s, "Labels", json_object());
	json_t *mode = obj_at(s, "Mode");
	bool has_mode = false;
	static const char *const modes[] = {"Replicated", "Global",
					    "ReplicatedJob", "GlobalJob", NULL};
	for (const char *const *k = modes; mode && *k; k++) {
		json_t *v = json_object_get(mode, *k);
		if (v && !json_is_null(v))
			has_mode = true;
		else if (v)
			json_object_del(mode, *k);
	}
	if (mode && !has_mode)
		rc |= def(mode, "Replicated",
			  json_pack("{s:i}", "Replicas", 1));
	json_t *r = mode ? json_object_get(mode, "Replicated") : NULL;
	if (r)
		rc |= def(r, "Replicas", json_integer(1));
	json_t *j = mode ? json_object_get(mode, "ReplicatedJob") : NULL;
	if (j) {
		rc |= def(j, "MaxConcurrent", json_integer(1));
		rc |= def(j, "TotalCompletions",
			  json_integer(jsonx_int(j, "MaxConcurrent", 1)));
	}
	json_t *t = obj_at(s, "TaskTemplate");
	json_t *res = t ? obj_at(t, "Resources") : NULL;
	if (res) {
		obj_at(res, "Limits");
		obj_at(res, "Reservations");
	}
	json_t *rp = t ? obj_at(t, "RestartPolicy") : NULL;
	rc |= def(rp, "Condition", json_string("any"));
	if (rp && !json_object_get(rp, "Delay"))
		rc |= def(rp, "Delay",
			  json_integer(SERVICE_DEFAULT_RESTART_DELAY_NS));
	rc |= def(rp, "MaxAttempts", json_integer(0));
	rc |= def(rp, "Window", json_integer(0));
	if (t && !obj_at(t, "Placement"))
		rc = -ENOMEM;
	rc |= def(t, "ForceUpdate", json_integer(0));
	rc |= update_defaults(obj_at(s, "UpdateConfig"));
	rc |= update_defaults(obj_at(s, "RollbackConfig"));
	rc |= def(obj_at(s, "EndpointSpec"), "Mode", json_string("vip"));
	if (rc || !mode || !t || !res || !rp) {
		json_decref(s);
		return NULL;
	}
	return s;
}

enum service_mode service_spec_mode(const json_t *spec)
{
	const json_t *m = jsonx_obj(spec, "Mode");
	if (jsonx_obj(m, "Global"))
		return SERVICE_GLOBAL;
	if (jsonx_obj(m, "ReplicatedJob"))
		return SERVICE_REPLICATED_JOB;
	if (jsonx_obj(m, "GlobalJob"))
		return SERVICE_GLOBAL_JOB;
	return SERVICE_REPLICATED;
}

const char *service_mode_name(enum service_mode m)
{
	static const char *const names[] = {"replicated", "global",
					    "replicated-job", "global-job"};
	return (unsigned)m < 4 ? names[m] : "replicated";
}
