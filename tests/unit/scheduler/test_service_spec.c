/*
 * Unit tests of the ServiceSpec check and defaults (manager/service_spec.c)
 * and of task status reports (manager/task.c): what the docker CLI sends
 * is accepted, every field Shoal does not apply is refused by name with
 * its empty form accepted, Docker's words for bad names, images,
 * constraints and modes, the defaults, and reports that only move forward.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/jsonx.h"
#include "manager/service.h"

static int check(const char *text, char *err, size_t errlen)
{
	json_t *in = NULL, *out = NULL;
	assert_int_equal(jsonx_parse(text, strlen(text), &in, NULL, 0), 0);
	*err = '\0';
	int rc = service_spec_check(in, &out, err, errlen);
	if (rc == 0)
		assert_true(json_equal(in, out) ||
			    json_object_get(in, "Labels"));
	json_decref(in);
	json_decref(out);
	return rc;
}

#define BASE "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}"

static void the_docker_clis_body_is_accepted(void **state)
{
	char err[300];
	assert_int_equal(
		check("{\"Name\":\"web\",\"Labels\":{},\"TaskTemplate\":{"
		      "\"ContainerSpec\":{\"Image\":\"busybox:latest\",\"Args\":"
		      "[\"sleep\",\"1000\"],\"Init\":false,\"StopGracePeriod\":"
		      "10000000000,\"DNSConfig\":{},\"Isolation\":\"default\"},"
		      "\"Resources\":{\"Limits\":{},\"Reservations\":{}},"
		      "\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":"
		      "5000000000,\"MaxAttempts\":0},\"Placement\":{},"
		      "\"Networks\":[],\"ForceUpdate\":0,\"Runtime\":"
		      "\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":6}},"
		      "\"UpdateConfig\":{\"Parallelism\":1,\"FailureAction\":"
		      "\"pause\",\"Monitor\":5000000000,\"MaxFailureRatio\":0,"
		      "\"Order\":\"stop-first\"},\"EndpointSpec\":{\"Mode\":"
		      "\"vip\"}}",
		      err, sizeof(err)),
		0);
}

static void fields_not_applied_are_refused_by_name(void **state)
{
	char err[300];
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{"
			       "\"Image\":\"x\"},\"Networks\":[{\"Target\":"
			       "\"n\",\"DriverOpts\":{\"a\":\"b\"}}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "TaskTemplate.Networks.DriverOpts is not "
				    "supported yet"));
	assert_int_equal(check("{" BASE ",\"EndpointSpec\":{\"Ports\":[{"
			       "\"TargetPort\":80,\"Protocol\":\"sctp\"}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "sctp ports are not supported"));
	assert_int_equal(check("{" BASE ",\"EndpointSpec\":{\"Ports\":[{"
			       "\"TargetPort\":80},{\"TargetPort\":81,"
			       "\"PublishedPort\":8080},{\"TargetPort\":82,"
			       "\"PublishedPort\":8080}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "duplicate published ports provided"));
	assert_int_equal(check("{" BASE ",\"EndpointSpec\":{\"Ports\":[{"
			       "\"PublishedPort\":8080}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "TargetPort must be from 1 to 65535"));
	assert_int_equal(check("{" BASE ",\"EndpointSpec\":{\"Ports\":[{"
			       "\"TargetPort\":80,\"PublishMode\":\"host\","
			       "\"PublishedPort\":8080},{\"TargetPort\":81,"
			       "\"PublishedPort\":8080}]}}",
			       err, sizeof(err)),
			 0);
	assert_int_equal(
		check("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\","
		      "\"Secrets\":[{\"SecretID\":\"s\"}]}}}",
		      err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "ContainerSpec.Secrets"));
	assert_int_equal(check("{" BASE ",\"Bogus\":1}", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err,
			    "invalid ServiceSpec: unknown field \"Bogus\"");
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{"
			       "\"Image\":\"x\"},\"Placement\":{\"Nope\":1}}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "TaskTemplate.Placement.Nope"));
}

/* TaskTemplate.Networks and the older top-level Networks (moved into
 * the template); EndpointSpec.Mode vip or dnsrr. */
