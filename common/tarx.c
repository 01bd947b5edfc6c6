/* Reading outside archives without running a program (tarx.h). */
#include "common/tarx.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>

int tarx_builtin_filters(struct archive *a, bool zstd, char *err, size_t cap)
{
	static const struct {
		const char *name;
		int (*add)(struct archive *);
	} filters[] = {
		{"gzip", archive_read_support_filter_gzip},
		{"bzip2", archive_read_support_filter_bzip2},
		{"xz", archive_read_support_filter_xz},
		{"zstd", archive_read_support_filter_zstd},
	};
	size_t n = zstd ? 4 : 3;

	for (size_t i = 0; i < n; i++) {
		/* ARCHIVE_WARN: "using external program" (no library). */
		if (filters[i].add(a) != ARCHIVE_OK) {
			snprintf(err, cap,
				 "this build of libarchive has no built-in %s "
				 "decompressor",
				 filters[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

bool tarx_filters_ok(struct archive *a)
{
	int n = archive_filter_count(a);

	for (int i = 0; i < n; i++) {
		switch (archive_filter_code(a, i)) {
		case ARCHIVE_FILTER_NONE:
		case ARCHIVE_FILTER_GZIP:
		case ARCHIVE_FILTER_BZIP2:
		case ARCHIVE_FILTER_XZ:
		case ARCHIVE_FILTER_ZSTD:
			break;
		default:
			return false;
		}
	}
	return true;
}
