/*
 * JSON helpers: see jsonx.h. Serialisation sizes the output with a first
 * json_dumpb() pass and writes it with a second, so the memory comes from
 * shoal_malloc whatever allocator jansson was given.
 */
#include "common/jsonx.h"
#include "common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int jsonx_parse(const char *data, size_t len, json_t **out, char *err,
		size_t errlen)
{
	json_error_t e;
	*out = NULL;
	if (len == 0) {
		if (errlen)
			snprintf(err, errlen, "empty request body");
		return -EINVAL;
	}
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
	if (!v) {
		if (json_error_code(&e) == json_error_out_of_memory)
			return -ENOMEM;
		if (errlen)
			snprintf(err, errlen,
				 "invalid JSON at line %d, column %d: %s",
				 e.line, e.column, e.text);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int jsonx_parse_object(const char *data, size_t len, json_t **out, char *err,
		       size_t errlen)
{
	int rc = jsonx_parse(data, len, out, err, errlen);
	if (rc == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		if (errlen)
			snprintf(err, errlen, "expected a JSON object");
		return -EINVAL;
	}
	return rc;
}

const char *jsonx_str(const json_t *o, const char *key, const char *def)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : def;
}

int64_t jsonx_int(const json_t *o, const char *key, int64_t def)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool jsonx_bool(const json_t *o, const char *key, bool def)
{
	json_t *v = json_object_get(o, key);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *jsonx_obj(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_object(v) ? v : NULL;
}

int jsonx_get_str(const json_t *o, const char *key, const char **out, char *err,
		  size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return -ENOENT;
	if (!json_is_string(v)) {
		if (errlen)
			snprintf(err, errlen, "field %s must be a string", key);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

int jsonx_get_int(const json_t *o, const char *key, int64_t *out, char *err,
		  size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return -ENOENT;
	if (!json_is_integer(v)) {
		if (errlen)
			snprintf(err, errlen, "field %s must be an integer",
				 key);
		return -EINVAL;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

int jsonx_set(json_t *o, const char *key, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_set_new(o, key, v) ? -ENOMEM : 0;
}

char *jsonx_dump(const json_t *v, size_t *len)
{
	const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
	size_t n = json_dumpb(v, NULL, 0, flags);
	if (n == 0)
		return NULL;
	char *s = shoal_malloc(n + 2);
	if (!s)
		return NULL;
	if (json_dumpb(v, s, n, flags) != n) {
		shoal_free(s);
		return NULL;
	}
	s[n] = '\n';
	s[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return s;
}

char *jsonx_error_body(const char *message, size_t *len)
{
	json_t *o = json_pack("{s:s}", "message", message);
	if (!o)
		return NULL;
	char *s = jsonx_dump(o, len);
	json_decref(o);
	return s;
}

int jsonx_load_file(const char *path, size_t max, json_t **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && (st.st_size < 0 || (uint64_t)st.st_size > max))
		rc = -EFBIG;
	size_t cap = rc == 0 ? (size_t)st.st_size + 1 : 0;
	char *buf = rc == 0 ? shoal_malloc(cap) : NULL;
	if (rc == 0 && !buf)
		rc = -ENOMEM;
	size_t len = 0;
	while (rc == 0) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else if (n == 0)
			break;
		else if ((len += (size_t)n) == cap)
			rc = -EFBIG; /* grew while we read it */
	}
	close(fd);
	if (rc == 0) {
		json_error_t je;
		*out = json_loadb(buf, len, 0, &je);
		rc = *out ? 0 : -EINVAL;
	}
	shoal_free(buf);
	return rc;
}
