/*
 * Shoal's container runtime: the whole public contract of libshoal-runtime.
 *
 * A container is made in two steps, as in Docker: rt_container_create()
 * validates a struct rt_spec, resolves volumes, compiles (or reuses the
 * cached) seccomp filter and writes everything the container needs into
 * <data-root>/containers/<id>/ (config.json, hostname, hosts, resolv.conf,
 * the overlay upper/work dirs). Nothing runs yet. rt_container_start() then
 * makes the cgroup while it spawns a monitor (the `shoal-monitor`
 * executable, see docs/runtime.md), which detaches from the caller (double
 * fork + setsid), clones the container's init into new namespaces, moves it
 * into the cgroup, relays its output into a json-file log and records its
 * exit in state.json. The monitor outlives
 * the daemon: a new struct rt opened on the same roots finds the running
 * containers again (rt_open() re-reads every state folder).
 *
 * Everything here is synchronous and short, except where a comment says it
 * waits (rt_container_stop(), rt_container_wait()). A libuv daemon learns of
 * exits without blocking through rt_exit_watch_start(), which polls the
 * monitor's pidfd on its loop; the quick calls (create, start: a few ms)
 * may run on the loop or, strictly, in uv_queue_work. docker cp's
 * archives (rt_archive_*) run in a confined helper process followed on the
 * caller's loop. A struct rt is not thread-safe: use it from one thread at
 * a time.
 *
 * Return codes follow the house rule: 0 or a negative errno, or a SHOAL_E*
 * code (SHOAL_ENOTFOUND: no such container or volume; SHOAL_ECONFLICT: a
 * name in use, a running container removed without force, a volume in
 * use, a stopped container started or removed while docker cp copies its
 * files). Calls that can fail on user input take a struct shoal_err (NULL
 * allowed) and fill it with one sentence a user can act on ("invalid volume
 * specification: '/a:b'").
 */
#ifndef SHOAL_RUNTIME_RUNTIME_H
#define SHOAL_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "common/error.h"

#define RT_ID_LEN 64
/*
 * Container names: Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two
 * characters at least), without the leading '/' Docker shows. Docker sets
 * no maximum; Shoal needs one for its fixed buffers and takes 128 bytes,
 * the swarm store's STORE_NAME_MAX, so that a task's container name
 * (<service>.<slot>.<task id>) always fits. The one definition: the
 * engine and the API use it through rt_name_valid().
 */
#define RT_NAME_MAX 128

struct rt;

/** Configuration of one runtime instance (all strings borrowed). */
struct rt_config {
	/* containers/<id>/ and volumes/<name>/_data live here. Required. */
	const char *data_root;
	/* Sockets and runtime state (<exec-root>/<id>/). Required. */
	const char *exec_root;
	/* cgroup parent below each controller's root; NULL: "shoal". */
	const char *cgroup_parent;
	/* The monitor executable; NULL: shoal-monitor beside /proc/self/exe,
	 * or $SHOAL_MONITOR when set. */
	const char *monitor_path;
};

/**
 * rt_open() - open a runtime on its roots: make the folders, detect the
 * cgroup layout (v1, v2 or hybrid), load every container found under
 * <data-root>/containers (re-attaching to running ones: their monitors are
 * found by pid and start time) and every volume. Returns 0 and *@out (free
 * with rt_close()), or a negative code with @err filled.
 */
int rt_open(const struct rt_config *cfg, struct rt **out,
	    struct shoal_err *err);

/** rt_close() - free @rt; running containers and their monitors go on.
 * Close every rt_exit_watch and rt_log_reader of @rt first. */
void rt_close(struct rt *rt);

/** The cgroup layout detected by rt_open(). */
enum rt_cgroup_layout {
	RT_CGROUP_V1,
	RT_CGROUP_V2,
	RT_CGROUP_HYBRID,
};
enum rt_cgroup_layout rt_cgroup_layout(const struct rt *rt);

/**
 * What the host's cgroups can limit, in the words of Docker's GET /info.
 * Each field says which file or v2 controller it rests on.
 */
struct rt_cgroup_caps {
	enum rt_cgroup_layout layout; /* hybrid is answered from v1 */

