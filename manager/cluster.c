/*
 * The manager's wiring (manager.h): the store and its persistence, the
 * listener and dispatcher (dispatcher.c), the down-detection timer, and the
 * control operations the API calls.
 *
 * Replication. Every change goes through mgr__propose(). Until raft-io's
 * libuv node driver exists, the manager is the only member of its Raft
 * group: a proposal is applied at once with the next index and the whole
 * store is written to <data-root>/swarm/store.snap (atomically, fsynced)
 * before the caller hears of success. The store is small (nodes and the
 * cluster object), so this costs one small write per change; it blocks
 * the loop for the fsync, which the Raft disk log's writer thread will
 * take over. Nothing else in the manager knows how a change is made
 * durable.
 *
 * Start: load store.snap (or create the cluster object and this node on a
 * new cluster), listen, start the timer. Stop: close the listener, the
 * timer and every connection; done() runs when the last handle is closed.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/cluster_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SNAP_MAX (64u << 20)

static void snap_path(const struct mgr *m, char *out, size_t cap)
{
	snprintf(out, cap, "%s/swarm/store.snap", m->data_root);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int persist(struct mgr *m)
{
	char path[4200], tmp[4210];
	int fd;
	struct buf b;
	buf_init(&b, SNAP_MAX);
	snap_path(m, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int rc = store_snapshot(m->store, &b);
	if (rc < 0)
		goto err_buf;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto err_buf;
	}
	rc = write_all(fd, (const uint8_t *)b.data, b.len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
err_buf:
	buf_fini(&b);
	return rc;
}

int mgr__propose(struct mgr *m, struct store_batch *b, struct store_result *res)
{
	uint8_t *data;
	size_t len;
	int rc = store_batch_finish(b, &data, &len);
	if (rc < 0)
		return rc;
	uint64_t index = store_applied_index(m->store) + 1;
	rc = store_apply(m->store, data, len, index, res);
	shoal_free(data);
	if (rc < 0)
		return rc;
	rc = persist(m);
	if (rc < 0)
		log_error("cannot write the store at index %llu: %s",
			  (unsigned long long)index, shoal_strerror(rc));
	return rc;
}

/* Load store.snap; -ENOENT when there is none. */
static int load_store(struct mgr *m, char *err, size_t errlen)
{
	char path[4200];
	snap_path(m, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct buf b;
	buf_init(&b, SNAP_MAX);
	int rc = 0;
	for (;;) {
		rc = buf_reserve(&b, 65536);
		if (rc < 0)
			break;
		ssize_t n = read(fd, (uint8_t *)b.data + b.len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		b.len += (size_t)n;
	}
	close(fd);
	struct store_result res = {0};
	if (rc == 0)
		rc = store_restore(m->store, b.data, b.len, &res);
	buf_fini(&b);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path,
			 res.msg[0] ? res.msg : shoal_strerror(rc));
	return rc < 0 && rc != -ENOMEM ? SHOAL_ECORRUPT : rc;
}

static json_t *cluster_spec(const struct swarm_state *st)
{
	return json_pack("{s:s, s:{}, s:{s:I}, s:{s:I}, s:{s:i}}", "Name",
			 "default", "Labels", "Dispatcher", "HeartbeatPeriod",
			 (json_int_t)st->heartbeat_ms * 1000000, "CAConfig",
			 "NodeCertExpiry",
			 (json_int_t)(st->cert_expiry_s > 0
					      ? st->cert_expiry_s
					      : SWARM_DEFAULT_CERT_EXPIRY_S) *
				 1000000000,
			 "Orchestration", "TaskHistoryRetentionLimit", 5);
}

static int add_json(struct store_batch *b, enum store_table t, const char *id,
		    const char *name, json_t *spec, json_t *status)
{
	size_t slen = 0, tlen = 0;
	char *s = spec ? jsonx_dump(spec, &slen) : NULL;
	char *u = status ? jsonx_dump(status, &tlen) : NULL;
	int rc = s && (u || !status)
			 ? store_batch_create(b, t, id, name, s, slen, u, tlen)
			 : -ENOMEM;
	shoal_free(s);
	shoal_free(u);
	json_decref(spec);
	json_decref(status);
	return rc;
}

/* A new cluster: the cluster object and this node, in one batch. */
static int bootstrap(struct mgr *m)
{
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	int rc = add_json(&b, STORE_CLUSTERS, m->st->cluster_id, "default",
			  cluster_spec(m->st), NULL);
	if (rc == 0)
		rc = add_json(&b, STORE_NODES, m->st->node_id, NULL,
			      mgr__node_spec_new(WIRE_ROLE_MANAGER),
			      mgr__node_status_new(&m->self, "ready", true,
						   m->st->advertise_addr));
	if (rc == 0)
		rc = mgr__propose(m, &b, NULL);
	store_batch_fini(&b);
	return rc;
}

void mgr__maybe_done(struct mgr *m)
{
	if (!m->stopping || m->open_handles > 0 || !list_empty(&m->conns))
		return;
	store_free(m->store);
	void (*done)(void *) = m->done;
	void *arg = m->done_arg;
	shoal_free(m);
	if (done)
		done(arg);
}

static void handle_closed(uv_handle_t *h)
{
	struct mgr *m = h->data;
	m->open_handles--;
	mgr__maybe_done(m);
}

void mgr__listener_closed(uv_handle_t *h)
{
	struct mgr *m = h->data;
	shoal_free(h);
	if (m) {
		m->open_handles--;
		mgr__maybe_done(m);
	}
}

static void on_timer(uv_timer_t *t)
{
	mgr__check_down(t->data);
}

static void start_timer(struct mgr *m)
{
	uint64_t period = m->st->heartbeat_ms / 2 ? m->st->heartbeat_ms / 2 : 1;
	uv_timer_init(m->loop, &m->timer);
	m->timer.data = m;
	m->open_handles++;
	uv_timer_start(&m->timer, on_timer, period, period);
}

int mgr_start(const struct mgr_config *cfg, struct mgr **out, char *err,
	      size_t errlen)
{
	struct mgr *m = shoal_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = cfg->loop;
	m->data_root = cfg->data_root;
	m->st = cfg->st;
	m->self = *cfg->self;
	m->state_changed = cfg->state_changed;
	m->arg = cfg->arg;
	m->started_ns = time_mono_ns();
	list_init(&m->conns);
	int rc = store_new(&m->store);
	if (rc < 0)
		goto err_free;
	rc = load_store(m, err, errlen);
	if (rc == -ENOENT) {
		rc = bootstrap(m);
		if (rc < 0)
			snprintf(err, errlen, "cannot create the store: %s",
				 shoal_strerror(rc));
	}
	if (rc < 0)
		goto err_store;
	rc = mgr__listen(m, err, errlen);
	if (rc < 0)
		goto err_store;
	start_timer(m);
	*out = m;
	return 0;
err_store:
	store_free(m->store);
err_free:
	shoal_free(m);
	return rc;
}

void mgr_stop(struct mgr *m, void (*done)(void *arg), void *arg)
{
	m->stopping = true;
	m->done = done;
	m->done_arg = arg;
	uv_close((uv_handle_t *)m->listener, mgr__listener_closed);
	uv_close((uv_handle_t *)&m->timer, handle_closed);
	mgr__close_conns(m);
}

const struct store *mgr_store(const struct mgr *m)
{
	return m->store;
}

int mgr_port(const struct mgr *m)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	int rc = uv_tcp_getsockname(m->listener, (struct sockaddr *)&ss, &len);
	if (rc < 0)
		return rc;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

const struct store_object *mgr_find_node(const struct mgr *m, const char *ref,
					 int *rc)
{
	*rc = 0;
	const struct store_object *o = store_get(m->store, STORE_NODES, ref);
	if (o)
		return o;
	const struct store_object **all;
	size_t n;
	if ((*rc = store_list(m->store, STORE_NODES, &all, &n)) < 0)
		return NULL;
	const struct store_object *found = NULL;
	size_t matches = 0, rlen = strlen(ref);
	for (size_t i = 0; i < n && rlen; i++) {
		json_t *st = mgr__obj_json(all[i]->status, all[i]->status_len);
		const char *host =
			jsonx_str(jsonx_obj(st, "Description"), "Hostname", "");
		bool by_host = strcmp(host, ref) == 0;
		json_decref(st);
		if (by_host || strncmp(all[i]->id, ref, rlen) == 0) {
			found = all[i];
			matches++;
		}
	}
	shoal_free(all);
	if (matches == 1)
		return found;
	*rc = matches ? SHOAL_ECONFLICT : SHOAL_ENOTFOUND;
	return NULL;
}

int mgr_node_update(struct mgr *m, const char *id, uint64_t version,
		    const char *spec_json, size_t len, char *err, size_t errlen)
{
	const struct store_object *o = store_get(m->store, STORE_NODES, id);
	if (!o) {
		snprintf(err, errlen, "node %s not found", id);
		return SHOAL_ENOTFOUND;
	}
	json_t *spec;
	int rc = jsonx_parse_object(spec_json, len, &spec, err, errlen);
	if (rc < 0)
		return rc;
	rc = mgr__validate_spec(spec, err, errlen);
	if (rc == 0 && mgr__node_role(o) == WIRE_ROLE_MANAGER &&
	    strcmp(jsonx_str(spec, "Role", ""), "worker") == 0) {
		snprintf(err, errlen,
			 "demoting a manager needs the replicated store's "
			 "membership changes, which this build lacks");
		rc = -ENOTSUP;
	}
	if (rc == 0 && mgr__node_role(o) == WIRE_ROLE_WORKER &&
	    strcmp(jsonx_str(spec, "Role", ""), "manager") == 0) {
		snprintf(err, errlen,
			 "promoting a worker needs the replicated store's "
			 "membership changes, which this build lacks");
		rc = -ENOTSUP;
	}
	size_t slen;
	char *s = rc == 0 ? jsonx_dump(spec, &slen) : NULL;
	json_decref(spec);
	if (rc < 0)
		return rc;
	if (!s)
		return -ENOMEM;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_update(&b, STORE_NODES, id, version, s, slen, NULL, 0);
	shoal_free(s);
	struct store_result res = {0};
	rc = mgr__propose(m, &b, &res);
	store_batch_fini(&b);
	if (rc == SHOAL_ESTALE)
		snprintf(err, errlen, "update out of sequence");
	else if (rc < 0)
		snprintf(err, errlen, "%s",
			 res.msg[0] ? res.msg : shoal_strerror(rc));
	return rc;
}

int mgr_node_remove(struct mgr *m, const char *id, bool force, char *err,
		    size_t errlen)
{
	const struct store_object *o = store_get(m->store, STORE_NODES, id);
	if (!o) {
		snprintf(err, errlen, "node %s not found", id);
		return SHOAL_ENOTFOUND;
	}
	if (mgr__node_role(o) == WIRE_ROLE_MANAGER) {
		snprintf(err, errlen,
			 "rpc error: code = FailedPrecondition desc = node %s "
			 "is a cluster manager and is a member of the raft "
			 "cluster. It must be demoted to worker before "
			 "removal",
			 id);
		return SHOAL_ECONFLICT;
	}
	char state[16];
	if (!force &&
	    strcmp(mgr__node_state(o, state, sizeof(state)), "down") != 0) {
		snprintf(err, errlen,
			 "rpc error: code = FailedPrecondition desc = node %s "
			 "is not down and can't be removed",
			 id);
		return SHOAL_ECONFLICT;
	}
	char nid[WIRE_ID_MAX + 1];
	snprintf(nid, sizeof(nid), "%s", id);
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_delete(&b, STORE_NODES, nid, o->version);
	struct store_result res = {0};
	int rc = mgr__propose(m, &b, &res);
	store_batch_fini(&b);
	if (rc < 0) {
		snprintf(err, errlen, "%s",
			 res.msg[0] ? res.msg : shoal_strerror(rc));
		return rc;
	}
	log_info("node=%s removed; its certificate is refused from now on",
		 nid);
	mgr__end_sessions(m, nid, "this node was removed from the swarm");
	return 0;
}

int mgr_rotate_token(struct mgr *m, enum wire_role role)
{
	ca_rotate(m->st, role);
	log_info("%s join token rotated", wire_role_name(role));
	if (m->state_changed)
		m->state_changed(m->arg);
	return 0;
}

bool mgr_node_ready(const struct mgr *m, const char *id)
{
	struct list_node *p;
	list_for_each(p, &m->conns)
	{
		struct mgr_conn *c = list_entry(p, struct mgr_conn, link);
		if (c->session && strcmp(c->node_id, id) == 0)
			return true;
	}
	return false;
}

const struct store_object *mgr_cluster(const struct mgr *m)
{
	return store_get(m->store, STORE_CLUSTERS, m->st->cluster_id);
}

/* Durations in a SwarmSpec are Go nanoseconds; 0 or absent keeps ours. */
static int take_duration(const json_t *obj, const char *key, int64_t min_ns,
			 int64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(err, errlen, "%s must be a duration in nanoseconds",
			 key);
		return -EINVAL;
	}
	int64_t ns = json_integer_value(v);
	if (ns == 0)
		return 0;
	if (ns < min_ns) {
		snprintf(err, errlen, "%s is too short", key);
		return -EINVAL;
	}
	*out = ns;
	return 0;
}

