/*
 * shoal run, create, exec and logs: the commands that build a container
 * config from docker's flags or stream a container's bytes.
 *
 * run follows the docker CLI's sequence, which the daemon's API is built
 * for: create; unless detached, attach (hijacked) and POST wait (its head
 * comes at once, its body at the exit; condition "removed" with --rm);
 * start; resize a tty; relay until the stream ends; read the exit code
 * from the wait. Exit codes are docker's: 125 when the daemon refuses
 * (bad flag value, unknown image, ...), 126 when the command cannot be
 * run, 127 when it is not found, else the container's own code.
 */
#include "cli/ctr.h"
#include "cli/service.h"
#include "common/alloc.h"
#include "common/jsonx.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

struct run_opts {
	bool detach, interactive, tty, rm, privileged, readonly;
	const char *name, *workdir, *user, *memory, *memres, *cpus, *shares,
		*pids, *hostname, *entrypoint, *network, *stopsig, *stoptime,
		*restart;
	const char *format;
	/* --health-* (cli__health_json()) */
	const char *hcmd, *hint, *hto, *hret, *hstart;
	bool nohc;
	struct cli_list env, vols, tmpfs, capadd, capdrop, secopt, labels,
		ulimits, hosts, dns;
	/* docker run's runtime flags (run_flags()) */
	bool init, oom_kill_disable;
	const char *shm, *memswap, *swappiness, *oom_score, *cpuset_cpus,
		*cpuset_mems, *pid, *ipc, *uts, *cgroupns, *log_driver,
		*runtime;
	struct cli_list devices, dev_rules, groups, sysctls, vols_from,
		log_opts;
	const char *detach_keys; /* --detach-keys, passed to the daemon */
	const char *sig_proxy;	 /* --sig-proxy: "true" (default) or "false" */
	struct cli_list attach;	 /* -a stdin|stdout|stderr */
	struct cli_net_opts net; /* cmd_network.c */
};

static json_t *strarr(const struct cli_list *l)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

static int bad_flag(const char *val, const char *flag, const char *why)
{
	fprintf(stderr,
		"invalid argument \"%s\" for \"%s\" flag: %s\nSee 'shoal run "
		"--help'.\n",
		val, flag, why);
	return -1;
}

/* --restart NAME[:MAX] as docker parses it; the daemon checks the name. */
static json_t *restart_policy(const char *v)
{
	const char *colon = strchr(v, ':');
	long max = 0;
	char *end;

	if (colon == v) {
		bad_flag(v, "--restart",
			 "invalid restart policy format: no policy provided "
			 "before colon");
		return NULL;
	}
	if (colon && colon[1]) {
		max = strtol(colon + 1, &end, 10);
		if (*end) {
			bad_flag(v, "--restart",
				 "invalid restart policy format: maximum "
				 "retry count must be an integer");
			return NULL;
		}
	}
	return json_pack("{s:s#, s:i}", "Name", v,
			 (int)(colon ? colon - v : (long)strlen(v)),
			 "MaximumRetryCount", (int)max);
}

/* --security-opt seccomp=FILE: send the profile's text, as docker does. */
static int security_opts(const struct cli_list *l, json_t *out)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *o = l->v[i];
		if (strncmp(o, "seccomp=", 8) != 0 ||
		    !strcmp(o + 8, "unconfined") || !strcmp(o + 8, "default")) {
			json_array_append_new(out, json_string(o));
			continue;
		}
		FILE *f = fopen(o + 8, "re");
		if (!f) {
			fprintf(stderr,
				"opening seccomp profile (%s) failed: %s\n",
				o + 8, strerror(errno));
			return -1;
		}
		char *text = shoal_malloc((4 << 20) + 16);
		size_t n = text ? fread(text + 8, 1, 4 << 20, f) : 0;
		fclose(f);
		if (!text)
			return -1;
		memcpy(text, "seccomp=", 8);
		text[n + 8] = '\0';
		json_array_append_new(out, json_string(text));
		shoal_free(text);
	}
	return 0;
}

/* "k=v" items into an object of strings (--sysctl, --log-opt). */
static json_t *kv_object(const struct cli_list *l, const char *flag)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < l->n; i++) {
		const char *eq = strchr(l->v[i], '=');
		char k[256];
		if (!eq || eq == l->v[i]) {
			bad_flag(l->v[i], flag, "expected key=value");
			json_decref(o);
			return NULL;
		}
		snprintf(k, sizeof(k), "%.*s", (int)(eq - l->v[i]), l->v[i]);
		json_object_set_new(o, k, json_string(eq + 1));
	}
	return o;
}

