/*
 * Unit tests of what the registry client decodes: references as Docker
 * parses them, WWW-Authenticate challenges, token answers, the
 * X-Registry-Auth header, which registries are insecure, login server
 * addresses, and catalog and tag list pages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "image/registry.h"

static void ref_is(const char *in, const char *domain, const char *path,
		   const char *tag, const char *digest)
{
	struct img_ref r;
	struct shoal_err err;
	assert_int_equal(img_ref_parse(in, &r, &err), 0);
	assert_string_equal(r.domain, domain);
	assert_string_equal(r.path, path);
	assert_string_equal(r.tag, tag);
	assert_string_equal(r.digest, digest);
}

static void references_parse_as_docker_does(void **state)
{
	const char *d = "sha256:"
			"0123456789abcdef0123456789abcdef0123456789abcdef0123"
			"456789abcdef";
	char in[200];
	ref_is("busybox", "docker.io", "library/busybox", "latest", "");
	ref_is("busybox:1.36", "docker.io", "library/busybox", "1.36", "");
	ref_is("docker.io/library/busybox", "docker.io", "library/busybox",
	       "latest", "");
	ref_is("user/app:v1", "docker.io", "user/app", "v1", "");
	ref_is("127.0.0.1:5000/busybox", "127.0.0.1:5000", "busybox", "latest",
	       "");
	ref_is("localhost/a/b:t", "localhost", "a/b", "t", "");
	ref_is("reg.example.com/a__b/c-d.e", "reg.example.com", "a__b/c-d.e",
	       "latest", "");
	snprintf(in, sizeof(in), "busybox@%s", d);
	ref_is(in, "docker.io", "library/busybox", "", d);
	snprintf(in, sizeof(in), "h:5000/x:t@%s", d);
	ref_is(in, "h:5000", "x", "t", d);
}

static void bad_references_are_refused(void **state)
{
	static const char *const bad[] = {
		"",	  "Busybox", "busybox:",       "a//b",
		"a/",	  "-a",	     "a@sha256:abc",   "a:b:c",
		"a..b",	  "h:5000/", "busybox@md5:00", "a/B",
		"a:-tag", "a b",
	};
	struct img_ref r;
	struct shoal_err err;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (img_ref_parse(bad[i], &r, &err) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err.msg, "invalid reference format"));
	}
}

static void familiar_names_drop_docker_io(void **state)
{
	struct img_ref r;
	char out[600];
	assert_int_equal(img_ref_parse("busybox", &r, NULL), 0);
	img_ref_familiar(&r, out, sizeof(out));
	assert_string_equal(out, "busybox");
	assert_int_equal(img_ref_parse("127.0.0.1:5000/a/b", &r, NULL), 0);
	img_ref_familiar(&r, out, sizeof(out));
	assert_string_equal(out, "127.0.0.1:5000/a/b");
}

static void challenges_give_realm_service_and_scope(void **state)
{
	struct img_challenge c;
	assert_int_equal(
		img_challenge_parse(
			"Bearer realm=\"https://auth.docker.io/token\","
			"service=\"registry.docker.io\",scope=\"repository:"
			"library/busybox:pull\"",
			&c),
		0);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/busybox:pull");
	assert_int_equal(img_challenge_parse("Basic realm=\"x y\"", &c), 0);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "x y");
	/* A bearer realm must be an HTTP URL; other schemes are unusable. */
	assert_int_equal(img_challenge_parse("Bearer realm=\"file:///x\"", &c),
			 -EINVAL);
	assert_int_equal(img_challenge_parse("Negotiate abc", &c), -EINVAL);
	assert_int_equal(img_challenge_parse("Bearer realm=\"unterminated", &c),
			 -EINVAL);
}

static void tokens_come_from_token_or_access_token(void **state)
{
	char *t;
	const char *a = "{\"token\":\"abc\"}";
	const char *b = "{\"access_token\":\"def\",\"token\":\"\"}";
	assert_int_equal(img_token_parse(a, strlen(a), &t), 0);
	assert_string_equal(t, "abc");
	shoal_free(t);
	assert_int_equal(img_token_parse(b, strlen(b), &t), 0);
	assert_string_equal(t, "def");
	shoal_free(t);
	const char *bad[] = {"{}", "[]", "{\"token\":3}",
			     "{\"token\":\"a\\r\\nX: y\"}"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(img_token_parse(bad[i], strlen(bad[i]), &t),
				 -EINVAL);
		assert_null(t);
	}
}

