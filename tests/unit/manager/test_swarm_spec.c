/*
 * Unit tests of the SwarmSpec (manager/swarm_spec.c): the defaults a new
 * swarm gets, what the docker CLI sends being accepted, zeros keeping,
 * every field Shoal cannot honour refused by name, ranges, the settings a
 * node keeps in its state, the Raft tick mapping, and specs stored before
 * some field existed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/manager.h"

static json_t *parse(const char *text)
{
	json_t *j = NULL;
	assert_int_equal(jsonx_parse(text, strlen(text), &j, NULL, 0), 0);
	return j;
}

static json_int_t field(const json_t *spec, const char *group, const char *key)
{
	const json_t *v = json_object_get(jsonx_obj(spec, group), key);
	assert_non_null(v);
	return json_integer_value(v);
}

/* merge(@base, @in text): 0 and *@out, or the code with @err. */
static int merge(const json_t *base, const char *in, json_t **out, char *err,
		 size_t errlen)
{
	json_t *j = parse(in);
	int rc = swarm_spec_merge(base, j, out, err, errlen);
	json_decref(j);
	return rc;
}

static void a_new_swarm_gets_dockers_shape_and_shoals_timing(void **s)
{
	json_t *spec;
	char err[256];
	assert_int_equal(merge(NULL, "{}", &spec, err, sizeof(err)), 0);
	assert_string_equal(jsonx_str(spec, "Name", ""), "default");
	assert_true(json_is_object(json_object_get(spec, "Labels")));
	assert_int_equal(field(spec, "Raft", "ElectionTick"), 10);
	assert_int_equal(field(spec, "Raft", "HeartbeatTick"), 2);
	assert_int_equal(field(spec, "Raft", "SnapshotInterval"), 10000);
	assert_int_equal(field(spec, "Raft", "KeepOldSnapshots"), 0);
	assert_int_equal(field(spec, "Raft", "LogEntriesForSlowFollowers"),
			 500);
	assert_int_equal(field(spec, "Dispatcher", "HeartbeatPeriod"),
			 1000000000);
	assert_int_equal(field(spec, "CAConfig", "NodeCertExpiry"),
			 90LL * 24 * 3600 * 1000000000);
	assert_int_equal(field(spec, "CAConfig", "ForceRotate"), 0);
	assert_int_equal(
		field(spec, "Orchestration", "TaskHistoryRetentionLimit"), 5);
	/* Ticks of 50 ms: the 100 ms heartbeat and 500 ms election timeout
	 * Shoal has always used. */
	struct swarm_state st = {0};
	uint32_t hb, el;
	assert_true(swarm_spec_to_state(spec, &st));
	swarm_raft_timing(&st.raft, &hb, &el);
	assert_int_equal(hb, 100);
	assert_int_equal(el, 500);
	json_decref(spec);
}

static void what_the_docker_cli_sends_is_accepted(void **s)
{
	/* docker 28's swarm init (zeros for what the user left alone) and
	 * the spec its swarm update sends back. */
	static const char *const bodies[] = {
		"{\"Labels\":null,\"Orchestration\":{},\"Raft\":{"
		"\"ElectionTick\":0,\"HeartbeatTick\":0},\"Dispatcher\":{},"
		"\"CAConfig\":{},\"TaskDefaults\":{},\"EncryptionConfig\":{"
		"\"AutoLockManagers\":false}}",
		"{\"Name\":\"default\",\"Labels\":{},\"Orchestration\":{"
		"\"TaskHistoryRetentionLimit\":5},\"Raft\":{"
		"\"SnapshotInterval\":10000,\"KeepOldSnapshots\":0,"
		"\"LogEntriesForSlowFollowers\":500,\"ElectionTick\":10,"
		"\"HeartbeatTick\":1},\"Dispatcher\":{\"HeartbeatPeriod\":"
		"7000000000},\"CAConfig\":{\"NodeCertExpiry\":"
		"7776000000000000,\"ForceRotate\":1},\"TaskDefaults\":{},"
		"\"EncryptionConfig\":{\"AutoLockManagers\":false}}",
	};
	char err[256];
	for (size_t i = 0; i < 2; i++) {
		json_t *spec;
		assert_int_equal(
			merge(NULL, bodies[i], &spec, err, sizeof(err)), 0);
		json_decref(spec);
	}
	json_t *spec;
	assert_int_equal(merge(NULL, bodies[1], &spec, err, sizeof(err)), 0);
	assert_int_equal(field(spec, "Dispatcher", "HeartbeatPeriod"),
			 7000000000);
	assert_int_equal(field(spec, "CAConfig", "ForceRotate"), 1);
	assert_int_equal(field(spec, "Raft", "HeartbeatTick"), 1);
	/* What a merge makes is accepted back, as the CLI round trips it. */
	json_t *again;
	assert_int_equal(swarm_spec_merge(spec, spec, &again, err, sizeof(err)),
			 0);
	assert_true(json_equal(spec, again));
	json_decref(again);
	json_decref(spec);
}

