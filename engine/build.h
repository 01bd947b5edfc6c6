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

#include <jansson.h>

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

/* df_lookup_fn - the value of variable @name, or NULL when unset. */
typedef const char *df_lookup_fn(const char *name, void *arg);

/**
 * df_expand() - Docker's processing of one word (engine/build_words.c):
 * variables expanded through @lookup, quotes removed, the escape
 * character @esc applied. 0 and *@out (free with shoal_free()), or
 * -EINVAL with Docker's words in @err ("unsupported modifier ..."),
 * -E2BIG past DF_MAX_BYTES.
 */
int df_expand(const char *word, char esc, df_lookup_fn *lookup, void *arg,
	      char **out, struct shoal_err *err);

/* The classic builder (engine/build.c). */
struct eng;
struct eng_build;

struct eng_build_opts {
	const char *context;	/* the context tar's path (read at start) */
	const char *dockerfile; /* in the context; NULL: "Dockerfile" */
	const char *const *tags;
	size_t n_tags;
	const json_t *build_args; /* {"NAME": "value" | null}, or NULL */
	const char *target;	  /* the stage to stop after, or NULL */
	bool no_cache, quiet, rm, force_rm;
};

/* A line of the build's output (Docker's {"stream": ...}), borrowed. */
typedef void eng_build_out_fn(const char *text, void *arg);
/* The end: 0 and the image id, or a code and @msg; borrowed. */
typedef void eng_build_done_fn(int rc, const char *msg, const char *image_id,
			       void *arg);

/**
 * eng_build_start() - build on the engine's loop (Docker's POST /build,
 * classic builder). @o is copied; the context file is read by a worker
 * after the call (keep it until @done). 0 and *@b, then @out for each
 * line and @done once, never from inside this call (unless
 * eng_build_detach()); or a negative code with @err and no callback.
 */
int eng_build_start(struct eng *e, const struct eng_build_opts *o,
		    eng_build_out_fn *out, eng_build_done_fn *done, void *arg,
		    struct eng_build **b, struct shoal_err *err);

/** eng_build_detach() - the client left: no callback runs any more, the
 * build stops before its next step and removes what it made meanwhile
 * (images already committed stay, as Docker's). */
void eng_build_detach(struct eng_build *b);

#endif
