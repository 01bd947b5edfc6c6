/*
 * Writes on the cluster object (write.c's "token-rotate" and
 * "swarm-update"): a new secret for a join token, and Docker's SwarmSpec
 * applied at a version (checked and merged by swarm_spec.c), with token
 * rotations, the autolock settings and a forced certificate rotation in
 * the same change.
 *
 * Token secrets and the unlock key live in the cluster object's status,
 * never in its spec, so that they are never shown; every manager takes
 * them from there after each applied change (cluster.c).
 *
 * Forced rotation (CAConfig.ForceRotate, Docker's `swarm ca --rotate`):
 * a spec whose ForceRotate differs from the current one also writes
 * CertRotation {ForceRotate, Epoch} into the status. Epoch is the index
 * the change will have (the leader's last index plus one: raft_propose()
 * appends at once, in this same loop turn); every certificate issued
 * before it is applied carries a smaller epoch (certificates carry the
 * issuing leader's applied index, revoke.c), every later one a larger or
 * equal one. The dispatcher tells each node whose certificate predates
 * the epoch to renew it (dispatcher.c). Older certificates stay valid
 * until they expire, as in Docker.
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
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Fresh secrets for the roles asked into the cluster status @st. */
static int set_secrets(json_t *st, bool worker, bool manager)
{
	const char *keys[2] = {"WorkerSecret", "ManagerSecret"};
	bool want[2] = {worker, manager};
	int rc = 0;
	for (int i = 0; rc == 0 && i < 2; i++) {
		if (!want[i])
			continue;
		uint8_t secret[WIRE_TOKEN_SECRET_LEN];
		char hex[2 * WIRE_TOKEN_SECRET_LEN + 1];
		shoal_random(secret, sizeof(secret));
		shoal_hex(secret, sizeof(secret), hex);
		rc = jsonx_set(st, keys[i], json_string(hex));
		shoal_wipe(secret, sizeof(secret));
		shoal_wipe(hex, sizeof(hex));
	}
	return rc;
}

/*
 * Autolock from the spec into the status @st: EncryptionConfig.
 * AutoLockManagers turns it on (a new unlock key) or off (no key);
 * RotateUnlockKey (how the API carries ?rotateManagerUnlockKey= through a
 * forward) gives it a new key. Sets *@changed when it did anything.
 */
static int set_lock(json_t *st, const json_t *spec, bool *changed, char *err,
		    size_t errlen)
{
	const json_t *ec = jsonx_obj(spec, "EncryptionConfig");
	const json_t *al = json_object_get(ec, "AutoLockManagers");
	const json_t *rot = json_object_get(ec, "RotateUnlockKey");
	bool was = json_object_get(st, "UnlockKey") != NULL;
	bool on = json_is_boolean(al) ? json_is_true(al) : was;
	bool rotate = json_is_true(rot);
	if (rotate && !on) {
		snprintf(err, errlen,
			 "Cannot rotate because autolock is not turned on");
		return -EINVAL;
	}
	if (on == was && !rotate)
		return 0;
	*changed = true;
	if (!on)
		return json_object_del(st, "UnlockKey") ? -ENOMEM : 0;
	uint8_t k[32];
	char hex[65];
	shoal_random(k, sizeof(k));
	shoal_hex(k, sizeof(k), hex);
	int rc = jsonx_set(st, "UnlockKey", json_string(hex));
	shoal_wipe(k, sizeof(k));
	shoal_wipe(hex, sizeof(hex));
	return rc;
}

static uint64_t force_rotate_of(const json_t *spec)
{
	return (uint64_t)jsonx_int(jsonx_obj(spec, "CAConfig"), "ForceRotate",
				   0);
}

/* A changed CAConfig.ForceRotate: every certificate issued so far gets
 * replaced (see the top of this file). */
static int set_rotation(struct mgr *m, json_t *st, const json_t *cur,
			const json_t *next, bool *changed)
{
	uint64_t n = force_rotate_of(next);
	if (n == force_rotate_of(cur))
		return 0;
	struct raft_status rs;
	raft_node_status(m->rn, &rs);
	*changed = true;
	log_info("swarm=%s ForceRotate %" PRIu64 ": every node gets a new "
		 "certificate",
		 m->st->cluster_id, n);
	return jsonx_set(st, "CertRotation",
			 json_pack("{s:I, s:I}", "ForceRotate", (json_int_t)n,
				   "Epoch", (json_int_t)(rs.last_index + 1)));
}