static void zeros_and_absent_fields_keep_the_base(void **s)
{
	json_t *base, *next;
	char err[256];
	assert_int_equal(
		merge(NULL,
		      "{\"Raft\":{\"ElectionTick\":20,\"HeartbeatTick\":"
		      "3,\"KeepOldSnapshots\":2},\"Labels\":{\"a\":"
		      "\"b\"}}",
		      &base, err, sizeof(err)),
		0);
	assert_int_equal(merge(base,
			       "{\"Raft\":{\"ElectionTick\":0},\"Dispatcher\":{"
			       "\"HeartbeatPeriod\":2000000000}}",
			       &next, err, sizeof(err)),
			 0);
	assert_int_equal(field(next, "Raft", "ElectionTick"), 20);
	assert_int_equal(field(next, "Raft", "HeartbeatTick"), 3);
	assert_int_equal(field(next, "Raft", "KeepOldSnapshots"), 2);
	assert_int_equal(field(next, "Dispatcher", "HeartbeatPeriod"),
			 2000000000);
	/* Labels are replaced whole, as Docker's are. */
	assert_int_equal(json_object_size(json_object_get(next, "Labels")), 0);
	json_decref(next);
	/* An explicit 0 sets KeepOldSnapshots and the task history. */
	assert_int_equal(merge(base,
			       "{\"Raft\":{\"KeepOldSnapshots\":0},"
			       "\"Orchestration\":{"
			       "\"TaskHistoryRetentionLimit\":0}}",
			       &next, err, sizeof(err)),
			 0);
	assert_int_equal(field(next, "Raft", "KeepOldSnapshots"), 0);
	assert_int_equal(
		field(next, "Orchestration", "TaskHistoryRetentionLimit"), 0);
	uint32_t hb, el;
	struct swarm_state st = {0};
	swarm_spec_to_state(next, &st);
	swarm_raft_timing(&st.raft, &hb, &el);
	assert_int_equal(hb, 150);
	assert_int_equal(el, 1000);
	json_decref(next);
	json_decref(base);
}

/* @in is refused by a merge, with a message naming @name; with @alone
 * also by swarm_spec_check() (a per-field check, not a cross-field one). */
static void refused_as(const char *in, const char *name, bool alone)
{
	json_t *out = (json_t *)1;
	char err[256] = "";
	assert_int_equal(merge(NULL, in, &out, err, sizeof(err)), -EINVAL);
	assert_null(out);
	if (!strstr(err, name))
		fail_msg("\"%s\" refused with \"%s\", not naming %s", in, err,
			 name);
	json_t *j = parse(in);
	assert_int_equal(swarm_spec_check(j, err, sizeof(err)),
			 alone ? -EINVAL : 0);
	json_decref(j);
}

static void refused(const char *in, const char *name)
{
	refused_as(in, name, true);
}

static void what_shoal_cannot_honour_is_refused_by_name(void **s)
{
	refused("{\"Bogus\":1}", "\"Bogus\"");
	refused("{\"Raft\":{\"Ticks\":1}}", "\"Raft.Ticks\"");
	refused("{\"CAConfig\":{\"ExternalCAs\":[{\"Protocol\":\"cfssl\","
		"\"URL\":\"https://x\"}]}}",
		"CAConfig.ExternalCAs");
	refused("{\"CAConfig\":{\"SigningCACert\":\"-----BEGIN\"}}",
		"CAConfig.SigningCACert");
	refused("{\"CAConfig\":{\"SigningCAKey\":\"-----BEGIN\"}}",
		"CAConfig.SigningCAKey");
	refused("{\"TaskDefaults\":{\"LogDriver\":{\"Name\":\"syslog\"}}}",
		"TaskDefaults.LogDriver");
	refused("{\"Name\":\"prod\"}", "Name");
	refused("{\"Labels\":{\"a\":1}}", "\"a\"");
	refused("{\"EncryptionConfig\":{\"AutoLockManagers\":\"yes\"}}",
		"EncryptionConfig.AutoLockManagers");
	/* Empty forms of the refused ones are what clients send. */
	json_t *spec;
	char err[256];
	assert_int_equal(merge(NULL,
			       "{\"CAConfig\":{\"ExternalCAs\":[],"
			       "\"SigningCACert\":\"\"},\"TaskDefaults\":{"
			       "\"LogDriver\":null}}",
			       &spec, err, sizeof(err)),
			 0);
	json_decref(spec);
}

