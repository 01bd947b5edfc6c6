/*
 * The classic builder's Dockerfile parser (engine/build_dockerfile.c):
 * a strict decoder of outside bytes (the Dockerfile of a build context)
 * into instructions, with Docker's rules and words (moby's
 * buildkit/frontend/dockerfile/parser and instructions packages):
 *
 * - parser directives (`# escape=` and `# syntax=`, `# check=`) only
 *   before anything else; the escape character is `\` or a backtick;
 * - comments are whole lines starting with `#` (after blanks), also
 *   inside a continued instruction;
 * - a line ending in the escape character (blanks after it allowed)
 *   continues on the next; blank lines inside a continuation are skipped;
 * - instruction names are case-insensitive; an unknown one is "unknown
 *   instruction: NAME";
 * - flags (`--from=x`) at the start of ADD, COPY, FROM, RUN and
 *   HEALTHCHECK, checked against the instruction's own list ("Unknown
 *   flag: x");
 * - the JSON exec form (`["a","b"]`) where Docker takes it, the shell
 *   form otherwise (and when the JSON is not an array of strings);
 * - heredocs (`<<EOF`, BuildKit's) are refused, naming the line.
 *
 * Bounded: DF_MAX_BYTES of input, DF_MAX_INSTR instructions, lines of
 * any length within that. Nothing is expanded here: `$VAR` stays as
 * written for the builder.
 */
#ifndef SHOAL_ENGINE_BUILD_H
#define SHOAL_ENGINE_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define DF_MAX_BYTES (1u << 20)
#define DF_MAX_INSTR 4096

enum df_kind {
	DF_ADD,
	DF_ARG,
	DF_CMD,
	DF_COPY,
	DF_ENTRYPOINT,
	DF_ENV,
	DF_EXPOSE,
	DF_FROM,
	DF_HEALTHCHECK,
	DF_LABEL,
	DF_MAINTAINER,
	DF_ONBUILD,
	DF_RUN,
	DF_SHELL,
	DF_STOPSIGNAL,
	DF_USER,
	DF_VOLUME,
	DF_WORKDIR,
};

struct df_flag {
	char *name; /* "from" for --from=x */
	char *value;
	bool has_value; /* --link is a flag without one */
};

/*
 * One instruction. @args by instruction:
 *   FROM: image [, "AS", name]      RUN, CMD, ENTRYPOINT, SHELL: the
 *   exec form's words (@json) or one shell string; ENV, LABEL: key,
 *   value pairs (n even); ARG: one "name" or "name=default"; ADD, COPY:
 *   sources then the destination; EXPOSE, VOLUME: the words; WORKDIR,
 *   USER, STOPSIGNAL, MAINTAINER: one string; HEALTHCHECK: "NONE", or
 *   "CMD" then the command as for CMD; ONBUILD: the trigger's text
 *   (@onbuild holds it parsed).
 */
struct df_instr {
	enum df_kind kind;
	int line;	/* of its first line, from 1 */
	char *original; /* "RUN echo hi" as written, continuations joined */
	char **args;	/* NULL-terminated */
	size_t nargs;
	bool json; /* exec form */
	struct df_flag *flags;
	size_t nflags;
	struct df_instr *onbuild; /* ONBUILD's trigger, else NULL */
};

struct df_file {
	struct df_instr *v;
	size_t n;
	char escape; /* '\\' or '`' */
};

/**
 * df_parse() - parse @len bytes of Dockerfile @data. Returns 0 and
 * @out filled (free with df_file_fini()), or -EINVAL with Docker's
 * "dockerfile parse error on line N: ..." in @err (and @out empty),
 * -E2BIG past the bounds, -ENOMEM.
 */
int df_parse(const char *data, size_t len, struct df_file *out,
	     struct shoal_err *err);
void df_file_fini(struct df_file *f);

/** df_kind_name() - "FROM", "RUN", ... */
const char *df_kind_name(enum df_kind k);

/** df_flag() - the value of flag @name of @in, or NULL when absent. */
const struct df_flag *df_flag(const struct df_instr *in, const char *name);

#endif
