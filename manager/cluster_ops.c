/*
 * The manager's control operations (manager.h, "Changes"): node lookup,
 * node update and removal, token rotation and swarm update. Each checks
 * what it can locally (leadership, existence, the request's shape, Docker's
 * preconditions) and refuses at once with a message; what only the
 * ordered log can decide (the expected version) comes back through the
 * proposal's callback.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "raft/node_uv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static size_t count_managers(const struct mgr *m)
{
	const struct store_object **all;
	size_t n, k = 0;
	if (store_list(m->store, STORE_NODES, &all, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		k += mgr__node_role(all[i]) == WIRE_ROLE_MANAGER;
	shoal_free(all);
	return k;
}

/*
 * A role change: the node's status gains or loses ManagerStatus in the same
 * change (*@status, owned, or NULL when the role stays). The node learns it
 * from its next heartbeat answer and asks for a certificate of its new role;
 * the leader's timer then adds it to Raft or removes it.
 */
static int role_change(const struct mgr *m, const struct store_object *o,
		       const json_t *spec, char **status, size_t *len,
		       char *err, size_t errlen)
{
	enum wire_role now = mgr__node_role(o);
	const char *want = jsonx_str(spec, "Role", "");
	*status = NULL;
	if (strcmp(want, wire_role_name(now)) == 0)
		return 0;
	if (now == WIRE_ROLE_MANAGER && count_managers(m) <= 1) {
		snprintf(
			err, errlen,
			"rpc error: code = FailedPrecondition desc = attempting "
			"to demote the last manager of the swarm");
		return SHOAL_ECONFLICT;
	}
	json_t *st = mgr__obj_json(o->status, o->status_len);
	if (!st)
		return -ENOMEM;
	if (now == WIRE_ROLE_MANAGER) {
		json_object_del(st, "ManagerStatus");
	} else {
		char addr[SWARM_ADDR_MAX + 8];
		snprintf(addr, sizeof(addr), "%.*s:%d", SWARM_ADDR_MAX - 8,
			 jsonx_str(jsonx_obj(st, "Status"), "Addr", ""),
			 SWARM_DEFAULT_PORT);
		jsonx_set(st, "ManagerStatus",
			  json_pack("{s:b, s:s, s:s}", "Leader", 0,
				    "Reachability", "unknown", "Addr", addr));
	}
	*status = jsonx_dump(st, len);
	json_decref(st);
	return *status ? 0 : -ENOMEM;
}

/* A NUL-terminated copy of a body for forwarding; NULL without memory. */
static char *body_copy(const char *data, size_t len)
{
	char *s = shoal_malloc(len + 1);
	if (s) {
		memcpy(s, data, len);
		s[len] = '\0';
	}
	return s;
}

#define HANDOFF_TIMEOUT_NS (5 * NSEC_PER_SEC)

struct mgr_handoff {
	char id[STORE_ID_MAX + 1];
	uint64_t version;
	char *spec; /* NUL-terminated */
	size_t len;
	mgr_done_fn *done;
	void *arg;
	int64_t deadline_ns;
};

static void handoff_free(struct mgr *m)
{
	shoal_free(m->handoff->spec);
	shoal_free(m->handoff);
	m->handoff = NULL;
}

static char *body_copy(const char *data, size_t len);

static int handoff_start(struct mgr *m, const char *id, uint64_t version,
			 const char *spec, size_t len, mgr_done_fn *done,
			 void *arg, char *err, size_t errlen)
{
	if (m->handoff) {
		snprintf(err, errlen, "a leadership handover is in progress");
		return -EBUSY;
	}
	struct mgr_handoff *h = shoal_calloc(1, sizeof(*h));
	if (!h || !(h->spec = body_copy(spec, len))) {
		shoal_free(h);
		return -ENOMEM;
	}
	int rc = raft_node_transfer(m->rn, 0);
	if (rc < 0) {
		snprintf(err, errlen, "cannot hand leadership over: %s",
			 shoal_strerror(rc));
		shoal_free(h->spec);
		shoal_free(h);
		return rc;
	}
	snprintf(h->id, sizeof(h->id), "%s", id);
	h->version = version;
	h->len = len;
	h->done = done;
	h->arg = arg;
	h->deadline_ns = time_mono_ns() + HANDOFF_TIMEOUT_NS;
	m->handoff = h;
	log_info("node=%s hands leadership over before its demotion", id);
	return 0;
}

void mgr__handoff_resume(struct mgr *m)
{
	struct mgr_handoff *h = m->handoff;
	if (!h || m->leader)
		return;
	char err[400];
	m->handoff = NULL;
	int rc = mgr_node_update(m, h->id, h->version, h->spec, h->len, h->done,
				 h->arg, err, sizeof(err));
	if (rc < 0)
		h->done(h->arg, rc, err);
	shoal_free(h->spec);
	shoal_free(h);
}