	bool memory_limit;	 /* v1 memory controller; v2 "memory" */
	bool swap_limit;	 /* memory.memsw.limit_in_bytes; v2 swap.max */
	bool memory_reservation; /* memory.soft_limit_in_bytes; v2 "memory" */
	bool kernel_memory_tcp;	 /* memory.kmem.tcp.limit_in_bytes; never v2 */
	bool oom_kill_disable;	 /* memory.oom_control; never on v2 */
	bool cpu_shares;	 /* cpu.shares; v2 "cpu" (cpu.weight) */
	bool cpu_cfs_period;	 /* cpu.cfs_period_us; v2 "cpu" (cpu.max) */
	bool cpu_cfs_quota;	 /* cpu.cfs_quota_us; v2 "cpu" (cpu.max) */
	bool cpuset;		 /* cpuset.cpus and .mems; v2 "cpuset" */
	bool pids_limit;	 /* v1 pids controller; v2 "pids" */
};

/**
 * rt_cgroup_probe() - read what the cgroup tree under @root (normally
 * "/sys/fs/cgroup") offers into @out, from its files only, so any folder
 * shaped like one can be given. 0, or -ENOENT when @root holds no cgroup
 * hierarchy (@out is then all false, layout v1). Never allocates; a few
 * stat(2)s, safe on a loop thread.
 */
int rt_cgroup_probe(const char *root, struct rt_cgroup_caps *out);

/* What the cgroups of this host can limit (rt_cgroup_features()). */
enum rt_cgroup_feature {
	RT_CG_SWAP = 1 << 0, /* swap accounting: memsw / memory.swap.max */
	RT_CG_CPU = 1 << 1,  /* cpu shares and CFS quota */
	RT_CG_PIDS = 1 << 2, /* pids.max */
};
/** rt_cgroup_features() - a mask of enum rt_cgroup_feature, read once at
 * rt_open() (controllers do not change while shoald runs). */
unsigned rt_cgroup_features(const struct rt *rt);

/** rt_name_valid() - whether @name (without a leading '/') follows the
 * rule of RT_NAME_MAX. */
bool rt_name_valid(const char *name);

/* ---------------------------------------------------------------- spec */

/** A resource limit: RLIMIT_* number, soft and hard values. */
struct rt_rlimit {
	int resource;
	uint64_t soft;
	uint64_t hard;
};

/**
 * What to run. Every pointer is borrowed for the duration of
 * rt_container_create(); string arrays are NULL-terminated (NULL: empty).
 * Zero means "unset" for numbers.
 */
struct rt_spec {
	const char *name;	       /* unique; NULL: none */
	const char *const *lower_dirs; /* image layers, lowest first */
	const char *const *argv;       /* entrypoint + cmd, already joined */
	const char *const *env;	       /* "K=V"; PATH defaulted when absent */
	const char *hostname;	       /* NULL: first 12 hex digits of the id */
	const char *user;	       /* "uid[:gid]" or names; NULL: root */
	const char *workdir;	       /* absolute; NULL: "/" */
	bool tty;		       /* a pty for stdio (docker -t) */
	bool open_stdin; /* stdin open, fed by attach (docker -i) */
	bool privileged; /* all caps, no seccomp, no masks, all devs */
	bool no_new_privileges;
	bool readonly_rootfs;
	/* Docker -v: "/host:/ctr[:ro|rw]", "name:/ctr[:ro]", "/ctr" (an
	 * anonymous volume). */
	const char *const *volumes;
	/* Docker --tmpfs: "/ctr[:opts]" (opts: size=64m,mode=1777,ro,...). */
	const char *const *tmpfs;
	const char *const *cap_add; /* "NET_ADMIN", "CAP_SYS_TIME", "ALL" */
	const char *const *cap_drop;
	/* NULL or "default": Docker's profile; "unconfined"; or the path of
	 * a JSON profile in Docker's format. */
	const char *seccomp;
	/* NULL or "none": a new net namespace with lo up; "host": share
	 * the host's; "ns:/path": join the namespace bound at /path. */
	const char *network;
	/* A user namespace mapping container 0..userns_size-1 to host
	 * userns_host_id.. (uid and gid alike); 0 size: none. */
	uint32_t userns_host_id;
	uint32_t userns_size;
	/* cgroup limits (0: none) */
	int64_t memory;		    /* bytes (docker --memory) */
	int64_t memory_reservation; /* bytes, soft limit */
	int64_t cpu_shares;	    /* relative weight, 2..262144 */
	int64_t nano_cpus;	    /* --cpus * 1e9 */
	int64_t pids_limit;	    /* > 0 */
	const struct rt_rlimit *rlimits;
	size_t rlimit_count;
	/* Extra "host:ip" lines for /etc/hosts; DNS servers for resolv.conf
	 * (NULL: copy the host's, minus loopback servers). */
	const char *const *extra_hosts;
	const char *const *dns;
	/* Opaque text the caller wants kept with the container and handed
	 * back by rt_container_inspect() (e.g. the Docker create body: image,
	 * labels, ...); at most 256 KiB; NULL: none. */
	const char *annotations;

