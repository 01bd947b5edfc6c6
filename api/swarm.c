/*
 * Swarm routes of the Docker Engine API (v1.45, "Swarm"): GET /swarm,
 * POST /swarm/init, /swarm/join, /swarm/leave, /swarm/update, GET
 * /swarm/unlockkey, POST /swarm/unlock, and the Swarm section of GET
 * /info. Requests are validated here (a bad body changes nothing and gets
 * a 400 naming the field); the daemon (api/swarm.h) changes membership and
 * the manager (manager/manager.h) the cluster object. Error texts are
 * Docker's where the docker CLI shows them to users.
 */
#include "api/swarm.h"
#include "api/api.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "manager/lock.h"
#include "manager/manager.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_IN_SWARM                                                           \
	"This node is not a swarm manager. Use \"docker swarm init\" or "      \
	"\"docker swarm join\" to connect this node to swarm and try again."
#define NOT_MANAGER                                                            \
	"This node is not a swarm manager. Worker nodes can't be used to "     \
	"view or modify cluster state. Please run this command on a "          \
	"manager node or promote the current node to a manager."
#define ALREADY_IN_SWARM                                                       \
	"This node is already part of a swarm. Use \"docker swarm leave\" to " \
	"leave this swarm and join another one."

static void local(const struct api_call *call, struct api_swarm_local *l)
{
	const struct api_swarm_ops *ops = call->svc->swarm_ops;
	memset(l, 0, sizeof(*l));
	l->state = "inactive";
	l->error = "";
	if (ops)
		ops->local(call->svc->arg, l);
}

/* The manager, or NULL after answering Docker's 503. */
static struct mgr *need_manager(struct api_call *call)
{
	struct api_swarm_local l;
	local(call, &l);
	if (l.mgr)
		return l.mgr;
	api_reply_error(call, 503, "%s", l.st ? NOT_MANAGER : NOT_IN_SWARM);
	return NULL;
}

static json_t *time_json(int64_t ns)
{
	char t[48];
	time_format_rfc3339(ns, t, sizeof(t));
	return json_string(t);
}

/* The stored spec completed, plus what Docker shows beside it: autolock
 * (kept in the cluster object's status) and the empty TaskDefaults. */
static json_t *full_spec(const struct store_object *o, bool autolock)
{
	json_t *spec = swarm_spec_read(o->spec, o->spec_len);
	if (!spec)
		return NULL;
	int rc = 0;
	rc |= jsonx_set(spec, "TaskDefaults", json_object());
	rc |= jsonx_set(spec, "EncryptionConfig",
			json_pack("{s:b}", "AutoLockManagers", autolock));
	if (rc) {
		json_decref(spec);
		return NULL;
	}
	return spec;
}

static json_t *tls_info(const struct swarm_state *st)
{
	char b64[sodium_base64_ENCODED_LEN(WIRE_PK_LEN,
					   sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof(b64), st->root_pk, WIRE_PK_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:s, s:s}", "TrustRoot", "",
			 "CertIssuerSubject", "", "CertIssuerPublicKey", b64);
}

/*
 * Docker's ClusterInfo (plus JoinTokens for GET /swarm). Without
 * DefaultAddrPool, SubnetSize and DataPathPort: they describe the
 * allocator's address space, and until the allocator exists there is none
 * to report (docs/swarm.md, "Swarm settings").
 */
