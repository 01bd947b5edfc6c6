/*
 * shoald's wiring: one struct daemon owns the loop and every service, and
 * one table in daemon.c lists the services in start order. Each service has
 * start (synchronous, on the loop before it runs) and stop (asynchronous:
 * it calls done when its handles are closed). Services stop in reverse
 * order. Later modules (runtime, manager, worker) become rows of that
 * table and fields of this struct; nothing else changes.
 *
 * Life cycle: daemon_init() creates the roots, takes the locks and starts
 * the services; daemon_run() runs the loop until SIGTERM or SIGINT has
 * stopped every service; daemon_fini() removes the pid file and releases
 * what is left. Errors are logged once, where they are handled (here).
 */
#ifndef SHOAL_DAEMON_DAEMON_H
#define SHOAL_DAEMON_DAEMON_H

#include <uv.h>

#include "daemon/config.h"

struct api;
struct http_server;
struct rt;
struct img_store;
struct eng;
struct net;

struct daemon {
	struct daemon_config cfg;
	/* cfg.insecure as the list the API and image/ take. */
	const char *insecure[DAEMON_INSECURE_MAX];
	uv_loop_t loop;
	bool loop_init;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	bool signals_init;
	int pid_fd;  /* exec-root/shoald.pid, locked */
	int lock_fd; /* data-root/shoald.lock, locked */
	char pid_path[DAEMON_PATH_MAX + 16];
	char engine_id[64];
	/* services */
	struct rt *rt;
	struct img_store *images;
	struct net *net;    /* networking of this network namespace */
	struct eng *engine; /* over rt, images and net */
	struct api *api;
	struct http_server *http;
	struct daemon_swarm *swarm; /* swarm.c */
	int started;		    /* services started, in table order */
	int stopping; /* index of the service being stopped, or -1 */
	void (*stop_done)(struct daemon *d); /* of the service stopping */
};

/**
 * daemon_init() - create roots, lock them, start the services. Returns 0,
 * or a negative code after logging why (then call daemon_fini()).
 */
int daemon_init(struct daemon *d, const struct daemon_config *cfg);

/** daemon_run() - run the loop until the services have stopped. */
int daemon_run(struct daemon *d);

/** daemon_fini() - release everything; removes the pid file. */
void daemon_fini(struct daemon *d);

/* The locks on the roots (lock.c). */
int daemon__lock_roots(struct daemon *d);
void daemon__unlock_roots(struct daemon *d);
int daemon__engine_id(struct daemon *d);

/* The swarm service (swarm.c). */
struct api_swarm_ops;
int daemon__swarm_start(struct daemon *d);
void daemon__swarm_stop(struct daemon *d, void (*done)(struct daemon *d));
const struct api_swarm_ops *daemon__swarm_ops(void);
const char *daemon__swarm_state(void *daemon);

#endif
