/*
 * Paths on the local file system. Small, reusable, no Shoal knowledge.
 */
#ifndef SHOAL_COMMON_PATH_H
#define SHOAL_COMMON_PATH_H

#include <sys/types.h>

/**
 * path_mkdir_p() - make @path and every missing parent, each with @mode
 * (less the umask); folders that exist are left as they are. Returns 0,
 * -ENAMETOOLONG (4 KiB and more), or -errno of the mkdir that failed.
 */
int path_mkdir_p(const char *path, mode_t mode);

#endif