static json_t *cluster_json(struct mgr *m, const struct swarm_state *st,
			    bool tokens)
{
	const struct store_object *o = mgr_cluster(m);
	if (!o)
		return NULL;
	json_t *c = json_object();
	if (!c)
		return NULL;
	int rc = 0;
	rc |= jsonx_set(c, "ID", json_string(st->cluster_id));
	rc |= jsonx_set(c, "Version",
			json_pack("{s:I}", "Index", (json_int_t)o->version));
	rc |= jsonx_set(c, "CreatedAt", time_json(o->created_ns));
	rc |= jsonx_set(c, "UpdatedAt", time_json(o->updated_ns));
	rc |= jsonx_set(c, "Spec", full_spec(o, st->autolock));
	rc |= jsonx_set(c, "TLSInfo", tls_info(st));
	rc |= jsonx_set(c, "RootRotationInProgress", json_false());
	if (tokens) {
		char w[WIRE_TOKEN_LEN + 1], mt[WIRE_TOKEN_LEN + 1];
		ca_token(st, WIRE_ROLE_WORKER, w);
		ca_token(st, WIRE_ROLE_MANAGER, mt);
		rc |= jsonx_set(
			c, "JoinTokens",
			json_pack("{s:s, s:s}", "Worker", w, "Manager", mt));
	}
	if (rc) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static void swarm_inspect_now(struct api_call *call)
{
	struct api_swarm_local l;
	local(call, &l);
	if (!need_manager(call))
		return;
	if (!mgr_cluster(l.mgr)) {
		api_reply_error(call, 503,
				"this manager has not caught up with the swarm "
				"yet; try again in a moment");
		return;
	}
	api_reply_json(call, 200, cluster_json(l.mgr, l.st, true));
}

static void swarm_inspect(struct api_call *call)
{
	struct mgr *m = need_manager(call);
	if (m)
		api__after_sync(call, m, swarm_inspect_now);
}

static json_t *remote_managers(const struct swarm_state *st)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < st->nmanagers; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "NodeID",
						   st->manager_ids[i], "Addr",
						   st->managers[i]));
	return a;
}

