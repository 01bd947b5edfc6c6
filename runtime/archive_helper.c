/*
 * `shoal-archive <op> <mode> <container-dir> <bpf-file> <flags> <ppid>
 * <path>`: the confined helper of docker cp, spawned by rt_archive_start()
 * (archive.c) as a fresh executable, never a fork of the daemon: nothing
 * of shoald's memory (keys, tokens), descriptors or signal handlers
 * reaches it (a fork kept libuv's handlers, so a SIGTERM sent to the child
 * used to stop the daemon). Its fds: 0 the archive to unpack (PUT), 1 the
 * tar stream (GET), 2 stderr, 3 the report socket, 4 the target: the
 * pidfd of the container's init (<mode> "running") or its locked folder
 * ("stopped"). <op> is stat, get or put; <flags> holds 'n'
 * (noOverwriteDirNonDir) and 'u' (copyUIDGID), or is "-".
 *
 * Two processes. The first (the one the daemon reaps) dies with the
 * daemon (PR_SET_PDEATHSIG), reads what it needs from the host (the
 * container's config, the compiled seccomp filter, glibc's iconv tables),
 * joins the container's pid namespace (or makes a new one for a stopped
 * container) and forks; it then only waits, with every signal blocked and
 * taken by sigwaitinfo(): the worker's exit is its own (status, or a
 * report of its death by a signal), and any other signal (the daemon's
 * SIGTERM when the client left, or anyone's) makes it kill and reap the
 * worker first, then die of that signal. So the worker is never left an
 * orphan zombie under the container's init.
 *
 * The worker, born in that pid namespace (it sees the container's
 * processes only, or none), dies with the first (PDEATHSIG) and confines
 * itself before reading a byte of the archive or the container:
 *
 *   running: setns() into the container's user (if any), mount, network,
 *     UTS, IPC and cgroup namespaces through the pidfd (no pid reuse
 *     race), then unshare a private copy of its mount namespace in which
 *     /proc, /sys and /dev are detached (Docker's view of a container's
 *     files: no kernel filesystems, no /proc/<pid>/root to walk out by);
 *   stopped: new mount, network, UTS, IPC and cgroup namespaces, the
 *     container's overlay mounted and pivot_root()ed into, the old root
 *     detached (its volumes are not there, as before);
 *
 * then every mount of that private namespace nodev (no device node can be
 * opened, whatever an archive or the container placed), nosuid, noexec,
 * and read-only unless it writes (mount_setattr, recursive and atomic);
 * capabilities reduced in every set, the bounding set included, to
 * RT__ARCHIVE_WRITE_CAPS or RT__ARCHIVE_READ_CAPS; no core dumps, not
 * dumpable (the container cannot ptrace it or open its /proc files);
 * no_new_privs; Docker's default seccomp profile for those capabilities;
 * and rt__seccomp_no_spawn(), so no exec, fork or clone, whatever it
 * parses. Only then does it stat, pack or unpack (archive_tar.c).
 *
 * Failures are reported as 'E' + code + sentence on fd 3 and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "runtime/internal.h"

#define REPORT RT__ARCHIVE_REPORT_FD
#define TARGET RT__ARCHIVE_TARGET_FD

enum op { OP_STAT, OP_GET, OP_PUT };

struct job {
	enum op op;
	bool running;
	const char *dir;
	const char *bpf_path;
	const char *path;
	struct rt__unpack_opts unpack;
	pid_t ppid;
	struct rt__config *c;
	struct rt__bpf bpf;
};

static void report_error(int code, const struct shoal_err *err)
{
	char msg[1 + sizeof(int32_t) + sizeof(err->msg)];
	int32_t c = code;
	size_t len = strnlen(err->msg, sizeof(err->msg) - 1);

	msg[0] = 'E';
	memcpy(msg + 1, &c, sizeof(c));
	memcpy(msg + 1 + sizeof(c), err->msg, len);
	(void)!send(REPORT, msg, 1 + sizeof(c) + len, MSG_NOSIGNAL);
}

static __attribute__((noreturn)) void die(int code, const struct shoal_err *err)
{
	report_error(code, err);
	_exit(1);
}

static int parse(int argc, char **argv, struct job *j, struct shoal_err *err)
{
	if (argc != 8) {
		rt__err(err, "archive helper: %d arguments, 7 expected",
			argc - 1);
		return -EINVAL;
	}
	j->op = !strcmp(argv[1], "stat")  ? OP_STAT
		: !strcmp(argv[1], "get") ? OP_GET
		: !strcmp(argv[1], "put") ? OP_PUT
					  : (enum op) - 1;
	j->running = !strcmp(argv[2], "running");
	j->dir = argv[3];
	j->bpf_path = argv[4];
	j->unpack.no_overwrite_dir_non_dir = strchr(argv[5], 'n') != NULL;
	j->unpack.copy_uid_gid = strchr(argv[5], 'u') != NULL;
	j->ppid = (pid_t)atoi(argv[6]);
	j->path = argv[7];
	if ((int)j->op < 0 || (!j->running && strcmp(argv[2], "stopped")) ||
	    j->path[0] != '/') {
		rt__err(err, "archive helper: malformed arguments");
		return -EINVAL;
	}
	return 0;
}

/*
 * glibc reads its iconv configuration (and may load modules) from the
 * root it runs in, once. Read it now, from the host: libarchive converts
 * names between UTF-8 and the C locale's charset, both built into glibc,
 * so nothing is ever loaded from the container's files.
 */
