/*
 * Unit tests of the swarm manager and the agent: the CA and tokens, the
 * state on disk, and a manager on a loopback port with real agents joining
 * it, heartbeating, going down and coming back, and being removed;
 * assignment sets pushed to an agent; leader-only components; swarm
 * updates (Raft at the next start, refusals) and a forced rotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/manager.h"
#include "proto/channel.h"
#include "worker/worker.h"

/* ---------------------------------------------------------------- CA */

static void new_cluster(struct swarm_state *st)
{
	memset(st, 0, sizeof(*st));
	st->heartbeat_ms = 50;
	snprintf(st->listen_addr, sizeof(st->listen_addr), "127.0.0.1:0");
	assert_int_equal(ca_init_cluster(st, time_real_ns() / NSEC_PER_SEC), 0);
}

static void init_issues_a_manager_certificate_under_the_new_root(void **s)
{
	struct swarm_state st;
	new_cluster(&st);
	struct wire_cert_info info;
	assert_int_equal(wire_cert_verify(st.cert, st.cert_len, st.root_pk,
					  time_real_ns() / NSEC_PER_SEC, &info,
					  NULL),
			 0);
	assert_string_equal(info.node_id, st.node_id);
	assert_string_equal(info.cluster_id, st.cluster_id);
	assert_int_equal(info.role, WIRE_ROLE_MANAGER);
	assert_memory_equal(info.public_key, st.identity.pk, WIRE_PK_LEN);
	swarm_state_wipe(&st);
}

static void tokens_name_the_root_and_differ_by_role(void **s)
{
	struct swarm_state st;
	new_cluster(&st);
	char w[WIRE_TOKEN_LEN + 1], m[WIRE_TOKEN_LEN + 1];
	ca_token(&st, WIRE_ROLE_WORKER, w);
	ca_token(&st, WIRE_ROLE_MANAGER, m);
	assert_string_not_equal(w, m);
	struct wire_token t;
	assert_int_equal(wire_token_parse(w, &t, NULL), 0);
	assert_true(wire_token_matches_root(&t, st.root_pk));
	swarm_state_wipe(&st);
}

static void rotation_replaces_only_that_roles_secret(void **s)
{
	struct swarm_state st;
	new_cluster(&st);
	char w1[WIRE_TOKEN_LEN + 1], w2[WIRE_TOKEN_LEN + 1];
	char m1[WIRE_TOKEN_LEN + 1], m2[WIRE_TOKEN_LEN + 1];
	ca_token(&st, WIRE_ROLE_WORKER, w1);
	ca_token(&st, WIRE_ROLE_MANAGER, m1);
	ca_rotate(&st, WIRE_ROLE_WORKER);
	ca_token(&st, WIRE_ROLE_WORKER, w2);
	ca_token(&st, WIRE_ROLE_MANAGER, m2);
	assert_string_not_equal(w1, w2);
	assert_string_equal(m1, m2);
	uint8_t secret[WIRE_TOKEN_SECRET_LEN];
	enum wire_role role;
	assert_int_equal(ca_join_lookup(&st, 0, secret, &role), 0);
	assert_int_equal(role, WIRE_ROLE_WORKER);
	assert_memory_equal(secret, st.worker_token.secret, sizeof(secret));
	assert_int_equal(ca_join_lookup(&st, 2, secret, &role), -ENOENT);
	swarm_state_wipe(&st);
}

/* ------------------------------------------------------------- state */

static char tmpdir[256];

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static int setup_dir(void **s)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/shoal-mgr-test.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown_dir(void **s)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static mode_t mode_of(const char *rel)
{
	char p[512];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	if (stat(p, &sb) < 0)
		return 0;
	return sb.st_mode & 07777;
}

static void state_round_trips_with_private_modes(void **s)
{
	struct swarm_state st, back;
	char err[256];
	new_cluster(&st);
	st.nmanagers = 1;
	snprintf(st.managers[0], SWARM_ADDR_MAX, "10.0.0.1:2377");
	st.raft = (struct swarm_raft){.election_tick = 20,
				      .heartbeat_tick = 3,
				      .snapshot_interval = 50,
				      .keep_old_snapshots = 2,
				      .log_entries_for_slow_followers = 20};
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	assert_int_equal(mode_of("certs"), 0700);
	assert_int_equal(mode_of("swarm"), 0700);
	assert_int_equal(mode_of("certs/node.key"), 0600);
	assert_int_equal(mode_of("certs/root.key"), 0600);
	assert_int_equal(mode_of("swarm/state.json"), 0600);
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)), 0);
	assert_string_equal(back.cluster_id, st.cluster_id);
	assert_string_equal(back.node_id, st.node_id);
	assert_int_equal(back.role, WIRE_ROLE_MANAGER);
	assert_true(back.has_root_sk && back.has_tokens);
	assert_memory_equal(back.root_sk, st.root_sk, WIRE_SK_LEN);
	assert_memory_equal(back.identity.pk, st.identity.pk, WIRE_PK_LEN);
	assert_memory_equal(back.worker_token.secret, st.worker_token.secret,
			    WIRE_TOKEN_SECRET_LEN);
	assert_string_equal(back.managers[0], "10.0.0.1:2377");
	/* The swarm's Raft settings, applied from the next start. */
	assert_memory_equal(&back.raft, &st.raft, sizeof(st.raft));
	assert_int_equal(swarm_state_remove(tmpdir), 0);
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)),
			 -ENOENT);
	swarm_state_wipe(&st);
}

