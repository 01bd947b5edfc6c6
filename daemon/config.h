/*
 * shoald's configuration: the command-line flags, parsed and validated
 * before anything is created. A bad flag changes nothing and exits 2 with a
 * message naming the flag and what it accepts.
 */
#ifndef SHOAL_DAEMON_CONFIG_H
#define SHOAL_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

#define DAEMON_PATH_MAX 4096

#define DAEMON_INSECURE_MAX 32 /* --insecure-registry values */

/* --bridge-nf-call: what shoald does with its network namespace's
 * net.bridge.bridge-nf-call-{iptables,ip6tables,arptables} at start. */
enum daemon_brnf {
	DAEMON_BRNF_KEEP = 0, /* touch nothing (default) */
	DAEMON_BRNF_OFF,      /* write 0 to the three (daemon/brnf.c) */
};

struct daemon_config {
	char data_root[DAEMON_PATH_MAX];
	char exec_root[DAEMON_PATH_MAX];
	char socket_path[108];	 /* from --host unix://PATH */
	char listen_addr[128];	 /* ADDR:PORT for the swarm; "" when unset */
	char cgroup_parent[128]; /* containers' cgroup parent; "" = "shoal" */
	char bip[64];		 /* --bip; "" = 172.17.0.1/16 */
	char pools[8][96];	 /* --default-address-pool, repeatable */
	size_t n_pools;
	/* --insecure-registry HOST[:PORT] or IPv4 CIDR, repeatable: plain
	 * HTTP (or unverified HTTPS) allowed (image/registry.h) */
	char insecure[DAEMON_INSECURE_MAX][256];
	size_t n_insecure;
	enum log_level log_level;
	enum log_format log_format;
	enum daemon_brnf bridge_nf_call; /* --bridge-nf-call keep|off */
};

enum config_result {
	CONFIG_RUN = 0,	 /* go on */
	CONFIG_EXIT = 1, /* --help or --version printed; exit 0 */
};

/**
 * daemon_config_parse() - fill @cfg from @argv. Returns CONFIG_RUN,
 * CONFIG_EXIT, or -EINVAL with a one-line reason in @err.
 */
int daemon_config_parse(int argc, char **argv, struct daemon_config *cfg,
			char *err, size_t errlen);

/** daemon_parse_listen_addr() - whether @s is ADDR:PORT (numeric). */
bool daemon_valid_listen_addr(const char *s);

/**
 * daemon_brnf_apply() - carry out --bridge-nf-call in the calling thread's
 * network namespace under @proc_sys (normally "/proc/sys"): KEEP touches
 * nothing; OFF writes 0 to net/bridge/bridge-nf-call-{iptables,ip6tables,
 * arptables}. When the directory is absent (br_netfilter not loaded) there
 * is nothing to do: logged at info, returns 0. Any other failure returns a
 * negative errno with a message naming the file in @err.
 */
int daemon_brnf_apply(enum daemon_brnf mode, const char *proc_sys, char *err,
		      size_t errlen);

#endif