static bool device_mode(const char *m)
{
	return *m && strlen(m) <= 3 && strspn(m, "rwm") == strlen(m);
}

/* --device HOST[:CTR][:MODE] as the docker CLI splits it. */
static json_t *devices(const struct cli_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++) {
		char buf[1024], *f[3] = {buf, NULL, NULL};
		const char *ctr, *mode = "rwm";
		snprintf(buf, sizeof(buf), "%s", l->v[i]);
		for (int k = 1; k < 3 && f[k - 1]; k++)
			if ((f[k] = strchr(f[k - 1], ':')))
				*f[k]++ = '\0';
		ctr = f[1] ? f[1] : buf;
		if (f[2]) {
			mode = f[2];
		} else if (f[1] && device_mode(f[1])) {
			mode = f[1];
			ctr = buf;
		}
		if (!device_mode(mode)) {
			bad_flag(l->v[i], "--device", "invalid device mode");
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a,
				      json_pack("{s:s, s:s, s:s}", "PathOnHost",
						buf, "PathInContainer", ctr,
						"CgroupPermissions", mode));
	}
	return a;
}

/* The runtime flags into HostConfig @hc; -1 after a message. */
static int run_flags(const struct run_opts *o, json_t *hc)
{
	json_t *sys = kv_object(&o->sysctls, "--sysctl");
	json_t *lo = kv_object(&o->log_opts, "--log-opt");
	json_t *dev = devices(&o->devices);
	int64_t v;

	if (!sys || !lo || !dev)
		goto err;
	json_object_set_new(hc, "Sysctls", sys);
	json_object_set_new(hc, "Devices", dev);
	json_object_set_new(hc, "LogConfig",
			    json_pack("{s:s, s:o}", "Type",
				      o->log_driver ? o->log_driver : "",
				      "Config", lo));
	sys = lo = dev = NULL;
	if (o->init)
		json_object_set_new(hc, "Init", json_true());
	json_object_set_new(hc, "OomKillDisable",
			    json_boolean(o->oom_kill_disable));
	if (o->shm) {
		if ((v = cli_parse_size(o->shm)) < 0)
			return bad_flag(o->shm, "--shm-size", "invalid size");
		json_object_set_new(hc, "ShmSize", json_integer(v));
	}
	if (o->memswap) {
		v = !strcmp(o->memswap, "-1") ? -1 : cli_parse_size(o->memswap);
		if (v < 0 && strcmp(o->memswap, "-1"))
			return bad_flag(o->memswap, "--memory-swap",
					"invalid size");
		json_object_set_new(hc, "MemorySwap", json_integer(v));
	}
	for (int k = 0; k < 2; k++) {
		const char *val = k ? o->oom_score : o->swappiness;
		char *end;
		long n;
		if (!val)
			continue;
		n = strtol(val, &end, 10);
		if (*end || end == val)
			return bad_flag(val,
					k ? "--oom-score-adj"
					  : "--memory-swappiness",
					"strconv.ParseInt: invalid syntax");
		json_object_set_new(hc, k ? "OomScoreAdj" : "MemorySwappiness",
				    json_integer(n));
	}
	json_object_set_new(hc, "CpusetCpus",
			    json_string(o->cpuset_cpus ? o->cpuset_cpus : ""));
	json_object_set_new(hc, "CpusetMems",
			    json_string(o->cpuset_mems ? o->cpuset_mems : ""));
	json_object_set_new(hc, "PidMode", json_string(o->pid ? o->pid : ""));
	json_object_set_new(hc, "IpcMode", json_string(o->ipc ? o->ipc : ""));
	json_object_set_new(hc, "UTSMode", json_string(o->uts ? o->uts : ""));
	json_object_set_new(hc, "CgroupnsMode",
			    json_string(o->cgroupns ? o->cgroupns : ""));
	json_object_set_new(hc, "Runtime",
			    json_string(o->runtime ? o->runtime : ""));
	json_object_set_new(hc, "GroupAdd", strarr(&o->groups));
	json_object_set_new(hc, "DeviceCgroupRules", strarr(&o->dev_rules));
	json_object_set_new(hc, "VolumesFrom", strarr(&o->vols_from));
	return 0;
err:
	json_decref(sys);
	json_decref(lo);
	json_decref(dev);
	return -1;
}

/* -e NAME: the client's value when it has one, as the docker CLI does;
 * else NAME alone, which unsets it in the container. */
static json_t *env_array(const struct cli_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++) {
		const char *val = strchr(l->v[i], '=') ? NULL : getenv(l->v[i]);
		json_array_append_new(a,
				      val ? json_pack("s++", l->v[i], "=", val)
					  : json_string(l->v[i]));
	}
	return a;
}

