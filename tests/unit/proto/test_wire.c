/*
 * Unit tests of the wire's pure parts: framing, the protobuf allocator,
 * certificates and join tokens.
 */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "proto/cert.h"
#include "proto/token.h"
#include "proto/wire.h"
#include "proto/wire.pb-c.h"

#define MAX_TEST_FRAMES 8

struct got {
	size_t n;
	size_t len[MAX_TEST_FRAMES];
	uint8_t *data[MAX_TEST_FRAMES];
};

static int collect(void *arg, uint8_t *p, size_t len)
{
	struct got *g = arg;
	assert_true(g->n < MAX_TEST_FRAMES);
	g->data[g->n] = shoal_memdup(p, len);
	g->len[g->n] = len;
	g->n++;
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		shoal_free(g->data[i]);
	g->n = 0;
}

/* Encode frames of the given sizes into one stream; bytes i%251. */
static uint8_t *stream_of(const size_t *sizes, size_t n, size_t *out_len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += WIRE_HEADER_LEN + sizes[i];
	uint8_t *s = shoal_malloc(total);
	uint8_t *p = s;
	for (size_t i = 0; i < n; i++) {
		wire_put_header(p, (uint32_t)sizes[i]);
		p += WIRE_HEADER_LEN;
		for (size_t j = 0; j < sizes[i]; j++)
			*p++ = (uint8_t)((j + i) % 251);
	}
	*out_len = total;
	return s;
}

static void assert_frames(const struct got *g, const size_t *sizes, size_t n)
{
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(g->len[i], sizes[i]);
		for (size_t j = 0; j < sizes[i]; j++)
			assert_int_equal(g->data[i][j], (j + i) % 251);
	}
}

static void frames_round_trip_when_split_at_every_offset(void **state)
{
	int64_t live = shoal_alloc_live();
	const size_t limit = 300;
	const size_t sizes[] = {0, 1, limit, 17, 0};
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	size_t len;
	uint8_t *s = stream_of(sizes, n, &len);
	uint8_t *copy = shoal_malloc(len);
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b += 7) {
			struct wire_decoder d;
			struct got g = {0};
			wire_decoder_init(&d, limit);
			memcpy(copy, s, len);
			assert_int_equal(
				wire_decoder_feed(&d, copy, a, collect, &g), 0);
			assert_int_equal(wire_decoder_feed(&d, copy + a, b - a,
							   collect, &g),
					 0);
			assert_int_equal(wire_decoder_feed(&d, copy + b,
							   len - b, collect,
							   &g),
					 0);
			assert_true(wire_decoder_idle(&d));
			assert_frames(&g, sizes, n);
			got_free(&g);
			wire_decoder_fini(&d);
		}
	}
	shoal_free(copy);
	shoal_free(s);
	assert_int_equal(shoal_alloc_live(), live);
}

