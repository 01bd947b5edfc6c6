/*
 * Unit tests of the classic builder's Dockerfile parser
 * (engine/build_dockerfile.c): continuations with both escape
 * characters, comments inside continuations, parser directives only at
 * the top, the exec and shell forms, flags and Docker's refusals
 * (unknown instruction, unknown flag, BuildKit-only flags, heredocs,
 * ONBUILD chains, FROM arity and stage names, ENV without '='), the
 * bounds, and no leak on any path.
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
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "engine/build.h"

static struct df_file parse_ok(const char *text)
{
	struct df_file f;
	struct shoal_err err = {""};
	int rc = df_parse(text, strlen(text), &f, &err);
	if (rc != 0)
		fail_msg("%s: %s", text, err.msg);
	return f;
}

static void refused(const char *text, const char *want)
{
	struct df_file f;
	struct shoal_err err = {""};
	int64_t live = shoal_alloc_live();
	int rc = df_parse(text, strlen(text), &f, &err);
	if (rc == 0 || !strstr(err.msg, want))
		fail_msg("%s: got rc %d, \"%s\", want \"%s\"", text, rc,
			 err.msg, want);
	assert_int_equal(f.n, 0);
	assert_int_equal(shoal_alloc_live(), live);
}

static void instructions_continuations_and_comments(void **state)
{
	int64_t live = shoal_alloc_live();
	struct df_file f = parse_ok("# a comment\n"
				    "FROM busybox AS base\n"
				    "\n"
				    "run echo a \\\n"
				    "  # a comment inside\n"
				    "\n"
				    "  b   \n"
				    "CMD [\"sh\", \"-c\", \"echo hi\"]\r\n"
				    "ENTRYPOINT [\"broken json\"\n"
				    "ENV A=1 B=\"two words\"\n"
				    "ENV LEGACY value with spaces\n");
	assert_int_equal(f.n, 6);
	assert_int_equal(f.v[0].kind, DF_FROM);
	assert_int_equal(f.v[0].line, 2);
	assert_int_equal(f.v[0].nargs, 3);
	assert_string_equal(f.v[0].args[2], "base");
	assert_int_equal(f.v[1].kind, DF_RUN);
	assert_int_equal(f.v[1].line, 4);
	assert_false(f.v[1].json);
	assert_string_equal(f.v[1].args[0], "echo a   b");
	assert_string_equal(f.v[1].original, "run echo a   b");
	assert_true(f.v[2].json);
	assert_int_equal(f.v[2].nargs, 3);
	assert_string_equal(f.v[2].args[2], "echo hi");
	/* Not a JSON array of strings: the shell form, as Docker. */
	assert_false(f.v[3].json);
	assert_string_equal(f.v[3].args[0], "[\"broken json\"");
	assert_int_equal(f.v[4].nargs, 4);
	assert_string_equal(f.v[4].args[0], "A");
	assert_string_equal(f.v[4].args[3], "\"two words\"");
	assert_string_equal(f.v[5].args[0], "LEGACY");
	assert_string_equal(f.v[5].args[1], "value with spaces");
	df_file_fini(&f);
	assert_int_equal(shoal_alloc_live(), live);
}

static void the_escape_directive_changes_the_continuation(void **state)
{
	struct df_file f = parse_ok("# escape=`\n"
				    "FROM busybox\n"
				    "RUN dir c:\\ `\n"
				    "  && echo done\n");
	assert_int_equal(f.escape, '`');
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[1].args[0], "dir c:\\   && echo done");
	df_file_fini(&f);
	/* Below the first instruction a directive is only a comment. */
	f = parse_ok("FROM busybox\n# escape=`\nRUN a \\\n b\n");
	assert_int_equal(f.escape, '\\');
	assert_string_equal(f.v[1].args[0], "a  b");
	df_file_fini(&f);
	refused("# escape=x\nFROM busybox\n", "invalid escape token 'x'");
	refused("# escape=`\n# escape=\\\nFROM busybox\n",
		"only one escape parser directive");
}

