/*
 * Small helpers over jansson for request and response bodies: parsing with
 * an error a client can act on (line and column), typed field access with
 * defaults, Docker's error body {"message": "..."}, and serialisation into
 * memory from the project's allocator. The prefix is jsonx_ because json_
 * belongs to jansson. Nothing here keeps state; all of it is thread-safe
 * as far as jansson is.
 */
#ifndef SHOAL_COMMON_JSONX_H
#define SHOAL_COMMON_JSONX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * jsonx_parse() - parse @len bytes of JSON into *@out (owned: json_decref).
 * On failure returns -EINVAL and writes "invalid JSON at line L, column C:
 * reason" into @err (@errlen bytes, may be 0). An empty body is an error.
 * -ENOMEM when jansson could not allocate.
 */
int jsonx_parse(const char *data, size_t len, json_t **out, char *err,
		size_t errlen);

/**
 * jsonx_parse_object() - as jsonx_parse() but the top level must be an
 * object ("expected a JSON object").
 */
int jsonx_parse_object(const char *data, size_t len, json_t **out, char *err,
		       size_t errlen);

/**
 * jsonx_load_file() - the JSON document in the file @path (at most @max
 * bytes) into *@out (owned). The file is read whole, then parsed: not
 * json_loadfd(), which reads a descriptor one byte at a time. Opened
 * close-on-exec. Returns 0, -errno from open/read, -EFBIG past @max,
 * -EINVAL for invalid JSON, -ENOMEM.
 */
int jsonx_load_file(const char *path, size_t max, json_t **out);

/** jsonx_str() - the string at @key of object @o, or @def (borrowed). */
const char *jsonx_str(const json_t *o, const char *key, const char *def);
/** jsonx_int() - the integer at @key, or @def if absent or not an integer. */
int64_t jsonx_int(const json_t *o, const char *key, int64_t def);
/** jsonx_bool() - the boolean at @key, or @def. */
bool jsonx_bool(const json_t *o, const char *key, bool def);
/** jsonx_obj() - the object at @key, or NULL (borrowed). */
json_t *jsonx_obj(const json_t *o, const char *key);

/**
 * jsonx_get_str() - strict variant: 0 and *@out (borrowed) when @key holds a
 * string; -ENOENT when absent; -EINVAL (with "field KEY must be a string" in
 * @err) when of another type.
 */
int jsonx_get_str(const json_t *o, const char *key, const char **out, char *err,
		  size_t errlen);
/** jsonx_get_int() - as jsonx_get_str() for integers. */
int jsonx_get_int(const json_t *o, const char *key, int64_t *out, char *err,
		  size_t errlen);

/**
 * jsonx_set() - o[key] = v, stealing @v (even on failure). NULL @v (a failed
 * constructor) gives -ENOMEM, so builders can chain without checks:
 * rc |= jsonx_set(o, "Name", json_string(name)).
 */
int jsonx_set(json_t *o, const char *key, json_t *v);

/**
 * jsonx_dump() - @v as compact JSON plus a newline (Docker ends bodies with
 * one), in memory owned by the caller (free with shoal_free). NULL on
 * failure; *@len gets the length without the terminating NUL.
 */
char *jsonx_dump(const json_t *v, size_t *len);

/**
 * jsonx_error_body() - {"message":"..."} plus newline for @message (owned,
 * free with shoal_free), or NULL.
 */
char *jsonx_error_body(const char *message, size_t *len);

#endif