static void frames_arrive_one_byte_at_a_time(void **state)
{
	const size_t sizes[] = {5, 0, 1000};
	size_t len;
	uint8_t *s = stream_of(sizes, 3, &len);
	struct wire_decoder d;
	struct got g = {0};
	wire_decoder_init(&d, 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(wire_decoder_feed(&d, s + i, 1, collect, &g),
				 0);
	assert_frames(&g, sizes, 3);
	got_free(&g);
	wire_decoder_fini(&d);
	shoal_free(s);
}

static void oversized_length_is_refused_before_allocating(void **state)
{
	int64_t live = shoal_alloc_live();
	uint8_t hdr[WIRE_HEADER_LEN];
	struct wire_decoder d;
	struct got g = {0};
	wire_decoder_init(&d, 1024);
	wire_put_header(hdr, 1025);
	/* Any allocation would fail with -ENOMEM; we must see EFRAME. */
	shoal_alloc_fail_after(0);
	int rc = wire_decoder_feed(&d, hdr, 2, collect, &g);
	int rc2 = wire_decoder_feed(&d, hdr + 2, 2, collect, &g);
	shoal_alloc_fail_after(-1);
	assert_int_equal(rc, 0);
	assert_int_equal(rc2, SHOAL_EFRAME);
	assert_int_equal(g.n, 0);
	/* The error sticks: no resynchronising on what follows. */
	uint8_t zero[WIRE_HEADER_LEN] = {0};
	assert_int_equal(wire_decoder_feed(&d, zero, 4, collect, &g),
			 SHOAL_EFRAME);
	wire_decoder_fini(&d);
	assert_int_equal(shoal_alloc_live(), live);
}

static void frame_at_the_default_limit_is_accepted(void **state)
{
	uint8_t hdr[WIRE_HEADER_LEN];
	struct wire_decoder d;
	struct got g = {0};
	wire_decoder_init(&d, 0);
	wire_put_header(hdr, WIRE_DEFAULT_MAX_FRAME);
	assert_int_equal(wire_decoder_feed(&d, hdr, 4, collect, &g), 0);
	assert_int_equal(wire_decoder_buffered(&d), WIRE_HEADER_LEN);
	wire_decoder_fini(&d);
	wire_decoder_init(&d, 0);
	wire_put_header(hdr, WIRE_DEFAULT_MAX_FRAME + 1);
	assert_int_equal(wire_decoder_feed(&d, hdr, 4, collect, &g),
			 SHOAL_EFRAME);
	wire_decoder_fini(&d);
}

static int stop_at_second(void *arg, uint8_t *p, size_t len)
{
	int *n = arg;
	return ++*n == 2 ? -ECANCELED : 0;
}

static void callback_error_stops_the_decoder(void **state)
{
	const size_t sizes[] = {3, 3, 3};
	size_t len;
	uint8_t *s = stream_of(sizes, 3, &len);
	struct wire_decoder d;
	int n = 0;
	wire_decoder_init(&d, 0);
	assert_int_equal(wire_decoder_feed(&d, s, len, stop_at_second, &n),
			 -ECANCELED);
	assert_int_equal(n, 2);
	wire_decoder_fini(&d);
	shoal_free(s);
}

static void protobuf_decodes_go_through_the_allocation_hooks(void **state)
{
	Wire__ClientHello ch = WIRE__CLIENT_HELLO__INIT;
	uint8_t eph[32] = {1, 2, 3};
	ch.version = 1;
	ch.ephemeral.data = eph;
	ch.ephemeral.len = sizeof(eph);
	uint8_t enc[128];
	size_t len = wire__client_hello__pack(&ch, enc);
	int64_t live = shoal_alloc_live();
	Wire__ClientHello *d =
		wire__client_hello__unpack(&wire_pb_allocator, len, enc);
	assert_non_null(d);
	assert_true(shoal_alloc_live() > live);
	assert_memory_equal(d->ephemeral.data, eph, sizeof(eph));
	wire__client_hello__free_unpacked(d, &wire_pb_allocator);
	assert_int_equal(shoal_alloc_live(), live);
	shoal_alloc_fail_after(0);
	d = wire__client_hello__unpack(&wire_pb_allocator, len, enc);
	shoal_alloc_fail_after(-1);
	assert_null(d);
	assert_int_equal(shoal_alloc_live(), live);
}

static struct wire_cert_info sample_info(const uint8_t pk[WIRE_PK_LEN])
{
	struct wire_cert_info i = {0};
	strcpy(i.cluster_id, "cluster-a");
	strcpy(i.node_id, "node1xyz");
	i.role = WIRE_ROLE_MANAGER;
	memcpy(i.public_key, pk, WIRE_PK_LEN);
	i.not_before = 1000;
	i.not_after = 2000;
	i.serial = 42;
	return i;
}

static void certificate_verifies_under_its_root_within_its_window(void **s)
{
	int64_t live = shoal_alloc_live();
	struct wire_keypair root, node;
	wire_keypair_generate(&root);
	wire_keypair_generate(&node);
	struct wire_cert_info in = sample_info(node.pk), out;
	uint8_t *cert;
	size_t len;
	assert_int_equal(wire_cert_issue(&in, root.sk, &cert, &len), 0);
	const char *why = NULL;
	assert_int_equal(wire_cert_verify(cert, len, root.pk, 1500, &out, &why),
			 0);
	assert_string_equal(out.cluster_id, "cluster-a");
	assert_string_equal(out.node_id, "node1xyz");
	assert_int_equal(out.role, WIRE_ROLE_MANAGER);
	assert_memory_equal(out.public_key, node.pk, WIRE_PK_LEN);
	assert_int_equal(out.serial, 42);
	assert_int_equal(wire_cert_verify(cert, len, root.pk, 999, &out, &why),
			 SHOAL_ECERT);
	assert_string_equal(why, "certificate not yet valid");
	assert_int_equal(wire_cert_verify(cert, len, root.pk, 2001, &out, &why),
			 SHOAL_ECERT);
	assert_string_equal(why, "certificate expired");
	struct wire_keypair other;
	wire_keypair_generate(&other);
	assert_int_equal(
		wire_cert_verify(cert, len, other.pk, 1500, &out, &why),
		SHOAL_ECERT);
	assert_non_null(strstr(why, "root key"));
	struct wire_cert_info dec;
	assert_int_equal(wire_cert_decode(cert, len, &dec), 0);
	assert_string_equal(dec.node_id, "node1xyz");
	shoal_free(cert);
	assert_int_equal(shoal_alloc_live(), live);
}

static void any_altered_certificate_byte_is_refused(void **state)
{
	struct wire_keypair root, node;
	wire_keypair_generate(&root);
	wire_keypair_generate(&node);
	struct wire_cert_info in = sample_info(node.pk), out;
	uint8_t *cert;
	size_t len;
	assert_int_equal(wire_cert_issue(&in, root.sk, &cert, &len), 0);
	for (size_t i = 0; i < len; i++) {
		cert[i] ^= 0x01;
		assert_int_not_equal(
			wire_cert_verify(cert, len, root.pk, 1500, &out, NULL),
			0);
		cert[i] ^= 0x01;
	}
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(
			wire_cert_verify(cert, cut, root.pk, 1500, &out, NULL),
			0);
	shoal_free(cert);
}

static void certificate_with_empty_fields_is_refused(void **state)
{
	struct wire_keypair root;
	wire_keypair_generate(&root);
	uint8_t sig[WIRE_SIG_LEN] = {0}, enc[128];
	Wire__Certificate c = WIRE__CERTIFICATE__INIT;
	c.signature.data = sig;
	c.signature.len = sizeof(sig);
	size_t len = wire__certificate__pack(&c, enc);
	struct wire_cert_info out;
	const char *why = NULL;
	assert_int_equal(wire_cert_verify(enc, len, root.pk, 1500, &out, &why),
			 SHOAL_ECERT);
	assert_non_null(why);
	assert_int_equal(wire_cert_verify(NULL, 0, root.pk, 1500, &out, &why),
			 SHOAL_ECERT);
	assert_int_equal(wire_cert_decode(enc, len, &out), SHOAL_ECERT);
}

static void certificate_issue_refuses_bad_fields(void **state)
{
	struct wire_keypair root;
	wire_keypair_generate(&root);
	struct wire_cert_info in = sample_info(root.pk);
	uint8_t *cert = NULL;
	size_t len;
	in.node_id[0] = '\0';
	assert_int_equal(wire_cert_issue(&in, root.sk, &cert, &len), -EINVAL);
	in = sample_info(root.pk);
	in.role = WIRE_ROLE_NONE;
	assert_int_equal(wire_cert_issue(&in, root.sk, &cert, &len), -EINVAL);
	in = sample_info(root.pk);
	in.not_after = in.not_before - 1;
	assert_int_equal(wire_cert_issue(&in, root.sk, &cert, &len), -EINVAL);
	in = sample_info(root.pk);
	strcpy(in.cluster_id, "bad id");
	assert_int_equal(wire_cert_issue(&in, root.sk, &cert, &len), -EINVAL);
	assert_null(cert);
}

static void token_formats_and_parses_back(void **state)
{
	struct wire_keypair root;
	wire_keypair_generate(&root);
	struct wire_token t, back;
	wire_token_new(root.pk, &t);
	char text[WIRE_TOKEN_LEN + 1];
	wire_token_format(&t, text);
	assert_int_equal(strlen(text), WIRE_TOKEN_LEN);
	assert_memory_equal(text, "SWMTKN-1-", 9);
	assert_int_equal(wire_token_parse(text, &back, NULL), 0);
	assert_memory_equal(&t, &back, sizeof(t));
	assert_true(wire_token_matches_root(&back, root.pk));
	struct wire_keypair other;
	wire_keypair_generate(&other);
	assert_false(wire_token_matches_root(&back, other.pk));
}

static void token_extremes_round_trip(void **state)
{
	struct wire_token t, back;
	char text[WIRE_TOKEN_LEN + 1];
	memset(&t, 0, sizeof(t));
	wire_token_format(&t, text);
	assert_int_equal(wire_token_parse(text, &back, NULL), 0);
	assert_memory_equal(&t, &back, sizeof(t));
	memset(&t, 0xff, sizeof(t));
	wire_token_format(&t, text);
	assert_int_equal(wire_token_parse(text, &back, NULL), 0);
	assert_memory_equal(&t, &back, sizeof(t));
}

static void malformed_tokens_are_refused_with_a_reason(void **state)
{
	struct wire_token t, out;
	memset(&t, 7, sizeof(t));
	char good[WIRE_TOKEN_LEN + 1], bad[WIRE_TOKEN_LEN + 8];
	wire_token_format(&t, good);
	const char *why = NULL;

	assert_int_equal(wire_token_parse("", &out, &why), SHOAL_ETOKEN);
	assert_non_null(strstr(why, "SWMTKN-"));
	strcpy(bad, good);
	bad[7] = '2';
	assert_int_equal(wire_token_parse(bad, &out, &why), SHOAL_ETOKEN);
	assert_non_null(strstr(why, "version"));
	strcpy(bad, good);
	bad[WIRE_TOKEN_LEN - 1] = '\0';
	assert_int_equal(wire_token_parse(bad, &out, &why), SHOAL_ETOKEN);
	assert_non_null(strstr(why, "length"));
	snprintf(bad, sizeof(bad), "%sx", good);
	assert_int_equal(wire_token_parse(bad, &out, &why), SHOAL_ETOKEN);
	assert_non_null(strstr(why, "length"));
	strcpy(bad, good);
	bad[20] = 'A';
	assert_int_equal(wire_token_parse(bad, &out, &why), SHOAL_ETOKEN);
	assert_non_null(strstr(why, "[0-9a-z]"));
	strcpy(bad, good);
	bad[59] = '_';
	assert_int_equal(wire_token_parse(bad, &out, &why), SHOAL_ETOKEN);
	assert_non_null(strstr(why, "'-'"));
	/* All 'z': more than 2^128 in the secret's 25 digits. */
	strcpy(bad, good);
	memset(bad + 60, 'z', WIRE_TOKEN_SECRET_CHARS);
	assert_int_equal(wire_token_parse(bad, &out, &why), SHOAL_ETOKEN);
	assert_non_null(strstr(why, "range"));
}

int main(void)
{
	shoal_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frames_round_trip_when_split_at_every_offset),
		cmocka_unit_test(frames_arrive_one_byte_at_a_time),
		cmocka_unit_test(oversized_length_is_refused_before_allocating),
		cmocka_unit_test(frame_at_the_default_limit_is_accepted),
		cmocka_unit_test(callback_error_stops_the_decoder),
		cmocka_unit_test(
			protobuf_decodes_go_through_the_allocation_hooks),
		cmocka_unit_test(
			certificate_verifies_under_its_root_within_its_window),
		cmocka_unit_test(any_altered_certificate_byte_is_refused),
		cmocka_unit_test(certificate_with_empty_fields_is_refused),
		cmocka_unit_test(certificate_issue_refuses_bad_fields),
		cmocka_unit_test(token_formats_and_parses_back),
		cmocka_unit_test(token_extremes_round_trip),
		cmocka_unit_test(malformed_tokens_are_refused_with_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
