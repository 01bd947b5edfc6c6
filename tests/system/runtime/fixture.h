/*
 * Shared set-up for the runtime's system tests: a busybox rootfs layer
 * (Debian's busybox-static with its applet links, /etc/passwd, /etc/group
 * and the probe helper), fresh data/exec roots in a temp folder, a cgroup
 * parent unique to the test process, and teardown that removes all of it
 * even when a test fails.
 */
#ifndef SHOAL_TESTS_RUNTIME_FIXTURE_H
#define SHOAL_TESTS_RUNTIME_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/runtime.h"

#define SKIP_CODE 77

struct fx {
	char root[256];	 /* the temp folder */
	char layer[300]; /* rootfs layer */
	char data_root[300];
	char exec_root[300];
	char cgroup_parent[64];
	struct rt_config cfg;
	struct rt *rt;
};

/** fx_skip_unless_root() - exit(SKIP_CODE) with a message when not root. */
void fx_skip_unless_root(void);
/** fx_setup() - everything above; asserts on failure. */
void fx_setup(struct fx *fx);
/** fx_reopen() - close and open the runtime again (a daemon restart). */
void fx_reopen(struct fx *fx);
void fx_teardown(struct fx *fx);

/** fx_run() - create, start, wait for exit; output (stdout+stderr log)
 * into @out. Returns the exit code; asserts on failures. */
int fx_run(struct fx *fx, struct rt_spec *spec, char *out, size_t cap);
/** fx_log() - the whole log text of @id into @out. */
void fx_log(struct fx *fx, const char *id, char *out, size_t cap);
/** fx_spec() - a default spec on the busybox layer running @argv. */
void fx_spec(struct fx *fx, struct rt_spec *s, const char *const *argv);
/** fx_mounts_mentioning() - lines of /proc/self/mountinfo containing
 * @needle. */
int fx_mounts_mentioning(const char *needle);
/** fx_cgroup_dirs() - cgroup dirs named @id under any controller. */
int fx_cgroup_dirs(const char *parent, const char *id);

/** fx_cgroup_children() - container cgroups under @parent (memory). */
int fx_cgroup_children(const char *parent);
/** fx_gone() - whether @pid has exited (gone or a zombie), waiting up to
 * two seconds for an orphan's reaper. */
bool fx_gone(int pid);
/* Create and start @s as *@id (failing the test with the runtime's
 * message). */
void fx_start(struct fx *fx, struct rt_spec *s, char id[RT_ID_LEN + 1]);
/* Read @fd to EOF (or EIO for a pty, or 10 s of silence) into @out,
 * NUL-terminated; the bytes read. */
size_t fx_drain(int fd, char *out, size_t cap);

#endif
