/*
 * Three managers in one process on loopback, their store replicated
 * through Raft: a manager joins with the manager token and answers ready
 * only once it votes; a write at a follower is forwarded to the leader;
 * a read after mgr_sync() at any manager sees every committed write (a
 * token rotation, which travels as a generic WriteOp, included); when
 * the leader stops, another is elected and takes writes; leader-only
 * components run on the leader alone and follow a handover. No root needed
 * (the cluster tests cover the same across network namespaces).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/manager.h"
#include "worker/worker.h"

#define N 3

struct member {
	char dir[64];
	struct swarm_state st;
	struct mgr *m;
	bool ready;
	bool stopped;
};

static uv_loop_t loop;
static struct member mb[N];
static int base_port;

static void timeout_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static bool run_until(bool (*pred)(void *), void *arg, uint64_t ms)
{
	bool expired = false;
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	t.data = &expired;
	uv_timer_start(&t, timeout_cb, ms, 0);
	while (!pred(arg) && !expired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return pred(arg);
}

static void on_ready(void *arg)
{
	((struct member *)arg)->ready = true;
}

static bool is_ready(void *arg)
{
	return ((struct member *)arg)->ready;
}

static void addr_of(int i, char *out, size_t cap)
{
	snprintf(out, cap, "127.0.0.1:%d", base_port + 2 * i);
}

static int start_member(int i, bool founder)
{
	struct mgr_node_desc self = {0};
	snprintf(self.hostname, sizeof(self.hostname), "m%d", i + 1);
	addr_of(i, self.addr, sizeof(self.addr));
	struct mgr_config cfg = {
		.loop = &loop,
		.data_root = mb[i].dir,
		.st = &mb[i].st,
		.self = &self,
		.founder = founder,
		.ready = on_ready,
		.arg = &mb[i],
	};
	char err[256];
	mb[i].ready = false;
	return mgr_start(&cfg, &mb[i].m, err, sizeof(err));
}

struct joined {
	bool done;
	struct agent_join_result r;
};

static void join_done(void *arg, const struct agent_join_result *r)
{
	struct joined *j = arg;
	j->r = *r;
	j->done = true;
}

static bool join_finished(void *arg)
{
	return ((struct joined *)arg)->done;
}

/* Member @i joins through member 0 with the manager token. */
static void join_member(int i)
{
	struct member *x = &mb[i];
	char tok[WIRE_TOKEN_LEN + 1], addr[64], err[256];
	ca_token(&mb[0].st, WIRE_ROLE_MANAGER, tok);
	addr_of(0, addr, sizeof(addr));
	memset(&x->st, 0, sizeof(x->st));
	wire_keypair_generate(&x->st.identity);
	struct agent_desc d = {0};
	snprintf(d.hostname, sizeof(d.hostname), "m%d", i + 1);
	addr_of(i, d.addr, sizeof(d.addr));
	static struct joined j;
	memset(&j, 0, sizeof(j));
	assert_int_equal(agent_join(&loop, tok, addr, &x->st.identity, &d,
				    join_done, &j, err, sizeof(err)),
			 0);
	assert_true(run_until(join_finished, &j, 10000));
	assert_int_equal(j.r.rc, 0);
	assert_true(j.r.has_root_sk);
	struct swarm_state *st = &x->st;
	snprintf(st->cluster_id, sizeof(st->cluster_id), "%s", j.r.cluster_id);
	snprintf(st->node_id, sizeof(st->node_id), "%s", j.r.node_id);
	st->role = j.r.role;
	memcpy(st->cert, j.r.cert, j.r.cert_len);
	st->cert_len = j.r.cert_len;
	memcpy(st->root_pk, j.r.root_pk, WIRE_PK_LEN);
	memcpy(st->root_sk, j.r.root_sk, WIRE_SK_LEN);
	st->has_root_sk = true;
	for (size_t k = 0; k < j.r.nmanagers; k++) {
		snprintf(st->managers[k], SWARM_ADDR_MAX, "%s",
			 j.r.managers[k]);
		snprintf(st->manager_ids[k], WIRE_ID_MAX + 1, "%s",
			 j.r.manager_ids[k]);
	}
	st->nmanagers = j.r.nmanagers;
	st->heartbeat_ms = 200;
	addr_of(i, st->listen_addr, sizeof(st->listen_addr));
	addr_of(i, st->advertise_addr, sizeof(st->advertise_addr));
	assert_int_equal(start_member(i, false), 0);
	assert_true(run_until(is_ready, x, 15000));
}

