/*
 * shoal-archive: the confined helper of docker cp (archive_helper.c),
 * spawned by libshoal-runtime's rt_archive_start(). An executable of its
 * own, beside shoal-monitor, so that the monitor, resident for every
 * container, does not load libarchive. Not meant to be run by hand.
 */
#include "runtime/internal.h"

int main(int argc, char **argv)
{
	return rt__archive_helper_main(argc, argv);
}
