/*
 * The service writes of manager/write.c's table (docs/services.md):
 * "service-create", "service-update" and "service-remove". Each checks
 * the body where the client asked (service_spec_check(), no store
 * needed), and builds its change on the leader against the store:
 *
 *   create  the id comes with the request (the API draws it, so that it
 *           can answer {"ID": ...} once the change commits, wherever the
 *           write was forwarded); a name already taken is Docker's 409
 *           text; an empty name becomes the id's first 12 characters.
 *   update  at the client's version (stale: "update out of sequence");
 *           the name and the mode's kind cannot change (Docker's
 *           refusals); the old spec becomes PreviousSpec and the
 *           Generation grows; with MGR_WRITE_ROLLBACK the previous spec
 *           comes back instead (?rollback=previous) and the rollback
 *           starts at once; with MGR_WRITE_REBALANCE the status asks the
 *           orchestrator to spread the tasks again (orchestrator.c).
 *   remove  the service object goes; the orchestrator stops and deletes
 *           its tasks.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "manager/secrets.h"
#include "manager/service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CONFLICT_TEXT                                                          \
	"rpc error: code = AlreadyExists desc = name conflicts with an "       \
	"existing object"

static int check_spec(const json_t *body, const struct mgr_write_req *req,
		      char *err, size_t errlen)
{
	json_t *out = NULL;
	int rc = service_spec_check(body, &out, err, errlen);
	json_decref(out);
	return rc;
}

static int add_service(struct store_batch *b, bool create, const char *id,
		       uint64_t version, const char *name, const json_t *spec,
		       const json_t *status)
{
	size_t sl, tl;
	char *s = jsonx_dump(spec, &sl);
	char *t = jsonx_dump(status, &tl);
	int rc = !s || !t ? -ENOMEM
		 : create ? store_batch_create(b, STORE_SERVICES, id, name, s,
					       sl, t, tl)
			  : store_batch_update(b, STORE_SERVICES, id, version,
					       s, sl, t, tl);
	shoal_free(s);
	shoal_free(t);
	return rc;
}

static int create_build(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	const char *id = w->req->id;
	json_t *spec = NULL;
	if (!id_is_swarm(id)) {
		snprintf(err, errlen, "invalid service id \"%.64s\"", id);
		return -EINVAL;
	}
	int rc = service_spec_check(w->body, &spec, err, errlen);
	if (rc == 0)
		rc = mgr__service_nets_resolve(w->m->store, spec, err, errlen);
	if (rc == 0)
		rc = secret_refs_resolve(w->m->store, spec, err, errlen);
	if (rc < 0) {
		json_decref(spec);
		return rc;
	}
	char name[SERVICE_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", jsonx_str(spec, "Name", ""));
	if (!*name) {
		snprintf(name, 13, "%s", id);
		rc = jsonx_set(spec, "Name", json_string(name));
	}
	if (rc == 0 && (store_get_by_name(w->m->store, STORE_SERVICES, name) ||
			store_get(w->m->store, STORE_SERVICES, id))) {
		snprintf(err, errlen, CONFLICT_TEXT);
		rc = SHOAL_ECONFLICT;
	}
	json_t *status = json_pack("{s:i}", "Generation", 1);
	/* Last: a port it passes is claimed until the write is applied. */
	if (rc == 0)
		rc = mgr__service_ports_check(w->m, id, spec, err, errlen);
	if (rc == 0)
		rc = status ? add_service(w->b, true, id, 0, name, spec, status)
			    : -ENOMEM;
	json_decref(spec);
	json_decref(status);
	return rc;
}

/* The service being changed, with its spec and status parsed. */
static const struct store_object *current(struct mgr__write_ctx *w,
					  json_t **spec, json_t **status,
					  char *err, size_t errlen)
{
	const struct store_object *o =
		store_get(w->m->store, STORE_SERVICES, w->req->id);
	*spec = *status = NULL;
	if (!o) {
		snprintf(err, errlen, "service %.64s not found", w->req->id);
		return NULL;
	}
	*spec = mgr__obj_json(o->spec, o->spec_len);
	*status = mgr__obj_json(o->status, o->status_len);
	if (!*status)
		*status = json_object();
	return o;
}

static bool same_mode_kind(const json_t *a, const json_t *b)
{
	json_t *da = service_spec_defaults(a), *db = service_spec_defaults(b);
	bool same = da && db && service_spec_mode(da) == service_spec_mode(db);
	json_decref(da);
	json_decref(db);
	return same;
}