static json_t *host_config(const struct run_opts *o)
{
	json_t *hc = json_object(), *tm = NULL, *so = NULL, *ul = NULL;
	int64_t v;
	if (!hc)
		return NULL;
	if (o->memory) {
		if ((v = cli_parse_size(o->memory)) < 0) {
			bad_flag(o->memory, "-m, --memory", "invalid size");
			goto err;
		}
		json_object_set_new(hc, "Memory", json_integer(v));
	}
	if (o->memres) {
		if ((v = cli_parse_size(o->memres)) < 0) {
			bad_flag(o->memres, "--memory-reservation",
				 "invalid size");
			goto err;
		}
		json_object_set_new(hc, "MemoryReservation", json_integer(v));
	}
	if (o->cpus) {
		char *end;
		double c = strtod(o->cpus, &end);
		if (end == o->cpus || *end || c < 0) {
			bad_flag(o->cpus, "--cpus", "failed to parse");
			goto err;
		}
		json_object_set_new(hc, "NanoCpus",
				    json_integer((json_int_t)(c * 1e9)));
	}
	if (o->shares) {
		char *end;
		long s = strtol(o->shares, &end, 10);
		if (*end) {
			bad_flag(o->shares, "-c, --cpu-shares",
				 "strconv.ParseInt: invalid syntax");
			goto err;
		}
		json_object_set_new(hc, "CpuShares", json_integer(s));
	}
	if (o->pids) {
		char *end;
		long p = strtol(o->pids, &end, 10);
		if (*end) {
			bad_flag(o->pids, "--pids-limit",
				 "strconv.ParseInt: invalid syntax");
			goto err;
		}
		json_object_set_new(hc, "PidsLimit", json_integer(p));
	}
	json_object_set_new(hc, "Binds", strarr(&o->vols));
	tm = json_object();
	for (size_t i = 0; tm && i < o->tmpfs.n; i++) {
		char path[1024];
		const char *c = strchr(o->tmpfs.v[i], ':');
		snprintf(path, sizeof(path), "%.*s",
			 c ? (int)(c - o->tmpfs.v[i])
			   : (int)strlen(o->tmpfs.v[i]),
			 o->tmpfs.v[i]);
		json_object_set_new(tm, path, json_string(c ? c + 1 : ""));
	}
	json_object_set_new(hc, "Tmpfs", tm);
	json_object_set_new(hc, "CapAdd", strarr(&o->capadd));
	json_object_set_new(hc, "CapDrop", strarr(&o->capdrop));
	so = json_array();
	json_object_set_new(hc, "SecurityOpt", so);
	if (!so || security_opts(&o->secopt, so) < 0)
		goto err;
	ul = json_array();
	for (size_t i = 0; ul && i < o->ulimits.n; i++) {
		char name[64];
		long long soft, hard;
		int n = sscanf(o->ulimits.v[i], "%63[^=]=%lld:%lld", name,
			       &soft, &hard);
		if (n < 2) {
			bad_flag(o->ulimits.v[i], "--ulimit",
				 "invalid ulimit argument");
			goto err;
		}
		json_array_append_new(
			ul, json_pack("{s:s, s:I, s:I}", "Name", name, "Soft",
				      (json_int_t)soft, "Hard",
				      (json_int_t)(n == 3 ? hard : soft)));
	}
	json_object_set_new(hc, "Ulimits", ul);
	json_object_set_new(hc, "ExtraHosts", strarr(&o->hosts));
	json_object_set_new(hc, "Dns", strarr(&o->dns));
	json_object_set_new(hc, "AutoRemove", json_boolean(o->rm));
	if (o->restart && *o->restart) {
		json_t *p = restart_policy(o->restart);
		if (!p)
			goto err;
		json_object_set_new(hc, "RestartPolicy", p);
	}
	json_object_set_new(hc, "Privileged", json_boolean(o->privileged));
	json_object_set_new(hc, "ReadonlyRootfs", json_boolean(o->readonly));
	json_object_set_new(hc, "NetworkMode",
			    json_string(o->network ? o->network : "default"));
	if (run_flags(o, hc) < 0)
		goto err;
	return hc;
err:
	json_decref(hc);
	return NULL;
}

