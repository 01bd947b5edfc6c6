/*
 * Error strings: the project table of error.h, falling back to libc's
 * strerrordesc_np()/strerrorname_np() (glibc 2.32) for errno values, which,
 * unlike strerror(), return static strings and are thread-safe.
 */
#include "common/error.h"

#include <string.h>

const char *shoal_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define SHOAL_ERROR_TEXT(name, n, text)                                        \
	case name:                                                             \
		return text;
		SHOAL_ERROR_TABLE(SHOAL_ERROR_TEXT)
#undef SHOAL_ERROR_TEXT
	default:
		break;
	}
	const char *s = code < 0 ? strerrordesc_np(-code) : NULL;
	return s ? s : "unknown error";
}

const char *shoal_errname(int code)
{
	switch (code) {
	case 0:
		return "OK";
#define SHOAL_ERROR_NAME(name, n, text)                                        \
	case name:                                                             \
		return #name;
		SHOAL_ERROR_TABLE(SHOAL_ERROR_NAME)
#undef SHOAL_ERROR_NAME
	default:
		break;
	}
	const char *s = code < 0 ? strerrorname_np(-code) : NULL;
	return s ? s : "EUNKNOWN";
}
