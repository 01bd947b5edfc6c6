/*
 * Flag parsing for shoald: "--flag value" and "--flag=value", Docker's
 * names where Docker has them (--data-root, --exec-root, -H/--host,
 * --log-level, --log-format) and --listen-addr as in `docker swarm init`.
 * Every value is checked here, so the daemon never starts half-configured.
 */
#include "daemon/config.h"
#include "common/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: shoald [OPTIONS]\n"
	"\n"
	"The Shoal daemon: serves the Docker Engine API on a unix socket.\n"
	"\n"
	"Options:\n"
	"      --data-root PATH      Persistent state (default /var/lib/shoal)\n"
	"      --exec-root PATH      Sockets, pid file, runtime state\n"
	"                            (default /run/shoal)\n"
	"  -H, --host unix://PATH    API socket (default\n"
	"                            unix://<exec-root>/shoald.sock)\n"
	"      --listen-addr ADDR:PORT  Swarm listen address (default\n"
	"                            0.0.0.0:2377 when a swarm starts)\n"
	"      --cgroup-parent NAME  Parent cgroup of the containers\n"
	"                            (default shoal)\n"
	"      --bip CIDR            The default bridge's address and prefix\n"
	"                            (default 172.17.0.1/16)\n"
	"      --default-address-pool base=CIDR,size=N  A pool for the\n"
	"                            subnets of new networks (repeatable)\n"
	"      --insecure-registry HOST[:PORT]|CIDR  A registry reached over\n"
	"                            plain HTTP or unverified TLS (repeatable;\n"
	"                            loopback registries always are)\n"
	"      --bridge-nf-call keep|off  off: write 0 to this network\n"
	"                            namespace's net.bridge.bridge-nf-call-\n"
	"                            {iptables,ip6tables,arptables} at start, so\n"
	"                            bridged frames skip the IP hooks (faster\n"
	"                            overlays; other bridges of the namespace\n"
	"                            lose iptables filtering of bridged traffic).\n"
	"                            keep (default): leave them as they are\n"
	"      --log-level LEVEL     debug, info, warn, error or fatal\n"
	"                            (default info)\n"
	"      --log-format FORMAT   text or json (default text)\n"
	"  -h, --help                Print this help\n"
	"  -v, --version             Print the version\n";

