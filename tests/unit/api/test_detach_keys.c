/*
 * Unit tests of Docker's detach keys (api/detach_keys.c): the spec parser
 * with moby term.ToBytes()'s forms and refusals, and the stdin scanner
 * that holds back a possible start of the sequence, gives it back when
 * the sequence breaks and detaches when it completes, across reads.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <string.h>

#include "api/detach_keys.h"

static void specs_parse_as_dockers_term_to_bytes(void **state)
{
	struct api__detach d;

	assert_int_equal(api__detach_parse(NULL, &d), 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.keys[0], 16); /* ctrl-p */
	assert_int_equal(d.keys[1], 17); /* ctrl-q */
	assert_int_equal(api__detach_parse("ctrl-a,X,ctrl-@,ctrl-[,CTRL-_", &d),
			 0);
	assert_int_equal(d.n, 5);
	assert_int_equal(d.keys[0], 1);
	assert_int_equal(d.keys[1], 'X');
	assert_int_equal(d.keys[2], 0);
	assert_int_equal(d.keys[3], 27);
	assert_int_equal(d.keys[4], 31);
	assert_int_equal(api__detach_parse("ctrl-\\,ctrl-],ctrl-^", &d), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.keys[0], 28);
	assert_int_equal(d.keys[1], 29);
	assert_int_equal(d.keys[2], 30);
	assert_int_equal(api__detach_parse("ctrl-1", &d), -EINVAL);
	assert_int_equal(api__detach_parse("ab", &d), -EINVAL);
	assert_int_equal(api__detach_parse("a,,b", &d), -EINVAL);
	assert_int_equal(api__detach_parse("a,", &d), -EINVAL);
	assert_int_equal(
		api__detach_parse("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", &d),
		-EINVAL); /* more than API__DETACH_MAX */
}

static void
the_scanner_forwards_other_bytes_and_detaches_on_the_sequence(void **state)
{
	struct api__detach d;
	char out[64];
	size_t n;

	assert_int_equal(api__detach_parse(NULL, &d), 0);
	assert_false(api__detach_scan(&d, "abc", 3, out, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(out, "abc", 3);
	/* A ctrl-p alone at the end of a read is held back... */
	assert_false(api__detach_scan(&d, "x\x10", 2, out, &n));
	assert_int_equal(n, 1);
	/* ...and given back when the next byte breaks the sequence. */
	assert_false(api__detach_scan(&d, "y", 1, out, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x10y", 2);
	/* The sequence across two reads detaches; the keys are not sent. */
	assert_false(api__detach_scan(&d, "z\x10", 2, out, &n));
	assert_int_equal(n, 1);
	assert_true(api__detach_scan(&d, "\x11tail", 5, out, &n));
	assert_int_equal(n, 0);
	/* ctrl-p ctrl-p ctrl-q: the first is given back, then detach. */
	assert_true(api__detach_scan(&d, "\x10\x10\x11", 3, out, &n));
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0x10);
}

static void a_one_key_sequence_detaches_at_once(void **state)
{
	struct api__detach d;
	char out[64];
	size_t n;

	assert_int_equal(api__detach_parse("ctrl-x", &d), 0);
	assert_true(api__detach_scan(&d,
				     "ab\x18"
				     "cd",
				     5, out, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(out, "ab", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(specs_parse_as_dockers_term_to_bytes),
		cmocka_unit_test(
			the_scanner_forwards_other_bytes_and_detaches_on_the_sequence),
		cmocka_unit_test(a_one_key_sequence_detaches_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