static int parse_swarm_spec(const json_t *spec, int64_t *hb_ns,
			    int64_t *expiry_ns, json_t **labels, int64_t *hist,
			    char *err, size_t errlen)
{
	int rc = take_duration(jsonx_obj(spec, "Dispatcher"),
			       "HeartbeatPeriod", 10 * NSEC_PER_MSEC, hb_ns,
			       err, errlen);
	if (rc == 0)
		rc = take_duration(jsonx_obj(spec, "CAConfig"),
				   "NodeCertExpiry", 3600 * NSEC_PER_SEC,
				   expiry_ns, err, errlen);
	if (rc < 0)
		return rc;
	if (*hb_ns > 3600 * NSEC_PER_SEC) {
		snprintf(err, errlen, "HeartbeatPeriod is too long");
		return -EINVAL;
	}
	*hist = jsonx_int(jsonx_obj(spec, "Orchestration"),
			  "TaskHistoryRetentionLimit", *hist);
	if (*hist < 0 || *hist > 1000) {
		snprintf(err, errlen, "TaskHistoryRetentionLimit must be "
				      "between 0 and 1000");
		return -EINVAL;
	}
	json_t *l = json_object_get(spec, "Labels");
	if (l && !json_is_null(l) && !json_is_object(l)) {
		snprintf(err, errlen, "Labels must be an object");
		return -EINVAL;
	}
	*labels = l && json_is_object(l) ? json_incref(l) : json_object();
	return *labels ? 0 : -ENOMEM;
}