bool daemon_valid_listen_addr(const char *s)
{
	char tmp[128];
	if (snprintf(tmp, sizeof(tmp), "%s", s) >= (int)sizeof(tmp))
		return false;
	char *addr = tmp, *colon;
	if (*addr == '[') {
		char *end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return false;
		*end = '\0';
		addr++;
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return false;
		*colon = '\0';
	}
	char *endp;
	long port = strtol(colon + 1, &endp, 10);
	if (*endp || endp == colon + 1 || port < 1 || port > 65535)
		return false;
	unsigned char bin[16];
	return inet_pton(AF_INET, addr, bin) == 1 ||
	       inet_pton(AF_INET6, addr, bin) == 1;
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen,
						     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int set_path(char *dst, size_t cap, const char *flag, const char *v,
		    char *err, size_t errlen)
{
	if (v[0] != '/')
		return bad(err, errlen,
			   "invalid value \"%s\" for %s: expected an absolute "
			   "path",
			   v, flag);
	if (strlen(v) >= cap)
		return bad(err, errlen,
			   "invalid value \"%s\" for %s: path too long", v,
			   flag);
	strcpy(dst, v);
	/* Trailing slashes would double up in joined paths. */
	for (size_t n = strlen(dst); n > 1 && dst[n - 1] == '/'; n--)
		dst[n - 1] = '\0';
	return 0;
}

static int set_host(struct daemon_config *cfg, const char *v, char *err,
		    size_t errlen)
{
	struct http_addr a;
	if (strncmp(v, "tcp://", 6) == 0)
		return bad(
			err, errlen,
			"invalid value \"%s\" for %s: only unix:// hosts are "
			"served (no TLS for tcp:// yet)",
			v, "--host");
	if (http_addr_parse(v, &a) < 0 || !a.is_unix)
		return bad(err, errlen,
			   "invalid value \"%s\" for %s: expected "
			   "unix:///absolute/path (shorter than 108 bytes)",
			   v, "--host");
	strcpy(cfg->socket_path, a.path);
	return 0;
}

/* A cgroup parent is a relative path below each controller's root. */
static bool valid_cgroup_name(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= 128 || v[0] == '/' || strstr(v, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("._-/", v[i]))
			return false;
	return true;
}

static int apply(struct daemon_config *cfg, const char *flag, const char *v,
		 char *err, size_t errlen)
{
	if (strcmp(flag, "--data-root") == 0)
		return set_path(cfg->data_root, sizeof(cfg->data_root), flag, v,
				err, errlen);
	if (strcmp(flag, "--exec-root") == 0)
		return set_path(cfg->exec_root, sizeof(cfg->exec_root), flag, v,
				err, errlen);
	if (strcmp(flag, "--host") == 0 || strcmp(flag, "-H") == 0)
		return set_host(cfg, v, err, errlen);
	if (strcmp(flag, "--listen-addr") == 0) {
		if (!daemon_valid_listen_addr(v))
			return bad(err, errlen,
				   "invalid value \"%s\" for %s: expected "
				   "ADDR:PORT with a numeric IPv4 or [IPv6] "
				   "address and a port 1-65535",
				   v, flag);
		snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "%s", v);
		return 0;
	}
	if (strcmp(flag, "--cgroup-parent") == 0) {
		if (!valid_cgroup_name(v))
			return bad(err, errlen,
				   "invalid value \"%s\" for %s: expected a "
				   "relative cgroup path of letters, digits, "
				   "'.', '_', '-' and '/', without \"..\"",
				   v, flag);
		snprintf(cfg->cgroup_parent, sizeof(cfg->cgroup_parent), "%s",
			 v);
		return 0;
	}
	if (strcmp(flag, "--bip") == 0) {
		if (!*v || strlen(v) >= sizeof(cfg->bip) || !strchr(v, '/'))
			return bad(err, errlen,
				   "invalid value \"%s\" for %s: expected an "
				   "address and prefix, e.g. 172.18.0.1/16",
				   v, flag);
		snprintf(cfg->bip, sizeof(cfg->bip), "%s", v);
		return 0;
	}
	if (strcmp(flag, "--default-address-pool") == 0) {
		if (cfg->n_pools == 8 || strlen(v) >= sizeof(cfg->pools[0]) ||
		    strncmp(v, "base=", 5) || !strstr(v, ",size="))
			return bad(err, errlen,
				   "invalid value \"%s\" for %s: expected "
				   "base=CIDR,size=N (at most 8 pools)",
				   v, flag);
		snprintf(cfg->pools[cfg->n_pools++], sizeof(cfg->pools[0]),
			 "%s", v);
		return 0;
	}
	if (strcmp(flag, "--insecure-registry") == 0) {
		bool ok = *v && strlen(v) < sizeof(cfg->insecure[0]) &&
			  cfg->n_insecure < DAEMON_INSECURE_MAX &&
			  !strstr(v, "://");
		for (const char *c = v; ok && *c; c++)
			ok = isalnum((unsigned char)*c) || strchr(".-:[]/", *c);
		if (!ok)
			return bad(err, errlen,
				   "invalid value \"%s\" for %s: expected "
				   "HOST[:PORT] or an IPv4 CIDR, without a "
				   "scheme (at most 32)",
				   v, flag);
		snprintf(cfg->insecure[cfg->n_insecure++],
			 sizeof(cfg->insecure[0]), "%s", v);
		return 0;
	}
	if (strcmp(flag, "--bridge-nf-call") == 0) {
		if (strcmp(v, "keep") == 0)
			cfg->bridge_nf_call = DAEMON_BRNF_KEEP;
		else if (strcmp(v, "off") == 0)
			cfg->bridge_nf_call = DAEMON_BRNF_OFF;
		else
			return bad(err, errlen,
				   "invalid value \"%s\" for %s: expected keep "
				   "or off",
				   v, flag);
		return 0;
	}
	if (strcmp(flag, "--log-level") == 0) {
		if (log_parse_level(v, &cfg->log_level) < 0)
			return bad(
				err, errlen,
				"invalid value \"%s\" for %s: expected debug, "
				"info, warn, error or fatal",
				v, flag);
		return 0;
	}
	if (strcmp(flag, "--log-format") == 0) {
		if (log_parse_format(v, &cfg->log_format) < 0)
			return bad(err, errlen,
				   "invalid value \"%s\" for %s: expected text "
				   "or json",
				   v, flag);
		return 0;
	}
	return bad(err, errlen, "unknown flag: %s", flag);
}

static bool takes_value(const char *flag)
{
	static const char *const flags[] = {
		"--data-root",	 "--exec-root",
		"--host",	 "-H",
		"--listen-addr", "--log-level",
		"--log-format",	 "--cgroup-parent",
		"--bip",	 "--default-address-pool",
	};
	if (strcmp(flag, "--insecure-registry") == 0 ||
	    strcmp(flag, "--bridge-nf-call") == 0)
		return true;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strcmp(flag, flags[i]) == 0)
			return true;
	return false;
}

int daemon_config_parse(int argc, char **argv, struct daemon_config *cfg,
			char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->data_root, "/var/lib/shoal");
	strcpy(cfg->exec_root, "/run/shoal");
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->log_format = LOG_FORMAT_TEXT;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(usage, stdout);
			return CONFIG_EXIT;
		}
		if (strcmp(arg, "-v") == 0 || strcmp(arg, "--version") == 0) {
			printf("shoald version %s\n", SHOAL_VERSION);
			return CONFIG_EXIT;
		}
		char flag[64];
		const char *val = NULL;
		const char *eq = strchr(arg, '=');
		if (eq && strncmp(arg, "--", 2) == 0 &&
		    (size_t)(eq - arg) < sizeof(flag)) {
			memcpy(flag, arg, (size_t)(eq - arg));
			flag[eq - arg] = '\0';
			val = eq + 1;
		} else {
			snprintf(flag, sizeof(flag), "%s", arg);
		}
		if (!takes_value(flag))
			return bad(err, errlen, "unknown flag: %s", arg);
		if (!val) {
			if (i + 1 >= argc)
				return bad(err, errlen,
					   "flag needs an argument: %s", flag);
			val = argv[++i];
		}
		int rc = apply(cfg, flag, val, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (!cfg->socket_path[0]) {
		if (strlen(cfg->exec_root) + sizeof("/shoald.sock") >
		    sizeof(cfg->socket_path))
			return bad(
				err, errlen,
				"exec-root %s is too long for a socket path; "
				"give --host unix://PATH",
				cfg->exec_root);
		strcpy(cfg->socket_path, cfg->exec_root);
		strcat(cfg->socket_path, "/shoald.sock");
	}
	return CONFIG_RUN;
}