static int leader(void)
{
	for (int i = 0; i < N; i++)
		if (mb[i].m && !mb[i].stopped && mgr_is_leader(mb[i].m))
			return i;
	return -1;
}

static bool has_leader(void *arg)
{
	int old = *(int *)arg;
	int l = leader();
	return l >= 0 && l != old;
}

/* Whether the 2*N ports from @base are free on 127.0.0.1 now. */
static bool ports_free(int base)
{
	int fds[2 * N];
	int n = 0;
	bool ok = true;
	for (; n < 2 * N && ok; n++) {
		struct sockaddr_in sa = {
			.sin_family = AF_INET,
			.sin_port = htons((uint16_t)(base + n)),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ok = fds[n] >= 0 &&
		     bind(fds[n], (struct sockaddr *)&sa, sizeof(sa)) == 0;
	}
	while (n-- > 0)
		if (fds[n] >= 0)
			close(fds[n]);
	return ok;
}

static int setup(void **state)
{
	memset(mb, 0, sizeof(mb));
	assert_int_equal(uv_loop_init(&loop), 0);
	for (int attempt = 0; attempt < 5; attempt++) {
		do
			base_port =
				20000 + (int)(shoal_random_u64() % 20000) * 2;
		while (!ports_free(base_port));
		for (int i = 0; i < N; i++) {
			snprintf(mb[i].dir, sizeof(mb[i].dir),
				 "/tmp/shoal-repl-test.XXXXXX");
			assert_non_null(mkdtemp(mb[i].dir));
		}
		struct swarm_state *st = &mb[0].st;
		memset(st, 0, sizeof(*st));
		st->heartbeat_ms = 200;
		addr_of(0, st->listen_addr, sizeof(st->listen_addr));
		addr_of(0, st->advertise_addr, sizeof(st->advertise_addr));
		snprintf(st->managers[0], SWARM_ADDR_MAX, "%s",
			 st->listen_addr);
		st->nmanagers = 1;
		st->founder = true;
		assert_int_equal(
			ca_init_cluster(st, time_real_ns() / NSEC_PER_SEC), 0);
		if (start_member(0, true) == 0)
			break;
		mb[0].m = NULL; /* the port was taken: another base */
	}
	assert_non_null(mb[0].m);
	assert_true(run_until(is_ready, &mb[0], 10000));
	return 0;
}

static void stopped(void *arg)
{
	*(bool *)arg = true;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static int teardown(void **state)
{
	for (int i = 0; i < N; i++) {
		if (mb[i].m && !mb[i].stopped) {
			bool done = false;
			mgr_stop(mb[i].m, stopped, &done);
			while (!done)
				uv_run(&loop, UV_RUN_ONCE);
		}
		swarm_state_wipe(&mb[i].st);
		if (mb[i].dir[0])
			nftw(mb[i].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

struct op {
	bool done;
	int rc;
};

static void op_done(void *arg, int rc, const char *msg)
{
	struct op *o = arg;
	o->rc = rc;
	o->done = true;
}

static bool op_finished(void *arg)
{
	return ((struct op *)arg)->done;
}

static void sync_member(int i)
{
	char err[256];
	struct op o = {0};
	assert_int_equal(mgr_sync(mb[i].m, op_done, &o, err, sizeof(err)), 0);
	assert_true(run_until(op_finished, &o, 10000));
	assert_int_equal(o.rc, 0);
}

/* Set node @id's labels to just @k=@v through manager @i (reading the
 * version there after a sync, as the API does); returns the outcome. */
static int label(int i, const char *id, const char *k, const char *v)
{
	char err[256], spec[256];
	struct op o = {0};
	sync_member(i);
	const struct store_object *n =
		store_get(mgr_store(mb[i].m), STORE_NODES, id);
	assert_non_null(n);
	snprintf(spec, sizeof(spec),
		 "{\"Role\":\"manager\",\"Availability\":\"active\","
		 "\"Labels\":{\"%s\":\"%s\"}}",
		 k, v);
	int rc = mgr_node_update(mb[i].m, id, n->version, spec, strlen(spec),
				 op_done, &o, err, sizeof(err));
	if (rc < 0)
		return rc;
	assert_true(run_until(op_finished, &o, 10000));
	return o.rc;
}

/* After mgr_sync() at @i, whether node @id carries label @k=@v there. */
static bool sees_label(int i, const char *id, const char *k, const char *v)
{
	sync_member(i);
	const struct store_object *n =
		store_get(mgr_store(mb[i].m), STORE_NODES, id);
	json_t *spec = NULL;
	if (!n ||
	    jsonx_parse((const char *)n->spec, n->spec_len, &spec, NULL, 0) < 0)
		return false;
	const char *have = jsonx_str(jsonx_obj(spec, "Labels"), k, NULL);
	bool ok = have && strcmp(have, v) == 0;
	json_decref(spec);
	return ok;
}

static void managers_replicate_forward_and_fail_over(void **state)
{
	join_member(1);
	join_member(2);
	assert_int_equal(leader(), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(store_count(mgr_store(mb[i].m), STORE_NODES),
				 3);
	const char *id = mb[2].st.node_id;

	/* A write at a follower is forwarded and seen everywhere. */
	assert_int_equal(label(1, id, "via", "follower"), 0);
	for (int i = 0; i < N; i++)
		assert_true(sees_label(i, id, "via", "follower"));

	/* A stale version forwarded from a follower is refused. */
	char err[256], spec[] = "{\"Role\":\"manager\","
				"\"Availability\":\"active\"}";
	struct op o = {0};
	assert_int_equal(mgr_node_update(mb[2].m, id, 1, spec, strlen(spec),
					 op_done, &o, err, sizeof(err)),
			 0);
	assert_true(run_until(op_finished, &o, 10000));
	assert_int_equal(o.rc, SHOAL_ESTALE);

	/* A write with no typed op of its own travels as a WriteOp: a
	 * token rotation asked at a follower reaches every manager. */
	uint8_t before[WIRE_TOKEN_SECRET_LEN];
	memcpy(before, mb[0].st.worker_token.secret, sizeof(before));
	memset(&o, 0, sizeof(o));
	assert_int_equal(mgr_rotate_token(mb[1].m, WIRE_ROLE_WORKER, op_done,
					  &o, err, sizeof(err)),
			 0);
	assert_true(run_until(op_finished, &o, 10000));
	assert_int_equal(o.rc, 0);
	assert_memory_not_equal(before, mb[0].st.worker_token.secret,
				sizeof(before));
	sync_member(2);
	assert_memory_equal(mb[0].st.worker_token.secret,
			    mb[2].st.worker_token.secret, sizeof(before));
	struct mgr_write_req none = {0};
	assert_int_equal(mgr_write(mb[1].m, "no-such-write", &none, op_done, &o,
				   err, sizeof(err)),
			 -EINVAL);

	/* A swarm update at a follower: checked there (a field Shoal cannot
	 * honour never leaves it), applied everywhere once committed. */
	const char *bogus = "{\"Bogus\":1}";
	assert_int_equal(mgr_swarm_update(mb[2].m, 0, bogus, strlen(bogus),
					  false, false, op_done, &o, err,
					  sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "Bogus"));
	sync_member(2);
	const char *upd = "{\"Raft\":{\"ElectionTick\":16,"
			  "\"SnapshotInterval\":200},\"Dispatcher\":{"
			  "\"HeartbeatPeriod\":250000000}}";
	memset(&o, 0, sizeof(o));
	assert_int_equal(mgr_swarm_update(mb[2].m,
					  mgr_cluster(mb[2].m)->version, upd,
					  strlen(upd), false, false, op_done,
					  &o, err, sizeof(err)),
			 0);
	assert_true(run_until(op_finished, &o, 10000));
	assert_int_equal(o.rc, 0);
	for (int i = 0; i < N; i++) {
		sync_member(i);
		assert_int_equal(mb[i].st.raft.election_tick, 16);
		assert_int_equal(mb[i].st.raft.snapshot_interval, 200);
		assert_int_equal(mb[i].st.heartbeat_ms, 250);
	}

	/* The leader stops: another is elected and takes writes. */
	bool done = false;
	mgr_stop(mb[0].m, stopped, &done);
	mb[0].stopped = true;
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	int old = 0;
	assert_true(run_until(has_leader, &old, 10000));
	int l = leader();
	int other = l == 1 ? 2 : 1;
	assert_int_equal(label(other, id, "after", "failover"), 0);
	assert_true(sees_label(l, id, "after", "failover"));
	assert_true(sees_label(other, id, "after", "failover"));
	assert_int_equal(store_count(mgr_store(mb[other].m), STORE_NODES), 3);
}

/* --- leader-only components follow leadership ---------------------------- */

struct probe {
	int started, stopped, node_events;
	bool running;
};

static struct probe probes[N];

static int probe_start(void *arg, struct mgr *m, struct store_watcher *w)
{
	struct probe *p = arg;
	p->started++;
	p->running = true;
	return 0;
}

static void probe_changed(void *arg, struct store_watcher *w)
{
	struct probe *p = arg;
	struct store_event ev;
	while (store_watch_next(w, &ev) != -EAGAIN) {
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

static bool runs_on(void *arg)
{
	int i = *(int *)arg;
	return i >= 0 && probes[i].running;
}

static bool leads_elsewhere(void *arg)
{
	int l = leader();
	return l >= 0 && l != *(int *)arg && probes[l].running;
}

static bool saw_events(void *arg)
{
	struct probe *p = arg;
	return p->node_events > 0;
}

static void components_run_on_the_leader_only(void **state)
{
	join_member(1);
	join_member(2);
	memset(probes, 0, sizeof(probes));
	for (int i = 0; i < N; i++) {
		struct mgr_component c = {
			.name = "probe",
			.tables = STORE_TABLE_BIT(STORE_NODES),
			.start = probe_start,
			.changed = probe_changed,
			.stop = probe_stop,
			.arg = &probes[i],
		};
		assert_int_equal(mgr_component_add(mb[i].m, &c), 0);
	}
	int l = leader();
	assert_int_equal(l, 0);
	assert_true(run_until(runs_on, &l, 5000));
	for (int i = 1; i < N; i++)
		assert_int_equal(probes[i].started, 0);

	/* The leader demotes itself: it hands leadership over, so its
	 * component stops while its manager still runs, and the new
	 * leader's starts. */
	char err[256], spec[] = "{\"Role\":\"worker\","
				"\"Availability\":\"active\"}";
	const struct store_object *o =
		store_get(mgr_store(mb[0].m), STORE_NODES, mb[0].st.node_id);
	struct op op = {0};
	assert_int_equal(mgr_node_update(mb[0].m, mb[0].st.node_id, o->version,
					 spec, strlen(spec), op_done, &op, err,
					 sizeof(err)),
			 0);
	int old = 0;
	assert_true(run_until(leads_elsewhere, &old, 10000));
	assert_true(run_until(op_finished, &op, 10000));
	assert_int_equal(op.rc, 0);
	assert_int_equal(probes[0].started, 1);
	assert_int_equal(probes[0].stopped, 1);
	assert_false(probes[0].running);
	assert_false(mgr_components_running(mb[0].m));
	l = leader();
	int other = l == 1 ? 2 : 1;
	assert_int_equal(probes[l].started, 1);
	assert_int_equal(probes[other].started, 0);

	/* The new leader's component hears the changes made from then on. */
	probes[l].node_events = 0;
	assert_int_equal(label(other, mb[other].st.node_id, "after", "handoff"),
			 0);
	assert_true(run_until(saw_events, &probes[l], 5000));
	assert_int_equal(probes[other].node_events, 0);
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
		cmocka_unit_test_setup_teardown(
			managers_replicate_forward_and_fail_over, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			components_run_on_the_leader_only, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
