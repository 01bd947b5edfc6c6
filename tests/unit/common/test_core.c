/*
 * Unit tests of common/'s core pieces: errors, allocation hooks, buffers,
 * the hash map, ids and durations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/id.h"
#include "common/map.h"

static void error_codes_have_names_and_texts(void **state)
{
	assert_string_equal(shoal_errname(SHOAL_ENOTLEADER),
			    "SHOAL_ENOTLEADER");
	assert_string_equal(shoal_strerror(SHOAL_ESTALE),
			    "update out of sequence");
	assert_string_equal(shoal_errname(-ENOENT), "ENOENT");
	assert_string_equal(shoal_strerror(-ENOENT),
			    "No such file or directory");
	assert_string_equal(shoal_strerror(-99999), "unknown error");
}

static void failed_allocation_is_reported_and_counted(void **state)
{
	int64_t live = shoal_alloc_live();
	int64_t failures = shoal_alloc_failures();
	shoal_alloc_fail_after(1);
	void *a = shoal_malloc(10);
	void *b = shoal_malloc(10);
	shoal_alloc_fail_after(-1);
	assert_non_null(a);
	assert_null(b);
	assert_int_equal(shoal_alloc_failures(), failures + 1);
	shoal_free(a);
	assert_int_equal(shoal_alloc_live(), live);
}

static void buffer_refuses_to_grow_past_its_limit(void **state)
{
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append_str(&b, "hello"), 0);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(b.data, "hello1234");
	assert_int_equal(buf_append_str(&b, "xy"), -ENOBUFS);
	assert_string_equal(b.data, "hello1234");
	buf_consume(&b, 5);
	assert_string_equal(b.data, "1234");
	buf_fini(&b);
}

static void buffer_survives_allocation_failure_unchanged(void **state)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	shoal_alloc_fail_after(0);
	char big[200];
	memset(big, 'x', sizeof(big));
	int rc = buf_append(&b, big, sizeof(big));
	shoal_alloc_fail_after(-1);
	assert_int_equal(rc, -ENOMEM);
	assert_string_equal(b.data, "abc");
	buf_fini(&b);
}

static void map_keeps_every_key_through_growth_and_deletes(void **state)
{
	struct hmap m = HMAP_INIT;
	char key[32];
	for (uintptr_t i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		assert_int_equal(hmap_put_str(&m, key, (void *)(i + 1), NULL),
				 0);
	}
	assert_int_equal(hmap_len(&m), 5000);
	for (uintptr_t i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		assert_ptr_equal(hmap_del_str(&m, key), (void *)(i + 1));
	}
	assert_int_equal(hmap_len(&m), 2500);
	for (uintptr_t i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		void *v = hmap_get_str(&m, key);
		if (i % 2)
			assert_ptr_equal(v, (void *)(i + 1));
		else
			assert_null(v);
	}
	size_t pos = 0, seen = 0;
	while (hmap_next(&m, &pos, NULL, NULL, NULL))
		seen++;
	assert_int_equal(seen, 2500);
	void *old = NULL;
	assert_int_equal(hmap_put_u64(&m, 7, (void *)1, &old), 0);
	assert_int_equal(hmap_put_u64(&m, 7, (void *)2, &old), 0);
	assert_ptr_equal(old, (void *)1);
	assert_ptr_equal(hmap_get_u64(&m, 7), (void *)2);
	hmap_fini(&m);
}

static void ids_have_docker_shapes(void **state)
{
	char a[ID_SWARM_LEN + 1], b[ID_SWARM_LEN + 1], h[ID_HEX_LEN + 1];
	id_swarm(a);
	id_swarm(b);
	assert_true(id_is_swarm(a));
	assert_string_not_equal(a, b);
	id_hex(h);
	assert_true(id_is_hex(h, ID_HEX_LEN));
	assert_false(id_is_hex("abc", ID_HEX_LEN));
}

static void dns_names_are_labels_of_63_at_most(void **state)
{
	char label[65], name[300];
	assert_true(id_is_dns_name("web", 255));
	assert_true(id_is_dns_name("tasks.web-1.my_net", 255));
	assert_false(id_is_dns_name(NULL, 255));
	assert_false(id_is_dns_name("", 255));
	assert_false(id_is_dns_name(".web", 255));
	assert_false(id_is_dns_name("web.", 255));
	assert_false(id_is_dns_name("a..b", 255));
	assert_false(id_is_dns_name("c 1", 255));
	assert_false(id_is_dns_name("caf\xc3\xa9", 255));
	memset(label, 'a', 63);
	label[63] = '\0';
	assert_true(id_is_dns_name(label, 255));
	assert_false(id_is_dns_name(label, 62)); /* longer than @max */
	label[63] = 'a';
	label[64] = '\0';
	assert_false(id_is_dns_name(label, 255)); /* a label of 64 */
	memset(name, 'a', sizeof(name) - 1);
	for (size_t i = 49; i < sizeof(name) - 1; i += 50)
		name[i] = '.';
	name[256] = '\0';
	assert_false(id_is_dns_name(name, 255));
	name[255] = '\0';
	assert_true(name[254] != '.' && id_is_dns_name(name, 255));
}

static void durations_parse_like_go(void **state)
{
	int64_t ns;
	assert_int_equal(time_parse_duration("1s", &ns), 0);
	assert_int_equal(ns, NSEC_PER_SEC);
	assert_int_equal(time_parse_duration("2h45m", &ns), 0);
	assert_int_equal(ns, (2 * 3600 + 45 * 60) * NSEC_PER_SEC);
	assert_int_equal(time_parse_duration("500ms", &ns), 0);
	assert_int_equal(ns, 500 * NSEC_PER_MSEC);
	assert_int_equal(time_parse_duration("5x", &ns), -EINVAL);
	assert_int_equal(time_parse_duration("", &ns), -EINVAL);
	assert_int_equal(time_parse_duration("-1s", &ns), -EINVAL);
}

static void sha256_digest_matches_known_vector(void **state)
{
	char d[DIGEST_STR_LEN];
	shoal_sha256_str("abc", 3, d);
	assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a3"
			       "96177a9cb410ff61f20015ad");
	uint8_t raw[2];
	assert_int_equal(shoal_unhex("0aff", raw, 2), 0);
	assert_int_equal(raw[1], 0xff);
	assert_int_equal(shoal_unhex("0afg", raw, 2), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_codes_have_names_and_texts),
		cmocka_unit_test(failed_allocation_is_reported_and_counted),
		cmocka_unit_test(buffer_refuses_to_grow_past_its_limit),
		cmocka_unit_test(buffer_survives_allocation_failure_unchanged),
		cmocka_unit_test(
			map_keeps_every_key_through_growth_and_deletes),
		cmocka_unit_test(ids_have_docker_shapes),
		cmocka_unit_test(dns_names_are_labels_of_63_at_most),
		cmocka_unit_test(durations_parse_like_go),
		cmocka_unit_test(sha256_digest_matches_known_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
