/*
 * What POST /containers/create accepts but Shoal does not apply. Docker's
 * Config and HostConfig (Engine API v1.45) have many fields; a field the
 * engine applies is translated by containers_create.c, one it does not is
 * refused here with a 400 naming it when it is set to anything but its
 * default, so that nothing is stored and echoed by inspect as if it had
 * been applied. The docker CLI sends most fields on every create, with
 * their defaults (0, "", false, null, [], {}), which pass.
 *
 * Checked here with Docker's words and status: HostConfig.Runtime (Shoal
 * is the one runtime: "", "runc" or "shoal"; else 400 "Unknown runtime
 * specified x") and a volume driver other than "local" (404, as Docker
 * answers for a plugin it cannot find). The log driver and its options
 * are checked where they are parsed (containers_create.c).
 *
 * Fields neither applied nor refused, and why:
 *   Config.AttachStdin/Stdout/Stderr, StdinOnce: what the client will do
 *     (attach), not container settings;
 *   Config.ExposedPorts: metadata in Docker too, but for
 *     PublishAllPorts (containers_net.c);
 *   Config.OnBuild, Shell, ArgsEscaped: build-time or Windows fields that
 *     Docker ignores on a container as well;
 *   HostConfig.ContainerIDFile: the docker CLI writes that file itself.
 *
 * Pure: the unit tests feed it bodies.
 */
#include "api/internal.h"
#include "common/error.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Whether @v is a JSON default: absent, null, false, 0, "", or an array
 * or object of defaults only. */
static bool is_default(const json_t *v)
{
	const char *k;
	const json_t *x;
	size_t i;

	if (!v || json_is_null(v) || json_is_false(v))
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) == 0;
	if (json_is_real(v))
		return json_real_value(v) == 0;
	if (json_is_string(v))
		return !*json_string_value(v);
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			if (!is_default(x))
				return false;
		}
		return true;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			if (!is_default(x))
				return false;
		}
		return true;
	}
	return false;
}

/* A field not applied; also accepted: the strings of @also, or the
 * integer @also_int when @has_int. */
struct rule {
	const char *field;
	const char *also[3];
	bool has_int;
	int64_t also_int;
};

static const struct rule host_rules[] = {
	{.field = "BlkioWeight"},
	{.field = "BlkioWeightDevice"},
	{.field = "BlkioDeviceReadBps"},
	{.field = "BlkioDeviceWriteBps"},
	{.field = "BlkioDeviceReadIOps"},
	{.field = "BlkioDeviceWriteIOps"},
	{.field = "CgroupParent"},
	{.field = "Cgroup"},
	{.field = "CpuCount"},
	{.field = "CpuPercent"},
	{.field = "CpuPeriod"},
	{.field = "CpuQuota"},
	{.field = "CpuRealtimePeriod"},
	{.field = "CpuRealtimeRuntime"},
	{.field = "DeviceRequests"},
	{.field = "IOMaximumBandwidth"},
	{.field = "IOMaximumIOps"},
	{.field = "Isolation", .also = {"default"}},
	{.field = "KernelMemory"},
	{.field = "KernelMemoryTCP"},
	{.field = "StorageOpt"},
	{.field = "Annotations"},
	{.field = "UsernsMode", .also = {"host"}},
};

static const struct rule config_rules[] = {
	{.field = "Domainname"},
};

/* Endpoint settings of NetworkingConfig.EndpointsConfig.<network>. */
static const struct rule endpoint_rules[] = {
	{.field = "Links"},
	{.field = "DriverOpts"},
};

static bool allowed(const struct rule *r, const json_t *v)
{
	if (is_default(v))
		return true;
	if (r->has_int && json_is_integer(v) &&
	    json_integer_value(v) == r->also_int)
		return true;
	for (size_t i = 0; json_is_string(v) && i < 3 && r->also[i]; i++)
		if (!strcmp(json_string_value(v), r->also[i]))
			return true;
	return false;
}

static int refuse(char *err, size_t cap, const char *where, const char *what)
{
	snprintf(err, cap, "%s%s is not supported yet", where, what);
	return -EINVAL;
}

static int check_rules(const json_t *o, const struct rule *rules, size_t n,
		       const char *where, char *err, size_t cap)
{
	for (size_t i = 0; i < n; i++)
		if (!allowed(&rules[i], json_object_get(o, rules[i].field)))
			return refuse(err, cap, where, rules[i].field);
	return 0;
}