static void values_out_of_range_are_refused(void **s)
{
	refused_as("{\"Raft\":{\"ElectionTick\":2,\"HeartbeatTick\":2}}",
		   "Raft.ElectionTick (2) must be greater than "
		   "Raft.HeartbeatTick",
		   false);
	refused_as("{\"Raft\":{\"HeartbeatTick\":10}}", "Raft.ElectionTick",
		   false);
	refused("{\"Raft\":{\"ElectionTick\":1201}}", "Raft.ElectionTick");
	refused("{\"Raft\":{\"ElectionTick\":-1}}", "Raft.ElectionTick");
	refused("{\"Raft\":{\"KeepOldSnapshots\":65}}",
		"Raft.KeepOldSnapshots");
	refused("{\"Dispatcher\":{\"HeartbeatPeriod\":1000000}}",
		"Dispatcher.HeartbeatPeriod");
	refused("{\"CAConfig\":{\"NodeCertExpiry\":1800000000000}}",
		"CAConfig.NodeCertExpiry");
	refused("{\"Orchestration\":{\"TaskHistoryRetentionLimit\":1001}}",
		"Orchestration.TaskHistoryRetentionLimit");
	refused("{\"Raft\":[]}", "Raft");
	refused("[]", "swarm spec");
}

static void a_node_keeps_the_settings_it_applies(void **s)
{
	json_t *spec;
	char err[256];
	struct swarm_state st = {0};
	assert_int_equal(
		merge(NULL,
		      "{\"Dispatcher\":{\"HeartbeatPeriod\":300000000},"
		      "\"CAConfig\":{\"NodeCertExpiry\":"
		      "172800000000000},\"Raft\":{\"SnapshotInterval\":"
		      "50,\"LogEntriesForSlowFollowers\":20}}",
		      &spec, err, sizeof(err)),
		0);
	assert_true(swarm_spec_to_state(spec, &st));
	assert_int_equal(st.heartbeat_ms, 300);
	assert_int_equal(st.cert_expiry_s, 172800);
	assert_int_equal(st.raft.snapshot_interval, 50);
	assert_int_equal(st.raft.log_entries_for_slow_followers, 20);
	assert_false(swarm_spec_to_state(spec, &st)); /* nothing new */
	/* And a new swarm's spec from that state holds them again. */
	json_t *back = swarm_spec_from_state(&st);
	assert_true(json_equal(back, spec));
	json_decref(back);
	json_decref(spec);
}

static void a_spec_stored_before_a_field_existed_gets_its_default(void **s)
{
	const char *old =
		"{\"Name\":\"default\",\"Labels\":{},\"Dispatcher\":{"
		"\"HeartbeatPeriod\":300000000},\"CAConfig\":{"
		"\"NodeCertExpiry\":7776000000000000},"
		"\"Orchestration\":{\"TaskHistoryRetentionLimit\":5}}";
	json_t *spec = swarm_spec_read((const uint8_t *)old, strlen(old));
	assert_non_null(spec);
	assert_int_equal(field(spec, "Dispatcher", "HeartbeatPeriod"),
			 300000000);
	assert_int_equal(field(spec, "Raft", "ElectionTick"), 10);
	assert_int_equal(field(spec, "CAConfig", "ForceRotate"), 0);
	json_decref(spec);
	spec = swarm_spec_read((const uint8_t *)"garbage", 7);
	assert_non_null(spec);
	assert_int_equal(field(spec, "Raft", "ElectionTick"), 10);
	json_decref(spec);
}

int main(void)
{
	shoal_alloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			a_new_swarm_gets_dockers_shape_and_shoals_timing),
		cmocka_unit_test(what_the_docker_cli_sends_is_accepted),
		cmocka_unit_test(zeros_and_absent_fields_keep_the_base),
		cmocka_unit_test(what_shoal_cannot_honour_is_refused_by_name),
		cmocka_unit_test(values_out_of_range_are_refused),
		cmocka_unit_test(a_node_keeps_the_settings_it_applies),
		cmocka_unit_test(
			a_spec_stored_before_a_field_existed_gets_its_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
