/*
 * Autolock at rest (manager/lock.h, swarm_state_unlock()): unlock keys
 * print and parse as docker's SWMKEY-1-; a node saved with autolock keeps
 * no key or state in the clear, loads as locked without its key, refuses
 * a wrong or malformed key without changing anything, opens with the
 * right one; after a rotation only the new key opens it; with autolock
 * off it loads without a key, still encrypted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "manager/lock.h"
#include "manager/manager.h"

static char tmpdir[64];

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **s)
{
	strcpy(tmpdir, "/tmp/shoal-lock-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **s)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void new_cluster(struct swarm_state *st, bool autolock)
{
	memset(st, 0, sizeof(*st));
	st->heartbeat_ms = 50;
	snprintf(st->listen_addr, sizeof(st->listen_addr), "127.0.0.1:0");
	assert_int_equal(ca_init_cluster(st, time_real_ns() / NSEC_PER_SEC), 0);
	st->nmanagers = 1;
	snprintf(st->managers[0], SWARM_ADDR_MAX, "127.0.0.1:2377");
	shoal_random(st->dek, sizeof(st->dek));
	st->has_dek = true;
	st->autolock = autolock;
	if (autolock)
		shoal_random(st->kek, sizeof(st->kek));
}

/* Does @rel under tmpdir contain @n bytes of @needle? */
static bool file_has(const char *rel, const void *needle, size_t n)
{
	char path[256];
	static char buf[1 << 16];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, len, needle, n) != NULL;
}

static void unlock_keys_print_and_parse_as_dockers(void **s)
{
	uint8_t k[SWARM_KEY_LEN], back[SWARM_KEY_LEN];
	char text[SWARM_UNLOCK_KEY_MAX], padded[SWARM_UNLOCK_KEY_MAX + 4];
	shoal_random(k, sizeof(k));
	swarm_lock_key_format(k, text);
	assert_int_equal(strncmp(text, "SWMKEY-1-", 9), 0);
	assert_int_equal(strlen(text), 9 + 43);
	snprintf(padded, sizeof(padded), " %s\n", text);
	assert_int_equal(swarm_lock_key_parse(padded, back), 0);
	assert_memory_equal(k, back, sizeof(k));
	assert_int_equal(swarm_lock_key_parse("SWMKEY-1-", back), -EINVAL);
	assert_int_equal(swarm_lock_key_parse("SWMKEY-1-nonsense", back),
			 -EINVAL);
	text[9] = '*';
	assert_int_equal(swarm_lock_key_parse(text, back), -EINVAL);
	swarm_lock_key_format(k, text);
	text[strlen(text) - 1] = '\0'; /* one character short */
	assert_int_equal(swarm_lock_key_parse(text, back), -EINVAL);
	assert_int_equal(swarm_lock_key_parse("SWMTKN-1-abc", back), -EINVAL);
	assert_int_equal(swarm_lock_key_parse(NULL, back), -EINVAL);
}

static void an_autolocked_node_loads_only_with_its_key(void **s)
{
	struct swarm_state st, back;
	char err[256];
	new_cluster(&st, true);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	assert_false(file_has("certs/node.key", st.identity.sk, WIRE_SK_LEN));
	assert_false(file_has("certs/root.key", st.root_sk, WIRE_SK_LEN));
	assert_false(file_has("swarm/state.json", st.cluster_id,
			      strlen(st.cluster_id)));
	assert_false(file_has("swarm/dek", st.dek, sizeof(st.dek)));
	assert_true(swarm_lock_is_locked(tmpdir));

	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)),
			 -ENOKEY);
	assert_non_null(strstr(err, "locked"));
	uint8_t wrong[SWARM_KEY_LEN];
	memcpy(wrong, st.kek, sizeof(wrong));
	wrong[0] ^= 1;
	assert_int_equal(
		swarm_state_unlock(tmpdir, wrong, &back, err, sizeof(err)),
		-EKEYREJECTED);
	assert_string_equal(err, "invalid key");
	assert_true(swarm_lock_is_locked(tmpdir)); /* nothing changed */

	assert_int_equal(
		swarm_state_unlock(tmpdir, st.kek, &back, err, sizeof(err)), 0);
	assert_string_equal(back.cluster_id, st.cluster_id);
	assert_memory_equal(back.identity.sk, st.identity.sk, WIRE_SK_LEN);
	assert_memory_equal(back.root_sk, st.root_sk, WIRE_SK_LEN);
	assert_memory_equal(back.dek, st.dek, sizeof(st.dek));
	assert_true(back.autolock);
	assert_memory_equal(back.kek, st.kek, sizeof(st.kek));
}

