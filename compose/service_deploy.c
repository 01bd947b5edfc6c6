/*
 * A compose service's healthcheck: and deploy: keys into the ServiceSpec
 * (split from service.c): Mode, Placement, Resources, RestartPolicy,
 * UpdateConfig, RollbackConfig, the service's Labels and
 * EndpointSpec.Mode, each key checked against what Docker's converter
 * reads and refused by its path otherwise.
 */
#include "compose/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wshadow" /* WITH(), internal.h */

/* ---------------------------------------------------------- healthcheck */

int compose__healthcheck(struct svc *s, const json_t *v)
{
	static const char *const k[] = {"test",	   "interval",	   "timeout",
					"retries", "start_period", "disable",
					NULL};
	json_t *h = json_object();
	bool off = false;
	int rc = compose__keys(v, k, &s->p, s->err);
	json_object_set_new(s->cs, "Healthcheck", h);
	WITH(s, v, "disable",
	     if (rc == 0) rc = compose__bool(v, &s->p, &off, s->err));
	if (rc == 0 && off) {
		if (json_object_size(v) > 1)
			return compose__errf(s->err,
					     "%s: disable: true takes "
					     "no other keys",
					     s->p.s);
		json_object_set_new(h, "Test", json_pack("[s]", "NONE"));
		return 0;
	}
	WITH(s, v, "test", {
		json_t *t = NULL;
		if (rc == 0 && json_is_string(v)) {
			t = json_pack("[s, s]", "CMD-SHELL",
				      json_string_value(v));
		} else if (rc == 0) {
			rc = compose__strlist(v, &s->p, false, &t, s->err);
			const char *first =
				json_string_value(json_array_get(t, 0));
			if (rc == 0 && (!first || (strcmp(first, "CMD") &&
						   strcmp(first, "CMD-SHELL") &&
						   strcmp(first, "NONE"))))
				rc = compose__errf(s->err,
						   "%s: a list must start with "
						   "CMD, CMD-SHELL or NONE",
						   s->p.s);
		}
		if (t)
			json_object_set_new(h, "Test", t);
	});
	WITH(s, v, "interval",
	     if (rc == 0) rc = compose__set_dur(s, h, "Interval", v));
	WITH(s, v, "timeout",
	     if (rc == 0) rc = compose__set_dur(s, h, "Timeout", v));
	WITH(s, v, "start_period",
	     if (rc == 0) rc = compose__set_dur(s, h, "StartPeriod", v));
	WITH(s, v, "retries",
	     if (rc == 0) rc = compose__set_uint(s, h, "Retries", v));
	return rc;
}

/* --------------------------------------------------------------- deploy */

static int update_cfg(struct svc *s, const json_t *v, const char *api,
		      bool rollback)
{
	static const char *const k[] = {"parallelism",
					"delay",
					"failure_action",
					"monitor",
					"max_failure_ratio",
					"order",
					NULL};
	static const char *const upd_fa[] = {"continue", "pause", "rollback",
					     NULL};
	static const char *const rb_fa[] = {"continue", "pause", NULL};
	static const char *const orders[] = {"stop-first", "start-first", NULL};
	json_t *u = json_object();
	char buf[32];
	int rc = compose__keys(v, k, &s->p, s->err);
	json_object_set_new(s->spec, api, u);
	json_object_set_new(u, "Parallelism", json_integer(1));
	WITH(s, v, "parallelism",
	     if (rc == 0) rc = compose__set_uint(s, u, "Parallelism", v));
	WITH(s, v, "delay",
	     if (rc == 0) rc = compose__set_dur(s, u, "Delay", v));
	WITH(s, v, "monitor",
	     if (rc == 0) rc = compose__set_dur(s, u, "Monitor", v));
	WITH(s, v, "failure_action", {
		if (rc == 0)
			rc = compose__one_of(s, v, rollback ? rb_fa : upd_fa,
					     buf, sizeof(buf));
		if (rc == 0)
			json_object_set_new(u, "FailureAction",
					    json_string(buf));
	});
	WITH(s, v, "order", {
		if (rc == 0)
			rc = compose__one_of(s, v, orders, buf, sizeof(buf));
		if (rc == 0)
			json_object_set_new(u, "Order", json_string(buf));
	});
	WITH(s, v, "max_failure_ratio", {
		double r = json_is_number(v) ? json_number_value(v) : -1;
		if (rc == 0 && (r < 0 || r > 1 || !isfinite(r)))
			rc = compose__errf(s->err, "%s: a number from 0 to 1",
					   s->p.s);
		if (rc == 0)
			json_object_set_new(u, "MaxFailureRatio", json_real(r));
	});
	return rc;
}