static void a_demoted_state_keeps_no_ca_key_on_disk(void **s)
{
	struct swarm_state st, back;
	char err[256];
	new_cluster(&st);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	assert_int_equal(mode_of("certs/root.key"), 0600);
	st.has_root_sk = false;
	shoal_wipe(st.root_sk, sizeof(st.root_sk));
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	assert_int_equal(mode_of("certs/root.key"), 0); /* gone */
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)), 0);
	assert_false(back.has_root_sk);
	swarm_state_wipe(&back);
	swarm_state_wipe(&st);
}

static void a_certificate_of_another_root_is_refused_at_load(void **s)
{
	struct swarm_state st, other, back;
	char err[256];
	new_cluster(&st);
	new_cluster(&other);
	memcpy(st.cert, other.cert, other.cert_len);
	st.cert_len = other.cert_len;
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)),
			 SHOAL_ECORRUPT);
	assert_non_null(strstr(err, "node.crt"));
	swarm_state_wipe(&st);
	swarm_state_wipe(&other);
}

static void a_truncated_state_file_is_reported_not_guessed(void **s)
{
	struct swarm_state st, back;
	char err[256], p[512];
	new_cluster(&st);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/swarm/state.json", tmpdir);
	assert_int_equal(truncate(p, 20), 0);
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)),
			 SHOAL_ECORRUPT);
	assert_non_null(strstr(err, "state.json"));
	swarm_state_wipe(&st);
}

/* ------------------------------------------- a manager on loopback */

struct fx {
	uv_loop_t loop;
	struct swarm_state st;
	struct mgr *m;
	char addr[64];
	int saves;
	bool joined;
	struct agent_join_result res;
	struct wire_keypair id;
	bool ended;
	char ended_why[256];
};

static struct fx fx;

static bool ready_flag;
static int op_rc;
static bool op_finished;

static void on_ready(void *arg)
{
	ready_flag = true;
}

static bool is_ready_mgr(void)
{
	return ready_flag;
}

static void op_done(void *arg, int rc, const char *msg)
{
	op_rc = rc;
	op_finished = true;
}

static bool op_is_done(void)
{
	return op_finished;
}

static void op_begin(void)
{
	op_finished = false;
	op_rc = 1;
}

static void saved(void *arg)
{
	struct fx *f = arg;
	f->saves++;
}

static void timeout_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Run the loop until @pred or 10 s; returns pred's last value. */
static bool run_until(bool (*pred)(void))
{
	bool expired = false;
	uv_timer_t t;
	uv_timer_init(&fx.loop, &t);
	t.data = &expired;
	uv_timer_start(&t, timeout_cb, 10000, 0);
	while (!pred() && !expired)
		uv_run(&fx.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&fx.loop, UV_RUN_NOWAIT);
	return pred();
}

static bool never(void)
{
	return false;
}

static void run_for(uint64_t ms)
{
	bool expired = false;
	uv_timer_t t;
	uv_timer_init(&fx.loop, &t);
	t.data = &expired;
	uv_timer_start(&t, timeout_cb, ms, 0);
	while (!expired && !never())
		uv_run(&fx.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&fx.loop, UV_RUN_NOWAIT);
}

static void fill_desc(struct agent_desc *d, const char *host)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->hostname, sizeof(d->hostname), "%s", host);
	snprintf(d->os, sizeof(d->os), "linux");
	snprintf(d->arch, sizeof(d->arch), "x86_64");
	snprintf(d->addr, sizeof(d->addr), "127.0.0.1:0");
	d->nano_cpus = 2000000000;
	d->memory_bytes = 1 << 30;
}