static void flags_are_parsed_and_checked(void **state)
{
	struct df_file f = parse_ok("FROM --platform=linux/amd64 busybox\n"
				    "COPY --from=base --chown=1:2 a b /dst/\n"
				    "HEALTHCHECK --interval=5s --retries=3 CMD "
				    "true\n"
				    "HEALTHCHECK NONE\n");
	assert_string_equal(df_flag(&f.v[0], "platform")->value, "linux/amd64");
	assert_string_equal(df_flag(&f.v[1], "from")->value, "base");
	assert_string_equal(df_flag(&f.v[1], "chown")->value, "1:2");
	assert_int_equal(f.v[1].nargs, 3);
	assert_string_equal(f.v[1].args[2], "/dst/");
	assert_int_equal(f.v[2].nflags, 2);
	assert_string_equal(f.v[2].args[0], "CMD");
	assert_string_equal(f.v[2].args[1], "true");
	assert_string_equal(f.v[3].args[0], "NONE");
	assert_null(df_flag(&f.v[3], "interval"));
	df_file_fini(&f);
	refused("FROM busybox\nCOPY --frm=x a b\n",
		"line 2: Unknown flag: frm");
	refused("FROM busybox\nADD --from=x a b\n", "Unknown flag: from");
	refused("FROM busybox\nRUN --mount=type=cache,target=/x true\n",
		"the --mount option requires BuildKit");
	refused("FROM busybox\nCOPY --chmod=755 a b\n",
		"the --chmod option requires BuildKit");
	refused("FROM busybox\nCOPY --from=a --from=b x y\n",
		"Duplicate flag specified: from");
	refused("FROM busybox\nHEALTHCHECK NONE x\n",
		"HEALTHCHECK NONE takes no arguments");
	refused("FROM busybox\nHEALTHCHECK RUN x\n", "Unknown type \"RUN\"");
}

static void dockers_refusals_name_the_line(void **state)
{
	refused("FROM busybox\nFROBNICATE x\n",
		"dockerfile parse error on line 2: unknown instruction: "
		"FROBNICATE");
	refused("FROM a b\n", "FROM requires either one or three arguments");
	refused("FROM a AS 9x\n", "invalid name for build stage");
	refused("FROM busybox\nENV A=1 B\n", "can't find = in \"B\"");
	refused("FROM busybox\nENV =x\n", "ENV names can not be blank");
	refused("FROM busybox\nENV A\n", "ENV must have two arguments");
	refused("FROM busybox\nCOPY onlyone\n",
		"COPY requires at least two arguments");
	refused("FROM busybox\nSHELL /bin/sh -c\n",
		"SHELL requires the arguments to be in JSON form");
	refused("FROM busybox\nWORKDIR\n", "WORKDIR requires exactly one");
	refused("FROM busybox\nSTOPSIGNAL a b\n",
		"STOPSIGNAL requires exactly one");
	refused("FROM busybox\nONBUILD ONBUILD RUN x\n",
		"Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	refused("FROM busybox\nONBUILD FROM x\n",
		"FROM isn't allowed as an ONBUILD trigger");
	refused("FROM busybox\nONBUILD BOGUS x\n",
		"unknown instruction: BOGUS");
	refused("RUN true\nFROM busybox\n",
		"no build stage in current context");
	refused("# only a comment\n\n", "no instructions");
	static const char nul[] = "FROM busybox\nRUN x\0y\n";
	struct df_file f;
	struct shoal_err err = {""};
	assert_int_equal(df_parse(nul, sizeof(nul) - 1, &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "NUL byte"));
}

static void heredocs_are_refused_clearly(void **state)
{
	refused("FROM busybox\nRUN <<EOF\necho hi\nEOF\n",
		"line 2: heredocs (<<WORD) are a BuildKit feature");
	refused("FROM busybox\nCOPY <<-'X' /a\nX\n", "heredocs");
	/* A here-string and the exec form are not heredocs. */
	struct df_file f = parse_ok("FROM busybox\nRUN cat <<< 'x'\n"
				    "RUN [\"sh\", \"-c\", \"cat <<EOF\"]\n");
	assert_int_equal(f.n, 3);
	df_file_fini(&f);
}