	/* --- docker run's runtime flags (docs/runtime.md, "Run flags") --- */
	bool init;	  /* --init: shoal-init as pid 1 (/sbin/docker-init) */
	int64_t shm_size; /* bytes of /dev/shm; 0: 64 MiB */
	/* --memory-swap: memory + swap in bytes (> memory), -1 unlimited,
	 * 0: Docker's default (twice the memory). Needs a memory limit. */
	int64_t memory_swap;
	bool memory_swappiness_set;
	int64_t memory_swappiness; /* 0..100 (when set) */
	bool oom_kill_disable;
	bool oom_score_adj_set;
	int oom_score_adj;	 /* -1000..1000 */
	const char *cpuset_cpus; /* "0-1,3"; NULL: all */
	const char *cpuset_mems;
	const char *const *group_add; /* extra groups: names or gids */
	const char *const *sysctls;   /* "key=value", namespaced ones */
	/* --device "HOST[:CTR[:rwm]]": a node in /dev and its cgroup rule */
	const char *const *devices;
	/* --device-cgroup-rule "c|b|a MAJ|*:MIN|* [rwm]" */
	const char *const *device_cgroup_rules;
	/* Namespaces: NULL or "private" (new), "host", or "ctr:<id>" to join
	 * another running container's (resolved at start); ipc also
	 * "shareable" (the same as private here: joinable). */
	const char *pid_mode;
	const char *ipc_mode;
	const char *uts_mode; /* NULL/"private" or "host" */
	bool cgroupns_host;   /* --cgroupns host (default private) */
	/* Logging: "json-file" (NULL), "local" or "none"; max_size bytes per
	 * file (0: unbounded, local: 20 MiB), max_file files (0: 1, local:
	 * 5); log_compress gzips rotated files: 0 the driver's default (off,
	 * local: on), 1 on, -1 off. */
	const char *log_driver;
	int64_t log_max_size;
	int log_max_file;
	int log_compress;
};

/* -------------------------------------------------------------- parsers */

/** rt_parse_memory() - "512m", "1g", "1024", "1.5g" into bytes; -EINVAL. */
int rt_parse_memory(const char *s, int64_t *out);
/** rt_parse_cpus() - "1.5" into nano CPUs (1500000000); -EINVAL. */
int rt_parse_cpus(const char *s, int64_t *out);
/**
 * rt_parse_ulimit() - Docker --ulimit "nofile=1024[:2048]" into @out;
 * -EINVAL (unknown name, soft above hard, junk).
 */
int rt_parse_ulimit(const char *s, struct rt_rlimit *out);

enum rt_mount_kind {
	RT_MOUNT_BIND,	    /* a host path */
	RT_MOUNT_VOLUME,    /* a named volume */
	RT_MOUNT_ANONYMOUS, /* an anonymous volume made for the container */
	RT_MOUNT_TMPFS,
};

/** A parsed -v or --tmpfs spec; strings point into @buf of the parser. */
struct rt_mount_spec {
	enum rt_mount_kind kind;
	const char *source; /* host path or volume name; NULL otherwise */
	const char *target; /* absolute, cleaned */
	bool readonly;
	const char *options; /* tmpfs data ("size=65536k,mode=1777") */
	char buf[1024];
};

/** rt_parse_volume() - a Docker -v spec; -EINVAL with @err filled. */
int rt_parse_volume(const char *s, struct rt_mount_spec *out,
		    struct shoal_err *err);
/** rt_parse_tmpfs() - a Docker --tmpfs spec; -EINVAL with @err filled. */
int rt_parse_tmpfs(const char *s, struct rt_mount_spec *out,
		   struct shoal_err *err);

/** A parsed --device "HOST[:CTR[:rwm]]"; strings point into @buf. */
struct rt_device_spec {
	const char *host; /* absolute host path */
	const char *path; /* in the container (below /dev); default host */
	char perms[4];	  /* subset of "rwm"; default "rwm" */
	char buf[512];
};
/** rt_parse_device() - a --device spec; -EINVAL with @err filled. */
int rt_parse_device(const char *s, struct rt_device_spec *out,
		    struct shoal_err *err);
