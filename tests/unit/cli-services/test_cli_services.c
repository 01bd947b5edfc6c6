/*
 * Unit tests of the service flags (cli/service_opts.c): what `service
 * create` and `service update` send is the ServiceSpec the docker CLI
 * sends for the same flags (mode, replicas, env, labels, mounts,
 * placement, resources, restart and update policies, health check, stop
 * settings, hosts), update's -add/-rm pairs edit the current spec, and a
 * bad value is refused before anything is sent. Also Go's duration text
 * and RFC 3339 parsing the tables use.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/service.h"
#include "common/jsonx.h"

/* Run the flags of @args (space-separated, no quoting) over @spec. */
static int run(bool update, json_t *spec, const char *args, int *first)
{
	static char buf[4096];
	char *argv[128];
	int argc = 0;
	bool d, q, rb;
	snprintf(buf, sizeof(buf), "%s", args);
	argv[argc++] = (char *)(update ? "update" : "create");
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	*first = cli__service_opts("service x", argc, argv, update, spec, &d,
				   &q, &rb);
	return *first < 0 ? -1 : 0;
}

static json_t *at(json_t *o, const char *path)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o;
	     k = strtok_r(NULL, ".", &save))
		o = json_object_get(o, k);
	return o;
}

static void create_flags_make_dockers_spec(void **state)
{
	json_t *s = json_object();
	int first;
	assert_int_equal(
		run(false, s,
		    "--name web --replicas 3 -e A=1 --env B=2 -l team=a "
		    "--container-label c=d -w /tmp -u nobody "
		    "--hostname {{.Service.Name}} --constraint node.role==worker "
		    "--placement-pref spread=node.labels.dc "
		    "--replicas-max-per-node 2 --limit-cpu 0.5 --limit-memory 64m "
		    "--limit-pids 20 --reserve-memory 32m --restart-condition "
		    "on-failure --restart-delay 2s --restart-max-attempts 3 "
		    "--update-parallelism 2 --update-order start-first "
		    "--update-failure-action rollback --rollback-delay 1s "
		    "--health-cmd true --health-interval 2s --health-retries 4 "
		    "--stop-signal SIGINT --stop-grace-period 3s --read-only "
		    "--cap-add NET_ADMIN --ulimit nofile=10:20 --dns 10.0.0.2 "
		    "--host db:10.0.0.9 "
		    "--mount type=bind,src=/srv,dst=/data,ro "
		    "--mount type=tmpfs,target=/t,tmpfs-size=1m "
		    "busybox sleep 9",
		    &first),
		0);
	assert_int_equal(json_integer_value(at(s, "Mode.Replicated.Replicas")),
			 3);
	assert_string_equal(json_string_value(at(s, "Name")), "web");
	assert_string_equal(json_string_value(at(s, "Labels.team")), "a");
	json_t *cs = at(s, "TaskTemplate.ContainerSpec");
	assert_string_equal(json_string_value(json_array_get(at(cs, "Env"), 0)),
			    "A=1");
	assert_string_equal(json_string_value(at(cs, "Labels.c")), "d");
	assert_string_equal(json_string_value(at(cs, "Dir")), "/tmp");
	assert_string_equal(json_string_value(at(cs, "Hostname")),
			    "{{.Service.Name}}");
	assert_int_equal(json_integer_value(at(cs, "StopGracePeriod")),
			 3000000000LL);
	assert_true(json_is_true(at(cs, "ReadOnly")));
	assert_string_equal(
		json_string_value(json_array_get(at(cs, "Hosts"), 0)),
		"10.0.0.9 db");
	assert_int_equal(json_integer_value(at(cs, "Healthcheck.Interval")),
			 2000000000LL);
	assert_string_equal(json_string_value(json_array_get(
				    at(cs, "Healthcheck.Test"), 0)),
			    "CMD-SHELL");
	json_t *m0 = json_array_get(at(cs, "Mounts"), 0);
	assert_string_equal(json_string_value(at(m0, "Type")), "bind");
	assert_string_equal(json_string_value(at(m0, "Source")), "/srv");
	assert_true(json_is_true(at(m0, "ReadOnly")));
	json_t *m1 = json_array_get(at(cs, "Mounts"), 1);
	assert_int_equal(json_integer_value(at(m1, "TmpfsOptions.SizeBytes")),
			 1 << 20);
	json_t *u = at(json_array_get(at(cs, "Ulimits"), 0), "Hard");
	assert_int_equal(json_integer_value(u), 20);
	assert_int_equal(json_integer_value(at(
				 s, "TaskTemplate.Resources.Limits.NanoCPUs")),
			 500000000);
	assert_int_equal(
		json_integer_value(at(s, "TaskTemplate.Resources.Limits.Pids")),
		20);
	assert_int_equal(
		json_integer_value(at(s, "TaskTemplate.Placement.MaxReplicas")),
		2);
	assert_string_equal(
		json_string_value(at(json_array_get(at(s, "TaskTemplate."
							  "Placement."
							  "Preferences"),
						    0),
				     "Spread.SpreadDescriptor")),
		"node.labels.dc");
	assert_string_equal(json_string_value(at(
				    s, "TaskTemplate.RestartPolicy.Condition")),
			    "on-failure");
	assert_int_equal(json_integer_value(at(s, "UpdateConfig.Parallelism")),
			 2);
	assert_string_equal(json_string_value(at(s, "UpdateConfig.Order")),
			    "start-first");
	assert_int_equal(json_integer_value(at(s, "RollbackConfig.Delay")),
			 1000000000);
	assert_int_equal(json_integer_value(at(s, "UpdateConfig.Monitor")),
			 5000000000LL); /* docker's default */
	json_decref(s);
}

