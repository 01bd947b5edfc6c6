/*
 * shoald: mark every descriptor it inherited close-on-exec, parse flags
 * (exit 2 on a bad one), set up logging and the memory hooks, ignore
 * SIGPIPE (a client that hangs up must not kill the daemon), then init,
 * run and fini the daemon. Exit status: 0 after a clean shutdown, 1 when
 * start-up failed, 2 for bad flags.
 *
 * The inherited descriptors stay open (a supervisor may have handed one on
 * purpose), but none reaches a program shoald starts: a shell's `exec 7</`
 * would otherwise be the host's root inside a container whenever a path
 * forgot to close it. The runtime closes them before every exec as well.
 */
#define LOG_MODULE "daemon"
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/daemon.h"

#include <signal.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	static struct daemon_config cfg;
	static struct daemon d;
	char err[512];
	/* First, before anything of ours is open: above 2, all inherited. */
	int fd_rc = fd_cloexec_from(3);
	int rc = daemon_config_parse(argc, argv, &cfg, err, sizeof(err));
	if (rc == CONFIG_EXIT)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "shoald: %s\nSee 'shoald --help'.\n", err);
		return 2;
	}
	log_set_level(cfg.log_level);
	log_set_format(cfg.log_format);
	if (fd_rc < 0)
		log_warn("cannot mark inherited descriptors close-on-exec: %s",
			 shoal_strerror(fd_rc));
	if (shoal_alloc_install() < 0 || shoal_crypto_init() < 0) {
		log_fatal("cannot initialise the allocator or libsodium");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (daemon_brnf_apply(cfg.bridge_nf_call, "/proc/sys", err,
			      sizeof(err)) < 0) {
		log_fatal("%s", err);
		return 1;
	}
	rc = daemon_init(&d, &cfg);
	if (rc == 0)
		rc = daemon_run(&d);
	daemon_fini(&d);
	return rc < 0 ? 1 : 0;
}
