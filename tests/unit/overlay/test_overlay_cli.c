/*
 * Unit tests of the network and port flags of `shoal service create` and
 * `update` (cli/service_net.c): the ServiceSpec fields the docker CLI
 * sends for --network (name or name=,alias=), -p/--publish in both forms,
 * --endpoint-mode, and update's -add/-rm pairs over the current spec;
 * bad values refused before anything is sent.
 */
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

static int run(bool update, json_t *spec, const char *args)
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
	int first = cli__service_opts("service x", argc, argv, update, spec, &d,
				      &q, &rb);
	return first < 0 ? -1 : 0;
}

static json_t *nets(json_t *s)
{
	return json_object_get(jsonx_obj(s, "TaskTemplate"), "Networks");
}

static json_t *ports(json_t *s)
{
	return json_object_get(jsonx_obj(s, "EndpointSpec"), "Ports");
}

static void check_port(json_t *p, const char *proto, int target, int pub,
		       const char *mode)
{
	assert_string_equal(jsonx_str(p, "Protocol", ""), proto);
	assert_int_equal(jsonx_int(p, "TargetPort", -1), target);
	assert_int_equal(jsonx_int(p, "PublishedPort", -1), pub);
	assert_string_equal(jsonx_str(p, "PublishMode", ""), mode);
}

static void create_sends_networks_and_ports_as_docker(void **state)
{
	json_t *s = json_object();
	assert_int_equal(
		run(false, s,
		    "--name web --network front --network "
		    "name=back,alias=db,alias=store -p 8080:80 --publish 53/udp "
		    "--publish published=9000,target=90,protocol=udp,mode=host "
		    "-p target=70 --endpoint-mode vip busybox"),
		0);
	json_t *n = nets(s);
	assert_int_equal(json_array_size(n), 2);
	assert_string_equal(jsonx_str(json_array_get(n, 0), "Target", ""),
			    "front");
	assert_null(json_object_get(json_array_get(n, 0), "Aliases"));
	json_t *b = json_array_get(n, 1);
	assert_string_equal(jsonx_str(b, "Target", ""), "back");
	assert_int_equal(json_array_size(json_object_get(b, "Aliases")), 2);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(b, "Aliases"), 1)),
			    "store");
	json_t *p = ports(s);
	assert_int_equal(json_array_size(p), 4);
	check_port(json_array_get(p, 0), "tcp", 80, 8080, "ingress");
	check_port(json_array_get(p, 1), "udp", 53, 0, "ingress");
	check_port(json_array_get(p, 2), "udp", 90, 9000, "host");
	check_port(json_array_get(p, 3), "tcp", 70, 0, "ingress");
	assert_string_equal(jsonx_str(jsonx_obj(s, "EndpointSpec"), "Mode", ""),
			    "vip");
	json_decref(s);
}

static void update_pairs_edit_the_current_networks_and_ports(void **state)
{
	const char *cur =
		"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		"\"Image\":\"busybox\"},\"Networks\":[{\"Target\":\"idA\"},"
		"{\"Target\":\"idB\"}]},\"EndpointSpec\":{\"Mode\":\"vip\","
		"\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,"
		"\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},{"
		"\"Protocol\":\"udp\",\"TargetPort\":80,\"PublishedPort\":8080,"
		"\"PublishMode\":\"ingress\"}]}}";
	json_t *s = NULL;
	assert_int_equal(jsonx_parse(cur, strlen(cur), &s, NULL, 0), 0);
	assert_int_equal(
		run(true, s,
		    "--network-rm idA --network-add name=front,alias=w "
		    "--publish-rm 80/udp --publish-add 8081:81 "
		    "--endpoint-mode dnsrr web"),
		0);
	json_t *n = nets(s);
	assert_int_equal(json_array_size(n), 2);
	assert_string_equal(jsonx_str(json_array_get(n, 0), "Target", ""),
			    "idB");
	assert_string_equal(jsonx_str(json_array_get(n, 1), "Target", ""),
			    "front");
	json_t *p = ports(s);
	assert_int_equal(json_array_size(p), 2);
	check_port(json_array_get(p, 0), "tcp", 80, 8080, "ingress");
	check_port(json_array_get(p, 1), "tcp", 81, 8081, "ingress");
	assert_string_equal(jsonx_str(jsonx_obj(s, "EndpointSpec"), "Mode", ""),
			    "dnsrr");
	/* Nothing named: nothing changes. */
	json_t *before = json_deep_copy(s);
	assert_int_equal(run(true, s, "--update-parallelism 2 web"), 0);
	assert_true(json_equal(nets(before), nets(s)));
	assert_true(json_equal(ports(before), ports(s)));
	json_decref(before);
	json_decref(s);
}

static void bad_values_are_refused_before_sending(void **state)
{
	static const char *const bad[] = {
		"-p 80:x busybox",
		"-p 0.0.0.0:80:80 busybox",
		"-p 80/sctp busybox",
		"--publish published=80 busybox",
		"--publish target=80,mode=bridge busybox",
		"--endpoint-mode lb busybox",
		"--network name=a,driver-opt=x=y busybox",
		"--network alias=x busybox",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *s = json_object();
		if (run(false, s, bad[i]) == 0)
			fail_msg("accepted: %s", bad[i]);
		json_decref(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(create_sends_networks_and_ports_as_docker),
		cmocka_unit_test(
			update_pairs_edit_the_current_networks_and_ports),
		cmocka_unit_test(bad_values_are_refused_before_sending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
