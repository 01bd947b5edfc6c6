/*
 * Unit tests of the agent's task decoding (worker/task.h) and of the
 * executor's set file decoder: a Docker Task as the dispatcher sends it
 * becomes the engine spec the user asked for (container name, Docker's
 * swarm labels, command, env, mounts, hosts, limits, grace period, health
 * check), templates expand as Docker's do, a field the agent does not
 * apply rejects the task naming it, and an item that names no task is
 * refused whole. No root, no engine.
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
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "worker/exec.h"
#include "worker/task.h"

static const struct wtask_node node = {"node-a", "linux", "x86_64"};

/* A task of service "web" (slot 2) with @spec_json as its Spec. */
static struct wtask *task_with(const char *spec_json, int slot)
{
	char buf[8192];
	struct shoal_err err = {""};
	struct wtask *t = NULL;
	snprintf(buf, sizeof(buf),
		 "{\"ID\":\"t1abc\",\"Version\":{\"Index\":7},"
		 "\"ServiceID\":\"s1svc\",\"NodeID\":\"n1node\",\"Slot\":%d,"
		 "\"ServiceAnnotations\":{\"Name\":\"web\"},"
		 "\"DesiredState\":\"running\","
		 "\"Status\":{\"State\":\"assigned\"},\"Spec\":%s}",
		 slot, spec_json);
	int rc = wtask_decode(buf, strlen(buf), &node, &t, &err);
	if (rc != 0)
		fail_msg("decode failed: %s", err.msg);
	return t;
}

