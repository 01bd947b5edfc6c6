/* Paths on the local file system (path.h). */
#include "common/path.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int path_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0; /* the common case: the parent exists */
	if (errno != ENOENT)
		return -errno;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
