/*
 * Fuzz target for the raft disk log's reader: the input is one segment
 * file. It is scanned in memory (disk__scan), then written as "seg-1" (and
 * the first 48 bytes again as the hard state) into a fresh directory that
 * the full open path reads: every entry the log then claims is read back,
 * without a key and with one (records marked encrypted are opened).
 * Whatever the bytes, nothing may crash, hang or leak; open may only
 * succeed or fail with a code.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "raft/disk.h"
#include "raft/disk_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(p);
}

static void put_file(const char *dir, const char *name, const uint8_t *p,
		     size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (len && fwrite(p, 1, len, f) != len)
		abort();
	fclose(f);
}

static void open_and_read(const char *dir, const uint8_t *key)
{
	uv_loop_t loop;
	struct raft_disk *d;
	struct raft_disk_options o = {.dir = dir, .key = key};
	uv_loop_init(&loop);
	if (raft_disk_open(&loop, &o, &d) == 0) {
		struct raft_disk_state st;
		raft_disk_state(d, &st);
		for (uint64_t i = st.first_index;
		     i <= st.last_index && i - st.first_index < 4096; i++) {
			struct raft_disk_entry e;
			if (raft_disk_read(d, i, &e) == 0)
				shoal_free(e.data);
		}
		raft_disk_close(d, NULL, NULL);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet++)
		log_set_level(LOG_LEVEL_FATAL);
	struct disk_scan sc;
	disk__scan(data, size, 0, &sc, NULL, NULL);
	disk__scan(data, size, 1, &sc, NULL, NULL);

	char dir[] = "/tmp/shoal-fuzz-disk-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	put_file(dir, "seg-00000000000000000001", data, size);
	put_file(dir, "hardstate", data, size < 48 ? size : 48);
	static const uint8_t key[32] = {7};
	open_and_read(dir, NULL);
	open_and_read(dir, key);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