static bool has(char **v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void a_task_becomes_the_engine_spec_the_user_asked_for(void **state)
{
	struct wtask *t = task_with(
		"{\"ContainerSpec\":{\"Image\":\"busybox:latest\","
		"\"Command\":[\"sh\",\"-c\"],\"Args\":[\"sleep 60\"],"
		"\"Env\":[\"A=1\"],\"Dir\":\"/tmp\",\"User\":\"nobody\","
		"\"Labels\":{\"team\":\"a\"},\"ReadOnly\":true,"
		"\"StopSignal\":\"SIGINT\",\"StopGracePeriod\":3000000000,"
		"\"Hosts\":[\"10.0.0.9 db db.local\"],"
		"\"DNSConfig\":{\"Nameservers\":[\"10.0.0.53\"]},"
		"\"CapabilityAdd\":[\"NET_ADMIN\"],"
		"\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":100,\"Hard\":200}],"
		"\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv\","
		"\"Target\":\"/data\",\"ReadOnly\":true},"
		"{\"Type\":\"volume\",\"Source\":\"vol1\",\"Target\":\"/v\"},"
		"{\"Type\":\"volume\",\"Target\":\"/anon\"},"
		"{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"TmpfsOptions\":"
		"{\"SizeBytes\":1048576,\"Mode\":448}}],"
		"\"Privileges\":{\"NoNewPrivileges\":true},"
		"\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"true\"],"
		"\"Interval\":2000000000,\"Retries\":4}},"
		"\"Resources\":{\"Limits\":{\"NanoCPUs\":500000000,"
		"\"MemoryBytes\":67108864,\"Pids\":50},"
		"\"Reservations\":{\"MemoryBytes\":33554432,"
		"\"NanoCPUs\":100000000}},"
		"\"RestartPolicy\":{\"Condition\":\"any\"},"
		"\"Placement\":{\"Constraints\":[\"node.role==worker\"]}}",
		2);
	struct eng_spec s;
	assert_string_equal(t->spec_error, "");
	wtask_eng_spec(t, &s);
	assert_string_equal(s.name, "web.2.t1abc");
	assert_string_equal(s.image, "busybox:latest");
	assert_string_equal(s.entrypoint[0], "sh");
	assert_string_equal(s.cmd[0], "sleep 60");
	assert_string_equal(s.env[0], "A=1");
	assert_string_equal(s.workdir, "/tmp");
	assert_string_equal(s.user, "nobody");
	assert_true(s.readonly_rootfs);
	assert_true(s.no_new_privileges);
	assert_int_equal(s.stop_signal, 2);
	assert_true(s.stop_timeout_set);
	assert_int_equal(s.stop_timeout_s, 3);
	assert_int_equal(s.nano_cpus, 500000000);
	assert_int_equal(s.memory, 67108864);
	assert_int_equal(s.memory_reservation, 33554432);
	assert_int_equal(s.pids_limit, 50);
	assert_int_equal(s.restart.kind, ENG_RESTART_NO);
	assert_int_equal(s.rlimit_count, 1);
	assert_int_equal(s.rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s.rlimits[0].soft, 100);
	assert_int_equal(s.rlimits[0].hard, 200);
	assert_true(has(t->labels, "team=a"));
	assert_true(has(t->labels, "com.docker.swarm.service.id=s1svc"));
	assert_true(has(t->labels, "com.docker.swarm.service.name=web"));
	assert_true(has(t->labels, "com.docker.swarm.task="));
	assert_true(has(t->labels, "com.docker.swarm.task.id=t1abc"));
	assert_true(has(t->labels, "com.docker.swarm.task.name=web.2.t1abc"));
	assert_true(has(t->labels, "com.docker.swarm.node.id=n1node"));
	assert_true(has(t->volumes, "/srv:/data:ro"));
	assert_true(has(t->volumes, "vol1:/v"));
	assert_true(has(t->volumes, "/anon"));
	assert_true(has(t->tmpfs, "/t:size=1048576,mode=700"));
	assert_true(has(t->extra_hosts, "db:10.0.0.9"));
	assert_true(has(t->extra_hosts, "db.local:10.0.0.9"));
	assert_true(has(t->dns, "10.0.0.53"));
	assert_true(has(t->cap_add, "NET_ADMIN"));
	assert_string_equal(s.health.test[0], "CMD-SHELL");
	assert_string_equal(s.health.test[1], "true");
	assert_int_equal(s.health.interval_ns, 2000000000);
	assert_int_equal(s.health.retries, 4);
	assert_int_equal(t->version, 7);
	assert_int_equal(t->desired, WT_RUNNING);
	wtask_free(t);
}

static void a_global_task_is_named_after_its_node(void **state)
{
	struct wtask *t =
		task_with("{\"ContainerSpec\":{\"Image\":\"busybox\"}}", 0);
	assert_string_equal(t->container_name, "web.n1node.t1abc");
	wtask_free(t);
}

static void templates_expand_in_hostname_env_and_mount_sources(void **state)
{
	struct wtask *t = task_with(
		"{\"ContainerSpec\":{\"Image\":\"busybox\","
		"\"Hostname\":\"{{.Service.Name}}-{{.Task.Slot}}\","
		"\"Env\":[\"NODE={{.Node.Hostname}}\",\"T={{ .Task.Name }}\","
		"\"OS={{.Node.Platform.OS}}\",\"ID={{.Node.ID}}\"],"
		"\"Mounts\":[{\"Type\":\"volume\","
		"\"Source\":\"data-{{.Task.Slot}}\",\"Target\":\"/d\"}]}}",
		3);
	assert_string_equal(t->spec_error, "");
	assert_string_equal(t->hostname, "web-3");
	assert_true(has(t->env, "NODE=node-a"));
	assert_true(has(t->env, "T=web.3.t1abc"));
	assert_true(has(t->env, "OS=linux"));
	assert_true(has(t->env, "ID=n1node"));
	assert_true(has(t->volumes, "data-3:/d"));
	wtask_free(t);
}

static void an_unknown_template_rejects_the_task_with_why(void **state)
{
	struct wtask *t = task_with("{\"ContainerSpec\":{\"Image\":\"busybox\","
				    "\"Hostname\":\"{{.Service.Labels}}\"}}",
				    1);
	assert_non_null(strstr(t->spec_error, "unknown field .Service.Labels"));
	wtask_free(t);
	t = task_with("{\"ContainerSpec\":{\"Image\":\"busybox\","
		      "\"Env\":[\"A={{.Task.Slot\"]}}",
		      1);
	assert_non_null(strstr(t->spec_error, "unclosed action"));
	wtask_free(t);
}

static void fields_not_applied_reject_the_task_naming_them(void **state)
{
	static const struct {
		const char *spec;
		const char *names;
	} cases[] = {
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Secrets\":[{}]}}",
		 "ContainerSpec.Secrets"},
		{"{\"ContainerSpec\":{\"Image\":\"b\"},\"Networks\":"
		 "[{\"Target\":\"n\"}]}",
		 "TaskSpec.Networks"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Privileges\":"
		 "{\"SELinuxContext\":{\"User\":\"u\"}}}}",
		 "Privileges.SELinuxContext"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Mounts\":[{\"Type\":"
		 "\"volume\",\"Target\":\"/x\",\"VolumeOptions\":{"
		 "\"DriverConfig\":{\"Options\":{\"type\":\"nfs\"}}}}]}}",
		 "Mounts.VolumeOptions"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Mounts\":[{\"Type\":"
		 "\"volume\",\"Target\":\"/x\",\"VolumeOptions\":{\"Labels\":"
		 "{\"a\":\"1\"}}}]}}",
		 "VolumeOptions.Labels need a named volume"},
		{"{\"ContainerSpec\":{\"Image\":\"b\"},\"LogDriver\":{\"Name\":"
		 "\"syslog\"}}",
		 "log driver \"syslog\""},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Healthcheck\":{\"Test\":"
		 "[\"CMD\",\"true\"],\"Interval\":5}}}",
		 "Interval in Healthcheck cannot be less than 1ms"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Mounts\":[{\"Type\":"
		 "\"bind\",\"Source\":\"rel\",\"Target\":\"/x\"}]}}",
		 "invalid bind mount source"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Mounts\":[{\"Type\":"
		 "\"npipe\",\"Target\":\"/x\"}]}}",
		 "mount type \"npipe\" is not supported"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Sysctls\":[\"a\"]}}",
		 "ContainerSpec.Sysctls must be an object"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Sysctls\":{\"a\":1}}}",
		 "invalid ContainerSpec.Sysctls entry 'a'"},
		{"{\"ContainerSpec\":{\"Image\":\"b\",\"Env\":\"A=1\"}}",
		 "ContainerSpec.Env must be a list of strings"},
		{"{\"ContainerSpec\":{}}", "has no Image"},
		{"{}", "has no ContainerSpec"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wtask *t = task_with(cases[i].spec, 1);
		if (!strstr(t->spec_error, cases[i].names))
			fail_msg("%s: got \"%s\"", cases[i].spec,
				 t->spec_error);
		wtask_free(t);
	}
}