static int setup_mgr(void **s)
{
	setup_dir(s);
	memset(&fx, 0, sizeof(fx));
	assert_int_equal(uv_loop_init(&fx.loop), 0);
	new_cluster(&fx.st);
	struct mgr_node_desc self = {0};
	snprintf(self.hostname, sizeof(self.hostname), "mgr1");
	snprintf(self.addr, sizeof(self.addr), "127.0.0.1:0");
	char err[256];
	char swarm[300];
	snprintf(swarm, sizeof(swarm), "%s/swarm", tmpdir);
	mkdir(swarm, 0700);
	struct mgr_config cfg = {
		.loop = &fx.loop,
		.data_root = tmpdir,
		.st = &fx.st,
		.self = &self,
		.founder = true,
		.ready = on_ready,
		.state_changed = saved,
		.arg = &fx,
	};
	ready_flag = false;
	assert_int_equal(mgr_start(&cfg, &fx.m, err, sizeof(err)), 0);
	assert_true(run_until(is_ready_mgr));
	snprintf(fx.addr, sizeof(fx.addr), "127.0.0.1:%d", mgr_port(fx.m));
	snprintf(fx.st.managers[0], SWARM_ADDR_MAX, "%s", fx.addr);
	fx.st.nmanagers = 1;
	return 0;
}

static void stopped(void *arg)
{
	*(bool *)arg = true;
}

static int teardown_mgr(void **s)
{
	bool done = false;
	if (fx.m)
		mgr_stop(fx.m, stopped, &done);
	while (fx.m && !done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx.loop), 0);
	swarm_state_wipe(&fx.st);
	teardown_dir(s);
	return 0;
}

static void join_done(void *arg, const struct agent_join_result *r)
{
	fx.res = *r;
	fx.joined = true;
}

static bool is_joined(void)
{
	return fx.joined;
}

/* Join with @token; returns the result's code. */
static int join_with(const char *token, const char *host)
{
	struct agent_desc d;
	fill_desc(&d, host);
	char err[256];
	fx.joined = false;
	wire_keypair_generate(&fx.id);
	int rc = agent_join(&fx.loop, token, fx.addr, &fx.id, &d, join_done,
			    NULL, err, sizeof(err));
	if (rc < 0)
		return rc;
	assert_true(run_until(is_joined));
	return fx.res.rc;
}

static void a_worker_token_gets_a_worker_certificate_and_a_node(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 1);
	assert_int_equal(join_with(tok, "w1"), 0);
	assert_int_equal(fx.res.role, WIRE_ROLE_WORKER);
	assert_string_equal(fx.res.cluster_id, fx.st.cluster_id);
	assert_memory_equal(fx.res.root_pk, fx.st.root_pk, WIRE_PK_LEN);
	assert_int_equal(fx.res.nmanagers, 1);
	assert_string_equal(fx.res.managers[0], fx.addr);
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 2);
	const struct store_object *o =
		store_get(mgr_store(fx.m), STORE_NODES, fx.res.node_id);
	assert_non_null(o);
	json_t *spec = NULL;
	assert_int_equal(
		jsonx_parse((const char *)o->spec, o->spec_len, &spec, NULL, 0),
		0);
	assert_string_equal(jsonx_str(spec, "Role", ""), "worker");
	json_decref(spec);
	assert_true(fx.saves > 0); /* the CA's serial moved */
}

static void bad_tokens_are_refused_and_add_no_node(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1];
	struct swarm_state other;
	new_cluster(&other);
	/* Right cluster, wrong secret. */
	struct wire_token t = fx.st.worker_token;
	t.secret[0] ^= 1;
	wire_token_format(&t, tok);
	assert_int_equal(join_with(tok, "w1"), SHOAL_ETOKEN);
	assert_non_null(strstr(fx.res.error, "valid join token"));
	/* Another cluster's token. */
	ca_token(&other, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), SHOAL_ETOKEN);
	assert_non_null(strstr(fx.res.error, "root key"));
	/* Malformed: refused before any connection. */
	assert_int_equal(join_with("SWMTKN-1-nope", "w1"), SHOAL_ETOKEN);
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 1);
	swarm_state_wipe(&other);
}

static void a_rotated_token_is_refused_and_the_new_one_works(void **s)
{
	char old[WIRE_TOKEN_LEN + 1], tok[WIRE_TOKEN_LEN + 1];
	char err[256];
	ca_token(&fx.st, WIRE_ROLE_WORKER, old);
	op_begin();
	assert_int_equal(mgr_rotate_token(fx.m, WIRE_ROLE_WORKER, op_done, NULL,
					  err, sizeof(err)),
			 0);
	assert_true(run_until(op_is_done));
	assert_int_equal(op_rc, 0);
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(old, "w1"), SHOAL_ETOKEN);
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 1);
	assert_int_equal(join_with(tok, "w1"), 0);
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 2);
}

static void a_manager_token_gets_a_manager_certificate_and_the_ca_key(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1];
	ca_token(&fx.st, WIRE_ROLE_MANAGER, tok);
	assert_int_equal(join_with(tok, "m2"), 0);
	assert_int_equal(fx.res.role, WIRE_ROLE_MANAGER);
	assert_true(fx.res.has_root_sk);
	assert_memory_equal(fx.res.root_sk, fx.st.root_sk, WIRE_SK_LEN);
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 2);
}