static void count_nodes(struct mgr *m, int *nodes, int *managers)
{
	const struct store_object **all;
	size_t n;
	*nodes = *managers = 0;
	if (store_list(mgr_store(m), STORE_NODES, &all, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *spec = NULL;
		jsonx_parse((const char *)all[i]->spec, all[i]->spec_len, &spec,
			    NULL, 0);
		if (strcmp(jsonx_str(spec, "Role", ""), "manager") == 0)
			(*managers)++;
		json_decref(spec);
	}
	*nodes = (int)n;
	shoal_free(all);
}

json_t *api__swarm_info(const struct api_call *call)
{
	struct api_swarm_local l;
	local(call, &l);
	char addr[SWARM_ADDR_MAX] = "";
	if (l.st) {
		snprintf(addr, sizeof(addr), "%s", l.st->advertise_addr);
		char *colon = strrchr(addr, ':');
		if (colon)
			*colon = '\0';
	}
	/* A manager still catching up has no cluster object to show yet;
	 * the docker CLI reads Cluster whenever ControlAvailable is true. */
	if (l.mgr && !mgr_cluster(l.mgr))
		l.mgr = NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s}", "NodeID",
			      l.st ? l.st->node_id : "", "NodeAddr", addr,
			      "LocalNodeState", l.state, "ControlAvailable",
			      l.mgr != NULL, "Error", l.error);
	if (!o)
		return NULL;
	int rc = jsonx_set(o, "RemoteManagers",
			   l.st ? remote_managers(l.st) : json_null());
	if (l.mgr) {
		int nodes, managers;
		count_nodes(l.mgr, &nodes, &managers);
		rc |= jsonx_set(o, "Nodes", json_integer(nodes));
		rc |= jsonx_set(o, "Managers", json_integer(managers));
		rc |= jsonx_set(o, "Cluster", cluster_json(l.mgr, l.st, false));
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The body as an object, or NULL after answering 400. */
static json_t *body_object(struct api_call *call)
{
	json_t *b = NULL;
	char err[200];
	int rc = jsonx_parse_object(call->req->body, call->req->body_len, &b,
				    err, sizeof(err));
	if (rc == -ENOMEM)
		api_reply_error(call, 500, "out of memory");
	else if (rc < 0)
		api_reply_error(call, 400, "%s", err);
	return rc < 0 ? NULL : b;
}

static void init_done(void *w, int rc, const char *msg)
{
	api__answer_done(w, rc, msg);
}

/*
 * The fields of Docker's SwarmInitRequest that Shoal cannot honour yet:
 * accepted only at their defaults (what the docker CLI sends when the
 * user did not set them), else refused by name. The address pool, the
 * subnet size and the VXLAN port are the allocator's, which does not
 * exist yet; DataPathAddr is the overlay's; ForceNewCluster is a
 * recovery Shoal does not offer.
 */
/* Absent, null, [] or ["10.0.0.0/8"]. */
static bool default_pool(const json_t *pool)
{
	const char *first = json_string_value(json_array_get(pool, 0));
	return !pool || json_is_null(pool) ||
	       (json_is_array(pool) && (json_array_size(pool) == 0 ||
					(json_array_size(pool) == 1 && first &&
					 strcmp(first, "10.0.0.0/8") == 0)));
}

/* Absent, null, 0 or @dflt. */
static bool default_int(const json_t *v, json_int_t dflt)
{
	return !v || json_is_null(v) ||
	       (json_is_integer(v) &&
		(json_integer_value(v) == 0 || json_integer_value(v) == dflt));
}

static int check_init_extras(const json_t *b, char *err, size_t errlen)
{
	const char *why = NULL;
	if (!default_pool(json_object_get(b, "DefaultAddrPool")))
		why = "DefaultAddrPool";
	else if (!default_int(json_object_get(b, "SubnetSize"), 24))
		why = "SubnetSize";
	else if (!default_int(json_object_get(b, "DataPathPort"), 4789))
		why = "DataPathPort";
	if (why) {
		snprintf(err, errlen,
			 "%s cannot be set yet: Shoal has no network allocator "
			 "(its address pool will be 10.0.0.0/8 in /24 "
			 "subnets, VXLAN on port 4789); leave it out",
			 why);
		return -EINVAL;
	}
	if (*jsonx_str(b, "DataPathAddr", "")) {
		snprintf(err, errlen,
			 "DataPathAddr cannot be set yet: there "
			 "are no overlay networks; leave it out");
		return -EINVAL;
	}
	if (jsonx_bool(b, "ForceNewCluster", false)) {
		snprintf(err, errlen,
			 "ForceNewCluster is not supported: Shoal cannot "
			 "rebuild a swarm from one manager's state");
		return -EINVAL;
	}
	return 0;
}

static int check_init_fields(const json_t *b, const char **avail, char *err,
			     size_t errlen)
{
	static const char *const known[] = {"ListenAddr",
					    "AdvertiseAddr",
					    "DataPathAddr",
					    "DataPathPort",
					    "DefaultAddrPool",
					    "ForceNewCluster",
					    "SubnetSize",
					    "Spec",
					    "AutoLockManagers",
					    "Availability",
					    NULL};
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)b, k, v)
	{
		size_t i = 0;
		while (known[i] && strcmp(known[i], k) != 0)
			i++;
		if (!known[i]) {
			snprintf(err, errlen,
				 "unknown field \"%.64s\" in the init request",
				 k);
			return -EINVAL;
		}
	}
	*avail = jsonx_str(b, "Availability", "");
	if (**avail && strcmp(*avail, "active") && strcmp(*avail, "pause") &&
	    strcmp(*avail, "drain")) {
		snprintf(
			err, errlen,
			"invalid Availability \"%.32s\": must be active, pause "
			"or drain",
			*avail);
		return -EINVAL;
	}
	return check_init_extras(b, err, errlen);
}

/*
 * Docker's SwarmInitRequest into @req: every field checked, the Spec
 * completed (*@spec, owned). Autolock is asked either at the top
 * (AutoLockManagers, as the docker CLI sends it) or in the spec.
 */
static int init_request(const json_t *b, struct api_swarm_init *req,
			json_t **spec, char *err, size_t errlen)
{
	const char *avail;
	int rc = check_init_fields(b, &avail, err, errlen);
	const json_t *in = json_object_get(b, "Spec");
	json_t *empty = NULL;
	if (rc == 0 && (!in || json_is_null(in)))
		in = empty = json_object();
	if (rc == 0)
		rc = swarm_spec_merge(NULL, in, spec, err, errlen);
	json_decref(empty);
	if (rc < 0)
		return rc;
	*req = (struct api_swarm_init){
		.listen_addr = jsonx_str(b, "ListenAddr", ""),
		.advertise_addr = jsonx_str(b, "AdvertiseAddr", ""),
		.spec = *spec,
		.availability = strcmp(avail, "active") ? avail : "",
		.autolock = jsonx_bool(b, "AutoLockManagers", false) ||
			    jsonx_bool(jsonx_obj(in, "EncryptionConfig"),
				       "AutoLockManagers", false),
	};
	return 0;
}