static void onbuild_arg_and_volume_forms(void **state)
{
	struct df_file f = parse_ok("ARG BASE=busybox\n"
				    "FROM $BASE\n"
				    "ONBUILD RUN echo triggered\n"
				    "VOLUME [\"/a\", \"/b\"]\n"
				    "VOLUME /c /d\n"
				    "EXPOSE 80 443/udp\n"
				    "LABEL a=b\n"
				    "USER nobody\n"
				    "STOPSIGNAL SIGINT\n"
				    "MAINTAINER someone <x@y>\n");
	assert_int_equal(f.v[0].kind, DF_ARG);
	assert_string_equal(f.v[0].args[0], "BASE=busybox");
	assert_string_equal(f.v[1].args[0], "$BASE");
	assert_non_null(f.v[2].onbuild);
	assert_int_equal(f.v[2].onbuild->kind, DF_RUN);
	assert_string_equal(f.v[2].onbuild->args[0], "echo triggered");
	assert_true(f.v[3].json);
	assert_int_equal(f.v[3].nargs, 2);
	assert_int_equal(f.v[4].nargs, 2);
	assert_int_equal(f.v[5].nargs, 2);
	assert_string_equal(f.v[9].args[0], "someone <x@y>");
	df_file_fini(&f);
}

static void bounds_are_kept(void **state)
{
	size_t n = DF_MAX_BYTES + 1;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	struct df_file f;
	struct shoal_err err;
	assert_int_equal(df_parse(big, n, &f, &err), -E2BIG);
	free(big);
	/* One instruction past the limit. */
	size_t cap = (DF_MAX_INSTR + 2) * 8;
	char *many = malloc(cap);
	assert_non_null(many);
	strcpy(many, "FROM a\n");
	for (int i = 0; i < DF_MAX_INSTR; i++)
		strcat(many, "USER a\n");
	int64_t live = shoal_alloc_live();
	assert_int_equal(df_parse(many, strlen(many), &f, &err), -E2BIG);
	assert_int_equal(shoal_alloc_live(), live);
	free(many);
}

static const char *vars(const char *name, void *arg)
{
	if (!strcmp(name, "A"))
		return "one";
	if (!strcmp(name, "EMPTY"))
		return "";
	return NULL;
}

static void expands(const char *in, const char *want)
{
	char *out = NULL;
	struct shoal_err err = {""};
	if (df_expand(in, '\\', vars, NULL, &out, &err) != 0)
		fail_msg("%s: %s", in, err.msg);
	if (strcmp(out, want))
		fail_msg("%s gave \"%s\", want \"%s\"", in, out, want);
	shoal_free(out);
}

static void words_expand_and_unquote_as_dockers_lexer(void **state)
{
	int64_t live = shoal_alloc_live();
	expands("$A", "one");
	expands("${A}x", "onex");
	expands("'$A'", "$A");
	expands("\"$A b\"", "one b");
	expands("\\$A", "$A");
	expands("${NONE:-dflt}", "dflt");
	expands("${EMPTY:-dflt}", "dflt");
	expands("${EMPTY-dflt}", "");
	expands("${A:+alt}", "alt");
	expands("${NONE:+alt}", "");
	expands("${NONE:-${A}}", "one");
	expands("$NONE.$", ".$");
	expands("a\\ b", "a b");
	char *out;
	struct shoal_err err = {""};
	assert_int_equal(df_expand("${A?x}", '\\', vars, NULL, &out, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "unsupported modifier"));
	assert_int_equal(df_expand("\"open", '\\', vars, NULL, &out, &err),
			 -EINVAL);
	assert_int_equal(df_expand("${A", '\\', vars, NULL, &out, &err),
			 -EINVAL);
	assert_int_equal(shoal_alloc_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(instructions_continuations_and_comments),
		cmocka_unit_test(the_escape_directive_changes_the_continuation),
		cmocka_unit_test(flags_are_parsed_and_checked),
		cmocka_unit_test(dockers_refusals_name_the_line),
		cmocka_unit_test(heredocs_are_refused_clearly),
		cmocka_unit_test(onbuild_arg_and_volume_forms),
		cmocka_unit_test(bounds_are_kept),
		cmocka_unit_test(words_expand_and_unquote_as_dockers_lexer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