static json_t *create_body(const struct run_opts *o, const char *image,
			   int nargs, char **args)
{
	json_t *hc = host_config(o);
	if (!hc)
		return NULL;
	json_t *b = json_object();
	json_object_set_new(b, "Image", json_string(image));
	if (nargs > 0) {
		json_t *cmd = json_array();
		for (int i = 0; i < nargs; i++)
			json_array_append_new(cmd, json_string(args[i]));
		json_object_set_new(b, "Cmd", cmd);
	}
	if (o->entrypoint)
		json_object_set_new(b, "Entrypoint",
				    json_pack("[s]", o->entrypoint));
	json_object_set_new(b, "Env", env_array(&o->env));
	json_object_set_new(b, "Hostname",
			    json_string(o->hostname ? o->hostname : ""));
	json_object_set_new(b, "User", json_string(o->user ? o->user : ""));
	json_object_set_new(b, "WorkingDir",
			    json_string(o->workdir ? o->workdir : ""));
	json_object_set_new(b, "Tty", json_boolean(o->tty));
	json_object_set_new(b, "OpenStdin", json_boolean(o->interactive));
	json_object_set_new(b, "StdinOnce",
			    json_boolean(o->interactive && !o->detach));
	json_object_set_new(b, "AttachStdin",
			    json_boolean(o->interactive && !o->detach));
	json_object_set_new(b, "AttachStdout", json_boolean(!o->detach));
	json_object_set_new(b, "AttachStderr", json_boolean(!o->detach));
	json_t *l = json_object();
	for (size_t i = 0; l && i < o->labels.n; i++) {
		char k[256];
		const char *eq = strchr(o->labels.v[i], '=');
		snprintf(k, sizeof(k), "%.*s",
			 eq ? (int)(eq - o->labels.v[i])
			    : (int)strlen(o->labels.v[i]),
			 o->labels.v[i]);
		json_object_set_new(l, k, json_string(eq ? eq + 1 : ""));
	}
	json_object_set_new(b, "Labels", l);
	if (o->stopsig)
		json_object_set_new(b, "StopSignal", json_string(o->stopsig));
	if (o->stoptime)
		json_object_set_new(b, "StopTimeout",
				    json_integer(atoi(o->stoptime)));
	json_t *health = NULL;
	if (cli__health_json(o->hcmd, o->hint, o->hto, o->hret, o->hstart,
			     o->nohc, &health) < 0) {
		json_decref(hc);
		json_decref(b);
		return NULL;
	}
	if (health)
		json_object_set_new(b, "Healthcheck", health);
	struct cli_net_opts net = o->net;
	net.network = o->network; /* the endpoint settings' network */
	if (cli_net_run_flags(&net, b, hc) < 0) {
		json_decref(hc);
		json_decref(b);
		return NULL;
	}
	json_object_set_new(b, "HostConfig", hc);
	return b;
}

