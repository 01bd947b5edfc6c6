/*
 * shoal swarm init|join|join-token|leave|inspect|update|ca: docker's swarm
 * commands over the Engine API, with docker's texts, naming shoal where
 * docker's text names docker.
 */
#include "cli/swarm_call.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(const char *cmd, const char *arg)
{
	fprintf(stderr,
		"shoal swarm %s: unknown argument: %s\nSee 'shoal swarm %s "
		"--help'.\n",
		cmd, arg, cmd);
	return 1;
}

static int parse_duration(const char *flag, const char *v, int64_t *out)
{
	if (time_parse_duration(v, out) < 0 || *out <= 0) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"%s\" flag: expected a "
			"duration such as 5s or 2h45m\n",
			v, flag);
		return -1;
	}
	return 0;
}

/* The join command for @role printed as docker prints it. */
static int print_join_command(struct cli *cli, const char *role, bool quiet)
{
	json_t *sw = NULL, *info = NULL;
	if (cli__call(cli, "GET", "/swarm", NULL, &sw) < 0)
		return 1;
	const char *tok = jsonx_str(
		jsonx_obj(sw, "JoinTokens"),
		strcmp(role, "manager") == 0 ? "Manager" : "Worker", "");
	if (quiet) {
		printf("%s\n", tok);
		json_decref(sw);
		return 0;
	}
	if (cli__call(cli, "GET", "/info", NULL, &info) < 0) {
		json_decref(sw);
		return 1;
	}
	const json_t *rm =
		json_object_get(jsonx_obj(info, "Swarm"), "RemoteManagers");
	const char *addr = jsonx_str(json_array_get(rm, 0), "Addr", "");
	printf("To add a %s to this swarm, run the following command:\n\n"
	       "    shoal swarm join --token %s %s\n\n",
	       role, tok, addr);
	json_decref(sw);
	json_decref(info);
	return 0;
}

/* A whole number for @flag into *@out; -1 (printed) when it is not. */
static int parse_count(const char *flag, const char *v, int64_t *out)
{
	char *end;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || n < 0) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"%s\" flag: expected a "
			"whole number\n",
			v, flag);
		return -1;
	}
	*out = n;
	return 0;
}

static int set_spec(json_t *spec, const char *group, const char *key,
		    json_int_t v)
{
	json_t *g = json_object_get(spec, group);
	if (!json_is_object(g)) {
		g = json_object();
		json_object_set_new(spec, group, g);
	}
	return json_object_set_new(g, key, json_integer(v));
}

/*
 * The flags init and update share, into @spec: 1 when argv[*i] was one of
 * them, 0 when not, -1 (printed) for a bad value.
 */
static int spec_flag(int argc, char **argv, int *i, json_t *spec)
{
	static const struct {
		const char *flag, *group, *key;
		bool duration;
	} flags[] = {
		{"--dispatcher-heartbeat", "Dispatcher", "HeartbeatPeriod", 1},
		{"--cert-expiry", "CAConfig", "NodeCertExpiry", 1},
		{"--task-history-limit", "Orchestration",
		 "TaskHistoryRetentionLimit", 0},
		{"--max-snapshots", "Raft", "KeepOldSnapshots", 0},
		{"--snapshot-interval", "Raft", "SnapshotInterval", 0},
	};
	for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
		const char *v;
		int64_t n;
		int r = cli__opt(argc, argv, i, flags[k].flag, &v);
		if (r <= 0) {
			if (r < 0)
				return -1;
			continue;
		}
		r = flags[k].duration ? parse_duration(flags[k].flag, v, &n)
				      : parse_count(flags[k].flag, v, &n);
		if (r < 0)
			return -1;
		set_spec(spec, flags[k].group, flags[k].key, n);
		return 1;
	}
	return 0;
}

static int swarm_init(struct cli *cli, int argc, char **argv)
{
	const char *listen = "", *adv = "", *avail = "";
	bool autolock = false;
	json_t *spec = json_object();
	if (!spec)
		return 1;
	for (int i = 1; i < argc; i++) {
		int r;
		if ((r = cli__opt(argc, argv, &i, "--listen-addr", &listen)))
			;
		else if ((r = cli__opt(argc, argv, &i, "--advertise-addr",
				       &adv)))
			;
		else if ((r = cli__opt(argc, argv, &i, "--availability",
				       &avail)))
			;
		else if ((r = spec_flag(argc, argv, &i, spec)))
			;
		else if (strcmp(argv[i], "--autolock") == 0)
			autolock = true;
		else {
			json_decref(spec);
			return usage_error("init", argv[i]);
		}
		if (r < 0) {
			json_decref(spec);
			return 1;
		}
	}
	json_t *body = json_pack("{s:s, s:s, s:b, s:s, s:o}", "ListenAddr",
				 *listen ? listen : "0.0.0.0:2377",
				 "AdvertiseAddr", adv, "AutoLockManagers",
				 autolock, "Availability", avail, "Spec", spec);
	json_t *id = NULL;
	int rc = cli__call(cli, "POST", "/swarm/init", body, &id);
	json_decref(body);
	if (rc < 0)
		return 1;
	printf("Swarm initialized: current node (%s) is now a manager.\n\n",
	       json_is_string(id) ? json_string_value(id) : "?");
	json_decref(id);
	if (print_join_command(cli, "worker", false))
		return 1;
	printf("To add a manager to this swarm, run 'shoal swarm join-token "
	       "manager' and follow the instructions.\n");
	if (autolock) {
		printf("\n");
		return cli__print_unlock_key_of(cli);
	}
	return 0;
}

