/*
 * Docker's SwarmSpec (Engine API v1.45, "SwarmSpec"): checked, merged and
 * completed for POST /swarm/init, POST /swarm/update and GET /swarm.
 *
 * What a spec holds here, and where each field takes effect
 * (docs/swarm.md, "Swarm settings"):
 *
 *   Name                          always "default", as in Docker
 *   Labels                        the cluster object's labels
 *   Orchestration.TaskHistoryRetentionLimit   kept for the orchestrator
 *   Raft.ElectionTick, .HeartbeatTick         ticks of SWARM_RAFT_TICK_MS;
 *   Raft.SnapshotInterval, .KeepOldSnapshots,
 *   Raft.LogEntriesForSlowFollowers           each manager's Raft options,
 *                                 from its next start (swarm_state.raft)
 *   Dispatcher.HeartbeatPeriod    the agents' period, at once
 *   CAConfig.NodeCertExpiry       certificates issued from then on
 *   CAConfig.ForceRotate          a change gives every node a new
 *                                 certificate (ops_swarm.c, dispatcher.c)
 *   EncryptionConfig              autolock, which lives in the cluster
 *                                 object's status (ops_swarm.c), not here
 *   TaskDefaults                  accepted empty
 *
 * Refused by name: unknown fields at any level, CAConfig.ExternalCAs,
 * SigningCACert and SigningCAKey (the managers are the only CA and its
 * root cannot be replaced yet), TaskDefaults.LogDriver (tasks do not
 * exist yet), and values out of range. A merge is all or nothing: on any
 * error nothing is produced.
 *
 * Zero keeps: Docker clients send zeros for what they leave alone (the
 * docker CLI's init sends ElectionTick 0), so an absent, null or zero
 * field keeps the base's value, and the defaults at init. Pure functions:
 * no I/O, no clock.
 */
#include "common/jsonx.h"
#include "manager/manager.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NSEC_PER_MS_ 1000000LL
#define NSEC_PER_S_ 1000000000LL
#define MIN_HEARTBEAT_NS (10 * NSEC_PER_MS_)
#define MAX_HEARTBEAT_NS (3600 * NSEC_PER_S_)
#define MIN_EXPIRY_NS (3600 * NSEC_PER_S_) /* Docker's minimum */
#define MAX_EXPIRY_NS (100LL * 365 * 86400 * NSEC_PER_S_)
#define MAX_ENTRIES 1000000000ULL
#define MAX_TASK_HISTORY 1000

/* A spec as fields; labels borrowed from the JSON it was read from. */
struct spec {
	const json_t *labels; /* NULL: none */
	int64_t task_history;
	uint64_t snapshot_interval;
	uint64_t keep_old_snapshots;
	uint64_t slow_followers;
	uint64_t election_tick;
	uint64_t heartbeat_tick;
	int64_t heartbeat_ns;
	int64_t expiry_ns;
	uint64_t force_rotate;
};

static void defaults(struct spec *s)
{
	*s = (struct spec){
		.task_history = SWARM_DEFAULT_TASK_HISTORY,
		.snapshot_interval = SWARM_DEFAULT_SNAPSHOT_INTERVAL,
		.slow_followers = SWARM_DEFAULT_SLOW_FOLLOWERS,
		.election_tick = SWARM_DEFAULT_ELECTION_TICK,
		.heartbeat_tick = SWARM_DEFAULT_HEARTBEAT_TICK,
		.heartbeat_ns = SWARM_DEFAULT_HEARTBEAT_MS * NSEC_PER_MS_,
		.expiry_ns = SWARM_DEFAULT_CERT_EXPIRY_S * NSEC_PER_S_,
	};
}

static int fail(char *err, size_t errlen, const char *what, const char *why)
{
	snprintf(err, errlen, "%s %s", what, why);
	return -EINVAL;
}

/* Every key of @o is one of @known (NULL-terminated). */
static int known_keys(const json_t *o, const char *group,
		      const char *const *known, char *err, size_t errlen)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		size_t i = 0;
		while (known[i] && strcmp(known[i], k) != 0)
			i++;
		if (known[i])
			continue;
		snprintf(err, errlen,
			 "unknown field \"%s%s%.64s\" in the swarm spec",
			 group ? group : "", group ? "." : "", k);
		return -EINVAL;
	}
	return 0;
}