static int parse_run(const char *cmd, struct run_opts *o, int argc, char **argv)
{
	const struct cli_flag flags[] = {
		{"detach", 'd', CLI_FLAG_BOOL, &o->detach},
		{"interactive", 'i', CLI_FLAG_BOOL, &o->interactive},
		{"tty", 't', CLI_FLAG_BOOL, &o->tty},
		{"rm", 0, CLI_FLAG_BOOL, &o->rm},
		{"privileged", 0, CLI_FLAG_BOOL, &o->privileged},
		{"read-only", 0, CLI_FLAG_BOOL, &o->readonly},
		{"name", 0, CLI_FLAG_STR, &o->name},
		{"workdir", 'w', CLI_FLAG_STR, &o->workdir},
		{"user", 'u', CLI_FLAG_STR, &o->user},
		{"memory", 'm', CLI_FLAG_STR, &o->memory},
		{"memory-reservation", 0, CLI_FLAG_STR, &o->memres},
		{"cpus", 0, CLI_FLAG_STR, &o->cpus},
		{"cpu-shares", 'c', CLI_FLAG_STR, &o->shares},
		{"pids-limit", 0, CLI_FLAG_STR, &o->pids},
		{"hostname", 'h', CLI_FLAG_STR, &o->hostname},
		{"entrypoint", 0, CLI_FLAG_STR, &o->entrypoint},
		{"network", 0, CLI_FLAG_STR, &o->network},
		{"net", 0, CLI_FLAG_STR, &o->network},
		{"stop-signal", 0, CLI_FLAG_STR, &o->stopsig},
		{"stop-timeout", 0, CLI_FLAG_STR, &o->stoptime},
		{"restart", 0, CLI_FLAG_STR, &o->restart},
		{"env", 'e', CLI_FLAG_LIST, &o->env},
		{"volume", 'v', CLI_FLAG_LIST, &o->vols},
		{"tmpfs", 0, CLI_FLAG_LIST, &o->tmpfs},
		{"cap-add", 0, CLI_FLAG_LIST, &o->capadd},
		{"cap-drop", 0, CLI_FLAG_LIST, &o->capdrop},
		{"security-opt", 0, CLI_FLAG_LIST, &o->secopt},
		{"label", 'l', CLI_FLAG_LIST, &o->labels},
		{"ulimit", 0, CLI_FLAG_LIST, &o->ulimits},
		{"add-host", 0, CLI_FLAG_LIST, &o->hosts},
		{"dns", 0, CLI_FLAG_LIST, &o->dns},
		{"init", 0, CLI_FLAG_BOOL, &o->init},
		{"oom-kill-disable", 0, CLI_FLAG_BOOL, &o->oom_kill_disable},
		{"shm-size", 0, CLI_FLAG_STR, &o->shm},
		{"memory-swap", 0, CLI_FLAG_STR, &o->memswap},
		{"memory-swappiness", 0, CLI_FLAG_STR, &o->swappiness},
		{"oom-score-adj", 0, CLI_FLAG_STR, &o->oom_score},
		{"cpuset-cpus", 0, CLI_FLAG_STR, &o->cpuset_cpus},
		{"cpuset-mems", 0, CLI_FLAG_STR, &o->cpuset_mems},
		{"pid", 0, CLI_FLAG_STR, &o->pid},
		{"ipc", 0, CLI_FLAG_STR, &o->ipc},
		{"uts", 0, CLI_FLAG_STR, &o->uts},
		{"cgroupns", 0, CLI_FLAG_STR, &o->cgroupns},
		{"log-driver", 0, CLI_FLAG_STR, &o->log_driver},
		{"runtime", 0, CLI_FLAG_STR, &o->runtime},
		{"device", 0, CLI_FLAG_LIST, &o->devices},
		{"device-cgroup-rule", 0, CLI_FLAG_LIST, &o->dev_rules},
		{"group-add", 0, CLI_FLAG_LIST, &o->groups},
		{"sysctl", 0, CLI_FLAG_LIST, &o->sysctls},
		{"volumes-from", 0, CLI_FLAG_LIST, &o->vols_from},
		{"log-opt", 0, CLI_FLAG_LIST, &o->log_opts},
		{"attach", 'a', CLI_FLAG_LIST, &o->attach},
		{"detach-keys", 0, CLI_FLAG_STR, &o->detach_keys},
		{"sig-proxy", 0, CLI_FLAG_STR, &o->sig_proxy},
		{"health-cmd", 0, CLI_FLAG_STR, &o->hcmd},
		{"health-interval", 0, CLI_FLAG_STR, &o->hint},
		{"health-timeout", 0, CLI_FLAG_STR, &o->hto},
		{"health-retries", 0, CLI_FLAG_STR, &o->hret},
		{"health-start-period", 0, CLI_FLAG_STR, &o->hstart},
		{"no-healthcheck", 0, CLI_FLAG_BOOL, &o->nohc},
		{"publish", 'p', CLI_FLAG_LIST, &o->net.publish},
		{"publish-all", 'P', CLI_FLAG_BOOL, &o->net.publish_all},
		{"network-alias", 0, CLI_FLAG_LIST, &o->net.aliases},
		{"ip", 0, CLI_FLAG_STR, &o->net.ip},
		{"mac-address", 0, CLI_FLAG_STR, &o->net.mac},
		{"dns-search", 0, CLI_FLAG_LIST, &o->net.dns_search},
		{"dns-option", 0, CLI_FLAG_LIST, &o->net.dns_opt},
		{"link", 0, CLI_FLAG_LIST, &o->net.links},
	};
	/* -h is --hostname for run, as in docker; --help still works. */
	int i = cli_flags(cmd, flags, NFLAGS(flags), argc, argv, false);
	if (i == -2) {
		printf("Usage:  shoal %s [OPTIONS] IMAGE [COMMAND] [ARG...]\n",
		       cmd);
		return -2;
	}
	if (i < 0)
		return -1;
	if (i >= argc) {
		fprintf(stderr,
			"\"shoal %s\" requires at least 1 argument.\nSee "
			"'shoal %s --help'.\n",
			cmd, cmd);
		return -1;
	}
	return i;
}