static int swarm_join(struct cli *cli, int argc, char **argv)
{
	const char *token = NULL, *listen = "", *adv = "", *remote = NULL;
	for (int i = 1; i < argc; i++) {
		int r;
		if ((r = cli__opt(argc, argv, &i, "--token", &token)))
			;
		else if ((r = cli__opt(argc, argv, &i, "--listen-addr",
				       &listen)))
			;
		else if ((r = cli__opt(argc, argv, &i, "--advertise-addr",
				       &adv)))
			;
		else if (argv[i][0] != '-' && !remote)
			remote = argv[i];
		else
			return usage_error("join", argv[i]);
		if (r < 0)
			return 1;
	}
	if (!remote || !token) {
		fprintf(stderr,
			"\"shoal swarm join\" requires exactly 1 "
			"argument and --token.\n"
			"Usage:  shoal swarm join [OPTIONS] HOST:PORT\n");
		return 1;
	}
	json_t *body =
		json_pack("{s:s, s:s, s:s, s:[s]}", "JoinToken", token,
			  "ListenAddr", *listen ? listen : "0.0.0.0:2377",
			  "AdvertiseAddr", adv, "RemoteAddrs", remote);
	int rc = cli__call(cli, "POST", "/swarm/join", body, NULL);
	json_decref(body);
	if (rc < 0)
		return 1;
	json_t *info = NULL;
	bool mgr = false;
	if (cli__call(cli, "GET", "/info", NULL, &info) == 0)
		mgr = jsonx_bool(jsonx_obj(info, "Swarm"), "ControlAvailable",
				 false);
	json_decref(info);
	printf("This node joined a swarm as a %s.\n",
	       mgr ? "manager" : "worker");
	return 0;
}

static int rotate(struct cli *cli, const char *role)
{
	json_t *sw = NULL;
	if (cli__call(cli, "GET", "/swarm", NULL, &sw) < 0)
		return -1;
	char path[160];
	snprintf(path, sizeof(path), "/swarm/update?version=%lld&%s=true",
		 (long long)jsonx_int(jsonx_obj(sw, "Version"), "Index", 0),
		 strcmp(role, "manager") == 0 ? "rotateManagerToken"
					      : "rotateWorkerToken");
	int rc = cli__call(cli, "POST", path, jsonx_obj(sw, "Spec"), NULL);
	json_decref(sw);
	return rc;
}

int cli__swarm_join_token(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, rot = false;
	const char *role = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli__flag(argv[i], "--quiet", "-q"))
			quiet = true;
		else if (strcmp(argv[i], "--rotate") == 0)
			rot = true;
		else if (argv[i][0] != '-' && !role)
			role = argv[i];
		else
			return usage_error("join-token", argv[i]);
	}
	if (!role || (strcmp(role, "worker") && strcmp(role, "manager"))) {
		fprintf(stderr, "Usage:  shoal swarm join-token [OPTIONS] "
				"(worker|manager)\n");
		return 1;
	}
	if (rot) {
		if (rotate(cli, role) < 0)
			return 1;
		if (!quiet)
			printf("Successfully rotated %s join token.\n\n", role);
	}
	return print_join_command(cli, role, quiet);
}

static int swarm_leave(struct cli *cli, int argc, char **argv)
{
	bool force = false;
	for (int i = 1; i < argc; i++) {
		if (cli__flag(argv[i], "--force", "-f"))
			force = true;
		else
			return usage_error("leave", argv[i]);
	}
	if (cli__call(cli, "POST",
		      force ? "/swarm/leave?force=1" : "/swarm/leave", NULL,
		      NULL) < 0)
		return 1;
	printf("Node left the swarm.\n");
	return 0;
}

static int swarm_inspect(struct cli *cli, int argc, char **argv)
{
	if (argc > 1)
		return usage_error("inspect", argv[1]);
	json_t *sw = NULL;
	if (cli__call(cli, "GET", "/swarm", NULL, &sw) < 0)
		return 1;
	json_t *a = json_array();
	json_array_append_new(a, sw);
	cli_print_json(a);
	json_decref(a);
	return 0;
}

/* --autolock[=true|false] into the spec's EncryptionConfig. */
static int set_autolock(json_t *spec, const char *arg, int *on)
{
	const char *eq = strchr(arg, '=');
	const char *v = eq ? eq + 1 : "true";
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"--autolock\" flag: "
			"expected true or false\n",
			v);
		return -1;
	}
	*on = strcmp(v, "true") == 0;
	json_object_set_new(spec, "EncryptionConfig",
			    json_pack("{s:b}", "AutoLockManagers", *on));
	return 0;
}