/** rt_parse_device_rule() - check a --device-cgroup-rule ("c 1:3 rwm",
 * "b *:* m", "a *:* rwm"); 0 or -EINVAL with Docker's message. */
int rt_parse_device_rule(const char *s, struct shoal_err *err);

/** Which namespaces a container shares with the host (for --sysctl). */
struct rt_sysctl_ns {
	bool host_net, host_ipc, host_uts;
};
/** rt_sysctl_check() - whether "key=value" names a namespaced sysctl
 * the container owns (runc's rule); -EINVAL with runc's words. */
int rt_sysctl_check(const char *kv, const struct rt_sysctl_ns *ns,
		    struct shoal_err *err);
/** rt_parse_cpuset() - a cpuset list ("0-3,6"); -EINVAL. */
int rt_parse_cpuset(const char *s);

/** A parsed -u spec: each half is a number or a name. */
struct rt_user_spec {
	char user[64];
	char group[64]; /* "" when absent */
	bool has_group;
};
/** rt_parse_user() - "uid", "name", "uid:gid", "name:group"; -EINVAL. */
int rt_parse_user(const char *s, struct rt_user_spec *out);

/* ----------------------------------------------------------- lifecycle */

enum rt_status {
	RT_STATUS_CREATED,
	RT_STATUS_RUNNING,
	RT_STATUS_PAUSED,
	RT_STATUS_EXITED,
};

/** rt_status_name() - "created", "running", "paused", "exited". */
const char *rt_status_name(enum rt_status s);

/** What rt_container_inspect() reports (a snapshot; strings owned). */
struct rt_info {
	char id[RT_ID_LEN + 1];
	char *name; /* or NULL */
	enum rt_status status;
	pid_t pid; /* the container's init, host pid; 0 if none */
	pid_t monitor_pid;
	int exit_code; /* valid when exited */
	bool oom_killed;
	char *error;	    /* why the last start failed, or NULL */
	int64_t created_ns; /* wall clock */
	int64_t started_ns;
	int64_t finished_ns;
	char *log_path;	   /* the json-file log */
	char *rootfs;	   /* merged rootfs as seen via /proc/<pid>/root */
	char *config_json; /* the container's normalised config.json */
	char *annotations; /* rt_spec.annotations as given, or NULL */
	int64_t monitor_maxrss_kb; /* peak RSS of its monitor (after exit) */
	int64_t init_maxrss_kb;	   /* peak RSS of its init (after exit) */
};
/** rt_info_fini() - free the strings of @info. */
void rt_info_fini(struct rt_info *info);

/**
 * rt_container_create() - validate @spec and make the container on disk
 * (state "created"). Writes its id into @id. On failure nothing is left
 * behind (no folder, no volume, no cgroup) and @err says why.
 */
int rt_container_create(struct rt *rt, const struct rt_spec *spec,
			char id[RT_ID_LEN + 1], struct shoal_err *err);

/**
 * rt_container_start() - start a created (or exited) container: spawn its
 * monitor and wait until the container's command has been exec'd (a few
 * ms) or failed. On failure (e.g. the command is not found) no process,
 * cgroup or mount is left and @err says why, in Docker's words.
 */
int rt_container_start(struct rt *rt, const char *id, struct shoal_err *err);

/** rt_container_kill() - send @sig to the container's init; -ESRCH when
 * it is not running. */
int rt_container_kill(struct rt *rt, const char *id, int sig);

/**
 * rt_container_stop() - send @sig (0: SIGTERM), wait up to @timeout_ms for
 * the exit, then SIGKILL and wait for it. BLOCKS: run it in uv_queue_work.
 * 0 also when the container was not running.
 */
int rt_container_stop(struct rt *rt, const char *id, int sig,
		      int64_t timeout_ms);

/**
 * rt_container_wait() - block until the container has exited (up to
 * @timeout_ms; -1 forever) and give its exit code; -ETIMEDOUT.
 */
int rt_container_wait(struct rt *rt, const char *id, int64_t timeout_ms,
		      int *exit_code);

/** rt_container_pause() / rt_container_unpause() - freeze or thaw every
 * process of the container (v1 freezer, or cgroup.freeze on v2). */
