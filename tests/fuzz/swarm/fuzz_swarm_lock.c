/*
 * Autolock's inputs from outside (manager/lock.h): the DEK file read at
 * start, a sealed key or state file, and the unlock key an operator types.
 * Whatever the bytes, the calls return 0 or a code, never crash, never
 * read out of bounds, and leak nothing. The same bytes go to all three;
 * the directory is made once per process under /tmp.
 */
#include "common/alloc.h"
#include "manager/lock.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static void cleanup(void)
{
	nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	char dir[96];
	snprintf(root, sizeof(root), "/tmp/shoal-fuzz-lock.XXXXXX");
	if (!mkdtemp(root))
		abort();
	snprintf(dir, sizeof(dir), "%s/swarm", root);
	if (mkdir(dir, 0700) < 0)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[SWARM_KEY_LEN] = {1, 2, 3};
	uint8_t dek[SWARM_KEY_LEN];
	if (!root[0])
		setup();
	char path[128];
	snprintf(path, sizeof(path), "%s/swarm/dek", root);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	bool locked;
	swarm_lock_dek_read(root, NULL, dek, &locked);
	swarm_lock_dek_read(root, key, dek, &locked);
	swarm_lock_is_locked(root);

	uint8_t *copy = shoal_malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	size_t plain;
	swarm_lock_open(key, copy, size, &plain);
	shoal_free(copy);

	char *text = shoal_malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	swarm_lock_key_parse(text, dek);
	shoal_free(text);
	return 0;
}