static int resources_one(struct svc *s, const json_t *v, json_t *dst,
			 bool limits)
{
	static const char *const lk[] = {"cpus", "memory", "pids", NULL};
	static const char *const rk[] = {"cpus", "memory", NULL};
	int rc = compose__keys(v, limits ? lk : rk, &s->p, s->err);
	WITH(s, v, "cpus", {
		char c[32];
		char *end;
		if (rc == 0)
			rc = compose__str(v, &s->p, c, sizeof(c), s->err);
		double x = rc == 0 ? strtod(c, &end) : 0;
		if (rc == 0 && (*end || end == c || x <= 0 || x > 1e6))
			rc = compose__errf(s->err,
					   "%s: \"%s\" is not a CPU "
					   "count (\"0.5\", \"2\")",
					   s->p.s, c);
		if (rc == 0)
			json_object_set_new(
				dst, "NanoCPUs",
				json_integer((json_int_t)llround(x * 1e9)));
	});
	WITH(s, v, "memory", {
		char m[64];
		long long b;
		if (rc == 0)
			rc = compose__str(v, &s->p, m, sizeof(m), s->err);
		if (rc == 0 && compose_bytes(m, &b) < 0)
			rc = compose__errf(s->err,
					   "%s: \"%s\" is not a size "
					   "(\"512M\", \"1G\")",
					   s->p.s, m);
		if (rc == 0)
			json_object_set_new(dst, "MemoryBytes",
					    json_integer(b));
	});
	WITH(s, v, "pids",
	     if (rc == 0) rc = compose__set_uint(s, dst, "Pids", v));
	return rc;
}