/* POST /containers/create; the id into @id. 0, or the exit status. */
static int create(struct cli *cli, const struct run_opts *o, const char *image,
		  int nargs, char **args, char id[65])
{
	json_t *body = create_body(o, image, nargs, args);
	if (!body)
		return 125;
	char path[512] = "/containers/create", esc[256];
	if (o->name) {
		cli_escape(o->name, esc, sizeof(esc));
		snprintf(path, sizeof(path), "/containers/create?name=%s", esc);
	}
	json_t *r = NULL;
	int rc = cli_call_json(cli, "POST", path, body, &r);
	json_decref(body);
	if (rc < 0)
		return 125;
	snprintf(id, 65, "%s", jsonx_str(r, "Id", ""));
	json_decref(r);
	return 0;
}

int cli_ctr_create(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = {0};
	int i = parse_run("create", &o, argc, argv);
	if (i < 0)
		return i == -2 ? 0 : 125;
	char id[65];
	int rc = create(cli, &o, argv[i], argc - i - 1, argv + i + 1, id);
	if (rc == 0)
		printf("%s\n", id);
	return rc;
}

static int start_failed(const char *msg)
{
	if (strstr(msg, "not found") || strstr(msg, "no such file"))
		return 127;
	if (strstr(msg, "permission denied"))
		return 126;
	return 125;
}

struct winch_arg {
	struct cli *cli;
	const char *kind;
	const char *id;
};

static void resize(struct cli *cli, const char *kind, const char *id);

static void on_winch(void *arg)
{
	struct winch_arg *w = arg;
	resize(w->cli, w->kind, w->id);
}

static void resize(struct cli *cli, const char *kind, const char *id)
{
	unsigned rows, cols;
	char path[256];
	if (!cli_term_size(&rows, &cols))
		return;
	snprintf(path, sizeof(path), "/%s/%s/resize?h=%u&w=%u", kind, id, rows,
		 cols);
	cli_call(cli, "POST", path, NULL, 0, NULL, NULL, 0);
}

/* -a: which streams (docker's spellings, any case); -1 after its error. */
static int attach_streams(const struct run_opts *o, bool *in, bool *out,
			  bool *err)
{
	if (!o->attach.n) {
		*out = *err = true;
		return 0;
	}
	*in = *out = *err = false;
	for (size_t k = 0; k < o->attach.n; k++) {
		const char *a = o->attach.v[k];
		if (!strcasecmp(a, "stdin"))
			*in = true;
		else if (!strcasecmp(a, "stdout"))
			*out = true;
		else if (!strcasecmp(a, "stderr"))
			*err = true;
		else {
			fprintf(stderr,
				"invalid argument \"%s\" for \"-a, --attach\" "
				"flag: valid streams are STDIN, STDOUT and "
				"STDERR\n",
				a);
			return -1;
		}
	}
	if (o->detach) {
		fprintf(stderr, "Conflicting options: -a and -d\n");
		return -1;
	}
	return 0;
}

/* --sig-proxy: a signal the CLI got goes to the container. */
struct proxy_arg {
	struct cli *cli;
	const char *kind; /* "containers" */
	const char *id;
};

static void proxy_signal(int signo, void *arg)
{
	struct proxy_arg *p = arg;
	char path[160];
	snprintf(path, sizeof(path), "/%s/%s/kill?signal=%d", p->kind, p->id,
		 signo);
	cli_call(p->cli, "POST", path, NULL, 0, NULL, NULL, 409);
}

/* Whether container @id still runs (the attach ended by a detach). */
static bool still_running(struct cli *cli, const char *id)
{
	char path[128];
	json_t *o = NULL;
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return false;
	bool up = jsonx_bool(json_object_get(o, "State"), "Running", false);
	json_decref(o);
	return up;
}

