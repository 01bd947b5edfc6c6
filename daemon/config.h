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

#endif
