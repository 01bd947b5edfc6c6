/*
 * Fuzz target: the unpacking behind PUT /containers/{id}/archive (docker
 * cp into a container), rt__archive_unpack(), run unconfined against a
 * scratch folder. The daemon runs it inside a helper confined to the
 * container; here only libarchive's secure extraction stands between the
 * input and the rest of the file system, so an escape the fuzzer finds
 * (a file beside the scratch folder) is a bug even though the helper's
 * confinement would have contained it. The first input byte picks the
 * options (noOverwriteDirNonDir, copyUIDGID); the rest is the archive,
 * read from a file as the helper reads the spooled request body.
 * Whatever the input, the call must return 0 or an error with a message,
 * never crash, leak, hang or run a program; nothing but the destination
 * may appear in the scratch folder.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[64];

static void remove_scratch(void)
{
	rt__rm_rf(scratch);
}

static const char *scratch_dir(void)
{
	if (!scratch[0]) {
		const char *tmp =
			access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(scratch, sizeof(scratch),
			 "%s/shoal-fuzz-archive.XXXXXX", tmp);
		if (!mkdtemp(scratch))
			abort();
		atexit(remove_scratch);
	}
	return scratch;
}

/* Only "dest" may be in the scratch folder: anything else escaped. */
static void check_nothing_escaped(void)
{
	DIR *d = opendir(scratch);
	struct dirent *e;

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "dest")) {
			fprintf(stderr, "escaped: %s/%s\n", scratch, e->d_name);
			abort();
		}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt__unpack_opts o = {0};
	struct shoal_err err = {""};
	char dest[128];
	int fd, rc;

	if (size > (1u << 20))
		return 0;
	if (size) {
		o.no_overwrite_dir_non_dir = data[0] & 1;
		o.copy_uid_gid = data[0] & 2;
		data++;
		size--;
	}
	snprintf(dest, sizeof(dest), "%s/dest", scratch_dir());
	if (mkdir(dest, 0755) < 0)
		abort();
	fd = memfd_create("archive", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	rc = rt__archive_unpack(fd, dest, &o, &err);
	close(fd);
	if (rc < 0 && !err.msg[0]) {
		fprintf(stderr, "error %d without a message\n", rc);
		abort();
	}
	check_nothing_escaped();
	rt__rm_rf(dest);
	return 0;
}