int rt_container_pause(struct rt *rt, const char *id);
int rt_container_unpause(struct rt *rt, const char *id);

/** What docker update changes; a field applies when its _set is true. */
struct rt_update {
	bool memory_set, memory_reservation_set, cpu_shares_set;
	bool nano_cpus_set, pids_limit_set;
	int64_t memory;		    /* bytes; 0: no limit */
	int64_t memory_reservation; /* bytes; 0: none */
	int64_t cpu_shares;	    /* 0: the default */
	int64_t nano_cpus;	    /* 0: no limit */
	int64_t pids_limit;	    /* <= 0: no limit */
};

/**
 * rt_container_update() - new limits for container @id (full id): in its
 * config (applied at every later start) and, while its cgroups exist, in
 * their files at once. -EINVAL (Docker's checks: memory at least 6MB, a
 * reservation above the limit, CPUs below 0.01), -ENOENT, or the error of
 * a cgroup write the kernel refused; @err says it. Nothing changes on
 * failure but the cgroup files written before it. (runtime/update.c)
 */
int rt_container_update(struct rt *rt, const char *id,
			const struct rt_update *u, struct shoal_err *err);

/**
 * rt_container_changes() - docker diff: what the container changed in its
 * root filesystem, from its writable layer, as Docker's array of {"Path",
 * "Kind"} (0 changed, 1 added, 2 deleted) in *@out (owned). -E2BIG past a
 * million entries, SHOAL_ENOTFOUND, -ENOMEM. (runtime/diff.c)
 */
struct json_t;
int rt_container_changes(struct rt *rt, const char *id, struct json_t **out);

/**
 * rt_container_rename() - give container @id (full id) the name @name (a
 * leading '/' is dropped), running or not. -EINVAL (not a valid name),
 * -EEXIST (another container has it), -ENOENT, with Docker's words in
 * @err. (runtime/rename.c)
 */
int rt_container_rename(struct rt *rt, const char *id, const char *name,
			struct shoal_err *err);

/**
 * rt_container_remove() - remove a container: its folders, cgroups and
 * (with @volumes) its anonymous volumes. A running one is refused with
 * SHOAL_ECONFLICT unless @force, which kills it first (and waits).
 */
int rt_container_remove(struct rt *rt, const char *id, bool force,
			bool volumes);

/** rt_container_inspect() - a snapshot of one container, fresh from disk.
 * @ref is an id, a unique id prefix or a name. */
int rt_container_inspect(struct rt *rt, const char *ref, struct rt_info *out);

/**
 * rt_container_resolve() - the full id of @ref (id, unique prefix or
 * name) into @id; SHOAL_ENOTFOUND, or -EINVAL when a prefix is ambiguous.
 */
int rt_container_resolve(struct rt *rt, const char *ref,
			 char id[RT_ID_LEN + 1]);

/**
 * rt_container_rw_size() - the bytes of the container's writable layer
 * (Docker's SizeRw: every file of its overlay's upper folder, hard links
 * once). Walks the folder: milliseconds for a small layer.
 */
int rt_container_rw_size(struct rt *rt, const char *id, uint64_t *bytes);

/**
 * rt_container_list() - the ids of every container into a new array of
 * *@count strings (free with rt_list_free()).
 */
int rt_container_list(struct rt *rt, char ***ids, size_t *count);
void rt_list_free(char **ids, size_t count);

/* ---------------------------------------------------------- exit watch */

/**
 * rt_container_exit_fd() - a new pidfd of the container's monitor (owned
 * by the caller, close it): it turns readable when the container has
 * exited and its exit status is on disk. -ESRCH when not running.
 */
int rt_container_exit_fd(struct rt *rt, const char *id, int *fd);

struct rt_exit_watch;
/** Called once on the loop thread when the container has exited. */
typedef void rt_exit_cb(struct rt_exit_watch *w, const char *id, int exit_code,
			bool oom_killed, void *arg);

/**
 * rt_exit_watch_start() - call @cb on @loop once the container @id exits.
 * Never blocks the loop and never calls @cb from inside the call. A
 * container that has already run and exited (a short command can be gone
 * before its watch starts) is reported on the next loop turn; one that
 * never ran fails with -ESRCH. If the call fails @cb never runs; otherwise it
 * runs exactly once unless the watch is closed first. The watch must be
 * closed with rt_exit_watch_close() (also after @cb ran); its memory is
 * released in libuv's close callback.
 */
