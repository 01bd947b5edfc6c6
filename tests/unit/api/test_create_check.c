/*
 * Unit tests of the create translation's refusals (api/create_check.c)
 * and of Docker's `filters` query (api/filters.c): what the docker CLI
 * sends by default passes, each field the engine does not apply is
 * refused by name when set, and filters in both of Docker's shapes are
 * read while unknown names are refused.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "common/error.h"

/* What docker run (CLI v28) sends for `docker run busybox true`. */
static const char *const docker_default =
	"{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\","
	"\"AttachStdin\":false,\"AttachStdout\":true,\"AttachStderr\":true,"
	"\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,"
	"\"Cmd\":[\"true\"],\"Image\":\"busybox\",\"Volumes\":{},"
	"\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,"
	"\"Labels\":{},\"HostConfig\":{\"Binds\":null,\"ContainerIDFile\":"
	"\"\",\"LogConfig\":{\"Type\":\"\",\"Config\":{}},\"NetworkMode\":"
	"\"default\",\"PortBindings\":{},\"RestartPolicy\":{\"Name\":\"no\","
	"\"MaximumRetryCount\":0},\"AutoRemove\":false,\"VolumeDriver\":\"\","
	"\"VolumesFrom\":null,\"ConsoleSize\":[0,0],\"CapAdd\":null,"
	"\"CapDrop\":null,\"CgroupnsMode\":\"\",\"Dns\":[],\"DnsOptions\":[],"
	"\"DnsSearch\":[],\"ExtraHosts\":null,\"GroupAdd\":null,\"IpcMode\":"
	"\"\",\"Cgroup\":\"\",\"Links\":null,\"OomScoreAdj\":0,\"PidMode\":"
	"\"\",\"Privileged\":false,\"PublishAllPorts\":false,"
	"\"ReadonlyRootfs\":false,\"SecurityOpt\":null,\"UTSMode\":\"\","
	"\"UsernsMode\":\"\",\"ShmSize\":0,\"Isolation\":\"\",\"CpuShares\":0,"
	"\"Memory\":0,\"NanoCpus\":0,\"CgroupParent\":\"\",\"BlkioWeight\":0,"
	"\"BlkioWeightDevice\":[],\"BlkioDeviceReadBps\":[],"
	"\"BlkioDeviceWriteBps\":[],\"BlkioDeviceReadIOps\":[],"
	"\"BlkioDeviceWriteIOps\":[],\"CpuPeriod\":0,\"CpuQuota\":0,"
	"\"CpuRealtimePeriod\":0,\"CpuRealtimeRuntime\":0,\"CpusetCpus\":\"\","
	"\"CpusetMems\":\"\",\"Devices\":[],\"DeviceCgroupRules\":null,"
	"\"DeviceRequests\":null,\"MemoryReservation\":0,\"MemorySwap\":0,"
	"\"MemorySwappiness\":-1,\"OomKillDisable\":false,\"PidsLimit\":0,"
	"\"Ulimits\":[],\"CpuCount\":0,\"CpuPercent\":0,\"IOMaximumIOps\":0,"
	"\"IOMaximumBandwidth\":0,\"MaskedPaths\":null,\"ReadonlyPaths\":"
	"null},\"NetworkingConfig\":{\"EndpointsConfig\":{\"default\":{"
	"\"IPAMConfig\":null,\"Links\":null,\"Aliases\":null,\"MacAddress\":"
	"\"\",\"DriverOpts\":null,\"GwPriority\":0,\"NetworkID\":\"\","
	"\"EndpointID\":\"\",\"Gateway\":\"\",\"IPAddress\":\"\","
	"\"IPPrefixLen\":0,\"IPv6Gateway\":\"\",\"GlobalIPv6Address\":\"\","
	"\"GlobalIPv6PrefixLen\":0,\"DNSNames\":null}}}}";

static json_t *body_with(const char *path, json_t *v)
{
	json_t *b = json_loads(docker_default, 0, NULL);
	json_t *o = b;
	char key[128];
	const char *dot;

	assert_non_null(b);
	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		assert_non_null(o);
		path = dot + 1;
	}
	json_object_set_new(o, path, v);
	return b;
}

