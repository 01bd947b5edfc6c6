/*
 * swarm_state_load() on an arbitrary state.json beside a fixed, valid set
 * of keys: whatever the file holds, the load returns 0 or a code with a
 * message, never crashes, and leaks nothing. The directory is made once
 * per process under /tmp.
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "manager/manager.h"

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
	struct swarm_state st;
	char err[256];
	snprintf(root, sizeof(root), "/tmp/shoal-fuzz-state.XXXXXX");
	if (!mkdtemp(root))
		abort();
	memset(&st, 0, sizeof(st));
	st.heartbeat_ms = 1000;
	snprintf(st.listen_addr, sizeof(st.listen_addr), "127.0.0.1:2377");
	if (ca_init_cluster(&st, time_real_ns() / NSEC_PER_SEC) < 0 ||
	    swarm_state_save(root, &st, err, sizeof(err)) < 0)
		abort();
	swarm_state_wipe(&st);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!root[0])
		setup();
	char path[128];
	snprintf(path, sizeof(path), "%s/swarm/state.json", root);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	struct swarm_state st;
	char err[256];
	if (swarm_state_load(root, &st, err, sizeof(err)) == 0)
		swarm_state_wipe(&st);
	return 0;
}