static void modes_take_their_own_flags(void **state)
{
	json_t *s = json_object();
	int first;
	assert_int_equal(run(false, s,
			     "--mode replicated-job --replicas 5 "
			     "--max-concurrent 2 busybox true",
			     &first),
			 0);
	assert_int_equal(json_integer_value(
				 at(s, "Mode.ReplicatedJob.TotalCompletions")),
			 5);
	assert_int_equal(
		json_integer_value(at(s, "Mode.ReplicatedJob.MaxConcurrent")),
		2);
	json_decref(s);
	s = json_object();
	assert_int_equal(run(false, s, "--mode global busybox true", &first),
			 0);
	assert_non_null(at(s, "Mode.Global"));
	json_decref(s);
	s = json_object();
	assert_int_equal(
		run(false, s, "--mode global --replicas 2 busybox", &first),
		-1);
	json_decref(s);
	s = json_object();
	assert_int_equal(run(false, s, "--max-concurrent 2 busybox", &first),
			 -1);
	json_decref(s);
}

static void update_pairs_edit_the_current_spec(void **state)
{
	json_t *s = json_loads(
		"{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},"
		"\"Labels\":{\"a\":\"1\",\"b\":\"2\"},\"TaskTemplate\":{"
		"\"ContainerSpec\":{\"Image\":\"busybox\",\"Env\":[\"X=1\","
		"\"Y=2\"],\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/d\"}]},"
		"\"Placement\":{\"Constraints\":[\"node.role==worker\"]},"
		"\"ForceUpdate\":1}}",
		0, NULL);
	int first;
	assert_non_null(s);
	assert_int_equal(
		run(true, s,
		    "--env-add X=9 --env-rm Y --label-rm a --label-add c=3 "
		    "--mount-rm /d --mount-add type=tmpfs,target=/t "
		    "--constraint-rm node.role==worker --image busybox:v2 "
		    "--replicas 4 --force web",
		    &first),
		0);
	json_t *cs = at(s, "TaskTemplate.ContainerSpec");
	assert_int_equal(json_array_size(at(cs, "Env")), 1);
	assert_string_equal(json_string_value(json_array_get(at(cs, "Env"), 0)),
			    "X=9");
	assert_null(at(s, "Labels.a"));
	assert_string_equal(json_string_value(at(s, "Labels.c")), "3");
	assert_int_equal(json_array_size(at(cs, "Mounts")), 1);
	assert_string_equal(
		json_string_value(
			at(json_array_get(at(cs, "Mounts"), 0), "Type")),
		"tmpfs");
	assert_null(at(s, "TaskTemplate.Placement.Constraints"));
	assert_string_equal(json_string_value(at(cs, "Image")), "busybox:v2");
	assert_int_equal(json_integer_value(at(s, "Mode.Replicated.Replicas")),
			 4);
	assert_int_equal(json_integer_value(at(s, "TaskTemplate.ForceUpdate")),
			 2);
	json_decref(s);
}

static void bad_values_are_refused_before_sending(void **state)
{
	static const char *const bad[] = {
		"--replicas x busybox",
		"--mode sideways busybox",
		"--limit-cpu lots busybox",
		"--limit-memory 12q busybox",
		"--restart-condition sometimes busybox",
		"--restart-delay 5 busybox",
		"--update-order random busybox",
		"--update-failure-action explode busybox",
		"--rollback-failure-action rollback busybox",
		"--update-max-failure-ratio 2 busybox",
		"--mount type=bind,src=/a busybox",
		"--mount type=bind,src=/a,dst=/b,colour=red busybox",
		"--mount nonsense busybox",
		"--ulimit nofile=20:10 busybox",
		"--host nocolon busybox",
		"--placement-pref pack=node.id busybox",
		"--no-healthcheck --health-cmd true busybox",
		"--colour red busybox",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *s = json_object();
		int first;
		if (run(false, s, bad[i], &first) == 0)
			fail_msg("accepted: %s", bad[i]);
		json_decref(s);
	}
}

static void durations_print_as_go_does(void **state)
{
	char b[32];
	cli__go_duration(5000000000LL, b, sizeof(b));
	assert_string_equal(b, "5s");
	cli__go_duration(90000000000LL, b, sizeof(b));
	assert_string_equal(b, "1m30s");
	cli__go_duration(500000000LL, b, sizeof(b));
	assert_string_equal(b, "500ms");
	cli__go_duration(3600000000000LL + 1500000000LL, b, sizeof(b));
	assert_string_equal(b, "1h0m1.5s");
	cli__go_duration(0, b, sizeof(b));
	assert_string_equal(b, "0s");
}

static void rfc3339_times_parse_with_fractions(void **state)
{
	assert_int_equal(cli__parse_time("1970-01-01T00:00:01.5Z"),
			 1500000000LL);
	assert_int_equal(cli__parse_time("2000-01-01T00:00:00Z"),
			 946684800LL * 1000000000LL);
	assert_int_equal(cli__parse_time("junk"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(create_flags_make_dockers_spec),
		cmocka_unit_test(modes_take_their_own_flags),
		cmocka_unit_test(update_pairs_edit_the_current_spec),
		cmocka_unit_test(bad_values_are_refused_before_sending),
		cmocka_unit_test(durations_print_as_go_does),
		cmocka_unit_test(rfc3339_times_parse_with_fractions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
