/*
 * Internal to libshoal-runtime (and the shoal-monitor executable): the
 * normalised container configuration that rt_container_create() writes to
 * config.json and the monitor reads back, and the helpers the files of this
 * module share. Nothing here is part of the public contract.
 */
#ifndef SHOAL_RUNTIME_INTERNAL_H
#define SHOAL_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/map.h"
#include "runtime/runtime.h"

#define RT_CONFIG_FILE "config.json"
#define RT_STATE_FILE "state.json"
#define RT_MAX_LOWER 128
#define RT_MAX_ITEMS 1024 /* env, argv, mounts: a bound on any list */

/** A mount resolved at create time (host paths absolute). */
struct rt__mount {
	enum rt_mount_kind kind;
	char *source;  /* host path; NULL for tmpfs */
	char *target;  /* absolute inside the container */
	char *volume;  /* volume name for named/anonymous volumes */
	char *options; /* tmpfs data */
	bool readonly;
};

/** A --device: the host node and where it appears in the container. */
struct rt__device {
	char *host;    /* absolute host path */
	char *path;    /* absolute in the container, below /dev */
	char perms[4]; /* subset of "rwm" */
	char type;     /* 'c' or 'b' */
	unsigned major, minor;
	unsigned mode; /* permission bits of the host node */
	unsigned uid, gid;
};

/** The container's normalised configuration (everything owned). */
struct rt__config {
	char id[RT_ID_LEN + 1];
	char *name;
	char **lower;
	size_t n_lower;
	char **argv;
	size_t argc;
	char **env;
	size_t n_env;
	char *hostname;
	char *user;
	char *workdir;
	bool tty;
	bool open_stdin;
	bool privileged;
	bool no_new_privs;
	bool readonly_rootfs;
	struct rt__mount *mounts;
	size_t n_mounts;
	uint64_t caps; /* bounding = permitted = effective */
	char *seccomp; /* "unconfined" or a BPF file path */
	char *network; /* "none", "host" or a netns path */
	uint32_t userns_host_id;
	uint32_t userns_size;
	int64_t memory;
	int64_t memory_reservation;
	int64_t cpu_shares;
	int64_t nano_cpus;
	int64_t pids_limit;
	struct rt_rlimit *rlimits;
	size_t n_rlimits;
	char *cgroup_parent;
	char *dir;	   /* <data-root>/containers/<id> */
	char *run_dir;	   /* <exec-root>/<id> */
	char *annotations; /* opaque, the caller's */
	int64_t created_ns;
	/* docker run's runtime flags (rt_spec's block of the same name) */
	char *init_path; /* host path of shoal-init, or NULL: no --init */
	int64_t shm_size;
	int64_t memory_swap;
	int64_t memory_swappiness; /* -1: unset */
	bool oom_kill_disable;
	bool oom_score_adj_set;
	int oom_score_adj;
	char *cpuset_cpus; /* or NULL */
	char *cpuset_mems;
	char **group_add; /* names or gids, resolved in the init */
	size_t n_group_add;
	char **sysctls; /* "key=value" */
	size_t n_sysctls;
	struct rt__device *devices;
	size_t n_devices;
	char **dev_rules; /* devices cgroup rules, checked */
	size_t n_dev_rules;
	char *pid_mode; /* "private", "host", "ctr:<id>" */
	char *ipc_mode; /* "private", "shareable", "host", "ctr:<id>" */
	char *uts_mode; /* "private", "host" */
	bool cgroupns_host;
	char *log_driver; /* "json-file", "local", "none" */
	int64_t log_max_size;
	int log_max_file;
	bool log_compress;
};

/** What the monitor records in state.json. */
struct rt__state {
	enum rt_status status; /* created, running or exited */
	pid_t pid;
	uint64_t pid_start; /* the init's start time: pids get reused */
	pid_t monitor_pid;
	uint64_t monitor_start; /* /proc/<pid>/stat starttime */
	int exit_code;
	bool oom_killed;
	int64_t started_ns;
	int64_t finished_ns;
	int64_t monitor_maxrss_kb; /* peak RSS of the monitor itself */
	int64_t init_maxrss_kb;	   /* and of the container's init */
	char error[SHOAL_ERR_MAX];
};
int rt__state_load(const char *dir, struct rt__state *st);
int rt__state_save(const char *dir, const struct rt__state *st);