int mgr_swarm_update(struct mgr *m, uint64_t version, const char *spec_json,
		     size_t len, char *err, size_t errlen)
{
	const struct store_object *o = mgr_cluster(m);
	if (!o) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	json_t *spec, *labels = NULL;
	int rc = jsonx_parse_object(spec_json, len, &spec, err, errlen);
	if (rc < 0)
		return rc;
	int64_t hb_ns = (int64_t)m->st->heartbeat_ms * NSEC_PER_MSEC;
	int64_t expiry_ns = (m->st->cert_expiry_s > 0
				     ? m->st->cert_expiry_s
				     : SWARM_DEFAULT_CERT_EXPIRY_S) *
			    NSEC_PER_SEC;
	json_t *old = mgr__obj_json(o->spec, o->spec_len);
	int64_t hist = jsonx_int(jsonx_obj(old, "Orchestration"),
				 "TaskHistoryRetentionLimit", 5);
	json_decref(old);
	rc = parse_swarm_spec(spec, &hb_ns, &expiry_ns, &labels, &hist, err,
			      errlen);
	json_decref(spec);
	if (rc < 0)
		return rc;
	json_t *next = json_pack("{s:s, s:o, s:{s:I}, s:{s:I}, s:{s:I}}",
				 "Name", "default", "Labels", labels,
				 "Dispatcher", "HeartbeatPeriod",
				 (json_int_t)hb_ns, "CAConfig",
				 "NodeCertExpiry", (json_int_t)expiry_ns,
				 "Orchestration", "TaskHistoryRetentionLimit",
				 (json_int_t)hist);
	size_t slen;
	char *s = next ? jsonx_dump(next, &slen) : NULL;
	json_decref(next);
	if (!s)
		return -ENOMEM;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_update(&b, STORE_CLUSTERS, o->id, version, s, slen, NULL,
			   0);
	shoal_free(s);
	struct store_result res = {0};
	rc = mgr__propose(m, &b, &res);
	store_batch_fini(&b);
	if (rc == SHOAL_ESTALE) {
		snprintf(err, errlen, "update out of sequence");
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s",
			 res.msg[0] ? res.msg : shoal_strerror(rc));
		return rc;
	}
	m->st->heartbeat_ms = (uint32_t)(hb_ns / NSEC_PER_MSEC);
	m->st->cert_expiry_s = expiry_ns / NSEC_PER_SEC;
	if (m->state_changed)
		m->state_changed(m->arg);
	return 0;
}