int rt_exit_watch_start(struct rt *rt, uv_loop_t *loop, const char *id,
			rt_exit_cb *cb, void *arg, struct rt_exit_watch **out);
void rt_exit_watch_close(struct rt_exit_watch *w);

/* --------------------------------------------------------------- attach */

/**
 * rt_container_attach() - connect to the monitor's attach socket and hand
 * back the connected fd (owned by the caller). Reading gives the output
 * from now on: raw bytes with a tty, else Docker's multiplexed stream
 * (8-byte header: stream 1|2, 0, 0, 0, big-endian length). Writing feeds
 * the container's stdin when it was created with open_stdin. The output
 * of a container that exits ends with EOF.
 */
int rt_container_attach(struct rt *rt, const char *id, int *fd);

/** rt_container_resize() - set the pty size of a tty container. */
int rt_container_resize(struct rt *rt, const char *id, unsigned rows,
			unsigned cols);

/* --------------------------------------------------------- file access */

/*
 * Archives of a container's files (docker cp): GET, HEAD and PUT
 * /containers/{id}/archive. Each call runs `shoal-archive` (beside the
 * monitor; $SHOAL_ARCHIVE_HELPER overrides), a fresh executable and not a
 * fork of the caller, confined to the container before it reads a byte:
 * the container's user (if any), pid, mount, network, UTS, IPC and cgroup
 * namespaces (a new private copy of its mount namespace, with /proc, /sys
 * and /dev detached and every mount nodev, read-only unless it writes);
 * for a stopped container, new namespaces of its own with only the
 * container's overlay as root. Then: the capabilities writing files needs
 * (reading: CAP_DAC_OVERRIDE alone) in every set including the bounding
 * set, no_new_privs, not dumpable, Docker's default seccomp profile, and a
 * filter that refuses exec and every way to start a process. Archives are
 * tar, uncompressed or compressed with gzip, bzip2 or xz, decoded
 * in-process; nothing else is accepted and no program is ever run. See
 * docs/archive.md.
 *
 * Data never passes through the caller's memory in bulk: a GET's tar
 * stream comes out of a pipe in pieces handed to on_data, with
 * rt_archive_pause()/rt_archive_resume() for back-pressure; a PUT reads
 * the archive from a file the caller gives. Everything happens on the
 * caller's loop; the helper's death by any signal is an error result.
 */

/** What a container path is, as GET and HEAD report it (from lstat). */
struct rt_path_stat {
	char name[256]; /* last component; "/" for the root */
	int64_t size;
	uint32_t mode;		/* st_mode */
	int64_t mtime_ns;	/* wall clock */
	char link_target[4096]; /* a symlink's target, else "" */
};

enum rt_archive_op {
	RT_ARCHIVE_STAT, /* the path's stat only (HEAD) */
	RT_ARCHIVE_GET,	 /* the stat, then a tar stream of the path */
	RT_ARCHIVE_PUT,	 /* unpack a tar stream into the path (a folder) */
};

struct rt_archive_req {
	enum rt_archive_op op;
	const char *path; /* in the container; relative ones from "/" */
	/* PUT: the archive, a regular file read from its start (borrowed:
	 * the helper gets its own read-only open file of it). */
	int input_fd;
	bool no_overwrite_dir_non_dir; /* PUT: Docker's noOverwriteDirNonDir */
	bool copy_uid_gid; /* PUT: keep the archive's owners, else root's */
};

struct rt_archive;

/* Callbacks, on the loop's thread; none runs from inside a call. */
struct rt_archive_cbs {
	/* GET, STAT: once, before any data, when the path exists. */
	void (*on_stat)(struct rt_archive *a, const struct rt_path_stat *st,
			void *arg);
	/* GET: a piece of the tar stream (borrowed for the call). */
	void (*on_data)(struct rt_archive *a, const char *data, size_t len,
			void *arg);
	/*
	 * Once, last: 0, or SHOAL_ENOTFOUND (no such path), -ENOTDIR (PUT
	 * into a non-folder), -EINVAL (an archive refused or damaged, or a
	 * path on a kernel filesystem), -EEXIST (noOverwriteDirNonDir),
	 * -EROFS, -ENOSPC, -EACCES, -EINTR (the helper was killed), -EIO,
	 * -EPROTO; @msg (borrowed for the call) says it in a sentence.
	 */
	void (*on_done)(struct rt_archive *a, int rc, const char *msg,
			void *arg);
	void *arg;
};