/* Fields applied only with some values. */
static int check_special(const json_t *hc, char *err, size_t cap)
{
	/* [] would mean "mask nothing": only the default set is applied. */
	if (json_is_array(json_object_get(hc, "MaskedPaths")))
		return refuse(err, cap, "HostConfig.", "MaskedPaths");
	if (json_is_array(json_object_get(hc, "ReadonlyPaths")))
		return refuse(err, cap, "HostConfig.", "ReadonlyPaths");
	return 0;
}

/* Docker's 404 for a volume driver that is not "local" (no plugins). */
static int no_volume_driver(const char *drv, char *err, size_t cap)
{
	if (!*drv || !strcmp(drv, "local"))
		return 0;
	snprintf(err, cap,
		 "error looking up volume plugin %s: plugin \"%s\" not found",
		 drv, drv);
	return SHOAL_ENOTFOUND;
}

/* HostConfig.Runtime: Shoal is the one runtime; "runc" (what Docker
 * clients name by default) and "shoal" name it. */
static int check_runtime(const json_t *hc, char *err, size_t cap)
{
	const char *rt = jsonx_str(hc, "Runtime", "");

	if (!*rt || !strcmp(rt, "runc") || !strcmp(rt, "shoal"))
		return 0;
	snprintf(err, cap, "Unknown runtime specified %s", rt);
	return -EINVAL;
}

/* HostConfig.Mounts: the options the translation does not carry. */
static int check_mounts(const json_t *hc, char *err, size_t cap)
{
	const json_t *ms = json_object_get(hc, "Mounts"), *m;
	size_t i;

	json_array_foreach(ms, i, m)
	{
		const json_t *vo = json_object_get(m, "VolumeOptions");
		const json_t *dc = json_object_get(vo, "DriverConfig");
		const char *drv = jsonx_str(dc, "Name", "");
		if (!is_default(json_object_get(m, "BindOptions")))
			return refuse(err, cap, "HostConfig.Mounts.",
				      "BindOptions");
		if (!is_default(json_object_get(vo, "Labels")))
			return refuse(err, cap, "HostConfig.Mounts.",
				      "VolumeOptions.Labels");
		if (!is_default(json_object_get(vo, "Subpath")))
			return refuse(err, cap, "HostConfig.Mounts.",
				      "VolumeOptions.Subpath");
		if (no_volume_driver(drv, err, cap) < 0)
			return SHOAL_ENOTFOUND;
		if (!is_default(json_object_get(dc, "Options")))
			return refuse(err, cap, "HostConfig.Mounts.",
				      "VolumeOptions.DriverConfig.Options");
	}
	return 0;
}

/* Applied by engine/health.c; only StartInterval (API 1.44) is not. */
static int check_health(const json_t *body, char *err, size_t cap)
{
	const json_t *hc = json_object_get(body, "Healthcheck");

	if (!is_default(json_object_get(hc, "StartInterval")))
		return refuse(err, cap, "Config.Healthcheck.", "StartInterval");
	return 0;
}

static int check_endpoints(const json_t *body, char *err, size_t cap)
{
	const json_t *eps = jsonx_obj(jsonx_obj(body, "NetworkingConfig"),
				      "EndpointsConfig");
	const char *name;
	json_t *ep;
	char where[320];

	json_object_foreach((json_t *)eps, name, ep)
	{
		snprintf(where, sizeof(where),
			 "NetworkingConfig.EndpointsConfig.%.200s.", name);
		if (check_rules(ep, endpoint_rules,
				sizeof(endpoint_rules) /
					sizeof(endpoint_rules[0]),
				where, err, cap) < 0)
			return -EINVAL;
	}
	return 0;
}

int api__create_check(const json_t *body, char *err, size_t cap)
{
	const json_t *hc = json_object_get(body, "HostConfig");
	int rc = check_rules(hc, host_rules,
			     sizeof(host_rules) / sizeof(host_rules[0]),
			     "HostConfig.", err, cap);

	if (rc == 0)
		rc = check_special(hc, err, cap);
	if (rc == 0)
		rc = check_runtime(hc, err, cap);
	if (rc == 0)
		rc = no_volume_driver(jsonx_str(hc, "VolumeDriver", ""), err,
				      cap);
	if (rc == 0)
		rc = check_mounts(hc, err, cap);
	if (rc == 0)
		rc = check_rules(body, config_rules,
				 sizeof(config_rules) / sizeof(config_rules[0]),
				 "Config.", err, cap);
	if (rc == 0)
		rc = check_health(body, err, cap);
	if (rc == 0)
		rc = check_endpoints(body, err, cap);
	if (rc == 0 && jsonx_bool(body, "NetworkDisabled", false) &&
	    !strcmp(jsonx_str(hc, "NetworkMode", ""), "host"))
		rc = refuse(err, cap, "Config.",
			    "NetworkDisabled with HostConfig.NetworkMode host");
	return rc;
}
