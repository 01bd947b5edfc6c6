/*
 * Error codes. Every action in Shoal returns 0 or a negative code: a negated
 * errno value (libuv's UV_E* codes are exactly these on Linux and pass
 * through unchanged) or one of the project codes below, which sit far above
 * the errno range so the two never collide. shoal_strerror() names either.
 */
#ifndef SHOAL_COMMON_ERROR_H
#define SHOAL_COMMON_ERROR_H

#define SHOAL_ERRNO_BASE 10000

#define SHOAL_ERROR_TABLE(X)                                                   \
	X(SHOAL_ENOTLEADER, 1, "this manager is not the raft leader")          \
	X(SHOAL_ENOQUORUM, 2, "the managers have no quorum")                   \
	X(SHOAL_ESTALE, 3, "update out of sequence")                           \
	X(SHOAL_EFRAME, 4, "malformed or oversized frame")                     \
	X(SHOAL_EAUTH, 5, "authentication failed")                             \
	X(SHOAL_ECERT, 6,                                                      \
	  "certificate invalid, expired or of another cluster")                \
	X(SHOAL_ETOKEN, 7, "join token invalid or rotated")                    \
	X(SHOAL_EREPLAY, 8, "replayed or reordered frame")                     \
	X(SHOAL_ECORRUPT, 9, "corrupt data on disk")                           \
	X(SHOAL_ENOTSWARM, 10, "this node is not part of a swarm")             \
	X(SHOAL_ENOTMANAGER, 11, "this node is not a swarm manager")           \
	X(SHOAL_EHTTP, 12, "malformed HTTP request")                           \
	X(SHOAL_ECLOSED, 13, "connection closed")                              \
	X(SHOAL_ENOTFOUND, 14, "no such object")                               \
	X(SHOAL_ECONFLICT, 15, "object already exists or is in use")           \
	X(SHOAL_ELOCKED, 16, "swarm is encrypted and needs to be unlocked")

enum shoal_error {
#define SHOAL_ERROR_ENUM(name, n, text) name = -(SHOAL_ERRNO_BASE + (n)),
	SHOAL_ERROR_TABLE(SHOAL_ERROR_ENUM)
#undef SHOAL_ERROR_ENUM
};

/**
 * shoal_strerror() - the text of an error code.
 * @code: 0, a negative errno value, or a SHOAL_E* code.
 *
 * Returns a static string; never NULL. Thread-safe.
 */
const char *shoal_strerror(int code);

/*
 * The error context of every module (runtime, image, engine, ...): one
 * sentence for the user, in Docker's words where Docker has them, filled
 * by the function that failed (empty when the call succeeded). Callers
 * pass it down; a layer that adds context rewrites it once, where the
 * error is handled, rather than logging at every level.
 */
#define SHOAL_ERR_MAX 600
struct shoal_err {
	char msg[SHOAL_ERR_MAX];
};

/**
 * shoal_errname() - the symbolic name of an error ("ENOENT",
 * "SHOAL_ENOTLEADER"), for logs and JSON; static, never NULL.
 */
const char *shoal_errname(int code);

#endif