static struct agent *agent;

static void agent_ended(void *arg, const char *why)
{
	fx.ended = true;
	snprintf(fx.ended_why, sizeof(fx.ended_why), "%s", why);
}

static int renewals;
static struct agent_renewal renewal;

static void agent_renewed(void *arg, const struct agent_renewal *r)
{
	renewals++;
	renewal = *r;
}

static bool has_renewed(void)
{
	return renewals > 0;
}

static uint64_t assigned_gen;
static size_t assigned_n;
static char assigned_first[32];

static void agent_assigned(void *arg, uint64_t gen,
			   const struct agent_item *items, size_t n)
{
	assigned_gen = gen;
	assigned_n = n;
	snprintf(assigned_first, sizeof(assigned_first), "%.*s",
		 n ? (int)items[0].len : 0,
		 n ? (const char *)items[0].data : "");
}

static void start_agent(void)
{
	struct agent_desc d;
	fill_desc(&d, "w1");
	struct agent_config cfg = {
		.loop = &fx.loop,
		.identity = &fx.id,
		.cert = fx.res.cert,
		.cert_len = fx.res.cert_len,
		.root_pk = fx.res.root_pk,
		.managers = fx.res.managers,
		.nmanagers = fx.res.nmanagers,
		.desc = &d,
		.ended = agent_ended,
		.renewed = agent_renewed,
		.assigned = agent_assigned,
	};
	assert_int_equal(agent_start(&cfg, &agent), 0);
}

static void stop_agent(void)
{
	bool done = false;
	agent_stop(agent, stopped, &done);
	while (!done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	agent = NULL;
}

static const char *node_state(void)
{
	static char buf[16];
	const struct store_object *o =
		store_get(mgr_store(fx.m), STORE_NODES, fx.res.node_id);
	if (!o)
		return "gone";
	json_t *st = NULL;
	jsonx_parse((const char *)o->status, o->status_len, &st, NULL, 0);
	snprintf(buf, sizeof(buf), "%s",
		 jsonx_str(jsonx_obj(st, "Status"), "State", "?"));
	json_decref(st);
	return buf;
}

static bool is_ready(void)
{
	return strcmp(node_state(), "ready") == 0 && agent &&
	       agent_heartbeats(agent) >= 2;
}

static bool is_down(void)
{
	return strcmp(node_state(), "down") == 0;
}

static bool has_ended(void)
{
	return fx.ended;
}

static void a_node_heartbeats_goes_down_and_comes_back(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	start_agent();
	assert_true(run_until(is_ready));
	assert_true(mgr_node_ready(fx.m, fx.res.node_id));
	stop_agent();
	assert_true(run_until(is_down));
	start_agent();
	assert_true(run_until(is_ready));
	stop_agent();
}

static void a_stale_version_is_refused_as_out_of_sequence(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1], err[256];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	const struct store_object *o =
		store_get(mgr_store(fx.m), STORE_NODES, fx.res.node_id);
	uint64_t v = o->version;
	const char *spec = "{\"Role\":\"worker\",\"Availability\":\"drain\","
			   "\"Labels\":{\"zone\":\"a\"}}";
	op_begin();
	assert_int_equal(mgr_node_update(fx.m, fx.res.node_id, v, spec,
					 strlen(spec), op_done, NULL, err,
					 sizeof(err)),
			 0);
	assert_true(run_until(op_is_done));
	assert_int_equal(op_rc, 0);
	op_begin();
	assert_int_equal(mgr_node_update(fx.m, fx.res.node_id, v, spec,
					 strlen(spec), op_done, NULL, err,
					 sizeof(err)),
			 0);
	assert_true(run_until(op_is_done));
	assert_int_equal(op_rc, SHOAL_ESTALE);
	const char *bad = "{\"Role\":\"worker\",\"Availability\":\"sleepy\"}";
	o = store_get(mgr_store(fx.m), STORE_NODES, fx.res.node_id);
	assert_int_equal(mgr_node_update(fx.m, fx.res.node_id, o->version, bad,
					 strlen(bad), op_done, NULL, err,
					 sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "availability"));
}

static void a_removed_node_is_told_and_its_certificate_refused(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1], err[256];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	start_agent();
	assert_true(run_until(is_ready));
	assert_int_equal(mgr_node_remove(fx.m, fx.res.node_id, false, op_done,
					 NULL, err, sizeof(err)),
			 SHOAL_ECONFLICT);
	assert_non_null(strstr(err, "is not down"));
	assert_int_equal(mgr_node_remove(fx.m, fx.st.node_id, true, op_done,
					 NULL, err, sizeof(err)),
			 SHOAL_ECONFLICT);
	assert_non_null(strstr(err, "demoted"));
	op_begin();
	assert_int_equal(mgr_node_remove(fx.m, fx.res.node_id, true, op_done,
					 NULL, err, sizeof(err)),
			 0);
	assert_true(run_until(op_is_done));
	assert_int_equal(op_rc, 0);
	assert_true(run_until(has_ended));
	assert_non_null(strstr(fx.ended_why, "removed"));
	stop_agent();
	/* The certificate no longer opens a session. */
	fx.ended = false;
	start_agent();
	run_for(500); /* several attempts, each refused at the handshake */
	assert_false(agent_in_session(agent));
	assert_false(mgr_node_ready(fx.m, fx.res.node_id));
	stop_agent();
}