static int swarm_update(struct cli *cli, int argc, char **argv)
{
	int lock_on = -1;
	json_t *sw = NULL;
	if (cli__call(cli, "GET", "/swarm", NULL, &sw) < 0)
		return 1;
	json_t *spec = jsonx_obj(sw, "Spec");
	int rc = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		const char *v;
		int r;
		if ((r = spec_flag(argc, argv, &i, spec)) != 0) {
			;
		} else if (strcmp(argv[i], "--autolock") == 0 ||
			   (r = cli__opt(argc, argv, &i, "--autolock", &v)) ==
				   1) {
			r = 1;
			rc = set_autolock(spec, argv[i], &lock_on);
		} else if (r == 0) {
			json_decref(sw);
			return usage_error("update", argv[i]);
		}
		if (r < 0)
			rc = -1;
	}
	char path[96];
	snprintf(path, sizeof(path), "/swarm/update?version=%lld",
		 (long long)jsonx_int(jsonx_obj(sw, "Version"), "Index", 0));
	if (rc == 0)
		rc = cli__call(cli, "POST", path, spec, NULL);
	json_decref(sw);
	if (rc < 0)
		return 1;
	printf("Swarm updated.\n");
	if (lock_on == 1) {
		printf("\n");
		return cli__print_unlock_key_of(cli);
	}
	return 0;
}

/* The root public key, as GET /swarm's TLSInfo shows it. */
static const char *root_key_of(const json_t *sw)
{
	return jsonx_str(jsonx_obj(sw, "TLSInfo"), "CertIssuerPublicKey", "");
}

/*
 * shoal swarm ca [--rotate] [--cert-expiry D] [-q] [-d]: with --rotate,
 * every node gets a new certificate (CAConfig.ForceRotate + 1), as
 * docker's does without a new root. Shoal's root is an Ed25519 key, not a
 * PEM certificate: its public key is what is printed.
 */
static int swarm_ca(struct cli *cli, int argc, char **argv)
{
	bool rot = false, quiet = false;
	json_t *sw = NULL;
	if (cli__call(cli, "GET", "/swarm", NULL, &sw) < 0)
		return 1;
	json_t *spec = jsonx_obj(sw, "Spec");
	int rc = 0, changed = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		const char *v;
		int64_t ns;
		int r;
		if (strcmp(argv[i], "--rotate") == 0)
			rot = true;
		else if (cli__flag(argv[i], "--quiet", "-q"))
			quiet = true;
		else if (cli__flag(argv[i], "--detach", "-d"))
			; /* never waits: the rotation finishes by itself */
		else if ((r = cli__opt(argc, argv, &i, "--cert-expiry", &v))) {
			rc = r < 0 || parse_duration("--cert-expiry", v, &ns)
				     ? -1
				     : set_spec(spec, "CAConfig",
						"NodeCertExpiry", ns);
			changed = 1;
		} else {
			json_decref(sw);
			return usage_error("ca", argv[i]);
		}
	}
	json_int_t n = jsonx_int(jsonx_obj(spec, "CAConfig"), "ForceRotate", 0);
	if (rc == 0 && rot)
		rc = set_spec(spec, "CAConfig", "ForceRotate", n + 1);
	if (rc == 0 && (rot || changed)) {
		char path[96];
		snprintf(path, sizeof(path), "/swarm/update?version=%lld",
			 (long long)jsonx_int(jsonx_obj(sw, "Version"), "Index",
					      0));
		rc = cli__call(cli, "POST", path, spec, NULL);
	}
	if (rc == 0 && rot && !quiet)
		printf("Rotating every node's certificate (ForceRotate %lld): "
		       "each gets a new one at its next heartbeat.\n",
		       (long long)n + 1);
	if (rc == 0)
		printf("%s\n", root_key_of(sw));
	json_decref(sw);
	return rc < 0 ? 1 : 0;
}

static const struct cli_command swarm_cmds[] = {
	{"ca", swarm_ca, "Display and rotate the root CA"},
	{"init", swarm_init, "Initialize a swarm"},
	{"inspect", swarm_inspect, "Display the swarm's settings (JSON)"},
	{"join", swarm_join, "Join a swarm as a node and/or manager"},
	{"join-token", cli__swarm_join_token, "Manage join tokens"},
	{"leave", swarm_leave, "Leave the swarm"},
	{"unlock", cli__swarm_unlock, "Unlock swarm"},
	{"unlock-key", cli__swarm_unlock_key, "Manage the unlock key"},
	{"update", swarm_update, "Update the swarm"},
};

int cli_cmd_swarm(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal swarm", swarm_cmds,
			    sizeof(swarm_cmds) / sizeof(swarm_cmds[0]),
			    argc - 1, argv + 1);
}