int cli_ctr_run(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = {0};
	bool a_in = false, a_out = false, a_err = false;
	char keys[128] = "";
	int i = parse_run("run", &o, argc, argv);
	if (i < 0)
		return i == -2 ? 0 : 125;
	if (attach_streams(&o, &a_in, &a_out, &a_err) < 0)
		return 125;
	if (o.sig_proxy && strcmp(o.sig_proxy, "true") &&
	    strcmp(o.sig_proxy, "false")) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"--sig-proxy\" flag: "
			"strconv.ParseBool: parsing \"%s\": invalid syntax\n",
			o.sig_proxy, o.sig_proxy);
		return 125;
	}
	if (o.attach.n)
		o.interactive = o.interactive || a_in;
	if (o.detach_keys) {
		size_t n = (size_t)snprintf(keys, sizeof(keys), "&detachKeys=");
		cli_escape(o.detach_keys, keys + n, sizeof(keys) - n);
	}
	char id[65], path[256];
	int rc = create(cli, &o, argv[i], argc - i - 1, argv + i + 1, id);
	if (rc)
		return rc;
	struct cli_conn att = {.fd = -1}, wait = {.fd = -1};
	if (!o.detach) {
		snprintf(
			path, sizeof(path),
			"/containers/%s/attach?stream=1&stdout=%d&stderr=%d%s%s",
			id, a_out, a_err, o.interactive ? "&stdin=1" : "",
			keys);
		if (cli_conn_open(cli, "POST", path, NULL, CLI_CONN_UPGRADE,
				  &att) < 0)
			return 125;
		snprintf(path, sizeof(path), "/containers/%s/wait?condition=%s",
			 id, o.rm ? "removed" : "next-exit");
		if (cli_conn_open(cli, "POST", path, NULL, CLI_CONN_PLAIN,
				  &wait) < 0) {
			cli_conn_close(&att);
			return 125;
		}
	}
	snprintf(path, sizeof(path), "/containers/%s/start", id);
	struct http_result r;
	rc = cli_call(cli, "POST", path, NULL, 0, NULL, &r, 0);
	if (rc < 0) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", cli_last_error());
		cli_conn_close(&att);
		cli_conn_close(&wait);
		if (o.rm) { /* the daemon removes it too; 404 is fine */
			snprintf(path, sizeof(path),
				 "/containers/%s?force=1&v=1", id);
			cli_call(cli, "DELETE", path, NULL, 0, NULL, NULL, 404);
		}
		return msg[0] ? start_failed(msg) : 125;
	}
	http_result_fini(&r);
	if (o.detach) {
		printf("%s\n", id);
		return 0;
	}
	struct winch_arg w = {cli, "containers", id};
	if (o.tty)
		resize(cli, "containers", id);
	struct proxy_arg pa = {cli, "containers", id};
	if (!o.sig_proxy || !strcmp(o.sig_proxy, "true"))
		cli_relay_set_proxy(proxy_signal, &pa);
	cli_relay(&att, o.tty, o.interactive, on_winch, &w);
	cli_relay_set_proxy(NULL, NULL);
	cli_conn_close(&att);
	/* The stream ends at the exit or at the detach keys; after a detach
	 * the container runs on and no exit comes: leave it (docker's run). */
	if (o.interactive && !wait.nleft) {
		struct pollfd pf = {.fd = wait.fd, .events = POLLIN};
		if (poll(&pf, 1, 2000) == 0 && still_running(cli, id)) {
			cli_conn_close(&wait);
			return 0;
		}
	}
	int code = cli_wait_status(&wait);
	cli_conn_close(&wait);
	return code < 0 ? 125 : code;
}

/* ---- exec ---- */

int cli_ctr_exec(struct cli *cli, int argc, char **argv)
{
	bool detach = false, in = false, tty = false, priv = false;
	const char *user = NULL, *wd = NULL, *keys = NULL;
	struct cli_list env = {0};
	const struct cli_flag flags[] = {
		{"detach-keys", 0, CLI_FLAG_STR, &keys},
		{"detach", 'd', CLI_FLAG_BOOL, &detach},
		{"interactive", 'i', CLI_FLAG_BOOL, &in},
		{"tty", 't', CLI_FLAG_BOOL, &tty},
		{"privileged", 0, CLI_FLAG_BOOL, &priv},
		{"user", 'u', CLI_FLAG_STR, &user},
		{"workdir", 'w', CLI_FLAG_STR, &wd},
		{"env", 'e', CLI_FLAG_LIST, &env},
	};
	int i = cli_flags("exec", flags, NFLAGS(flags), argc, argv, false);
	if (i == -2) {
		printf("Usage:  shoal exec [OPTIONS] CONTAINER COMMAND "
		       "[ARG...]\n");
		return 0;
	}
	if (i < 0)
		return 125;
	if (i + 1 >= argc) {
		fprintf(stderr, "\"shoal exec\" requires at least 2 "
				"arguments.\nSee 'shoal exec --help'.\n");
		return 1;
	}
	json_t *cmd = json_array();
	for (int k = i + 1; k < argc; k++)
		json_array_append_new(cmd, json_string(argv[k]));
	json_t *body =
		json_pack("{s:b, s:b, s:b, s:b, s:o, s:o, s:s, s:s, s:b}",
			  "AttachStdin", in && !detach, "AttachStdout", !detach,
			  "AttachStderr", !detach, "Tty", tty, "Cmd", cmd,
			  "Env", strarr(&env), "User", user ? user : "",
			  "WorkingDir", wd ? wd : "", "Privileged", priv);
	if (body && keys)
		json_object_set_new(body, "DetachKeys", json_string(keys));
	char path[512], esc[256];
	cli_escape(argv[i], esc, sizeof(esc));
	snprintf(path, sizeof(path), "/containers/%s/exec", esc);
	json_t *r = NULL;
	int rc = cli_call_json(cli, "POST", path, body, &r);
	json_decref(body);
	if (rc < 0)
		return 1;
	char id[65];
	snprintf(id, sizeof(id), "%s", jsonx_str(r, "Id", ""));
	json_decref(r);
	snprintf(path, sizeof(path), "/exec/%s/start", id);
	if (detach) {
		const char *b = "{\"Detach\":true,\"Tty\":false}";
		return cli_call(cli, "POST", path, b, strlen(b), NULL, NULL,
				0) == 0
			       ? 0
			       : 1;
	}
	struct cli_conn c;
	char b[64];
	snprintf(b, sizeof(b), "{\"Detach\":false,\"Tty\":%s}",
		 tty ? "true" : "false");
	if (cli_conn_open(cli, "POST", path, b, CLI_CONN_UPGRADE, &c) < 0)
		return 1;
	if (c.status >= 400) {
		fprintf(stderr, "%s\n", c.msg);
		cli_conn_close(&c);
		return start_failed(c.msg) == 127 ? 127 : 126;
	}
	struct winch_arg w = {cli, "exec", id};
	if (tty)
		resize(cli, "exec", id);
	cli_relay(&c, tty, in, on_winch, &w);
	cli_conn_close(&c);
	snprintf(path, sizeof(path), "/exec/%s/json", id);
	if (cli_call_json(cli, "GET", path, NULL, &r) < 0)
		return 1;
	int code = (int)jsonx_int(r, "ExitCode", 0);
	/* Still running: the stream ended at the detach keys. */
	bool detached = jsonx_bool(r, "Running", false);
	json_decref(r);
	return detached ? 0 : code;
}