static void preload_iconv(void)
{
	static const char *const pairs[][2] = {
		{"ANSI_X3.4-1968", "UTF-8"},
		{"UTF-8", "ANSI_X3.4-1968"},
	};
	for (size_t i = 0; i < 2; i++) {
		iconv_t cd = iconv_open(pairs[i][0], pairs[i][1]);
		if (cd != (iconv_t)-1)
			iconv_close(cd);
	}
}

/* --- the worker ---------------------------------------------------------- */

static int enter_running(const struct job *j, struct shoal_err *err)
{
	int flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC |
		    CLONE_NEWCGROUP;

	if (j->c->userns_size)
		flags |= CLONE_NEWUSER;
	if (setns(TARGET, flags) < 0) {
		rt__err(err,
			"container %s is not running (its namespaces: "
			"%s)",
			j->c->id, strerror(errno));
		return -ESRCH;
	}
	/* In its user namespace, be its root (our host uid is unmapped). */
	if (j->c->userns_size &&
	    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		rt__err(err,
			"cannot become root in the container's user "
			"namespace: %s",
			strerror(errno));
		return -errno;
	}
	/* A private copy of its mounts: what we detach stays ours. */
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		rt__err(err, "cannot copy the container's mounts: %s",
			strerror(errno));
		return -errno;
	}
	static const char *const kernel_dirs[] = {"/proc", "/sys", "/dev"};
	for (size_t i = 0; i < 3; i++)
		for (int n = 0; n < 16; n++)
			if (umount2(kernel_dirs[i],
				    MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
				break;
	return 0;
}

static int enter_stopped(const struct job *j, struct shoal_err *err)
{
	char root[4096];
	int rc;

	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC |
		    CLONE_NEWCGROUP) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		rt__err(err, "cannot make namespaces: %s", strerror(errno));
		return -errno;
	}
	snprintf(root, sizeof(root), "%s/copy", j->c->run_dir);
	rc = rt__overlay_mount(j->c, root, err);
	return rc < 0 ? rc : rt__pivot_root(root, err);
}

/* Every mount we can see: no devices, no set-id, no exec, and read-only
 * when only reading (or when a stopped container's root is read-only, as
 * it would be running). One call over the whole tree, so nothing the
 * container renames meanwhile can slip past. */
static int restrict_mounts(const struct job *j, struct shoal_err *err)
{
	bool ro = j->op != OP_PUT || (!j->running && j->c->readonly_rootfs);
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID |
			    MOUNT_ATTR_NOEXEC | (ro ? MOUNT_ATTR_RDONLY : 0),
	};

	if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr,
		    sizeof(attr)) < 0) {
		rt__err(err, "cannot restrict the mounts: %s", strerror(errno));
		return -errno;
	}
	return chdir("/") < 0 ? -errno : 0;
}