/**
 * rt_archive_start() - start @req on container @ref on @loop. Returns 0
 * and *@out, then the callbacks run as described until rt_archive_close();
 * or SHOAL_ENOTFOUND (no such container), SHOAL_ECONFLICT (a stopped
 * container that is starting, being removed or copied from meanwhile),
 * -EINVAL, -ENOMEM, ... with @err filled, and no callback ever runs.
 */
int rt_archive_start(struct rt *rt, uv_loop_t *loop, const char *ref,
		     const struct rt_archive_req *req,
		     const struct rt_archive_cbs *cbs, struct rt_archive **out,
		     struct shoal_err *err);
/** rt_archive_pause() / rt_archive_resume() - stop and restart on_data. */
void rt_archive_pause(struct rt_archive *a);
void rt_archive_resume(struct rt_archive *a);
/**
 * rt_archive_close() - no callback runs after this (it may be called from
 * one, on_done included). A helper still running is killed. The memory is
 * released once the helper is reaped and libuv's handles are closed, on
 * later turns of the loop; @a must not be used after the call. @rt is
 * not touched after rt_archive_start(), so it may be closed before that.
 */
void rt_archive_close(struct rt_archive *a);

/**
 * rt_container_rootfs() - a path through which the caller reads and
 * writes the container's files, unconfined (tests; the API uses
 * rt_archive_*): /proc/<pid>/root while it
 * runs; for a stopped container its overlay is mounted (read-write, in the
 * caller's mount namespace) at <exec-root>/<id>/merged, and
 * rt_container_rootfs_release() must unmount it before the container is
 * started again (start refuses with SHOAL_ECONFLICT meanwhile). Volumes
 * of a stopped container are not mounted there. *@path owned (shoal_free).
 */
int rt_container_rootfs(struct rt *rt, const char *id, char **path);
/** rt_container_rootfs_release() - undo rt_container_rootfs() (no-op for
 * a running container or when nothing is mounted). */
int rt_container_rootfs_release(struct rt *rt, const char *id);

/* ----------------------------------------------------------------- logs */

struct rt_log_reader;

struct rt_log_options {
	int64_t tail;	  /* last N lines; -1: all */
	int64_t since_ns; /* wall clock; 0: from the start */
	bool stdout_on;
	bool stderr_on;
};

/** One log record; @line borrowed until the next read. */
struct rt_log_entry {
	int stream; /* 1 stdout, 2 stderr */
	int64_t time_ns;
	const char *line; /* includes its trailing "\n" when it had one */
	size_t len;
};

/** rt_log_open() - read the container's log (json-file or local, the
 * rotated files first). Free with rt_log_close(). -ENOTSUP for a
 * container whose log driver is "none". */
int rt_log_open(struct rt *rt, const char *id, const struct rt_log_options *opt,
		struct rt_log_reader **out);
/**
 * rt_log_next() - the next entry: 0 and @e; -EAGAIN at the current end
 * while the container runs (follow: poll rt_log_fd() or retry later);
 * SHOAL_ECLOSED at the end of a container that has exited.
 */
int rt_log_next(struct rt_log_reader *r, struct rt_log_entry *e);
/** rt_log_fd() - an inotify fd that turns readable when the log grows
 * (rt_log_next() drains it). It does not signal the container's exit:
 * pair it with rt_exit_watch_start() or a timeout. */
int rt_log_fd(struct rt_log_reader *r);
void rt_log_close(struct rt_log_reader *r);

/* ----------------------------------------------------------------- exec */

struct rt_exec_spec {
	const char *const *argv; /* required */
	const char *const *env;	 /* added to the container's */
	const char *user;	 /* NULL: the container's */
	const char *workdir;	 /* NULL: the container's */
	bool tty;
	bool privileged;
};

/** A running exec: stdio fds owned by it (-1 when not applicable). */
struct rt_exec {
	pid_t pid;     /* the exec helper, a child of the caller */
	int pidfd;     /* readable when it exited; reaped by rt_exec_wait */
	int pty;       /* tty: the pty master */
	int stdin_fd;  /* no tty: write end of the process's stdin */
	int stdout_fd; /* no tty: read ends */
	int stderr_fd;
};

/**
 * rt_exec_start() - run a process inside a running container: its
 * namespaces, cgroup, capabilities, seccomp filter, user and env. Returns
 * once it has been exec'd, or fails with @err filled (e.g. not found).
 */