static int update_build(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	json_t *old, *status, *spec = NULL;
	const struct store_object *o = current(w, &old, &status, err, errlen);
	bool rollback = w->req->flags & MGR_WRITE_ROLLBACK;
	const char *name;
	int rc = 0;
	if (!o)
		return SHOAL_ENOTFOUND;
	if (!old || !status) {
		rc = -ENOMEM;
		goto out;
	}
	if (w->req->version != o->version) {
		snprintf(err, errlen, "update out of sequence");
		rc = SHOAL_ESTALE;
		goto out;
	}
	if (rollback) {
		const json_t *prev = json_object_get(status, "PreviousSpec");
		if (!prev) {
			snprintf(err, errlen,
				 "rpc error: code = FailedPrecondition desc = "
				 "service %s does not have a previous spec",
				 o->id);
			rc = -EINVAL;
			goto out;
		}
		spec = json_deep_copy(prev);
	} else if ((rc = service_spec_check(w->body, &spec, err, errlen)) < 0) {
		goto out;
	}
	if ((rc = mgr__service_nets_resolve(w->m->store, spec, err, errlen)) <
		    0 ||
	    (rc = secret_refs_resolve(w->m->store, spec, err, errlen)) < 0)
		goto out;
	name = jsonx_str(spec, "Name", "");
	if (rc == 0 && *name && strcmp(name, o->name) != 0) {
		snprintf(err, errlen,
			 "rpc error: code = Unimplemented desc = renaming "
			 "services is not supported");
		rc = -EINVAL;
	}
	if (rc == 0 && !same_mode_kind(old, spec)) {
		snprintf(err, errlen,
			 "rpc error: code = Unimplemented desc = service mode "
			 "change is not allowed");
		rc = -EINVAL;
	}
	if (rc == 0 && !*name)
		rc = jsonx_set(spec, "Name", json_string(o->name));
	if (rc == 0) {
		rc = jsonx_set(status, "PreviousSpec", json_incref(old));
		rc |= jsonx_set(
			status, "Generation",
			json_integer(jsonx_int(status, "Generation", 1) + 1));
		json_object_del(status, "UpdateStatus");
		json_object_del(status, "UpdateStartedNs");
	}
	if (rc == 0 && (w->req->flags & MGR_WRITE_REBALANCE)) {
		json_t *full = service_spec_defaults(spec);
		if (!full || service_spec_mode(full) != SERVICE_REPLICATED) {
			snprintf(err, errlen,
				 "rebalance applies to replicated services "
				 "only");
			rc = full ? -EINVAL : -ENOMEM;
		} else {
			rc = jsonx_set(status, "Rebalance", json_true());
		}
		json_decref(full);
	}
	if (rc == 0 && rollback) {
		char ts[48];
		int64_t now = time_real_ns();
		time_format_rfc3339(now, ts, sizeof(ts));
		rc = jsonx_set(status, "UpdateStatus",
			       json_pack("{s:s, s:s, s:s}", "State",
					 "rollback_started", "StartedAt", ts,
					 "Message",
					 "manually requested rollback"));
		rc |= jsonx_set(status, "UpdateStartedNs", json_integer(now));
	}
	/* Last: a port it passes is claimed until the write is applied. */
	if (rc == 0)
		rc = mgr__service_ports_check(w->m, o->id, spec, err, errlen);
	if (rc == 0)
		rc = add_service(w->b, false, o->id, o->version, o->name, spec,
				 status);
out:
	json_decref(old);
	json_decref(status);
	json_decref(spec);
	return rc;
}

static int update_check(const json_t *body, const struct mgr_write_req *req,
			char *err, size_t errlen)
{
	if (req->flags & MGR_WRITE_ROLLBACK)
		return 0; /* the previous spec, checked when it was stored */
	return check_spec(body, req, err, errlen);
}

static int remove_build(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	const struct store_object *o =
		store_get(w->m->store, STORE_SERVICES, w->req->id);
	if (!o) {
		snprintf(err, errlen, "service %.64s not found", w->req->id);
		return SHOAL_ENOTFOUND;
	}
	return store_batch_delete(w->b, STORE_SERVICES, o->id, o->version);
}

static void committed(struct mgr *m, const char *id, int rc, const char *what)
{
	mgr__service_ports_done(m, id);
	if (rc == 0)
		log_info("service=%s %s", id, what);
}

static void create_committed(struct mgr *m, const char *id, int rc)
{
	committed(m, id, rc, "created");
}

static void update_committed(struct mgr *m, const char *id, int rc)
{
	committed(m, id, rc, "updated");
}

static void remove_committed(struct mgr *m, const char *id, int rc)
{
	committed(m, id, rc, "removed");
}

const struct mgr__write_op mgr__op_service_create = {
	.name = "service-create",
	.want_body = true,
	.check = check_spec,
	.build = create_build,
	.committed = create_committed,
};

const struct mgr__write_op mgr__op_service_update = {
	.name = "service-update",
	.want_body = true,
	.check = update_check,
	.build = update_build,
	.committed = update_committed,
};

const struct mgr__write_op mgr__op_service_remove = {
	.name = "service-remove",
	.build = remove_build,
	.committed = remove_committed,
};