/* docker stack deploy labels every named volume of a stack with its
 * namespace (VolumeOptions.Labels) and may set NoCopy: the labels are
 * kept for the volume's creation, per volume. */
static void volume_labels_are_kept_per_volume(void **state)
{
	struct wtask *t = task_with(
		"{\"ContainerSpec\":{\"Image\":\"b\",\"Mounts\":["
		"{\"Type\":\"volume\",\"Source\":\"st_data\",\"Target\":"
		"\"/d\",\"VolumeOptions\":{\"NoCopy\":true,\"Labels\":{"
		"\"com.docker.stack.namespace\":\"st\"}}},"
		"{\"Type\":\"volume\",\"Source\":\"plain\",\"Target\":\"/p\"}]}}",
		1);
	assert_string_equal(t->spec_error, "");
	assert_int_equal(t->n_volume_labels, 1);
	assert_string_equal(t->volume_labels[0],
			    "st_data=com.docker.stack.namespace=st");
	assert_true(has(t->volumes, "st_data:/d"));
	assert_true(has(t->volumes, "plain:/p"));
	wtask_free(t);
}

/* Init, Sysctls, Groups and DNSConfig's Search and Options reach the
 * engine's spec (the engine applies them as for docker run). */
static void init_sysctls_groups_and_dns_reach_the_engine(void **state)
{
	struct wtask *t = task_with(
		"{\"ContainerSpec\":{\"Image\":\"b\",\"Init\":true,"
		"\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"},"
		"\"Groups\":[\"audio\",\"123\"],\"DNSConfig\":{"
		"\"Nameservers\":[\"10.0.0.53\"],\"Search\":[\"example.org\"],"
		"\"Options\":[\"ndots:2\"]}}}",
		1);
	struct eng_spec s;
	assert_string_equal(t->spec_error, "");
	wtask_eng_spec(t, &s);
	assert_true(s.init);
	assert_non_null(s.sysctls);
	assert_string_equal(s.sysctls[0], "net.ipv4.ip_forward=1");
	assert_null(s.sysctls[1]);
	assert_string_equal(s.group_add[0], "audio");
	assert_string_equal(s.group_add[1], "123");
	assert_string_equal(s.dns[0], "10.0.0.53");
	assert_string_equal(s.dns_search[0], "example.org");
	assert_string_equal(s.dns_options[0], "ndots:2");
	wtask_free(t);
}

static void defaults_spelled_out_are_accepted(void **state)
{
	struct wtask *t = task_with(
		"{\"ContainerSpec\":{\"Image\":\"b\",\"Isolation\":\"default\","
		"\"Init\":false,\"Sysctls\":{},\"Secrets\":[],"
		"\"Privileges\":{\"Seccomp\":{\"Mode\":\"default\"},"
		"\"AppArmor\":{\"Mode\":\"default\"},\"NoNewPrivileges\":"
		"false}},\"Networks\":[],\"LogDriver\":{\"Name\":\"json-file\"},"
		"\"Runtime\":\"container\",\"ForceUpdate\":2}",
		1);
	assert_string_equal(t->spec_error, "");
	wtask_free(t);
}

static void an_item_that_names_no_task_is_refused_whole(void **state)
{
	static const char *const items[] = {
		"",
		"[]",
		"{\"ID\":\"\",\"ServiceID\":\"s\",\"NodeID\":\"n\"}",
		"{\"ID\":\"a/b\",\"ServiceID\":\"s\",\"NodeID\":\"n\","
		"\"ServiceAnnotations\":{\"Name\":\"web\"},"
		"\"DesiredState\":\"running\"}",
	};
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		struct shoal_err err = {""};
		struct wtask *t = NULL;
		assert_int_equal(wtask_decode(items[i], strlen(items[i]), &node,
					      &t, &err),
				 -EINVAL);
		assert_null(t);
		assert_true(err.msg[0] != '\0');
	}
}

