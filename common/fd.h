/*
 * Descriptor hygiene around exec: what a program we start may inherit.
 *
 * Every descriptor a Shoal process opens carries close-on-exec from birth
 * (O_CLOEXEC, SOCK_CLOEXEC, pipe2(), F_DUPFD_CLOEXEC, "e" for fopen), so a
 * forgotten flag is a defect. These two helpers are the belt to those
 * braces: one marks everything a process inherited close-on-exec (at the
 * daemon's start), the other closes everything but a short list right
 * before a process inside a container is exec'd (the runc CVE-2024-21626
 * class: one inherited folder descriptor is a way out of the rootfs).
 *
 * Both use close_range(2) (Linux 5.9, CLOSE_RANGE_CLOEXEC 5.11) and fall
 * back, when it fails (ENOSYS, EINVAL on an older kernel, or a seccomp
 * filter that refuses it), to walking /proc/self/fd and, without /proc, to
 * every number below the descriptor limit. They allocate only inside
 * opendir() and are meant for single-threaded processes (a child after
 * fork() or clone(), or a daemon before it starts its threads). And the
 * one loop that writes a whole buffer despite short writes and EINTR.
 */
#ifndef SHOAL_COMMON_FD_H
#define SHOAL_COMMON_FD_H

#include <stddef.h>

/**
 * fd_close_from() - close every descriptor numbered @first or above except
 * the @n_keep in @keep (which may be NULL when @n_keep is 0; numbers below
 * @first in it are ignored). Returns 0, or -errno when a descriptor could
 * not be closed or the fallback could not list them.
 */
int fd_close_from(int first, const int *keep, size_t n_keep);

/**
 * fd_cloexec_from() - mark every descriptor numbered @first or above
 * close-on-exec, leaving it open for this process. Returns 0 or -errno.
 */
int fd_cloexec_from(int first);

/**
 * fd_write_all() - write all @len bytes of @data to @fd, resuming after
 * short writes and EINTR. Returns 0 or -errno (-EIO if write returned 0).
 */
int fd_write_all(int fd, const void *data, size_t len);

#endif
