/*
 * shoald's wiring: see daemon.h. The service table below is the one place
 * where modules are started and stopped; today it holds the API server.
 *
 * Request bodies: the API decides each body's limit and whether it is
 * spooled (api_body_policy()); spooled bodies are unlinked files in
 * <data-root>/tmp, on disk rather than in the exec-root's tmpfs.
 */
#define LOG_MODULE "daemon"
#include "daemon/daemon.h"
#include "api/api.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/http.h"
#include "common/log.h"
#include "engine/engine.h"
#include "image/image.h"
#include "runtime/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOCKET_MODE 0660
/* Image archives (docker import / load, docker cp) take minutes. */
#define REQUEST_TIMEOUT_MS (10 * 60 * 1000)

/* --- services ------------------------------------------------------------ */

struct service {
	const char *name;
	int (*start)(struct daemon *d);
	void (*stop)(struct daemon *d, void (*done)(struct daemon *d));
};

/*
 * The monitor executable: $SHOAL_MONITOR, else beside shoald, else where
 * the build tree puts it (build/<preset>/runtime/shoal-monitor next to
 * build/<preset>/daemon/shoald). NULL lets the runtime decide.
 */
static const char *monitor_path(char *buf, size_t cap)
{
	char exe[PATH_MAX];
	const char *env = getenv("SHOAL_MONITOR");
	if (env && *env)
		return NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	const char *dir = dirname(exe);
	snprintf(buf, cap, "%s/shoal-monitor", dir);
	if (access(buf, X_OK) == 0)
		return buf;
	snprintf(buf, cap, "%s/../runtime/shoal-monitor", dir);
	return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Networking of the namespace shoald runs in (overlay-net/net.h). */
static int net_start(struct daemon *d)
{
	const char *pools[9] = {NULL};
	struct shoal_err err = {""};
	struct net_config cfg = {
		.data_root = d->cfg.data_root,
		.exec_root = d->cfg.exec_root,
		.bip = d->cfg.bip[0] ? d->cfg.bip : NULL,
		.pools = pools,
		.loop = &d->loop,
	};
	int rc;

	for (size_t i = 0; i < d->cfg.n_pools; i++)
		pools[i] = d->cfg.pools[i];
	rc = net_open(&cfg, &d->net, &err);
	if (rc < 0)
		log_error("cannot open networking: %s",
			  err.msg[0] ? err.msg : shoal_strerror(rc));
	return rc;
}

static int runtime_start(struct daemon *d)
{
	char mon[PATH_MAX + 32];
	struct rt_config rc_cfg = {
		.data_root = d->cfg.data_root,
		.exec_root = d->cfg.exec_root,
		.cgroup_parent =
			d->cfg.cgroup_parent[0] ? d->cfg.cgroup_parent : NULL,
		.monitor_path = monitor_path(mon, sizeof(mon)),
	};
	struct shoal_err rerr = {""};
	struct shoal_err ierr = {""};
	struct eng_config ecfg = {
		.loop = &d->loop,
		.data_root = d->cfg.data_root,
	};
	int rc = rt_open(&rc_cfg, &d->rt, &rerr);
	if (rc < 0) {
		log_error("cannot open the container runtime: %s",
			  rerr.msg[0] ? rerr.msg : shoal_strerror(rc));
		return rc;
	}
	rc = img_store_open(d->cfg.data_root, &d->images, &ierr);
	if (rc < 0) {
		log_error("cannot open the image store: %s",
			  ierr.msg[0] ? ierr.msg : shoal_strerror(rc));
		goto err_rt;
	}
	rc = net_start(d);
	if (rc < 0)
		goto err_images;
	ecfg.rt = d->rt;
	ecfg.images = d->images;
	ecfg.net = d->net;
	rc = eng_open(&ecfg, &d->engine);
	if (rc < 0) {
		log_error("cannot open the engine: %s", shoal_strerror(rc));
		goto err_net;
	}
	rc = eng_restore(d->engine);
	if (rc < 0)
		log_warn("cannot restore the containers: %s",
			 shoal_strerror(rc));
	return 0;
err_net:
	net_close(d->net);
	d->net = NULL;
err_images:
	img_store_close(d->images);
	d->images = NULL;
err_rt:
	rt_close(d->rt);
	d->rt = NULL;
	return rc;
}

static void runtime_stop(struct daemon *d, void (*done)(struct daemon *d))
{
	/* Containers and their monitors go on running (DESIGN.md). */
	eng_close(d->engine);
	d->engine = NULL;
	net_close(d->net);
	d->net = NULL;
	img_store_close(d->images);
	d->images = NULL;
	rt_close(d->rt);
	d->rt = NULL;
	done(d);
}

static void counts(void *arg, struct api_counts *out)
{
	struct daemon *d = arg;
	api_counts_fill(d->api, out);
}

/*
 * <data-root>/tmp, where spooled request bodies live (unlinked at once);
 * named files a crash left there (the mkostemp fallback) are removed.
 */
static int spool_dir(struct daemon *d, char *out, size_t cap)
{
	snprintf(out, cap, "%s/tmp", d->cfg.data_root);
	if (mkdir(out, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		log_error("cannot create %s: %s", out, strerror(errno));
		return rc;
	}
	DIR *dir = opendir(out);
	struct dirent *e;
	while (dir && (e = readdir(dir)))
		if (!strncmp(e->d_name, "body-", 5))
			unlinkat(dirfd(dir), e->d_name, 0);
	if (dir)
		closedir(dir);
	return 0;
}

static int api_start(struct daemon *d)
{
	for (size_t i = 0; i < d->cfg.n_insecure; i++)
		d->insecure[i] = d->cfg.insecure[i];
	struct api_services svc = {
		.data_root = d->cfg.data_root,
		.exec_root = d->cfg.exec_root,
		.engine_id = d->engine_id,
		.debug = d->cfg.log_level == LOG_LEVEL_DEBUG,
		.arg = d,
		.swarm_state = daemon__swarm_state,
		.swarm_ops = daemon__swarm_ops(),
		.counts = counts,
		.engine = d->engine,
		.loop = &d->loop,
		.insecure_registries = d->insecure,
		.n_insecure_registries = d->cfg.n_insecure,
	};
	char spool[DAEMON_PATH_MAX + 8];
	struct http_server_opts opts = {
		.max_body_bytes = API_JSON_BODY_MAX,
		.body_policy = api_body_policy,
		.spool_dir = spool,
		.request_timeout_ms = REQUEST_TIMEOUT_MS,
	};
	int rc = spool_dir(d, spool, sizeof(spool));
	if (rc < 0)
		return rc;
	rc = api_new(&svc, &d->api);
	if (rc < 0) {
		log_error("cannot create the API: %s", shoal_strerror(rc));
		return rc;
	}
	rc = http_server_new(&d->loop, &opts, api_http_handler, d->api,
			     &d->http);
	if (rc < 0) {
		log_error("cannot create the HTTP server: %s",
			  shoal_strerror(rc));
		goto err_api;
	}
	rc = http_server_listen_unix(d->http, d->cfg.socket_path, SOCKET_MODE);
	if (rc < 0) {
		log_error("cannot listen on unix://%s: %s", d->cfg.socket_path,
			  rc == -EADDRINUSE ? "another daemon answers there"
					    : shoal_strerror(rc));
		goto err_http;
	}
	log_info("API listening on unix://%s", d->cfg.socket_path);
	return 0;
err_http:
	http_server_close(d->http, NULL, NULL);
	d->http = NULL;
err_api:
	api_free(d->api);
	d->api = NULL;
	return rc;
}

static void api_closed(void *arg)
{
	struct daemon *d = arg;
	d->http = NULL;
	api_free(d->api);
	d->api = NULL;
	d->stop_done(d);
}

static void api_stop(struct daemon *d, void (*done)(struct daemon *d))
{
	d->stop_done = done;
	http_server_close(d->http, api_closed, d);
}

/*
 * In start order; stopped in reverse. Later: runtime, manager, worker.
 * A start function logs its own failure once and undoes what it did.
 */
static const struct service services[] = {
	{"runtime", runtime_start, runtime_stop},
	{"swarm", daemon__swarm_start, daemon__swarm_stop},
	{"api", api_start, api_stop},
};
#define NSERVICES ((int)(sizeof(services) / sizeof(services[0])))

static void stop_next(struct daemon *d);

static void service_stopped(struct daemon *d)
{
	log_debug("service %s stopped", services[d->stopping].name);
	stop_next(d);
}

static void signals_closed(uv_handle_t *h)
{
}

static void stop_next(struct daemon *d)
{
	if (--d->stopping >= 0) {
		services[d->stopping].stop(d, service_stopped);
		return;
	}
	d->started = 0;
	if (d->signals_init) {
		d->signals_init = false;
		uv_close((uv_handle_t *)&d->sigterm, signals_closed);
		uv_close((uv_handle_t *)&d->sigint, signals_closed);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	if (d->stopping >= 0) {
		log_info("received %s again; still shutting down",
			 strsignal(signum));
		return;
	}
	log_info("received %s; shutting down", strsignal(signum));
	d->stopping = d->started;
	stop_next(d);
}

/* --- roots --------------------------------------------------------------- */

/* mkdir -p @path; the last component gets @mode, parents 0755. */
static int make_root(const char *path, mode_t mode, const char *flag)
{
	char tmp[DAEMON_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			goto err;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		goto err;
	struct stat st;
	if (stat(path, &st) < 0)
		goto err;
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s %s is not a directory", flag, path);
		return -ENOTDIR;
	}
	if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
		goto err;
	return 0;
err:
	log_error("cannot create %s %s: %s", flag, tmp, strerror(errno));
	return -errno;
}

/* --- life cycle ---------------------------------------------------------- */

int daemon_init(struct daemon *d, const struct daemon_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->pid_fd = -1;
	d->lock_fd = -1;
	d->stopping = -1;
	int rc = make_root(cfg->data_root, 0700, "data-root");
	if (rc == 0)
		rc = make_root(cfg->exec_root, 0711, "exec-root");
	if (rc == 0)
		rc = daemon__lock_roots(d);
	if (rc == 0)
		rc = daemon__engine_id(d);
	if (rc < 0)
		return rc;
	rc = uv_loop_init(&d->loop);
	if (rc < 0) {
		log_error("cannot create the event loop: %s", uv_strerror(rc));
		return rc;
	}
	d->loop_init = true;
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	d->sigterm.data = d;
	d->sigint.data = d;
	d->signals_init = true;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	for (; d->started < NSERVICES; d->started++) {
		rc = services[d->started].start(d);
		if (rc < 0) {
			/* The service logged why; say nothing twice. */
			/* Stop what started, then let daemon_run drain. */
			d->stopping = d->started;
			stop_next(d);
			uv_run(&d->loop, UV_RUN_DEFAULT);
			return rc;
		}
	}
	log_info("shoald %s started (pid %ld, data-root %s, exec-root %s%s%s)",
		 SHOAL_VERSION, (long)getpid(), cfg->data_root, cfg->exec_root,
		 cfg->listen_addr[0] ? ", listen-addr " : "", cfg->listen_addr);
	return 0;
}

int daemon_run(struct daemon *d)
{
	int rc = uv_run(&d->loop, UV_RUN_DEFAULT);
	log_info("shoald stopped");
	return rc < 0 ? rc : 0;
}

void daemon_fini(struct daemon *d)
{
	if (d->loop_init) {
		if (d->signals_init) {
			d->signals_init = false;
			uv_close((uv_handle_t *)&d->sigterm, signals_closed);
			uv_close((uv_handle_t *)&d->sigint, signals_closed);
		}
		uv_run(&d->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&d->loop) < 0)
			log_warn("event loop closed with handles open");
		d->loop_init = false;
	}
	daemon__unlock_roots(d);
}