static void networks_are_checked_and_the_old_place_moved(void **state)
{
	char err[300];
	json_t *in = NULL, *out = NULL;
	const char *text = "{" BASE ",\"Networks\":[{\"Target\":\"front\","
			   "\"Aliases\":[\"www\"]}],\"EndpointSpec\":{"
			   "\"Mode\":\"dnsrr\"}}";
	assert_int_equal(jsonx_parse(text, strlen(text), &in, NULL, 0), 0);
	assert_int_equal(service_spec_check(in, &out, err, sizeof(err)), 0);
	assert_null(json_object_get(out, "Networks"));
	json_t *n = json_array_get(
		json_object_get(jsonx_obj(out, "TaskTemplate"), "Networks"), 0);
	assert_string_equal(jsonx_str(n, "Target", ""), "front");
	json_decref(in);
	json_decref(out);
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{"
			       "\"Image\":\"x\"},\"Networks\":[{\"Target\":"
			       "\"a\"},{\"Target\":\"a\"}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "network a is attached more than once"));
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{"
			       "\"Image\":\"x\"},\"Networks\":[{\"Aliases\":"
			       "[\"x\"]}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "each network needs a Target"));
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{"
			       "\"Image\":\"x\"},\"Networks\":[{\"Target\":"
			       "\"a\"},{\"Target\":\"b\"},{\"Target\":\"c\"},"
			       "{\"Target\":\"d\"},{\"Target\":\"e\"},{"
			       "\"Target\":\"f\"},{\"Target\":\"g\"},{"
			       "\"Target\":\"h\"}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "at most 7 networks"));
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{"
			       "\"Image\":\"x\"},\"Networks\":[{\"Target\":"
			       "\"a\",\"Aliases\":[\"bad alias\"]}]}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "\"bad alias\" is not valid as a DNS "
				    "name"));
	assert_int_equal(check("{" BASE ",\"EndpointSpec\":{\"Mode\":"
			       "\"weird\"}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "EndpointSpec.Mode"));
}

static void bad_values_get_dockers_words(void **state)
{
	char err[300];
	assert_int_equal(
		check("{\"Name\":\"bad name\"," BASE "}", err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "rpc error: code = InvalidArgument desc = "
				 "name must be valid as a DNS name component");
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{}}}", err,
			       sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "rpc error: code = InvalidArgument desc = "
				 "ContainerSpec: image reference must be "
				 "provided");
	assert_int_equal(check("{\"TaskTemplate\":{\"ContainerSpec\":{"
			       "\"Image\":\"x\"},\"Placement\":{"
			       "\"Constraints\":[\"node.labels.a=b\"]}}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "rpc error: code = InvalidArgument desc = "
				 "constraint expected one operator from ==, "
				 "!=");
	assert_int_equal(check("{" BASE ",\"Mode\":{\"Replicated\":{},"
			       "\"Global\":{}}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(check("{" BASE ",\"UpdateConfig\":{\"Order\":"
			       "\"sideways\"}}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "UpdateConfig.Order"));
	assert_int_equal(check("{" BASE ",\"Mode\":{\"Replicated\":{"
			       "\"Replicas\":-1}}}",
			       err, sizeof(err)),
			 -EINVAL);
}

static void defaults_are_docker_like(void **state)
{
	json_t *in = NULL;
	const char *t = "{" BASE "}";
	assert_int_equal(jsonx_parse(t, strlen(t), &in, NULL, 0), 0);
	json_t *d = service_spec_defaults(in);
	assert_non_null(d);
	assert_int_equal(service_spec_mode(d), SERVICE_REPLICATED);
	assert_int_equal(
		jsonx_int(jsonx_obj(jsonx_obj(d, "Mode"), "Replicated"),
			  "Replicas", 0),
		1);
	const json_t *rp =
		jsonx_obj(jsonx_obj(d, "TaskTemplate"), "RestartPolicy");
	assert_string_equal(jsonx_str(rp, "Condition", ""), "any");
	assert_int_equal(jsonx_int(rp, "Delay", 0), 5000000000LL);
	const json_t *u = jsonx_obj(d, "UpdateConfig");
	assert_int_equal(jsonx_int(u, "Parallelism", 0), 1);
	assert_string_equal(jsonx_str(u, "FailureAction", ""), "pause");
	assert_string_equal(jsonx_str(u, "Order", ""), "stop-first");
	assert_int_equal(jsonx_int(u, "Monitor", 0), 5000000000LL);
	json_decref(d);
	json_decref(in);
}

static void task_reports_only_move_forward(void **state)
{
	json_t *out;
	enum task_state s;
	char err[200];
	const char *run = "{\"State\":\"running\",\"Message\":\"started\"}";
	assert_int_equal(task_status_check(run, strlen(run), TASK_STARTING, "",
					   &out, &s, err, sizeof(err)),
			 0);
	assert_int_equal(s, TASK_RUNNING);
	json_decref(out);
	assert_int_equal(task_status_check(run, strlen(run), TASK_RUNNING,
					   "started", &out, &s, err,
					   sizeof(err)),
			 -EINVAL);
	assert_int_equal(task_status_check(run, strlen(run), TASK_FAILED, "",
					   &out, &s, err, sizeof(err)),
			 -EINVAL);
	const char *pend = "{\"State\":\"pending\"}";
	assert_int_equal(task_status_check(pend, strlen(pend), TASK_NEW, "",
					   &out, &s, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "managers'"));
	const char *bogus = "{\"State\":\"flying\"}";
	assert_int_equal(task_status_check(bogus, strlen(bogus), TASK_NEW, "",
					   &out, &s, err, sizeof(err)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_docker_clis_body_is_accepted),
		cmocka_unit_test(fields_not_applied_are_refused_by_name),
		cmocka_unit_test(networks_are_checked_and_the_old_place_moved),
		cmocka_unit_test(bad_values_get_dockers_words),
		cmocka_unit_test(defaults_are_docker_like),
		cmocka_unit_test(task_reports_only_move_forward),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