static bool has_two_nodes(void)
{
	return store_count(mgr_store(fx.m), STORE_NODES) == 2;
}

static void the_store_survives_a_manager_restart(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1], err[256];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	bool done = false;
	mgr_stop(fx.m, stopped, &done);
	while (!done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	struct mgr_node_desc self = {0};
	struct mgr_config cfg = {
		.loop = &fx.loop,
		.data_root = tmpdir,
		.st = &fx.st,
		.self = &self,
		.founder = true,
		.ready = on_ready,
	};
	ready_flag = false;
	assert_int_equal(mgr_start(&cfg, &fx.m, err, sizeof(err)), 0);
	assert_true(run_until(is_ready_mgr));
	assert_true(run_until(has_two_nodes));
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 2);
	assert_non_null(
		store_get(mgr_store(fx.m), STORE_NODES, fx.res.node_id));
}

/* --- a peer that misbehaves ------------------------------------------- */

struct raw {
	const uint8_t *bytes;
	size_t len;
	bool closed;
	int reason;
};

static void raw_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct raw *r = wire_chan_data(c);
	wire_chan_send(c, r->bytes, r->len);
}

static void raw_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
}

static struct raw *raw_now;

static void raw_closed(struct wire_chan *c, int reason)
{
	struct raw *r = wire_chan_data(c);
	r->closed = true;
	r->reason = reason;
}

static bool raw_is_closed(void)
{
	return raw_now->closed;
}

static const struct wire_chan_callbacks raw_cb = {
	.connected = raw_connected,
	.frame = raw_frame,
	.closed = raw_closed,
};

/* Send @len bytes as one frame on a certified connection; wait for the
 * manager to close it. */
static void send_raw(const void *bytes, size_t len)
{
	struct raw r = {.bytes = bytes, .len = len};
	struct sockaddr_storage ss;
	assert_int_equal(agent_parse_addr(fx.addr, &ss), 0);
	struct wire_chan_config cfg = {
		.security = WIRE_SECURE,
		.root_pk = fx.res.root_pk,
		.identity = &fx.id,
		.cert = fx.res.cert,
		.cert_len = fx.res.cert_len,
	};
	struct wire_chan *c;
	raw_now = &r;
	assert_int_equal(wire_chan_connect(&fx.loop, (struct sockaddr *)&ss,
					   &cfg, &raw_cb, &r, &c),
			 0);
	assert_true(run_until(raw_is_closed));
}

static void malformed_or_misplaced_messages_close_only_that_connection(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	uint64_t version =
		store_get(mgr_store(fx.m), STORE_NODES, fx.res.node_id)
			->version;
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x07, 0x01};
	send_raw(garbage, sizeof(garbage));
	/* A join request on a certified connection. */
	static const uint8_t join[] = {0x0a, 0x00};
	send_raw(join, sizeof(join));
	/* A heartbeat outside any session. */
	static const uint8_t hb[] = {0x2a, 0x03, 0x0a, 0x01, 0x78};
	send_raw(hb, sizeof(hb));
	assert_int_equal(store_count(mgr_store(fx.m), STORE_NODES), 2);
	assert_int_equal(store_get(mgr_store(fx.m), STORE_NODES, fx.res.node_id)
				 ->version,
			 version);
	/* The manager still serves a well-behaved agent. */
	start_agent();
	assert_true(run_until(is_ready));
	stop_agent();
}

static bool in_session(void)
{
	return agent && agent_in_session(agent);
}

static void certificates_are_renewed_before_they_expire(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1];
	/* Certificates of three seconds' life: renewal due after two. */
	fx.st.cert_expiry_s = 3;
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	renewals = 0;
	start_agent();
	assert_true(run_until(is_ready));
	assert_true(run_until(has_renewed));
	stop_agent();
	struct wire_cert_info old, fresh;
	assert_int_equal(wire_cert_decode(fx.res.cert, fx.res.cert_len, &old),
			 0);
	assert_int_equal(
		wire_cert_decode(renewal.cert, renewal.cert_len, &fresh), 0);
	assert_true(fresh.not_after > old.not_after);
	assert_string_equal(fresh.node_id, fx.res.node_id);
	assert_int_equal(fresh.role, WIRE_ROLE_WORKER);
	assert_memory_equal(fresh.public_key, fx.id.pk, WIRE_PK_LEN);
	/* Once the first certificate has expired it opens nothing... */
	run_for(1000 *
		(uint64_t)(old.not_after - time_real_ns() / NSEC_PER_SEC + 1));
	start_agent();
	run_for(500);
	assert_false(agent_in_session(agent));
	stop_agent();
	/* ...and the renewed one does. */
	memcpy(fx.res.cert, renewal.cert, renewal.cert_len);
	fx.res.cert_len = renewal.cert_len;
	start_agent();
	assert_true(run_until(in_session));
	stop_agent();
}