static void swarm_init(struct api_call *call)
{
	const struct api_swarm_ops *ops = call->svc->swarm_ops;
	if (!ops) {
		api_reply_error(call, 501, "swarm mode is not available");
		return;
	}
	json_t *b = body_object(call);
	if (!b)
		return;
	struct api_swarm_init req;
	json_t *spec = NULL;
	char err[300];
	struct api__answer *w = NULL;
	int rc = init_request(b, &req, &spec, err, sizeof(err));
	if (rc == 0 && !(w = api__answer_new(call))) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	}
	if (rc == 0)
		rc = ops->init(call->svc->arg, &req, init_done, w, err,
			       sizeof(err));
	json_decref(spec);
	json_decref(b);
	if (rc < 0) {
		if (w)
			api__answer_cancel(w);
		api_reply_error(call, api__status_of(rc), "%s",
				rc == -EEXIST ? ALREADY_IN_SWARM : err);
		return;
	}
	/* init_done() answers with the node id once the store is ready. */
	struct api_swarm_local l;
	local(call, &l);
	api__answer_set_body(w, json_string(l.st ? l.st->node_id : ""));
}

static void swarm_join(struct api_call *call)
{
	const struct api_swarm_ops *ops = call->svc->swarm_ops;
	if (!ops) {
		api_reply_error(call, 501, "swarm mode is not available");
		return;
	}
	json_t *b = body_object(call);
	if (!b)
		return;
	const json_t *remotes = json_object_get(b, "RemoteAddrs");
	struct api_swarm_join req = {
		.listen_addr = jsonx_str(b, "ListenAddr", ""),
		.advertise_addr = jsonx_str(b, "AdvertiseAddr", ""),
		.remote_addr = json_string_value(json_array_get(remotes, 0)),
		.token = jsonx_str(b, "JoinToken", NULL),
	};
	char err[300];
	int rc = 0;
	if (!req.remote_addr) {
		rc = -EINVAL;
		snprintf(err, sizeof(err),
			 "RemoteAddrs must name at least one manager");
	} else if (!req.token) {
		rc = -EINVAL;
		snprintf(err, sizeof(err), "JoinToken is required");
	} else {
		struct api__answer *w = api__answer_new(call);
		rc = w ? ops->join(call->svc->arg, &req, api__answer_done, w,
				   err, sizeof(err))
		       : -ENOMEM;
		if (rc < 0 && w)
			api__answer_cancel(w);
	}
	json_decref(b);
	if (rc < 0)
		api_reply_error(call, api__status_of(rc), "%s",
				rc == -EEXIST ? ALREADY_IN_SWARM : err);
	/* else api__answer_done() answers */
}

static bool query_true(const struct api_call *call, const char *name)
{
	const char *v = http_request_query(call->req, name);
	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
		     strcmp(v, "True") == 0);
}

static void swarm_leave(struct api_call *call)
{
	const struct api_swarm_ops *ops = call->svc->swarm_ops;
	struct api_swarm_local l;
	local(call, &l);
	if (!ops || (!l.st && strcmp(l.state, "locked") != 0)) {
		api_reply_error(call, 503, "This node is not part of a swarm");
		return;
	}
	char err[400];
	int rc = ops->leave(call->svc->arg, query_true(call, "force"), err,
			    sizeof(err));
	if (rc < 0) {
		api_reply_error(call, rc == -EBUSY ? 503 : 500, "%s", err);
		return;
	}
	http_response_send(call->res, 200, NULL, NULL, 0);
}