/* The check's answer for the default body with @path set to @v. */
static int check_with(const char *path, json_t *v, char *err, size_t cap)
{
	json_t *b = body_with(path, v);
	int rc;

	err[0] = '\0';
	rc = api__create_check(b, err, cap);
	json_decref(b);
	return rc;
}

static void dockers_default_body_passes(void **state)
{
	json_t *b = json_loads(docker_default, 0, NULL);
	char err[256] = "";

	assert_int_equal(api__create_check(b, err, sizeof(err)), 0);
	json_decref(b);
}

static void fields_not_applied_are_refused_by_name(void **state)
{
	static const struct {
		const char *path;
		const char *json;
		const char *msg;
	} cases[] = {
		{"HostConfig.CpuQuota", "50000",
		 "HostConfig.CpuQuota is not supported yet"},
		{"HostConfig.BlkioWeight", "500",
		 "HostConfig.BlkioWeight is not supported yet"},
		{"HostConfig.Runtime", "\"kata\"",
		 "Unknown runtime specified kata"},
		{"HostConfig.MaskedPaths", "[]",
		 "HostConfig.MaskedPaths is not supported yet"},
		{"Domainname", "\"example.org\"",
		 "Config.Domainname is not supported yet"},
		{"Healthcheck",
		 "{\"Test\":[\"CMD\",\"true\"],\"StartInterval\":1000000}",
		 "Config.Healthcheck.StartInterval is not supported yet"},
		{"NetworkingConfig.EndpointsConfig.default.DriverOpts",
		 "{\"k\":\"v\"}",
		 "NetworkingConfig.EndpointsConfig.default.DriverOpts is not "
		 "supported yet"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		assert_int_equal(check_with(cases[i].path, v, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, cases[i].msg);
	}
}

static void defaults_spelled_out_and_applied_values_pass(void **state)
{
	static const struct {
		const char *path;
		const char *json;
	} cases[] = {
		{"HostConfig.ShmSize", "67108864"},
		{"HostConfig.ShmSize", "1048576"},
		{"HostConfig.Init", "true"},
		{"HostConfig.CpusetCpus", "\"0\""},
		{"HostConfig.Devices",
		 "[{\"PathOnHost\":\"/dev/fuse\",\"PathInContainer\":"
		 "\"/dev/fuse\",\"CgroupPermissions\":\"rwm\"}]"},
		{"HostConfig.Sysctls", "{\"net.ipv4.ip_forward\":\"1\"}"},
		{"HostConfig.MemorySwappiness", "10"},
		{"HostConfig.MemorySwap", "-1"},
		{"HostConfig.OomKillDisable", "true"},
		{"HostConfig.PidMode", "\"host\""},
		{"HostConfig.IpcMode", "\"host\""},
		{"HostConfig.UTSMode", "\"host\""},
		{"HostConfig.CgroupnsMode", "\"host\""},
		{"HostConfig.VolumesFrom", "[\"other:ro\"]"},
		{"HostConfig.Runtime", "\"runc\""},
		{"HostConfig.LogConfig.Type", "\"local\""},
		{"HostConfig.LogConfig.Config", "{\"max-size\":\"1m\"}"},
		{"HostConfig.IpcMode", "\"private\""},
		{"HostConfig.IpcMode", "\"shareable\""},
		{"HostConfig.CgroupnsMode", "\"private\""},
		{"HostConfig.UsernsMode", "\"host\""},
		{"HostConfig.Isolation", "\"default\""},
		{"HostConfig.VolumeDriver", "\"local\""},
		{"HostConfig.LogConfig.Type", "\"json-file\""},
		{"HostConfig.Memory", "67108864"},
		{"HostConfig.RestartPolicy",
		 "{\"Name\":\"on-failure\",\"MaximumRetryCount\":2}"},
		{"HostConfig.ConsoleSize", "[24,80]"},
		{"HostConfig.ContainerIDFile", "\"/tmp/cid\""},
		{"Healthcheck", "{\"Test\":[\"NONE\"]}"},
		{"Healthcheck", "{\"Test\":[\"CMD\",\"true\"],\"Retries\":2}"},
		{"ExposedPorts", "{\"80/tcp\":{}}"},
		{"Volumes", "{\"/data\":{}}"},
		{"NetworkingConfig.EndpointsConfig.default.IPAMConfig",
		 "{\"IPv4Address\":\"\"}"},
		/* Applied by overlay-net (containers_net.c). */
		{"NetworkingConfig.EndpointsConfig.default.Aliases",
		 "[\"web\"]"},
		{"HostConfig.PortBindings",
		 "{\"80/tcp\":[{\"HostPort\":\"8080\"}]}"},
		{"HostConfig.PublishAllPorts", "true"},
		{"HostConfig.DnsSearch", "[\"example.org\"]"},
		{"HostConfig.Links", "[\"db:db\"]"},
		{"MacAddress", "\"02:42:ac:11:00:09\""},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		if (check_with(cases[i].path, v, err, sizeof(err)) != 0)
			fail_msg("%s=%s refused: %s", cases[i].path,
				 cases[i].json, err);
	}
}

static void an_unknown_volume_driver_is_a_404(void **state)
{
	json_t *m = json_loads("[{\"Type\":\"volume\",\"Source\":\"v\","
			       "\"Target\":\"/t\",\"VolumeOptions\":{"
			       "\"DriverConfig\":{\"Name\":\"nfs\"}}}]",
			       0, NULL);
	char err[256];

	assert_int_equal(check_with("HostConfig.VolumeDriver",
				    json_string("nfs"), err, sizeof(err)),
			 SHOAL_ENOTFOUND);
	assert_string_equal(err, "error looking up volume plugin nfs: plugin "
				 "\"nfs\" not found");
	assert_int_equal(check_with("HostConfig.Mounts", m, err, sizeof(err)),
			 SHOAL_ENOTFOUND);
}

static void mount_options_not_carried_are_refused(void **state)
{
	json_t *m = json_loads("[{\"Type\":\"bind\",\"Source\":\"/tmp\","
			       "\"Target\":\"/t\",\"BindOptions\":{"
			       "\"Propagation\":\"rshared\"}}]",
			       0, NULL);
	char err[256];

	assert_int_equal(check_with("HostConfig.Mounts", m, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(
		err, "HostConfig.Mounts.BindOptions is not supported yet");
	m = json_loads(
		"[{\"Type\":\"tmpfs\",\"Target\":\"/t\","
		"\"TmpfsOptions\":{\"SizeBytes\":1048576,\"Mode\":448}}]",
		0, NULL);
	assert_int_equal(check_with("HostConfig.Mounts", m, err, sizeof(err)),
			 0);
}

static void filters_read_both_shapes_and_refuse_unknown_names(void **state)
{
	static const char *const known[] = {"label", "until", NULL};
	const char *v[API__FILTER_VALUES + 1];
	char err[256];
	json_t *f;

	assert_int_equal(api__filters_parse("{\"label\":[\"a=1\",\"b\"]}",
					    known, &f, err, sizeof(err)),
			 0);
	assert_int_equal(api__filter_values(f, "label", v), 2);
	assert_string_equal(v[0], "a=1");
	assert_string_equal(v[1], "b");
	assert_null(v[2]);
	assert_int_equal(api__filter_values(f, "until", v), 0);
	assert_null(v[0]);
	json_decref(f);

	assert_int_equal(api__filters_parse("{\"label\":{\"a=1\":true}}", known,
					    &f, err, sizeof(err)),
			 0);
	assert_int_equal(api__filter_values(f, "label", v), 1);
	assert_string_equal(v[0], "a=1");
	json_decref(f);

	assert_int_equal(api__filters_parse(NULL, known, &f, err, sizeof(err)),
			 0);
	assert_int_equal(json_object_size(f), 0);
	json_decref(f);

	assert_int_equal(api__filters_parse("{\"colour\":[\"red\"]}", known, &f,
					    err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid filter 'colour'");
	assert_int_equal(api__filters_parse("{\"label\":[1]}", known, &f, err,
					    sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid filter 'label': bad value");
	assert_int_equal(
		api__filters_parse("{\"label\":", known, &f, err, sizeof(err)),
		-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dockers_default_body_passes),
		cmocka_unit_test(fields_not_applied_are_refused_by_name),
		cmocka_unit_test(defaults_spelled_out_and_applied_values_pass),
		cmocka_unit_test(an_unknown_volume_driver_is_a_404),
		cmocka_unit_test(mount_options_not_carried_are_refused),
		cmocka_unit_test(
			filters_read_both_shapes_and_refuse_unknown_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