/* --- the swarm spec -------------------------------------------------- */

/* Update the swarm with @spec at the cluster object's version; the
 * outcome of the change (or the code it was refused with at once). */
static int update_swarm(const char *spec, char *err, size_t errlen)
{
	op_begin();
	int rc = mgr_swarm_update(fx.m, mgr_cluster(fx.m)->version, spec,
				  strlen(spec), false, false, op_done, NULL,
				  err, errlen);
	if (rc < 0)
		return rc;
	assert_true(run_until(op_is_done));
	return op_rc;
}

static void restart_mgr(void)
{
	char err[256];
	bool done = false;
	mgr_stop(fx.m, stopped, &done);
	while (!done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	struct mgr_node_desc self = {0};
	struct mgr_config cfg = {
		.loop = &fx.loop,
		.data_root = tmpdir,
		.st = &fx.st,
		.self = &self,
		.founder = true,
		.ready = on_ready,
	};
	ready_flag = false;
	assert_int_equal(mgr_start(&cfg, &fx.m, err, sizeof(err)), 0);
	assert_true(run_until(is_ready_mgr));
	snprintf(fx.addr, sizeof(fx.addr), "127.0.0.1:%d", mgr_port(fx.m));
}

static void swarm_update_applies_the_spec_raft_at_the_next_start(void **s)
{
	char err[256], tok[WIRE_TOKEN_LEN + 1];
	int saves = fx.saves;
	assert_int_equal(update_swarm("{\"Raft\":{\"ElectionTick\":20,"
				      "\"HeartbeatTick\":3,"
				      "\"SnapshotInterval\":50},"
				      "\"Dispatcher\":{\"HeartbeatPeriod\":"
				      "60000000},\"CAConfig\":{"
				      "\"NodeCertExpiry\":7200000000000}}",
				      err, sizeof(err)),
			 0);
	/* The settings are the node's at once, and saved... */
	assert_int_equal(fx.st.heartbeat_ms, 60);
	assert_int_equal(fx.st.cert_expiry_s, 7200);
	assert_int_equal(fx.st.raft.election_tick, 20);
	assert_int_equal(fx.st.raft.heartbeat_tick, 3);
	assert_int_equal(fx.st.raft.snapshot_interval, 50);
	assert_true(fx.saves > saves);
	/* ...but Raft runs with what it started with until it restarts. */
	assert_int_not_equal(mgr_raft_running(fx.m)->election_tick, 20);
	restart_mgr();
	assert_int_equal(mgr_raft_running(fx.m)->election_tick, 20);
	assert_int_equal(mgr_raft_running(fx.m)->heartbeat_tick, 3);
	/* A manager that joins starts with the swarm's settings. */
	ca_token(&fx.st, WIRE_ROLE_MANAGER, tok);
	assert_int_equal(join_with(tok, "m2"), 0);
	assert_true(fx.res.has_raft);
	assert_int_equal(fx.res.raft.election_tick, 20);
	assert_int_equal(fx.res.raft.snapshot_interval, 50);
	/* Refused at once, naming the field; nothing changes. */
	uint64_t v = mgr_cluster(fx.m)->version;
	assert_int_equal(update_swarm("{\"Bogus\":1}", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "\"Bogus\""));
	assert_int_equal(update_swarm("{\"CAConfig\":{\"ExternalCAs\":[{"
				      "\"URL\":\"https://ca\"}]}}",
				      err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "CAConfig.ExternalCAs"));
	assert_int_equal(update_swarm("{\"Raft\":{\"ElectionTick\":3}}", err,
				      sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "HeartbeatTick"));
	assert_int_equal(mgr_cluster(fx.m)->version, v);
}

static int renewals_seen;

static bool renewed_again(void)
{
	return renewals > renewals_seen;
}

static void a_forced_rotation_renews_every_certificate_once(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1], err[256];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	renewals = 0;
	start_agent();
	assert_true(run_until(is_ready));
	run_for(300); /* heartbeats: no renewal while nothing is forced */
	assert_int_equal(renewals, 0);
	assert_int_equal(update_swarm("{\"CAConfig\":{\"ForceRotate\":1}}", err,
				      sizeof(err)),
			 0);
	json_t *spec = swarm_spec_read(mgr_cluster(fx.m)->spec,
				       mgr_cluster(fx.m)->spec_len);
	assert_int_equal(
		jsonx_int(jsonx_obj(spec, "CAConfig"), "ForceRotate", 0), 1);
	json_decref(spec);
	assert_true(run_until(has_renewed));
	struct wire_cert_info old, fresh;
	assert_int_equal(wire_cert_decode(fx.res.cert, fx.res.cert_len, &old),
			 0);
	assert_int_equal(
		wire_cert_decode(renewal.cert, renewal.cert_len, &fresh), 0);
	assert_int_equal(renewal.role, WIRE_ROLE_WORKER);
	assert_string_equal(fresh.node_id, fx.res.node_id);
	assert_memory_equal(fresh.public_key, fx.id.pk, WIRE_PK_LEN);
	assert_true(fresh.serial != old.serial);
	assert_true(fresh.epoch > old.epoch);
	/* Once renewed, the node is not asked again. */
	run_for(500);
	assert_int_equal(renewals, 1);
	/* The same value again rotates nothing; the next one does. */
	renewals_seen = renewals;
	assert_int_equal(update_swarm("{\"CAConfig\":{\"ForceRotate\":1}}", err,
				      sizeof(err)),
			 0);
	run_for(300);
	assert_int_equal(renewals, 1);
	assert_int_equal(update_swarm("{\"CAConfig\":{\"ForceRotate\":2}}", err,
				      sizeof(err)),
			 0);
	assert_true(run_until(renewed_again));
	stop_agent();
}

