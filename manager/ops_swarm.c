/*
 * Writes on the cluster object (write.c's "token-rotate" and
 * "swarm-update"): a new secret for a join token, and Docker's SwarmSpec
 * applied at a version, with token rotations and the autolock settings
 * in the same change.
 *
 * Token secrets and the unlock key live in the cluster object's status,
 * never in its spec, so that they are never shown; every manager takes
 * them from there after each applied change (cluster.c).
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static int token_rotate_build(struct mgr__write_ctx *w, char *err,
			      size_t errlen)
{
	const struct store_object *o = mgr_cluster(w->m);
	uint32_t f = w->req->flags;
	if (!o) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	size_t len;
	char *s = rotated_status(o, f & MGR_WRITE_ROTATE_WORKER,
				 f & MGR_WRITE_ROTATE_MANAGER, &len);
	if (!s)
		return -ENOMEM;
	int rc = store_batch_update(w->b, STORE_CLUSTERS, o->id, o->version,
				    NULL, 0, s, len);
	shoal_wipe(s, len);
	shoal_free(s);
	return rc;
}

static void token_rotated(struct mgr *m, const char *id, int rc)
{
	if (rc == 0)
		log_info("join token rotated");
}

const struct mgr__write_op mgr__op_token_rotate = {
	.name = "token-rotate",
	.build = token_rotate_build,
	.committed = token_rotated,
};

int mgr_rotate_token(struct mgr *m, enum wire_role role, mgr_done_fn *done,
		     void *arg, char *err, size_t errlen)
{
	struct mgr_write_req r = {
		.flags = role == WIRE_ROLE_MANAGER ? MGR_WRITE_ROTATE_MANAGER
						   : MGR_WRITE_ROTATE_WORKER};
	return mgr_write(m, mgr__op_token_rotate.name, &r, done, arg, err,
			 errlen);
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

static int swarm_update_build(struct mgr__write_ctx *w, char *err,
			      size_t errlen)
{
	const struct store_object *o = mgr_cluster(w->m);
	uint32_t f = w->req->flags;
	bool rw = f & MGR_WRITE_ROTATE_WORKER, rm = f & MGR_WRITE_ROTATE_MANAGER;
	if (!o) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	json_t *next = next_spec(o, w->body, err, errlen);
	if (!next)
		return *err ? -EINVAL : -ENOMEM;
	size_t slen, tlen = 0;
	char *s = jsonx_dump(next, &slen);
	json_decref(next);
	char *t = rw || rm ? rotated_status(o, rw, rm, &tlen) : NULL;
	int rc = !s || ((rw || rm) && !t) ? -ENOMEM : 0;
	if (rc == 0)
		rc = lock_status(o, w->body, &t, &tlen, err, errlen);
	if (rc == 0)
		rc = store_batch_update(w->b, STORE_CLUSTERS, o->id,
					w->req->version, s, slen, t, tlen);
	shoal_free(s);
	if (t)
		shoal_wipe(t, tlen);
	shoal_free(t);
	return rc;
}

const struct mgr__write_op mgr__op_swarm_update = {
	.name = "swarm-update",
	.want_body = true,
	.build = swarm_update_build,
};

int mgr_swarm_update(struct mgr *m, uint64_t version, const char *spec_json,
		     size_t len, bool rotate_worker, bool rotate_manager,
		     mgr_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct mgr_write_req r = {
		.version = version,
		.body = spec_json,
		.body_len = len,
		.flags = (rotate_worker ? MGR_WRITE_ROTATE_WORKER : 0) |
			 (rotate_manager ? MGR_WRITE_ROTATE_MANAGER : 0)};
	return mgr_write(m, mgr__op_swarm_update.name, &r, done, arg, err,
			 errlen);
}