/* cgroup layout, see cgroup.c */
struct rt__cgroups {
	enum rt_cgroup_layout layout;
	char v2_root[512]; /* unified mount ("" if none) */
	char v1_root[512]; /* /sys/fs/cgroup */
	unsigned v1_mask;  /* controllers present (RT__CG_*) */
};

/** One known container: its config; state is always read from disk. */
struct rt__ctr {
	struct rt__config *c;
};

#define RT__SC_CACHE 8

struct rt {
	char *data_root;
	char *exec_root;
	char *cgroup_parent;
	char *monitor;
	char *archive_helper; /* shoal-archive */
	char *init_path;      /* shoal-init (--init) */
	struct rt__cgroups cg;
	unsigned cg_features; /* rt_cgroup_features(), read once at open */
	struct hmap by_id;    /* id -> struct rt__ctr */
	struct hmap by_name;  /* name -> the same */
	struct {
		uint64_t caps;
		char *path;
	} sc_cache[RT__SC_CACHE]; /* compiled default profiles */
	size_t n_sc;
};

int rt__register(struct rt *rt, struct rt__config *c);
/** rt__volume_drop() - remove a volume's folder, allocating nothing. */
int rt__volume_drop(struct rt *rt, const char *name);
/** rt__seccomp_cached() - the BPF file of Docker's profile for @caps,
 * compiled on first use in this process; owned path. */
int rt__seccomp_cached(struct rt *rt, uint64_t caps, char **out,
		       struct shoal_err *err);
/** rt__config_of() - the config (borrowed) and fresh state of @ref. */
const struct rt__config *rt__config_of(struct rt *rt, const char *ref,
				       struct rt__state *st);

void rt__config_free(struct rt__config *c);
/** rt__config_to_json() - serialise; owned string (shoal_free). */
char *rt__config_to_json(const struct rt__config *c);
/** rt__config_from_json() - parse what rt__config_to_json() wrote;
 * -EINVAL with @err on anything malformed. */
int rt__config_from_json(const char *text, struct rt__config **out,
			 struct shoal_err *err);
int rt__config_load(const char *dir, struct rt__config **out,
		    struct shoal_err *err);