/* --- assignments ------------------------------------------------------- */

static uint64_t want_gen;

static bool got_gen(void)
{
	return assigned_gen == want_gen;
}

static void a_nodes_assignment_set_reaches_its_agent(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1];
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	/* A set pushed before the session opens is sent when it does. */
	struct mgr_item items[2] = {{"task-a", 6}, {"task-b", 6}};
	assigned_gen = 0;
	assert_int_equal(mgr_assign(fx.m, fx.res.node_id, items, 2, &want_gen),
			 0);
	start_agent();
	assert_true(run_until(got_gen));
	assert_int_equal(assigned_n, 2);
	assert_string_equal(assigned_first, "task-a");
	/* A new set replaces it in the live session. */
	assert_int_equal(
		mgr_assign(fx.m, fx.res.node_id, items + 1, 1, &want_gen), 0);
	assert_true(run_until(got_gen));
	assert_int_equal(assigned_n, 1);
	assert_string_equal(assigned_first, "task-b");
	assert_int_equal(mgr_assign(fx.m, fx.res.node_id, NULL, 0, &want_gen),
			 0);
	assert_true(run_until(got_gen));
	assert_int_equal(assigned_n, 0);
	stop_agent();
	/* Refused: an unknown node, a set past the bounds. */
	assert_int_equal(mgr_assign(fx.m, "nope", items, 1, NULL),
			 SHOAL_ENOTFOUND);
	struct mgr_item big = {"x", MGR_ASSIGN_MAX_BYTES + 1};
	assert_int_equal(mgr_assign(fx.m, fx.res.node_id, &big, 1, NULL),
			 -ENOBUFS);
}

/* --- a leader-only component ------------------------------------------ */

struct probe {
	int started, stopped;
	int fail_starts; /* start() fails this many times first */
	bool running;
	bool cluster_at_start;
	size_t nodes_at_start;
	int node_events;
};

static struct probe probe, late;

static int probe_start(void *arg, struct mgr *m, struct store_watcher *w)
{
	struct probe *p = arg;
	if (p->fail_starts > 0) {
		p->fail_starts--;
		return -EIO;
	}
	p->started++;
	p->running = true;
	p->cluster_at_start = mgr_cluster(m) != NULL;
	p->nodes_at_start = store_count(mgr_store(m), STORE_NODES);
	return 0;
}

static void probe_changed(void *arg, struct store_watcher *w)
{
	struct probe *p = arg;
	struct store_event ev;
	int rc;
	assert_true(p->running);
	while ((rc = store_watch_next(w, &ev)) != -EAGAIN) {
		assert_int_equal(rc, 0);
		if (ev.table == STORE_NODES)
			p->node_events++;
		store_event_fini(&ev);
	}
}

static void probe_stop(void *arg)
{
	struct probe *p = arg;
	p->stopped++;
	p->running = false;
}

static bool probe_started(void)
{
	return probe.started == 1;
}

static bool late_started(void)
{
	return late.started == 1;
}

static int events_seen;

static bool probe_saw_more(void)
{
	return probe.node_events > events_seen;
}