static void after_rotation_only_the_new_key_unlocks(void **s)
{
	struct swarm_state st, back;
	char err[256];
	new_cluster(&st, true);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	uint8_t old[SWARM_KEY_LEN];
	memcpy(old, st.kek, sizeof(old));
	shoal_random(st.kek, sizeof(st.kek));
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	assert_int_equal(
		swarm_state_unlock(tmpdir, old, &back, err, sizeof(err)),
		-EKEYREJECTED);
	assert_int_equal(
		swarm_state_unlock(tmpdir, st.kek, &back, err, sizeof(err)), 0);
	/* Rotation re-wraps the DEK only: the data key is the same. */
	assert_memory_equal(back.dek, st.dek, sizeof(st.dek));
}

static void without_autolock_the_node_loads_without_a_key(void **s)
{
	struct swarm_state st, back;
	char err[256];
	new_cluster(&st, true);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	st.autolock = false;
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	assert_false(swarm_lock_is_locked(tmpdir));
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)), 0);
	assert_false(back.autolock);
	assert_memory_equal(back.identity.sk, st.identity.sk, WIRE_SK_LEN);
	assert_false(file_has("certs/node.key", st.identity.sk, WIRE_SK_LEN));
}

static void a_demoted_node_keeps_its_files_in_the_clear(void **s)
{
	struct swarm_state st, back;
	char err[256], path[256];
	new_cluster(&st, true);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	st.has_dek = st.autolock = false; /* what a demotion does */
	st.has_root_sk = false;
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/swarm/dek", tmpdir);
	assert_int_equal(access(path, F_OK), -1);
	assert_true(file_has("certs/node.key", st.identity.sk, WIRE_SK_LEN));
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)), 0);
	assert_false(back.has_dek);
	assert_memory_equal(back.identity.sk, st.identity.sk, WIRE_SK_LEN);
}

static void a_damaged_dek_file_or_sealed_file_is_corruption(void **s)
{
	struct swarm_state st, back;
	char err[256], path[256];
	new_cluster(&st, false);
	assert_int_equal(swarm_state_save(tmpdir, &st, err, sizeof(err)), 0);
	/* Flip one byte of the sealed node key: the MAC catches it. */
	snprintf(path, sizeof(path), "%s/certs/node.key", tmpdir);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 40, SEEK_SET);
	int c = fgetc(f);
	fseek(f, 40, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)),
			 SHOAL_ECORRUPT);
	snprintf(path, sizeof(path), "%s/swarm/dek", tmpdir);
	f = fopen(path, "wb");
	fputs("SHOALDEK-garbage", f);
	fclose(f);
	assert_int_equal(swarm_state_load(tmpdir, &back, err, sizeof(err)),
			 SHOAL_ECORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unlock_keys_print_and_parse_as_dockers),
		cmocka_unit_test_setup_teardown(
			an_autolocked_node_loads_only_with_its_key, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			after_rotation_only_the_new_key_unlocks, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			without_autolock_the_node_loads_without_a_key, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_demoted_node_keeps_its_files_in_the_clear, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_damaged_dek_file_or_sealed_file_is_corruption, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