/* ---- logs ---- */

static int since_value(const char *s, char *out, size_t cap)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return -1;
	double mul = 0;
	if (!*end) {
		snprintf(out, cap, "%s", s);
		return 0;
	}
	if (!strcmp(end, "s"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60;
	else if (!strcmp(end, "h"))
		mul = 3600;
	else
		return -1;
	snprintf(out, cap, "%.3f", (double)time(NULL) - v * mul);
	return 0;
}

int cli_ctr_logs(struct cli *cli, int argc, char **argv)
{
	bool follow = false, ts = false;
	const char *tail = NULL, *since = NULL, *until = NULL;
	const struct cli_flag flags[] = {
		{"follow", 'f', CLI_FLAG_BOOL, &follow},
		{"timestamps", 't', CLI_FLAG_BOOL, &ts},
		{"tail", 'n', CLI_FLAG_STR, &tail},
		{"since", 0, CLI_FLAG_STR, &since},
		{"until", 0, CLI_FLAG_STR, &until},
	};
	int i = cli_flags("logs", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal logs [OPTIONS] CONTAINER\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i + 1 != argc) {
		fprintf(stderr, "\"shoal logs\" requires exactly 1 argument.\n"
				"See 'shoal logs --help'.\n");
		return 1;
	}
	char esc[256], path[1024], sv[64] = "", uv[64] = "", te[64] = "all";
	cli_escape(argv[i], esc, sizeof(esc));
	if ((since && since_value(since, sv, sizeof(sv)) < 0) ||
	    (until && since_value(until, uv, sizeof(uv)) < 0)) {
		fprintf(stderr, "invalid value for --since or --until: use "
				"unix seconds or a duration (10m)\n");
		return 1;
	}
	if (tail)
		cli_escape(tail, te, sizeof(te));
	json_t *c;
	snprintf(path, sizeof(path), "/containers/%s/json", esc);
	if (cli_call_json(cli, "GET", path, NULL, &c) < 0)
		return 1;
	bool tty = jsonx_bool(jsonx_obj(c, "Config"), "Tty", false);
	json_decref(c);
	snprintf(path, sizeof(path),
		 "/containers/%s/logs?stdout=1&stderr=1&follow=%d&timestamps="
		 "%d&tail=%s&since=%s&until=%s",
		 esc, follow, ts, te, sv, uv);
	struct cli_conn conn;
	if (cli_conn_open(cli, "GET", path, NULL, CLI_CONN_STREAM, &conn) < 0)
		return 1;
	if (conn.status >= 400) {
		fprintf(stderr, "Error response from daemon: %s\n", conn.msg);
		cli_conn_close(&conn);
		return 1;
	}
	cli_relay(&conn, tty, false, NULL, NULL);
	cli_conn_close(&conn);
	return 0;
}