int rt_exec_start(struct rt *rt, const char *id,
		  const struct rt_exec_spec *spec, struct rt_exec **out,
		  struct shoal_err *err);
/** rt_exec_wait() - wait (up to @timeout_ms; -1 forever) for the exit
 * code; -ETIMEDOUT. Reaps the helper. */
int rt_exec_wait(struct rt_exec *ex, int64_t timeout_ms, int *exit_code);
/** rt_exec_free() - close the fds; kills the process if still running. */
void rt_exec_free(struct rt_exec *ex);

/* ----------------------------------------------------------- stats, top */

/** One network interface of a container, as its /proc/<pid>/net/dev
 * counts it (Docker's "networks" entry). */
struct rt_net_stats {
	char name[16]; /* IFNAMSIZ */
	uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
	uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

#define RT_STATS_MAX_NETS 16

/** Raw counters, as `docker stats` reads them. */
struct rt_stats {
	int64_t read_ns;	/* wall clock of the sample */
	uint64_t cpu_total_ns;	/* container CPU time */
	uint64_t system_cpu_ns; /* host CPU time (/proc/stat) */
	uint32_t online_cpus;
	uint64_t mem_usage; /* minus inactive file, as docker */
	uint64_t mem_limit; /* limit, or host memory */
	uint64_t pids;
	/* The interfaces of the container's own network namespace but lo,
	 * the first RT_STATS_MAX_NETS of them; none for a container on the
	 * host's network (its interfaces are not the container's). */
	size_t n_nets;
	struct rt_net_stats nets[RT_STATS_MAX_NETS];
};
/** rt_container_stats() - sample a running container. */
int rt_container_stats(struct rt *rt, const char *id, struct rt_stats *out);
/** rt_stats_cpu_percent() - docker's CPU % between two samples. */
double rt_stats_cpu_percent(const struct rt_stats *prev,
			    const struct rt_stats *cur);

/** One process, with what `ps -ef` prints of it (from /proc/<pid>). */
struct rt_top_row {
	pid_t pid; /* as the host sees it, as in Docker */
	pid_t ppid;
	uid_t uid;	  /* effective */
	int64_t start_ns; /* wall clock (boot time + start ticks) */
	uint64_t cpu_ns;  /* user + system time */
	char tty[32];	  /* "pts/0", "tty1", or "?" */
	char cmd[256];	  /* the arguments, "[comm]" when there are none */
};
/** rt_container_top() - the processes in the container's cgroup, by pid;
 * *@rows owned (shoal_free). */
int rt_container_top(struct rt *rt, const char *id, struct rt_top_row **rows,
		     size_t *count);

/* -------------------------------------------------------------- volumes */

struct rt_volume_info {
	char name[256];
	char mountpoint[4096]; /* <data-root>/volumes/<name>/_data */
	int64_t created_ns;
	bool anonymous;
	size_t ref_count; /* containers that mount it */
};

/** rt_volume_create() - make a named volume (NULL: an anonymous one with
 * a random 64-hex name); an existing name is returned as is (docker). */
int rt_volume_create(struct rt *rt, const char *name,
		     struct rt_volume_info *out, struct shoal_err *err);
int rt_volume_inspect(struct rt *rt, const char *name,
		      struct rt_volume_info *out);
/** rt_volume_list() - every volume; *@vols owned (shoal_free). */
int rt_volume_list(struct rt *rt, struct rt_volume_info **vols, size_t *count);
/**
 * rt_volume_users() - the ids of the containers that mount volume @name,
 * joined by ", " into @out (as many whole ids as fit in @cap); returns how
 * many there are (0: none). For Docker's "volume is in use - [ids]".
 */
int rt_volume_users(struct rt *rt, const char *name, char *out, size_t cap);
/** rt_volume_remove() - SHOAL_ECONFLICT while a container mounts it
 * (even a stopped one), SHOAL_ENOTFOUND. */
int rt_volume_remove(struct rt *rt, const char *name);
/** rt_volume_size() - the bytes of a volume's data, counted as
 * rt_container_rw_size() does. */
int rt_volume_size(struct rt *rt, const char *name, uint64_t *bytes);
/** rt_volume_prune() - remove every unused anonymous volume (@all: every
 * unused volume); the number removed into @removed. */
int rt_volume_prune(struct rt *rt, bool all, size_t *removed);

#endif