int compose__deploy(struct svc *s, const json_t *d)
{
	static const char *const k[] = {"mode",
					"replicas",
					"placement",
					"resources",
					"restart_policy",
					"update_config",
					"rollback_config",
					"labels",
					"endpoint_mode",
					NULL};
	static const char *const modes[] = {"replicated", "global", NULL};
	static const char *const emodes[] = {"vip", "dnsrr", NULL};
	char mode[16] = "replicated", buf[32];
	long long replicas = 1;
	int rc = compose__keys(d, k, &s->p, s->err);
	WITH(s, d, "mode",
	     if (rc == 0) rc =
		     compose__one_of(s, v, modes, mode, sizeof(mode)));
	WITH(s, d, "replicas", {
		if (rc == 0)
			rc = compose__int(v, &s->p, &replicas, s->err);
		if (rc == 0 && (replicas < 0 || replicas > 1000000))
			rc = compose__errf(s->err, "%s: out of range", s->p.s);
		if (rc == 0 && !strcmp(mode, "global"))
			rc = compose__errf(s->err,
					   "%s: replicas does not go "
					   "with mode: global",
					   s->p.s);
	});
	if (rc < 0)
		return rc;
	if (!strcmp(mode, "global"))
		json_object_set_new(s->spec, "Mode",
				    json_pack("{s:{}}", "Global"));
	else
		json_object_set_new(s->spec, "Mode",
				    json_pack("{s:{s:I}}", "Replicated",
					      "Replicas",
					      (json_int_t)replicas));
	WITH(s, d, "endpoint_mode", {
		if (rc == 0)
			rc = compose__one_of(s, v, emodes, buf, sizeof(buf));
		if (rc == 0)
			json_object_set_new(
				json_object_get(s->spec, "EndpointSpec"),
				"Mode", json_string(buf));
	});
	WITH(s, d, "labels", {
		json_t *m = NULL;
		if (rc == 0)
			rc = compose__kvmap(v, &s->p, NULL, &m, s->err);
		if (m)
			json_object_update(json_object_get(s->spec, "Labels"),
					   m);
		json_decref(m);
	});
	WITH(s, d, "placement", {
		static const char *const pk[] = {"constraints", "preferences",
						 "max_replicas_per_node", NULL};
		json_t *pl = json_object();
		json_object_set_new(s->tt, "Placement", pl);
		if (rc == 0)
			rc = compose__keys(v, pk, &s->p, s->err);
		WITH(s, v, "constraints", {
			json_t *c = NULL;
			if (rc == 0)
				rc = compose__strlist(v, &s->p, false, &c,
						      s->err);
			if (c)
				json_object_set_new(pl, "Constraints", c);
		});
		WITH(s, v, "max_replicas_per_node",
		     if (rc == 0) rc =
			     compose__set_uint(s, pl, "MaxReplicas", v));
		WITH(s, v, "preferences", {
			json_t *prefs = json_array();
			const json_t *x;
			size_t i;
			json_object_set_new(pl, "Preferences", prefs);
			if (rc == 0 && !json_is_array(v))
				rc = compose__errf(s->err, "%s: must be a list",
						   s->p.s);
			json_array_foreach(v, i, x)
			{
				static const char *const sk[] = {"spread",
								 NULL};
				char sp[256];
				size_t l = compose__pushi(&s->p, i);
				if (rc == 0)
					rc = compose__keys(x, sk, &s->p,
							   s->err);
				if (rc == 0 && !json_object_get(x, "spread"))
					rc = compose__errf(s->err,
							   "%s: spread is "
							   "required",
							   s->p.s);
				WITH(s, x, "spread",
				     if (rc == 0) rc = compose__str(
					     v, &s->p, sp, sizeof(sp), s->err));
				compose__pop(&s->p, l);
				if (rc == 0)
					json_array_append_new(
						prefs,
						json_pack("{s:{s:s}}", "Spread",
							  "SpreadDescriptor",
							  sp));
			}
		});
	});
	WITH(s, d, "resources", {
		static const char *const rk[] = {"limits", "reservations",
						 NULL};
		json_t *r = json_object();
		json_object_set_new(s->tt, "Resources", r);
		if (rc == 0)
			rc = compose__keys(v, rk, &s->p, s->err);
		WITH(s, v, "limits", {
			json_t *x = json_object();
			json_object_set_new(r, "Limits", x);
			if (rc == 0)
				rc = resources_one(s, v, x, true);
		});
		WITH(s, v, "reservations", {
			json_t *x = json_object();
			json_object_set_new(r, "Reservations", x);
			if (rc == 0)
				rc = resources_one(s, v, x, false);
		});
	});
	WITH(s, d, "restart_policy", {
		static const char *const rk[] = {
			"condition", "delay", "max_attempts", "window", NULL};
		static const char *const conds[] = {"none", "on-failure", "any",
						    NULL};
		json_t *r = json_object();
		json_object_set_new(s->tt, "RestartPolicy", r);
		if (rc == 0)
			rc = compose__keys(v, rk, &s->p, s->err);
		WITH(s, v, "condition", {
			if (rc == 0)
				rc = compose__one_of(s, v, conds, buf,
						     sizeof(buf));
			if (rc == 0)
				json_object_set_new(r, "Condition",
						    json_string(buf));
		});
		WITH(s, v, "delay",
		     if (rc == 0) rc = compose__set_dur(s, r, "Delay", v));
		WITH(s, v, "window",
		     if (rc == 0) rc = compose__set_dur(s, r, "Window", v));
		WITH(s, v, "max_attempts",
		     if (rc == 0) rc =
			     compose__set_uint(s, r, "MaxAttempts", v));
	});
	WITH(s, d, "update_config",
	     if (rc == 0) rc = update_cfg(s, v, "UpdateConfig", false));
	WITH(s, d, "rollback_config",
	     if (rc == 0) rc = update_cfg(s, v, "RollbackConfig", true));
	return rc;
}
