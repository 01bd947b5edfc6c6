/*
 * shoal-monitor: the per-container monitor ("run", monitor.c) and the exec
 * helper ("exec", exec_helper.c) in one small executable, spawned by
 * libshoal-runtime. Not meant to be run by hand.
 */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "runtime/internal.h"

int main(int argc, char **argv)
{
	/* No shoal_alloc_install(): the monitor stays small and links
	 * only libc and jansson (see CMakeLists.txt). */
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return rt__monitor_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "exec"))
		return rt__exec_helper_main(argc, argv);
	fprintf(stderr, "usage: shoal-monitor run <container-dir> <fd> <fd> | "
			"exec <container-dir> <pid> <spec>\n");
	return 2;
}