/* The cluster object's status (owned), an empty object when it has none. */
static json_t *status_of(const struct store_object *o)
{
	json_t *st = mgr__obj_json(o->status, o->status_len);
	return st ? st : json_object();
}

/* Add "update @o with @spec (may be NULL: kept) and @st" to @b. */
static int update_cluster(struct store_batch *b, const struct store_object *o,
			  uint64_t version, const json_t *spec,
			  const json_t *st)
{
	size_t slen = 0, tlen = 0;
	char *s = spec ? jsonx_dump(spec, &slen) : NULL;
	char *t = st ? jsonx_dump(st, &tlen) : NULL;
	int rc = (spec && !s) || (st && !t)
			 ? -ENOMEM
			 : store_batch_update(b, STORE_CLUSTERS, o->id, version,
					      s, slen, t, tlen);
	shoal_free(s);
	if (t)
		shoal_wipe(t, tlen); /* the status holds the secrets */
	shoal_free(t);
	return rc;
}

/* --- token-rotate --------------------------------------------------------- */

static int token_rotate_build(struct mgr__write_ctx *w, char *err,
			      size_t errlen)
{
	const struct store_object *o = mgr_cluster(w->m);
	uint32_t f = w->req->flags;
	if (!o) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	json_t *st = status_of(o);
	int rc = st ? set_secrets(st, f & MGR_WRITE_ROTATE_WORKER,
				  f & MGR_WRITE_ROTATE_MANAGER)
		    : -ENOMEM;
	if (rc == 0)
		rc = update_cluster(w->b, o, o->version, NULL, st);
	json_decref(st);
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
	struct mgr_write_req r = {.flags = role == WIRE_ROLE_MANAGER
						   ? MGR_WRITE_ROTATE_MANAGER
						   : MGR_WRITE_ROTATE_WORKER};
	return mgr_write(m, mgr__op_token_rotate.name, &r, done, arg, err,
			 errlen);
}

/* --- swarm-update --------------------------------------------------------- */

static int swarm_update_check(const json_t *body, const struct mgr_write_req *r,
			      char *err, size_t errlen)
{
	return swarm_spec_check(body, err, errlen);
}

/* The new status into *@out (owned), or NULL when nothing changes. */
static int next_status(struct mgr__write_ctx *w, const struct store_object *o,
		       const json_t *cur, const json_t *next, json_t **out,
		       char *err, size_t errlen)
{
	uint32_t f = w->req->flags;
	bool rw = f & MGR_WRITE_ROTATE_WORKER,
	     rm = f & MGR_WRITE_ROTATE_MANAGER;
	bool changed = rw || rm;
	json_t *st = status_of(o);
	int rc = st ? set_secrets(st, rw, rm) : -ENOMEM;
	if (rc == 0)
		rc = set_lock(st, w->body, &changed, err, errlen);
	if (rc == 0)
		rc = set_rotation(w->m, st, cur, next, &changed);
	if (rc < 0 || !changed) {
		json_decref(st);
		st = NULL;
	}
	*out = st;
	return rc;
}

static int swarm_update_build(struct mgr__write_ctx *w, char *err,
			      size_t errlen)
{
	const struct store_object *o = mgr_cluster(w->m);
	if (!o) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	json_t *cur = swarm_spec_read(o->spec, o->spec_len), *next = NULL,
	       *st = NULL;
	int rc = cur ? swarm_spec_merge(cur, w->body, &next, err, errlen)
		     : -ENOMEM;
	if (rc == 0)
		rc = next_status(w, o, cur, next, &st, err, errlen);
	if (rc == 0)
		rc = update_cluster(w->b, o, w->req->version, next, st);
	json_decref(cur);
	json_decref(next);
	json_decref(st);
	return rc;
}

const struct mgr__write_op mgr__op_swarm_update = {
	.name = "swarm-update",
	.want_body = true,
	.check = swarm_update_check,
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