static int drop_privileges(const struct job *j, struct shoal_err *err)
{
	uint64_t caps = j->op == OP_PUT ? RT__ARCHIVE_WRITE_CAPS
					: RT__ARCHIVE_READ_CAPS;
	struct rlimit no_core = {0, 0};
	int rc;

	setrlimit(RLIMIT_CORE, &no_core);
	rc = rt__caps_bound(caps);
	if (rc == 0)
		rc = rt__caps_apply(caps);
	if (rc < 0) {
		rt__err(err, "cannot drop capabilities: %s", strerror(-rc));
		return rc;
	}
	/* After any uid change, which resets it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rt__err(err, "cannot set no_new_privs: %s", strerror(errno));
		return -errno;
	}
	rc = rt__seccomp_install(&j->bpf);
	if (rc == 0)
		rc = rt__seccomp_no_spawn();
	if (rc < 0)
		rt__err(err, "cannot load the seccomp filters: %s",
			strerror(-rc));
	return rc;
}

static int work(const struct job *j, struct shoal_err *err)
{
	struct rt_path_stat st;
	char msg[RT__ARCHIVE_MSG_MAX];
	int rc;

	if (j->op == OP_PUT)
		return rt__archive_unpack(0, j->path, &j->unpack, err);
	rc = rt__archive_stat(j->path, &st);
	if (rc == SHOAL_ENOTFOUND)
		rt__err(err, "no such file: %s", j->path);
	else if (rc < 0)
		rt__err(err, "cannot stat %s: %s", j->path, strerror(-rc));
	if (rc < 0)
		return rc;
	msg[0] = 'S';
	memcpy(msg + 1, &st, sizeof(st));
	if (send(REPORT, msg, sizeof(msg), MSG_NOSIGNAL) < 0)
		return -errno;
	return j->op == OP_GET ? rt__archive_pack(j->path, 1, err) : 0;
}

static __attribute__((noreturn)) void worker(struct job *j)
{
	struct shoal_err err = {""};
	int rc, nul;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(1);
	/* Our parent is outside the pid namespace: 0 unless it died. */
	if (getppid() != 0)
		_exit(1);
	/* Never a terminal: TIOCSTI could type into the host's. */
	if (isatty(2) && (nul = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0)
		dup2(nul, 2);
	rc = j->running ? enter_running(j, &err) : enter_stopped(j, &err);
	close(TARGET);
	if (rc == 0)
		rc = restrict_mounts(j, &err);
	if (rc == 0)
		rc = drop_privileges(j, &err);
	if (rc == 0)
		rc = work(j, &err);
	if (rc < 0)
		die(rc, &err);
	_exit(0);
}

/* --- the first process ---------------------------------------------------- */

/*
 * Wait for the worker with every signal in @set blocked: its status. Any
 * other signal than SIGCHLD kills the worker first; the first such signal
 * goes into *@stop.
 */
static int wait_worker(pid_t child, const sigset_t *set, int *stop)
{
	siginfo_t si;
	int status, sig;

	*stop = 0;
	for (;;) {
		sig = sigwaitinfo(set, &si);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			if (!*stop)
				kill(child, SIGKILL);
			*stop = *stop ? *stop : sig;
			continue;
		}
		if (waitpid(child, &status, WNOHANG) == child)
			return status;
	}
}

int rt__archive_helper_main(int argc, char **argv)
{
	static const int faults[] = {SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
				     SIGABRT, SIGTRAP, SIGSYS};
	struct shoal_err err = {""};
	struct job j = {0};
	sigset_t all, old;
	int status, rc, stop;
	pid_t child;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	syscall(SYS_close_range, TARGET + 1, ~0U, 0);
	if (parse(argc, argv, &j, &err) < 0)
		die(-EINVAL, &err);
	if (getppid() != j.ppid)
		_exit(1); /* the daemon is gone already */
	if (rt__config_load(j.dir, &j.c, &err) < 0)
		die(-EIO, &err);
	rc = rt__seccomp_read(j.bpf_path, &j.bpf);
	if (rc < 0 || !j.bpf.len) {
		rt__err(&err, "cannot read the seccomp filter %s: %s",
			j.bpf_path, strerror(rc < 0 ? -rc : EINVAL));
		die(-EIO, &err);
	}
	preload_iconv();
	if (j.running ? setns(TARGET, CLONE_NEWPID) : unshare(CLONE_NEWPID)) {
		rt__err(&err, "cannot %s a pid namespace: %s",
			j.running ? "join the container's" : "make",
			strerror(errno));
		die(j.running ? -ESRCH : -errno, &err);
	}
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&all, faults[i]);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = fork();
	if (child < 0) {
		rt__err(&err, "cannot fork: %s", strerror(errno));
		die(-errno, &err);
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		worker(&j);
	}
	/* Keep TARGET: for a stopped container it holds the lock until the
	 * worker, and with it its overlay mount, is gone. */
	status = wait_worker(child, &all, &stop);
	if (stop) {
		rt__err(&err,
			"the archive helper was stopped by signal %d (%s)",
			stop, strsignal(stop));
		report_error(-EINTR, &err);
		signal(stop, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		raise(stop);
		_exit(1);
	}
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	rt__err(&err, "the archive helper was killed by signal %d (%s)",
		WTERMSIG(status), strsignal(WTERMSIG(status)));
	die(-EINTR, &err);
}