void mgr__handoff_check(struct mgr *m)
{
	struct mgr_handoff *h = m->handoff;
	if (!h || (!m->stopping && time_mono_ns() < h->deadline_ns))
		return;
	h->done(h->arg, m->stopping ? -ECANCELED : -ETIMEDOUT,
		m->stopping ? "the manager is stopping"
			    : "leadership was not handed over in time; the "
			      "node is still a manager");
	handoff_free(m);
}

int mgr_node_update(struct mgr *m, const char *id, uint64_t version,
		    const char *spec_json, size_t len, mgr_done_fn *done,
		    void *arg, char *err, size_t errlen)
{
	if (!m->leader) {
		Swarm__ControlRequest req = SWARM__CONTROL_REQUEST__INIT;
		Swarm__NodeUpdateOp op = SWARM__NODE_UPDATE_OP__INIT;
		char *body = body_copy(spec_json, len);
		if (!body)
			return -ENOMEM;
		op.node_id = (char *)id;
		op.version = version;
		op.spec_json = body;
		req.op_case = SWARM__CONTROL_REQUEST__OP_NODE_UPDATE;
		req.node_update = &op;
		int rc = mgr__forward(m, &req, done, arg, err, errlen);
		shoal_free(body);
		return rc;
	}
	const struct store_object *o = store_get(m->store, STORE_NODES, id);
	if (!o) {
		snprintf(err, errlen, "node %s not found", id);
		return SHOAL_ENOTFOUND;
	}
	json_t *spec;
	int rc = jsonx_parse_object(spec_json, len, &spec, err, errlen);
	if (rc < 0)
		return rc;
	char *status = NULL;
	size_t tlen = 0;
	rc = mgr__validate_spec(spec, err, errlen);
	if (rc == 0)
		rc = role_change(m, o, spec, &status, &tlen, err, errlen);
	if (rc == 0 && status && mgr__node_role(o) == WIRE_ROLE_MANAGER &&
	    mgr_node_is_leader(m, id)) {
		/* Demoting ourselves: hand leadership over first, then let
		 * the new leader make the change. */
		shoal_free(status);
		json_decref(spec);
		return handoff_start(m, id, version, spec_json, len, done, arg,
				     err, errlen);
	}
	size_t slen;
	char *s = rc == 0 ? jsonx_dump(spec, &slen) : NULL;
	json_decref(spec);
	if (rc < 0)
		return rc;
	if (!s) {
		shoal_free(status);
		return -ENOMEM;
	}
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_update(&b, STORE_NODES, id, version, s, slen, status, tlen);
	/* A demotion revokes the node's manager certificates in the same
	 * change (revoke.c). */
	if (status && mgr__node_role(o) == WIRE_ROLE_MANAGER)
		rc = mgr__revoke(m, &b, id, false, err, errlen);
	shoal_free(s);
	shoal_free(status);
	if (rc < 0) {
		store_batch_fini(&b);
		return rc;
	}
	rc = mgr__propose(m, &b, done, arg);
	store_batch_fini(&b);
	if (rc < 0)
		snprintf(err, errlen, "%s", shoal_strerror(rc));
	return rc;
}

struct removal {
	struct mgr *m;
	char id[STORE_ID_MAX + 1];
	mgr_done_fn *done;
	void *arg;
};

static void removed(void *arg, int rc, const char *msg)
{
	struct removal *r = arg;
	if (rc == 0) {
		/* Its sessions heard why when the change was applied
		 * (mgr__conns_recheck()). */
		log_info("node=%s removed; its certificate is refused from "
			 "now on",
			 r->id);
	}
	r->done(r->arg, rc, msg);
	shoal_free(r);
}

int mgr_node_remove(struct mgr *m, const char *id, bool force,
		    mgr_done_fn *done, void *arg, char *err, size_t errlen)
{
	if (!m->leader) {
		Swarm__ControlRequest req = SWARM__CONTROL_REQUEST__INIT;
		Swarm__NodeRemoveOp op = SWARM__NODE_REMOVE_OP__INIT;
		op.node_id = (char *)id;
		op.force = force;
		req.op_case = SWARM__CONTROL_REQUEST__OP_NODE_REMOVE;
		req.node_remove = &op;
		return mgr__forward(m, &req, done, arg, err, errlen);
	}
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
	struct removal *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->m = m;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->done = done;
	r->arg = arg;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_delete(&b, STORE_NODES, r->id, o->version);
	int rc = mgr__revoke(m, &b, r->id, true, err, errlen);
	if (rc < 0) {
		store_batch_fini(&b);
		shoal_free(r);
		return rc;
	}
	rc = mgr__propose(m, &b, removed, r);
	store_batch_fini(&b);
	if (rc < 0) {
		snprintf(err, errlen, "%s", shoal_strerror(rc));
		shoal_free(r);
	}
	return rc;
}