/* @key of @in as an object, or NULL when absent or null. */
static int group_of(const json_t *in, const char *key, const json_t **out,
		    char *err, size_t errlen)
{
	const json_t *g = json_object_get(in, key);
	*out = NULL;
	if (!g || json_is_null(g))
		return 0;
	if (!json_is_object(g))
		return fail(err, errlen, key, "must be an object");
	*out = g;
	return 0;
}

/*
 * @group.@key as a whole number in [@min, @max] into *@out. Absent or null
 * keeps *@out; so does 0 when @zero_keeps.
 */
static int take_uint(const json_t *g, const char *group, const char *key,
		     uint64_t min, uint64_t max, bool zero_keeps, uint64_t *out,
		     char *err, size_t errlen)
{
	char what[64];
	const json_t *v = g ? json_object_get(g, key) : NULL;
	if (!v || json_is_null(v))
		return 0;
	snprintf(what, sizeof(what), "%s.%s", group, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(err, errlen, what, "must be a whole number");
	uint64_t n = (uint64_t)json_integer_value(v);
	if (n == 0 && zero_keeps)
		return 0;
	if (n < min || n > max) {
		snprintf(err, errlen,
			 "%s must be between %" PRIu64 " and %" PRIu64
			 " (got %" PRIu64 ")",
			 what, min, max, n);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/* A duration in nanoseconds, 0 keeping *@out. */
static int take_ns(const json_t *g, const char *group, const char *key,
		   int64_t min, int64_t max, int64_t *out, char *err,
		   size_t errlen)
{
	char what[64];
	const json_t *v = g ? json_object_get(g, key) : NULL;
	if (!v || json_is_null(v))
		return 0;
	snprintf(what, sizeof(what), "%s.%s", group, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(err, errlen, what,
			    "must be a duration in nanoseconds");
	int64_t ns = json_integer_value(v);
	if (ns == 0)
		return 0;
	if (ns < min)
		return fail(err, errlen, what, "is too short");
	if (ns > max)
		return fail(err, errlen, what, "is too long");
	*out = ns;
	return 0;
}

static int read_name_labels(const json_t *in, struct spec *s, char *err,
			    size_t errlen)
{
	const json_t *name = json_object_get(in, "Name");
	if (name && !json_is_null(name) &&
	    (!json_is_string(name) ||
	     (*json_string_value(name) &&
	      strcmp(json_string_value(name), "default") != 0)))
		return fail(
			err, errlen, "Name",
			"must be \"default\": a swarm's name cannot change");
	const json_t *l = json_object_get(in, "Labels");
	s->labels = NULL;
	if (!l || json_is_null(l))
		return 0;
	if (!json_is_object(l))
		return fail(err, errlen, "Labels",
			    "must be an object of strings");
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)l, k, v)
	{
		if (!*k || !json_is_string(v)) {
			snprintf(err, errlen,
				 "label \"%.64s\" must have a string value", k);
			return -EINVAL;
		}
	}
	s->labels = l;
	return 0;
}

static int read_orchestration(const json_t *in, struct spec *s, char *err,
			      size_t errlen)
{
	static const char *const known[] = {"TaskHistoryRetentionLimit", NULL};
	const json_t *g;
	uint64_t n = (uint64_t)s->task_history;
	int rc = group_of(in, "Orchestration", &g, err, errlen);
	if (rc == 0 && g)
		rc = known_keys(g, "Orchestration", known, err, errlen);
	if (rc == 0)
		rc = take_uint(g, "Orchestration", "TaskHistoryRetentionLimit",
			       0, MAX_TASK_HISTORY, false, &n, err, errlen);
	s->task_history = (int64_t)n;
	return rc;
}

static int read_raft(const json_t *in, struct spec *s, char *err, size_t errlen)
{
	static const char *const known[] = {"SnapshotInterval",
					    "KeepOldSnapshots",
					    "LogEntriesForSlowFollowers",
					    "ElectionTick",
					    "HeartbeatTick",
					    NULL};
	const json_t *g;
	int rc = group_of(in, "Raft", &g, err, errlen);
	if (rc || !g)
		return rc;
	if ((rc = known_keys(g, "Raft", known, err, errlen)) ||
	    (rc = take_uint(g, "Raft", "SnapshotInterval", 1, MAX_ENTRIES, true,
			    &s->snapshot_interval, err, errlen)) ||
	    (rc = take_uint(g, "Raft", "KeepOldSnapshots", 0,
			    SWARM_MAX_KEEP_OLD_SNAPSHOTS, false,
			    &s->keep_old_snapshots, err, errlen)) ||
	    (rc = take_uint(g, "Raft", "LogEntriesForSlowFollowers", 1,
			    MAX_ENTRIES, true, &s->slow_followers, err,
			    errlen)) ||
	    (rc = take_uint(g, "Raft", "ElectionTick", 2,
			    SWARM_MAX_ELECTION_TICK, true, &s->election_tick,
			    err, errlen)))
		return rc;
	return take_uint(g, "Raft", "HeartbeatTick", 1,
			 SWARM_MAX_ELECTION_TICK - 1, true, &s->heartbeat_tick,
			 err, errlen);
}

static int read_dispatcher(const json_t *in, struct spec *s, char *err,
			   size_t errlen)
{
	static const char *const known[] = {"HeartbeatPeriod", NULL};
	const json_t *g;
	int rc = group_of(in, "Dispatcher", &g, err, errlen);
	if (rc || !g)
		return rc;
	rc = known_keys(g, "Dispatcher", known, err, errlen);
	return rc ? rc
		  : take_ns(g, "Dispatcher", "HeartbeatPeriod",
			    MIN_HEARTBEAT_NS, MAX_HEARTBEAT_NS,
			    &s->heartbeat_ns, err, errlen);
}

/* A field Shoal cannot honour: accepted only empty. */
static int refuse_unless_empty(const json_t *g, const char *group,
			       const char *key, const char *why, char *err,
			       size_t errlen)
{
	const json_t *v = g ? json_object_get(g, key) : NULL;
	bool empty = !v || json_is_null(v) ||
		     (json_is_array(v) && json_array_size(v) == 0) ||
		     (json_is_string(v) && !*json_string_value(v));
	if (empty)
		return 0;
	snprintf(err, errlen, "%s.%s is not supported: %s", group, key, why);
	return -EINVAL;
}

static int read_ca(const json_t *in, struct spec *s, char *err, size_t errlen)
{
	static const char *const known[] = {"NodeCertExpiry", "ExternalCAs",
					    "SigningCACert",  "SigningCAKey",
					    "ForceRotate",    NULL};
	const char *root = "the managers are the swarm's only certificate "
			   "authority and its root cannot be replaced yet";
	const json_t *g;
	int rc = group_of(in, "CAConfig", &g, err, errlen);
	if (rc || !g)
		return rc;
	if ((rc = known_keys(g, "CAConfig", known, err, errlen)) ||
	    (rc = refuse_unless_empty(g, "CAConfig", "ExternalCAs",
				      "the managers are the swarm's only "
				      "certificate authority",
				      err, errlen)) ||
	    (rc = refuse_unless_empty(g, "CAConfig", "SigningCACert", root, err,
				      errlen)) ||
	    (rc = refuse_unless_empty(g, "CAConfig", "SigningCAKey", root, err,
				      errlen)) ||
	    (rc = take_ns(g, "CAConfig", "NodeCertExpiry", MIN_EXPIRY_NS,
			  MAX_EXPIRY_NS, &s->expiry_ns, err, errlen)))
		return rc;
	return take_uint(g, "CAConfig", "ForceRotate", 0, UINT32_MAX, true,
			 &s->force_rotate, err, errlen);
}

static int read_others(const json_t *in, char *err, size_t errlen)
{
	static const char *const enc[] = {"AutoLockManagers", "RotateUnlockKey",
					  NULL};
	static const char *const td[] = {"LogDriver", NULL};
	const json_t *g;
	int rc = group_of(in, "EncryptionConfig", &g, err, errlen);
	if (rc == 0 && g)
		rc = known_keys(g, "EncryptionConfig", enc, err, errlen);
	for (size_t i = 0; rc == 0 && g && enc[i]; i++) {
		const json_t *v = json_object_get(g, enc[i]);
		if (v && !json_is_null(v) && !json_is_boolean(v)) {
			snprintf(err, errlen,
				 "EncryptionConfig.%s must be a boolean",
				 enc[i]);
			rc = -EINVAL;
		}
	}
	if (rc == 0)
		rc = group_of(in, "TaskDefaults", &g, err, errlen);
	if (rc == 0 && g)
		rc = known_keys(g, "TaskDefaults", td, err, errlen);
	if (rc == 0)
		rc = refuse_unless_empty(g, "TaskDefaults", "LogDriver",
					 "tasks do not exist yet; their logs "
					 "will be json-file",
					 err, errlen);
	return rc;
}

/* Lay @in over @s, checking every field. */
static int read_spec(const json_t *in, struct spec *s, char *err, size_t errlen)
{
	static const char *const known[] = {
		"Name",	      "Labels",	  "Orchestration",    "Raft",
		"Dispatcher", "CAConfig", "EncryptionConfig", "TaskDefaults",
		NULL};
	if (!json_is_object(in))
		return fail(err, errlen, "the swarm spec", "must be an object");
	int rc;
	if ((rc = known_keys(in, NULL, known, err, errlen)) ||
	    (rc = read_name_labels(in, s, err, errlen)) ||
	    (rc = read_orchestration(in, s, err, errlen)) ||
	    (rc = read_raft(in, s, err, errlen)) ||
	    (rc = read_dispatcher(in, s, err, errlen)) ||
	    (rc = read_ca(in, s, err, errlen)))
		return rc;
	return read_others(in, err, errlen);
}

static int cross_check(const struct spec *s, char *err, size_t errlen)
{
	if (s->election_tick > s->heartbeat_tick)
		return 0;
	snprintf(err, errlen,
		 "Raft.ElectionTick (%" PRIu64 ") must be greater than "
		 "Raft.HeartbeatTick (%" PRIu64 ")",
		 s->election_tick, s->heartbeat_tick);
	return -EINVAL;
}

static json_t *to_json(const struct spec *s)
{
	json_t *labels = s->labels ? json_deep_copy(s->labels) : json_object();
	if (!labels)
		return NULL;
	return json_pack(
		"{s:s, s:o, s:{s:I}, s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I}, "
		"s:{s:I, s:I}}",
		"Name", "default", "Labels", labels, "Orchestration",
		"TaskHistoryRetentionLimit", (json_int_t)s->task_history,
		"Raft", "SnapshotInterval", (json_int_t)s->snapshot_interval,
		"KeepOldSnapshots", (json_int_t)s->keep_old_snapshots,
		"LogEntriesForSlowFollowers", (json_int_t)s->slow_followers,
		"ElectionTick", (json_int_t)s->election_tick, "HeartbeatTick",
		(json_int_t)s->heartbeat_tick, "Dispatcher", "HeartbeatPeriod",
		(json_int_t)s->heartbeat_ns, "CAConfig", "NodeCertExpiry",
		(json_int_t)s->expiry_ns, "ForceRotate",
		(json_int_t)s->force_rotate);
}

int swarm_spec_merge(const json_t *base, const json_t *in, json_t **out,
		     char *err, size_t errlen)
{
	struct spec s;
	defaults(&s);
	*out = NULL;
	int rc = base ? read_spec(base, &s, err, errlen) : 0;
	if (rc == 0)
		rc = read_spec(in, &s, err, errlen);
	if (rc == 0)
		rc = cross_check(&s, err, errlen);
	if (rc < 0)
		return rc;
	*out = to_json(&s);
	return *out ? 0 : -ENOMEM;
}

int swarm_spec_check(const json_t *in, char *err, size_t errlen)
{
	struct spec s;
	defaults(&s);
	return read_spec(in, &s, err, errlen);
}

json_t *swarm_spec_read(const uint8_t *data, size_t len)
{
	json_t *stored = NULL, *out = NULL;
	char err[160];
	struct spec s;
	if (len)
		jsonx_parse((const char *)data, len, &stored, NULL, 0);
	if (stored)
		swarm_spec_merge(NULL, stored, &out, err, sizeof(err));
	if (!out) {
		/* None, or not ours: the defaults rather than nothing. */
		defaults(&s);
		out = to_json(&s);
	}
	json_decref(stored);
	return out;
}

json_t *swarm_spec_from_state(const struct swarm_state *st)
{
	struct spec s;
	const struct swarm_raft *r = &st->raft;
	defaults(&s);
	if (st->heartbeat_ms)
		s.heartbeat_ns = (int64_t)st->heartbeat_ms * NSEC_PER_MS_;
	if (st->cert_expiry_s > 0)
		s.expiry_ns = st->cert_expiry_s * NSEC_PER_S_;
	if (r->election_tick)
		s.election_tick = r->election_tick;
	if (r->heartbeat_tick)
		s.heartbeat_tick = r->heartbeat_tick;
	if (r->snapshot_interval)
		s.snapshot_interval = r->snapshot_interval;
	if (r->log_entries_for_slow_followers)
		s.slow_followers = r->log_entries_for_slow_followers;
	s.keep_old_snapshots = r->keep_old_snapshots;
	return to_json(&s);
}

bool swarm_spec_to_state(const json_t *spec, struct swarm_state *st)
{
	struct spec s;
	char err[160];
	defaults(&s);
	if (read_spec(spec, &s, err, sizeof(err)) < 0 ||
	    cross_check(&s, err, sizeof(err)) < 0)
		return false;
	struct swarm_raft r = {
		.election_tick = (uint32_t)s.election_tick,
		.heartbeat_tick = (uint32_t)s.heartbeat_tick,
		.snapshot_interval = s.snapshot_interval,
		.keep_old_snapshots = s.keep_old_snapshots,
		.log_entries_for_slow_followers = s.slow_followers,
	};
	uint32_t hb = (uint32_t)(s.heartbeat_ns / NSEC_PER_MS_);
	int64_t ex = s.expiry_ns / NSEC_PER_S_;
	const struct swarm_raft *o = &st->raft;
	bool changed = hb != st->heartbeat_ms || ex != st->cert_expiry_s ||
		       r.election_tick != o->election_tick ||
		       r.heartbeat_tick != o->heartbeat_tick ||
		       r.snapshot_interval != o->snapshot_interval ||
		       r.keep_old_snapshots != o->keep_old_snapshots ||
		       r.log_entries_for_slow_followers !=
			       o->log_entries_for_slow_followers;
	st->heartbeat_ms = hb;
	st->cert_expiry_s = ex;
	st->raft = r;
	return changed;
}

void swarm_raft_normalize(struct swarm_raft *r)
{
	if (!r->election_tick)
		r->election_tick = SWARM_DEFAULT_ELECTION_TICK;
	if (!r->heartbeat_tick)
		r->heartbeat_tick = SWARM_DEFAULT_HEARTBEAT_TICK;
	if (!r->snapshot_interval)
		r->snapshot_interval = SWARM_DEFAULT_SNAPSHOT_INTERVAL;
	if (!r->log_entries_for_slow_followers)
		r->log_entries_for_slow_followers =
			SWARM_DEFAULT_SLOW_FOLLOWERS;
}

void swarm_raft_timing(const struct swarm_raft *r, uint32_t *heartbeat_ms,
		       uint32_t *election_ms)
{
	uint32_t hb = r->heartbeat_tick ? r->heartbeat_tick
					: SWARM_DEFAULT_HEARTBEAT_TICK;
	uint32_t el = r->election_tick ? r->election_tick
				       : SWARM_DEFAULT_ELECTION_TICK;
	if (el <= hb) /* never from a checked spec */
		el = hb + 1;
	*heartbeat_ms = hb * SWARM_RAFT_TICK_MS;
	*election_ms = el * SWARM_RAFT_TICK_MS;
}