static void a_component_runs_while_its_manager_leads(void **s)
{
	char tok[WIRE_TOKEN_LEN + 1], err[256];
	bool done = false;
	mgr_stop(fx.m, stopped, &done);
	while (!done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	memset(&probe, 0, sizeof(probe));
	memset(&late, 0, sizeof(late));
	struct mgr_component c = {
		.name = "probe",
		.tables = STORE_TABLE_BIT(STORE_NODES),
		.start = probe_start,
		.changed = probe_changed,
		.stop = probe_stop,
		.arg = &probe,
	};
	struct mgr_node_desc self = {0};
	struct mgr_config cfg = {
		.loop = &fx.loop,
		.data_root = tmpdir,
		.st = &fx.st,
		.self = &self,
		.founder = true,
		.ready = on_ready,
		.components = &c,
		.ncomponents = 1,
	};
	ready_flag = false;
	assert_int_equal(mgr_start(&cfg, &fx.m, err, sizeof(err)), 0);
	assert_int_equal(probe.started, 0); /* not before it leads */
	assert_true(run_until(probe_started));
	/* Started with the store current: the cluster object and the
	 * manager's own node were there. */
	assert_true(probe.cluster_at_start);
	assert_true(probe.nodes_at_start >= 1);
	assert_true(mgr_components_running(fx.m));
	/* Changes reach it through its watcher. */
	events_seen = probe.node_events;
	snprintf(fx.addr, sizeof(fx.addr), "127.0.0.1:%d", mgr_port(fx.m));
	ca_token(&fx.st, WIRE_ROLE_WORKER, tok);
	assert_int_equal(join_with(tok, "w1"), 0);
	assert_true(run_until(probe_saw_more));
	/* One added while the manager leads starts in a loop turn; one
	 * whose start fails is retried by the leader's timer. */
	late.fail_starts = 2;
	c.name = "late";
	c.arg = &late;
	assert_int_equal(mgr_component_add(fx.m, &c), 0);
	assert_true(run_until(late_started));
	assert_int_equal(late.fail_starts, 0);
	c.start = NULL;
	assert_int_equal(mgr_component_add(fx.m, &c), -EINVAL);
	/* Stopping the manager stops them, once each. */
	done = false;
	mgr_stop(fx.m, stopped, &done);
	while (!done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	fx.m = NULL;
	assert_int_equal(probe.stopped, 1);
	assert_int_equal(late.stopped, 1);
	assert_false(probe.running);
}

static void quiet(enum log_level lvl, const char *module, const char *line,
		  void *arg)
{
}

int main(void)
{
	shoal_alloc_install();
	shoal_crypto_init();
	if (!getenv("SHOAL_TEST_VERBOSE"))
		log_set_sink(quiet, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			init_issues_a_manager_certificate_under_the_new_root),
		cmocka_unit_test(tokens_name_the_root_and_differ_by_role),
		cmocka_unit_test(rotation_replaces_only_that_roles_secret),
		cmocka_unit_test_setup_teardown(
			state_round_trips_with_private_modes, setup_dir,
			teardown_dir),
		cmocka_unit_test_setup_teardown(
			a_demoted_state_keeps_no_ca_key_on_disk, setup_dir,
			teardown_dir),
		cmocka_unit_test_setup_teardown(
			a_certificate_of_another_root_is_refused_at_load,
			setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(
			a_truncated_state_file_is_reported_not_guessed,
			setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(
			a_worker_token_gets_a_worker_certificate_and_a_node,
			setup_mgr, teardown_mgr),
		cmocka_unit_test_setup_teardown(
			bad_tokens_are_refused_and_add_no_node, setup_mgr,
			teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_rotated_token_is_refused_and_the_new_one_works,
			setup_mgr, teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_manager_token_gets_a_manager_certificate_and_the_ca_key,
			setup_mgr, teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_node_heartbeats_goes_down_and_comes_back, setup_mgr,
			teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_stale_version_is_refused_as_out_of_sequence,
			setup_mgr, teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_removed_node_is_told_and_its_certificate_refused,
			setup_mgr, teardown_mgr),
		cmocka_unit_test_setup_teardown(
			the_store_survives_a_manager_restart, setup_mgr,
			teardown_mgr),
		cmocka_unit_test_setup_teardown(
			malformed_or_misplaced_messages_close_only_that_connection,
			setup_mgr, teardown_mgr),
		cmocka_unit_test_setup_teardown(
			certificates_are_renewed_before_they_expire, setup_mgr,
			teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_component_runs_while_its_manager_leads, setup_mgr,
			teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_nodes_assignment_set_reaches_its_agent, setup_mgr,
			teardown_mgr),
		cmocka_unit_test_setup_teardown(
			swarm_update_applies_the_spec_raft_at_the_next_start,
			setup_mgr, teardown_mgr),
		cmocka_unit_test_setup_teardown(
			a_forced_rotation_renews_every_certificate_once,
			setup_mgr, teardown_mgr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