static void registry_auth_header_decodes_docker_cli_form(void **state)
{
	/* base64url of {"username":"alice","password":"s3cret?>"} */
	const char *hdr = "eyJ1c2VybmFtZSI6ImFsaWNlIiwicGFzc3dvcmQiOiJzM2NyZXQ"
			  "_PiJ9";
	json_t *o;
	struct img_auth a;
	struct shoal_err err;
	assert_int_equal(img_auth_decode(hdr, &o, &a, &err), 0);
	assert_string_equal(a.username, "alice");
	assert_string_equal(a.password, "s3cret?>");
	assert_null(a.identity_token);
	json_decref(o);
	assert_int_equal(img_auth_decode("", &o, &a, &err), 0);
	assert_null(a.username);
	assert_int_equal(img_auth_decode("!!!", &o, &a, &err), -EINVAL);
	/* base64 of ["x"]: not an object */
	assert_int_equal(img_auth_decode("WyJ4Il0", &o, &a, &err), -EINVAL);
	/* base64 of {"username":1} */
	assert_int_equal(img_auth_decode("eyJ1c2VybmFtZSI6MX0", &o, &a, &err),
			 -EINVAL);
}

static void insecure_registries_are_loopback_or_named(void **state)
{
	static const char *const list[] = {"reg.example:5000", "10.99.0.0/16"};
	assert_true(img_registry_insecure("127.0.0.1:5000", NULL, 0));
	assert_true(img_registry_insecure("localhost:5000", NULL, 0));
	assert_true(img_registry_insecure("[::1]:5000", NULL, 0));
	assert_false(img_registry_insecure("10.99.1.2:5000", NULL, 0));
	assert_true(img_registry_insecure("reg.example:5000", list, 2));
	/* HOST:PORT names that port only. */
	assert_false(img_registry_insecure("reg.example:5001", list, 2));
	assert_true(img_registry_insecure("10.99.1.2:5000", list, 2));
	assert_true(img_registry_insecure("10.99.255.255", list, 2));
	assert_false(img_registry_insecure("10.98.1.2:5000", list, 2));
	/* A CIDR holds numeric hosts only. */
	assert_false(img_registry_insecure("reg.other:5000", list, 2));
}

static void login_servers_normalize_as_docker_login(void **state)
{
	char h[256];
	assert_int_equal(img_login_server("", h, sizeof(h)), 0);
	assert_string_equal(h, "docker.io");
	assert_int_equal(
		img_login_server("https://index.docker.io/v1/", h, sizeof(h)),
		0);
	assert_string_equal(h, "docker.io");
	assert_int_equal(
		img_login_server("https://127.0.0.1:5001/v2/", h, sizeof(h)),
		0);
	assert_string_equal(h, "127.0.0.1:5001");
	assert_int_equal(img_login_server("reg.example", h, sizeof(h)), 0);
	assert_string_equal(h, "reg.example");
	assert_int_equal(img_login_server("a b", h, sizeof(h)), -EINVAL);
	assert_int_equal(img_login_server("a@b", h, sizeof(h)), -EINVAL);
}

static void catalog_and_tag_pages_keep_valid_names(void **state)
{
	static const char cat[] = "{\"repositories\":[\"busybox\",\"a/b\","
				  "\"Bad\",\"../x\",7,\"c\"]}";
	static const char tags[] = "{\"name\":\"x\",\"tags\":[\"latest\","
				   "\"-bad\",null,\"v1.2\"]}";
	struct shoal_err err;
	json_t *a = json_array();
	assert_int_equal(img_catalog_parse(cat, strlen(cat), a, 2, &err), 0);
	/* Bounded: the third valid name is not taken. */
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "busybox");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "a/b");
	json_decref(a);
	a = json_array();
	assert_int_equal(img_tags_parse(tags, strlen(tags), a, 10, &err), 0);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 1)), "v1.2");
	assert_int_equal(img_tags_parse("{\"tags\":3}", 10, a, 10, &err),
			 -EPROTO);
	assert_int_equal(img_catalog_parse("[1]", 3, a, 10, &err), -EPROTO);
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(references_parse_as_docker_does),
		cmocka_unit_test(bad_references_are_refused),
		cmocka_unit_test(familiar_names_drop_docker_io),
		cmocka_unit_test(challenges_give_realm_service_and_scope),
		cmocka_unit_test(tokens_come_from_token_or_access_token),
		cmocka_unit_test(registry_auth_header_decodes_docker_cli_form),
		cmocka_unit_test(insecure_registries_are_loopback_or_named),
		cmocka_unit_test(login_servers_normalize_as_docker_login),
		cmocka_unit_test(catalog_and_tag_pages_keep_valid_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