int api__version_param(struct api_call *call, const char *what, uint64_t *out)
{
	const char *v = http_request_query(call->req, "version");
	char *end;
	if (!v || !*v) {
		api_reply_error(call, 400, "invalid %s version", what);
		return -EINVAL;
	}
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end || errno || v[0] == '-') {
		api_reply_error(call, 400, "invalid %s version '%s'", what, v);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/*
 * The body for mgr_swarm_update(): the SwarmSpec as given, with
 * ?rotateManagerUnlockKey= carried as EncryptionConfig.RotateUnlockKey so
 * that it survives a forward to the leader. Owned (shoal_free), or NULL
 * for the body unchanged (or not JSON: mgr_swarm_update() explains).
 */
static char *update_body(struct api_call *call, size_t *len)
{
	if (!query_true(call, "rotateManagerUnlockKey"))
		return NULL;
	json_t *spec = NULL;
	if (jsonx_parse(call->req->body, call->req->body_len, &spec, NULL, 0) <
		    0 ||
	    !json_is_object(spec)) {
		json_decref(spec);
		return NULL;
	}
	json_t *ec = json_object_get(spec, "EncryptionConfig");
	if (!json_is_object(ec)) {
		ec = json_object();
		jsonx_set(spec, "EncryptionConfig", ec);
	}
	char *s = NULL;
	if (ec && jsonx_set(ec, "RotateUnlockKey", json_true()) == 0)
		s = jsonx_dump(spec, len);
	json_decref(spec);
	return s;
}

static void swarm_update(struct api_call *call)
{
	struct mgr *m = need_manager(call);
	if (!m)
		return;
	struct api_swarm_local l;
	local(call, &l);
	uint64_t version;
	if (api__version_param(call, "swarm", &version) < 0)
		return;
	size_t blen = 0;
	char *body = update_body(call, &blen);
	char err[300];
	struct api__answer *w = api__answer_new(call);
	int rc = w ? mgr_swarm_update(m, version, body ? body : call->req->body,
				      body ? blen : call->req->body_len,
				      query_true(call, "rotateWorkerToken"),
				      query_true(call, "rotateManagerToken"),
				      api__answer_done, w, err, sizeof(err))
		   : -ENOMEM;
	shoal_free(body);
	if (rc < 0) {
		if (w)
			api__answer_cancel(w);
		api_reply_error(call, api__status_of(rc), "%s",
				rc == -ENOMEM ? "out of memory" : err);
	}
}

static void swarm_unlockkey_now(struct api_call *call)
{
	struct api_swarm_local l;
	local(call, &l);
	char key[SWARM_UNLOCK_KEY_MAX] = "";
	if (l.st && l.st->autolock)
		swarm_lock_key_format(l.st->kek, key);
	api_reply_json(call, 200, json_pack("{s:s}", "UnlockKey", key));
	sodium_memzero(key, sizeof(key));
}

/* After a sync, so that a key rotated through another manager shows. */
static void swarm_unlockkey(struct api_call *call)
{
	struct mgr *m = need_manager(call);
	if (m)
		api__after_sync(call, m, swarm_unlockkey_now);
}

static void swarm_unlock(struct api_call *call)
{
	const struct api_swarm_ops *ops = call->svc->swarm_ops;
	struct api_swarm_local l;
	local(call, &l);
	if (!ops || strcmp(l.state, "locked") != 0) {
		api_reply_error(call, 503, "swarm is not locked");
		return;
	}
	json_t *b = body_object(call);
	if (!b)
		return;
	char err[300];
	int rc = ops->unlock(call->svc->arg, jsonx_str(b, "UnlockKey", ""), err,
			     sizeof(err));
	json_decref(b);
	if (rc < 0) {
		api_reply_error(call, rc == -EAGAIN ? 503 : api__status_of(rc),
				"%s", err);
		return;
	}
	http_response_send(call->res, 200, NULL, NULL, 0);
}

static const struct api_route routes[] = {
	{"GET", "/swarm", swarm_inspect},
	{"POST", "/swarm/init", swarm_init},
	{"POST", "/swarm/join", swarm_join},
	{"POST", "/swarm/leave", swarm_leave},
	{"POST", "/swarm/update", swarm_update},
	{"GET", "/swarm/unlockkey", swarm_unlockkey},
	{"POST", "/swarm/unlock", swarm_unlock},
};

const struct api_route_table api_swarm_table = {
	.name = "swarm",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