/* The cluster status with fresh secrets for the roles asked. */
static char *rotated_status(const struct store_object *o, bool worker,
			    bool manager, size_t *len)
{
	json_t *st = mgr__obj_json(o->status, o->status_len);
	if (!st)
		st = json_object();
	const char *keys[2] = {"WorkerSecret", "ManagerSecret"};
	bool want[2] = {worker, manager};
	for (int i = 0; st && i < 2; i++) {
		if (!want[i])
			continue;
		uint8_t secret[WIRE_TOKEN_SECRET_LEN];
		char hex[2 * WIRE_TOKEN_SECRET_LEN + 1];
		shoal_random(secret, sizeof(secret));
		shoal_hex(secret, sizeof(secret), hex);
		jsonx_set(st, keys[i], json_string(hex));
	}
	char *s = st ? jsonx_dump(st, len) : NULL;
	json_decref(st);
	return s;
}

int mgr_rotate_token(struct mgr *m, enum wire_role role, mgr_done_fn *done,
		     void *arg, char *err, size_t errlen)
{
	if (!m->leader)
		return mgr__not_leader(m, err, errlen);
	const struct store_object *o = mgr_cluster(m);
	if (!o) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	size_t len;
	char *s = rotated_status(o, role == WIRE_ROLE_WORKER,
				 role == WIRE_ROLE_MANAGER, &len);
	if (!s)
		return -ENOMEM;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_update(&b, STORE_CLUSTERS, o->id, o->version, NULL, 0, s,
			   len);
	shoal_wipe(s, len);
	shoal_free(s);
	int rc = mgr__propose(m, &b, done, arg);
	store_batch_fini(&b);
	if (rc < 0)
		snprintf(err, errlen, "%s", shoal_strerror(rc));
	else
		log_info("%s join token rotation proposed",
			 wire_role_name(role));
	return rc;
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

static json_t *next_spec(const struct store_object *o, const json_t *spec,
			 char *err, size_t errlen)
{
	json_t *old = mgr__obj_json(o->spec, o->spec_len);
	int64_t hb = jsonx_int(jsonx_obj(old, "Dispatcher"), "HeartbeatPeriod",
			       SWARM_DEFAULT_HEARTBEAT_MS * NSEC_PER_MSEC);
	int64_t ex = jsonx_int(jsonx_obj(old, "CAConfig"), "NodeCertExpiry",
			       SWARM_DEFAULT_CERT_EXPIRY_S * NSEC_PER_SEC);
	int64_t hist = jsonx_int(jsonx_obj(old, "Orchestration"),
				 "TaskHistoryRetentionLimit", 5);
	json_decref(old);
	if (take_duration(jsonx_obj(spec, "Dispatcher"), "HeartbeatPeriod",
			  10 * NSEC_PER_MSEC, &hb, err, errlen) < 0 ||
	    take_duration(jsonx_obj(spec, "CAConfig"), "NodeCertExpiry",
			  3600 * NSEC_PER_SEC, &ex, err, errlen) < 0)
		return NULL;
	if (hb > 3600 * NSEC_PER_SEC) {
		snprintf(err, errlen, "HeartbeatPeriod is too long");
		return NULL;
	}
	hist = jsonx_int(jsonx_obj(spec, "Orchestration"),
			 "TaskHistoryRetentionLimit", hist);
	if (hist < 0 || hist > 1000) {
		snprintf(err, errlen,
			 "TaskHistoryRetentionLimit must be "
			 "between 0 and 1000");
		return NULL;
	}
	json_t *l = json_object_get(spec, "Labels");
	if (l && !json_is_null(l) && !json_is_object(l)) {
		snprintf(err, errlen, "Labels must be an object");
		return NULL;
	}
	return json_pack(
		"{s:s, s:O, s:{s:I}, s:{s:I}, s:{s:I}}", "Name", "default",
		"Labels", l && json_is_object(l) ? l : json_object(),
		"Dispatcher", "HeartbeatPeriod", (json_int_t)hb, "CAConfig",
		"NodeCertExpiry", (json_int_t)ex, "Orchestration",
		"TaskHistoryRetentionLimit", (json_int_t)hist);
}

/*
 * Autolock from the spec into the status @t (owned JSON text, may be NULL:
 * then from @o's status): EncryptionConfig.AutoLockManagers turns it on (a
 * new unlock key) or off (no key); RotateUnlockKey (how the API carries
 * ?rotateManagerUnlockKey= through a forward) gives it a new key. Returns
 * 0 with *@t replaced when anything changed, or -ENOMEM/-EINVAL.
 */
static int lock_status(const struct store_object *o, const json_t *spec,
		       char **t, size_t *tlen, char *err, size_t errlen)
{
	const json_t *ec = jsonx_obj(spec, "EncryptionConfig");
	const json_t *al = json_object_get(ec, "AutoLockManagers");
	const json_t *rot = json_object_get(ec, "RotateUnlockKey");
	if ((al && !json_is_boolean(al)) || (rot && !json_is_boolean(rot))) {
		snprintf(err, errlen,
			 "EncryptionConfig.AutoLockManagers must be a boolean");
		return -EINVAL;
	}
	json_t *st = *t ? mgr__obj_json((const uint8_t *)*t, *tlen)
			: mgr__obj_json(o->status, o->status_len);
	if (!st)
		st = json_object();
	if (!st)
		return -ENOMEM;
	bool was = json_object_get(st, "UnlockKey") != NULL;
	bool on = al ? json_is_true(al) : was;
	bool rotate = rot && json_is_true(rot);
	if (rotate && !on) {
		json_decref(st);
		snprintf(err, errlen,
			 "Cannot rotate because autolock is not turned on");
		return -EINVAL;
	}
	if (on == was && !rotate) {
		json_decref(st);
		return 0;
	}
	if (on) {
		uint8_t k[32];
		char hex[65];
		shoal_random(k, sizeof(k));
		shoal_hex(k, sizeof(k), hex);
		jsonx_set(st, "UnlockKey", json_string(hex));
		shoal_wipe(k, sizeof(k));
		shoal_wipe(hex, sizeof(hex));
	} else {
		json_object_del(st, "UnlockKey");
	}
	size_t n;
	char *s = jsonx_dump(st, &n);
	json_decref(st);
	if (!s)
		return -ENOMEM;
	if (*t) {
		shoal_wipe(*t, *tlen);
		shoal_free(*t);
	}
	*t = s;
	*tlen = n;
	return 0;
}

int mgr_swarm_update(struct mgr *m, uint64_t version, const char *spec_json,
		     size_t len, bool rotate_worker, bool rotate_manager,
		     mgr_done_fn *done, void *arg, char *err, size_t errlen)
{
	if (!m->leader) {
		Swarm__ControlRequest req = SWARM__CONTROL_REQUEST__INIT;
		Swarm__SwarmUpdateOp op = SWARM__SWARM_UPDATE_OP__INIT;
		char *body = body_copy(spec_json, len);
		if (!body)
			return -ENOMEM;
		op.version = version;
		op.spec_json = body;
		op.rotate_worker = rotate_worker;
		op.rotate_manager = rotate_manager;
		req.op_case = SWARM__CONTROL_REQUEST__OP_SWARM_UPDATE;
		req.swarm_update = &op;
		int rc = mgr__forward(m, &req, done, arg, err, errlen);
		shoal_free(body);
		return rc;
	}
	const struct store_object *o = mgr_cluster(m);
	if (!o) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	json_t *spec;
	int rc = jsonx_parse_object(spec_json, len, &spec, err, errlen);
	if (rc < 0)
		return rc;
	*err = '\0';
	json_t *next = next_spec(o, spec, err, errlen);
	if (!next) {
		json_decref(spec);
		return *err ? -EINVAL : -ENOMEM;
	}
	size_t slen, tlen = 0;
	char *s = jsonx_dump(next, &slen);
	json_decref(next);
	char *t = rotate_worker || rotate_manager
			  ? rotated_status(o, rotate_worker, rotate_manager,
					   &tlen)
			  : NULL;
	if (!s || ((rotate_worker || rotate_manager) && !t)) {
		json_decref(spec);
		shoal_free(s);
		shoal_free(t);
		return -ENOMEM;
	}
	rc = lock_status(o, spec, &t, &tlen, err, errlen);
	json_decref(spec);
	if (rc < 0) {
		shoal_free(s);
		if (t)
			shoal_wipe(t, tlen);
		shoal_free(t);
		return rc;
	}
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_update(&b, STORE_CLUSTERS, o->id, version, s, slen, t,
			   tlen);
	shoal_free(s);
	if (t)
		shoal_wipe(t, tlen);
	shoal_free(t);
	rc = mgr__propose(m, &b, done, arg);
	store_batch_fini(&b);
	if (rc < 0)
		snprintf(err, errlen, "%s", shoal_strerror(rc));
	return rc;
}