static void a_task_with_a_bad_identity_is_rejected_with_why(void **state)
{
	static const struct {
		const char *item;
		const char *why;
	} cases[] = {
		{"{\"ID\":\"t\",\"ServiceID\":\"s\",\"NodeID\":\"n\","
		 "\"ServiceAnnotations\":{\"Name\":\"../x\"},"
		 "\"DesiredState\":\"running\"}",
		 "invalid service name"},
		{"{\"ID\":\"t\",\"ServiceID\":\"s\",\"NodeID\":\"n\","
		 "\"ServiceAnnotations\":{\"Name\":\"web\"},"
		 "\"DesiredState\":\"dancing\"}",
		 "invalid DesiredState"},
		{"{\"ID\":\"t\",\"ServiceID\":\"s\",\"NodeID\":\"n\","
		 "\"ServiceAnnotations\":{\"Name\":\"web\"},"
		 "\"DesiredState\":\"running\",\"Slot\":-1}",
		 "invalid Slot"},
		{"{\"ID\":\"t\",\"ServiceID\":\"s/\",\"NodeID\":\"n\","
		 "\"ServiceAnnotations\":{\"Name\":\"web\"},"
		 "\"DesiredState\":\"running\"}",
		 "no valid ServiceID"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shoal_err err = {""};
		struct wtask *t = NULL;
		assert_int_equal(wtask_decode(cases[i].item,
					      strlen(cases[i].item), &node, &t,
					      &err),
				 0);
		assert_string_equal(t->id, "t");
		if (!strstr(t->spec_error, cases[i].why))
			fail_msg("%s: got \"%s\"", cases[i].item,
				 t->spec_error);
		wtask_free(t);
	}
}

static void a_one_letter_service_runs(void **state)
{
	const char *item =
		"{\"ID\":\"t9\",\"ServiceID\":\"s\",\"NodeID\":\"n\","
		"\"ServiceAnnotations\":{\"Name\":\"g\"},\"Slot\":0,"
		"\"DesiredState\":\"running\",\"Spec\":{\"ContainerSpec\":"
		"{\"Image\":\"busybox\"}}}";
	struct shoal_err err = {""};
	struct wtask *t = NULL;
	assert_int_equal(wtask_decode(item, strlen(item), &node, &t, &err), 0);
	assert_string_equal(t->spec_error, "");
	assert_string_equal(t->container_name, "g.n.t9");
	wtask_free(t);
}

static void states_follow_dockers_order(void **state)
{
	enum wtask_state s;
	assert_int_equal(wtask_state_parse("running", &s), 0);
	assert_int_equal(s, WT_RUNNING);
	assert_true(WT_ASSIGNED < WT_RUNNING && WT_RUNNING < WT_COMPLETE &&
		    WT_SHUTDOWN < WT_FAILED && WT_FAILED < WT_REJECTED);
	assert_string_equal(wtask_state_name(WT_REJECTED), "rejected");
	assert_true(wtask_state_final(WT_COMPLETE));
	assert_false(wtask_state_final(WT_RUNNING));
	assert_int_equal(wtask_state_parse("Running", &s), -EINVAL);
}

static void the_set_file_is_checked_before_use(void **state)
{
	struct shoal_err err = {""};
	json_t *a = NULL;
	const char *good = "[{\"Task\":{\"ID\":\"x\"},\"Status\":{}}]";
	assert_int_equal(wexec_store_decode(good, strlen(good), &a, &err), 0);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	static const char *const bad[] = {
		"{}", "[1]", "[{\"Task\":{}}]", "[{\"Task\":1,\"Status\":{}}]",
		"[",  ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
			wexec_store_decode(bad[i], strlen(bad[i]), &a, &err),
			-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			a_task_becomes_the_engine_spec_the_user_asked_for),
		cmocka_unit_test(a_global_task_is_named_after_its_node),
		cmocka_unit_test(
			templates_expand_in_hostname_env_and_mount_sources),
		cmocka_unit_test(an_unknown_template_rejects_the_task_with_why),
		cmocka_unit_test(
			fields_not_applied_reject_the_task_naming_them),
		cmocka_unit_test(volume_labels_are_kept_per_volume),
		cmocka_unit_test(init_sysctls_groups_and_dns_reach_the_engine),
		cmocka_unit_test(defaults_spelled_out_are_accepted),
		cmocka_unit_test(an_item_that_names_no_task_is_refused_whole),
		cmocka_unit_test(
			a_task_with_a_bad_identity_is_rejected_with_why),
		cmocka_unit_test(a_one_letter_service_runs),
		cmocka_unit_test(states_follow_dockers_order),
		cmocka_unit_test(the_set_file_is_checked_before_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