/* util.c */
void rt__err(struct shoal_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *rt__path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt__rm_rf(const char *path);
int rt__write_file(const char *path, const void *data, size_t len, mode_t mode);
/** rt__write_atomic() - write to path.tmp, fsync-free rename over path. */
int rt__write_atomic(const char *path, const void *data, size_t len);
/**
 * rt__proc_scan() - the number after @key on the first line of @path that
 * starts with it, or 0: "btime" of /proc/stat, "MemTotal:" (kB) of
 * /proc/meminfo.
 */
unsigned long long rt__proc_scan(const char *path, const char *key);
/** rt__read_file() - the whole file (at most @max bytes), NUL-terminated,
 * owned; -EFBIG past @max. */
int rt__read_file(const char *path, size_t max, char **out, size_t *len);
int rt__write_str(const char *path, const char *s);
/** rt__proc_start_time() - field 22 of /proc/<pid>/stat; 0 if gone. */
uint64_t rt__proc_start_time(pid_t pid);
/** rt__proc_live_start_time() - the same, and the process's state letter
 * (field 3: 'R', 'S', ..., 'Z' for a zombie) in *@state when not NULL
 * ('\\0' if gone). */
uint64_t rt__proc_live_start_time(pid_t pid, char *state);
/** rt__pidfd_open_checked() - pidfd of @pid if its start time matches. */
int rt__pidfd_open_checked(pid_t pid, uint64_t start, int *fd);
size_t rt__strv_len(const char *const *v);
char **rt__strv_dup(const char *const *v, size_t *n);
void rt__strv_free(char **v, size_t n);

/* caps.c */
#define RT_CAP_LAST 40 /* CAP_CHECKPOINT_RESTORE */
uint64_t rt__caps_default(void);
uint64_t rt__caps_all(void);
/** rt__cap_from_name() - "NET_ADMIN"/"CAP_NET_ADMIN" (any case); -1. */
int rt__cap_from_name(const char *name);
const char *rt__cap_name(int cap);
int rt__caps_compute(const char *const *add, const char *const *drop,
		     bool privileged, uint64_t *out, struct shoal_err *err);
/** rt__caps_bound() - drop what is not in @caps from the bounding set and
 * clear the ambient set; needs CAP_SETPCAP, so before switching user. */
int rt__caps_bound(uint64_t caps);
/** rt__caps_apply() - permitted = effective = @caps, inheritable empty. */
int rt__caps_apply(uint64_t caps);

/* seccomp.c */
/**
 * rt__seccomp_compile() - compile a profile in Docker's JSON format for a
 * container holding @caps into classic BPF (owned, shoal_free). -EINVAL
 * with @err when the profile is malformed.
 */
int rt__seccomp_compile(const char *json, size_t len, uint64_t caps, void **bpf,
			size_t *bpf_len, struct shoal_err *err);
extern const char rt__seccomp_default_profile[];
/** A compiled filter, read into memory before pivot_root hides the file. */
struct rt__bpf {
	void *data;
	size_t len;
};
/** rt__seccomp_read() - read the BPF file @path ("unconfined": empty). */
int rt__seccomp_read(const char *path, struct rt__bpf *out);
/** rt__seccomp_install() - install @bpf (no-op when empty). */
int rt__seccomp_install(const struct rt__bpf *bpf);
/**
 * rt__seccomp_no_spawn() - stack a filter that refuses (EPERM) execve,
 * execveat, fork, vfork, clone and clone3, and every syscall of another
 * ABI than the native one: the process can neither run a program nor
 * start a process or thread. Needs no_new_privs (or CAP_SYS_ADMIN).
 * -ENOTSUP on an architecture it does not know.
 */
int rt__seccomp_no_spawn(void);

/* user.c */
/** rt__user_resolve() - resolve a -u spec against the rootfs's
 * /etc/passwd and /etc/group (@root: "/" inside the container). @groups
 * (room for 64) gets Docker's supplementary groups: the primary group,
 * then, unless the spec names a group, those that list the user. */
int rt__user_resolve(const char *root, const char *spec, uid_t *uid, gid_t *gid,
		     gid_t *groups, size_t *n_groups, char *home,
		     size_t home_len, struct shoal_err *err);

/** rt__group_add() - append --group-add entries (gids or names of the
 * rootfs's /etc/group) to @groups (room for @cap); -EINVAL with Docker's
 * message for an unknown name. */
int rt__group_add(const char *root, char *const *names, size_t n, gid_t *groups,
		  size_t *n_groups, size_t cap, struct shoal_err *err);

/* cgroup*.c */
enum {
	RT__CG_MEMORY = 1 << 0,
	RT__CG_CPU = 1 << 1,
	RT__CG_CPUACCT = 1 << 2,
	RT__CG_PIDS = 1 << 3,
	RT__CG_FREEZER = 1 << 4,
	RT__CG_DEVICES = 1 << 5,
	RT__CG_CPUSET = 1 << 6,
	RT__CG_BLKIO = 1 << 7,
};
/** rt__cgroup_features_read() - rt_cgroup_features() from the files. */
unsigned rt__cgroup_features_read(const struct rt__cgroups *cg);
int rt__cgroup_detect(struct rt__cgroups *cg);
/** rt__cgroup_create() - make the container's cgroup(s), set limits, put
 * @pid in (0: nothing to move). -EINVAL with @err on a rejected value. */
int rt__cgroup_create(const struct rt__cgroups *cg, const struct rt__config *c,
		      pid_t pid, struct shoal_err *err);
int rt__cgroup_enter(const struct rt__cgroups *cg, const struct rt__config *c,
		     pid_t pid);
int rt__cgroup_destroy(const struct rt__cgroups *cg,
		       const struct rt__config *c);
int rt__cgroup_freeze(const struct rt__cgroups *cg, const struct rt__config *c,
		      bool frozen);
bool rt__cgroup_frozen(const struct rt__cgroups *cg,
		       const struct rt__config *c);
bool rt__cgroup_oom_killed(const struct rt__cgroups *cg,
			   const struct rt__config *c);
int rt__cgroup_stats(const struct rt__cgroups *cg, const struct rt__config *c,
		     struct rt_stats *st);
/** rt__cgroup_pids() - pids in the container's cgroup; owned array. */
int rt__cgroup_pids(const struct rt__cgroups *cg, const struct rt__config *c,
		    pid_t **pids, size_t *n);
/** rt__cgroup_exists() - whether any of the container's cgroup dirs is
 * still there (tests, removal checks). */
bool rt__cgroup_exists(const struct rt__cgroups *cg,
		       const struct rt__config *c);

/* v1 and v2 back-ends: paths are the container's dir in one hierarchy. */
int rt__cgv1_create(const struct rt__cgroups *cg, const struct rt__config *c,
		    struct shoal_err *err);
int rt__cgv1_enter(const struct rt__cgroups *cg, const struct rt__config *c,
		   pid_t pid);
int rt__cgv1_destroy(const struct rt__cgroups *cg, const struct rt__config *c);
int rt__cgv1_freeze(const struct rt__cgroups *cg, const struct rt__config *c,
		    bool frozen);
bool rt__cgv1_frozen(const struct rt__cgroups *cg, const struct rt__config *c);
bool rt__cgv1_oom(const struct rt__cgroups *cg, const struct rt__config *c);
int rt__cgv1_stats(const struct rt__cgroups *cg, const struct rt__config *c,
		   struct rt_stats *st);
char *rt__cgv1_dir(const struct rt__cgroups *cg, const char *ctl,
		   const struct rt__config *c);
int rt__cgv2_create(const struct rt__cgroups *cg, const struct rt__config *c,
		    bool limits, struct shoal_err *err);
int rt__cgv2_enter(const struct rt__cgroups *cg, const struct rt__config *c,
		   pid_t pid);
int rt__cgv2_destroy(const struct rt__cgroups *cg, const struct rt__config *c);
int rt__cgv2_freeze(const struct rt__cgroups *cg, const struct rt__config *c,
		    bool frozen);
bool rt__cgv2_frozen(const struct rt__cgroups *cg, const struct rt__config *c);
bool rt__cgv2_oom(const struct rt__cgroups *cg, const struct rt__config *c);
int rt__cgv2_stats(const struct rt__cgroups *cg, const struct rt__config *c,
		   struct rt_stats *st);
char *rt__cgv2_dir(const struct rt__cgroups *cg, const struct rt__config *c);
/** rt__cgv2_devices() - attach Docker's device allow list as a BPF
 * program to the cgroup folder @dir. */
int rt__cgv2_devices(const char *dir);

/** rt__check_host_flags() - the run flags' checks that depend on what the
 * host's cgroups offer (@features: rt_cgroup_features(), @layout), with
 * Docker's words; pure (create.c). 0 or -EINVAL with @err. */
int rt__check_host_flags(const struct rt_spec *s, unsigned features,
			 enum rt_cgroup_layout layout, struct shoal_err *err);
/** rt__cpuset_within() - whether every CPU (node) of the list @want is
 * in the list @have (a cpuset.effective_* file's text). parse.c. */
bool rt__cpuset_within(const char *want, const char *have);

/* devices.c, sysctl.c */
/** rt__devices_resolve() - parse --device specs and stat each host node
 * into @c->devices. -EINVAL with @err. */
int rt__devices_resolve(const char *const *specs, struct rt__config *c,
			struct shoal_err *err);
void rt__devices_free(struct rt__config *c);
/** rt__devices_rule() - "c 1:3 rwm" for a devices.allow of @d. */
int rt__devices_rule(const struct rt__device *d, char *out, size_t cap);
/** rt__sysctls_apply() - write @c's sysctls below /proc/sys (the init,
 * after pivot_root, before /proc/sys turns read-only). */
int rt__sysctls_apply(const struct rt__config *c, struct shoal_err *err);

/** rt__ns_prepare() - the monitor, before the clone: drop from @flags the
 * namespaces shared with the host, setns() into those of another
 * container (ns_join.c). -ESRCH with Docker's words when it is not
 * running. */
int rt__ns_prepare(struct rt__config *c, unsigned long *flags,
		   struct shoal_err *err);

/** rt__shm_prepare() / rt__shm_release() - the host-side /dev/shm
 * tmpfs of an --ipc shareable container (monitor; release also at
 * remove). */
int rt__shm_prepare(const struct rt__config *c, struct shoal_err *err);
void rt__shm_release(const struct rt__config *c);

/* Where --init's shoal-init appears in the container (Docker's path). */
#define RT__INIT_TARGET "/sbin/docker-init"

/* mounts.c: in the container's init, in its new mount namespace. */
/** rt__rootfs_setup() - overlay, volumes, /proc, /sys, /dev, the /etc
 * files, pivot_root, masked and read-only paths. -errno with @err.
 * @layers: with a user namespace, detached idmapped mounts of the lower
 * dirs (one per layer, lowest first) made by the monitor, or NULL. */
int rt__rootfs_setup(const struct rt__config *c, const int *layers,
		     struct shoal_err *err);
/** rt__overlay_mount() - the container's overlay at @target, as is. */
int rt__overlay_mount(const struct rt__config *c, const char *target,
		      struct shoal_err *err);
/** rt__cgroup_mount() - /sys/fs/cgroup read-only in the container (the
 * init, after pivot_root and the cgroup namespace's unshare); read-write
 * for a privileged one. cgroup_mount.c. */
int rt__cgroup_mount(const struct rt__config *c, struct shoal_err *err);
/** rt__pivot_root() - make the mount at @rootfs the root and detach the
 * old one; the caller's mount namespace must be private. */
int rt__pivot_root(const char *rootfs, struct shoal_err *err);

/* child.c */
struct rt__child_args {
	const struct rt__config *c;
	int sync_fd;  /* SOCK_SEQPACKET to the monitor */
	int stdio[3]; /* no tty: the ends for 0, 1, 2 */
};
/** rt__child_main() - the container's init after clone(); never returns. */
__attribute__((noreturn)) void rt__child_main(struct rt__child_args *a);
/** rt__finish_process() - user, cwd, rlimits, caps, no_new_privs,
 * seccomp, exec: the tail shared with exec. Every descriptor but 0-2 and
 * @sync_fd is closed before the exec, and @sync_fd (kept to report a
 * failed exec) is made close-on-exec. Returns only on failure. */
int rt__finish_process(const struct rt__config *c, char *const *argv,
		       char *const *env, const char *user, const char *cwd,
		       bool privileged, const struct rt__bpf *bpf, int sync_fd,
		       struct shoal_err *err);

/* monitor.c */
int rt__monitor_main(int argc, char **argv);
int rt__exec_helper_main(int argc, char **argv);

/* log_rotate.c: the monitor's log writer (driver, size bound, rotation) */
struct rt__log_writer {
	int fd; /* -1: the "none" driver */
	char *path;
	int64_t size;
	int64_t max_size; /* 0: unbounded */
	int max_file;
	bool compress;
};
int rt__logw_open(struct rt__log_writer *w, const struct rt__config *c);
void rt__logw_close(struct rt__log_writer *w);
/** rt__logw_append() - one record, rotating first when it would take
 * the live file past max_size. */
int rt__logw_append(struct rt__log_writer *w, int stream, const char *data,
		    size_t len, int64_t ns);
/** rt__log_format() - one json-file record (owned, shoal_free) and its
 * length. */
int rt__log_format(int stream, const char *data, size_t len, int64_t ns,
		   char **out, size_t *n);

/* logs.c */
/** rt__log_append() - one json-file record for @len bytes of @stream. */
int rt__log_append(int fd, int stream, const char *data, size_t len,
		   int64_t ns);
char *rt__log_path(const struct rt__config *c);
int rt__log_open_path(struct rt *rt, const char *id, const char *path,
		      int max_file, const struct rt_log_options *opt,
		      struct rt_log_reader **out);
/* container.c: whether @id's monitor is alive (for log follow). */
bool rt__container_running(struct rt *rt, const char *id);

/* archive*.c: docker cp (see runtime.h and docs/archive.md) */
/* The archive helper's capabilities (CAP_* bits): reading needs only to
 * override permission checks; writing also to own, chown, keep set-id
 * bits and make device nodes. Never CAP_DAC_READ_SEARCH
 * (open_by_handle_at), CAP_SYS_ADMIN, CAP_SYS_PTRACE or CAP_KILL. */
#define RT__ARCHIVE_READ_CAPS (1ULL << 1) /* DAC_OVERRIDE */
#define RT__ARCHIVE_WRITE_CAPS                                                 \
	(RT__ARCHIVE_READ_CAPS | (1ULL << 0) /* CHOWN */ |                     \
	 (1ULL << 3) /* FOWNER */ | (1ULL << 4) /* FSETID */ |                 \
	 (1ULL << 27) /* MKNOD */)
/* The helper's file descriptors besides 0 (PUT: the archive), 1 (GET:
 * the tar stream) and 2. */
#define RT__ARCHIVE_REPORT_FD 3 /* SOCK_SEQPACKET to the caller */
#define RT__ARCHIVE_TARGET_FD 4 /* the init's pidfd, or the locked dir */
/* Reports (one datagram each): 'S' + struct rt_path_stat, or 'E' + an
 * int32 code + a sentence. Success is the helper's exit status 0. */
#define RT__ARCHIVE_MSG_MAX (1 + sizeof(struct rt_path_stat))

struct rt__unpack_opts {
	bool no_overwrite_dir_non_dir;
	bool copy_uid_gid;
};
/** rt__archive_stat() - lstat @path into @out; SHOAL_ENOTFOUND. */
int rt__archive_stat(const char *path, struct rt_path_stat *out);
/**
 * rt__archive_pack() - a tar stream of @path (named from its last
 * component) into @out_fd, never descending into kernel filesystems.
 * Runs in the process's root; single-threaded. -errno with @err.
 */
int rt__archive_pack(const char *path, int out_fd, struct shoal_err *err);
/**
 * rt__archive_unpack() - unpack the tar stream read from @in_fd (plain,
 * gzip, bzip2 or xz) into the folder @dir, with libarchive's secure
 * extraction (no "..", no absolute names, nothing through a symlink).
 * Changes the working folder meanwhile. SHOAL_ENOTFOUND, -ENOTDIR,
 * -EINVAL (refused or damaged archive), -EEXIST, disk errors; @err says.
 */
int rt__archive_unpack(int in_fd, const char *dir,
		       const struct rt__unpack_opts *o, struct shoal_err *err);
int rt__archive_helper_main(int argc, char **argv);
/** rt__ctr_lock() - flock the container's folder (non-blocking): held by
 * the archive helper of a stopped container, whose overlay it mounts, and
 * by start and remove. SHOAL_ECONFLICT when taken; *@fd owned. */
int rt__ctr_lock(const struct rt__config *c, int *fd);

/* fd passing */
/** rt__stdio_dup() - make @fds[i] descriptor i for i in 0-2, inheritable
 * even where it already was i (dup2() onto itself keeps close-on-exec).
 * Each source is its own slot or above 2; they stay open. 0 or -errno. */
int rt__stdio_dup(const int fds[3]);
int rt__send_fd(int sock, int fd);
/** rt__recv_msg() - one datagram into @buf and, if it carried one, an fd
 * (else -1); the byte count, 0 at EOF, or -errno. */
ssize_t rt__recv_msg(int sock, char *buf, size_t cap, int *fd);
/** rt__wait_sync() - read the child's handshake until EOF (success) or an
 * "E" message (its text into @err); a passed fd lands in *@fd. */
int rt__wait_sync(int sock, int *fd, struct shoal_err *err);

#endif
