/*
 * Fixtures for the image store's tests: tar archives built with libarchive
 * from tables of entries, docker-save and OCI archives made of them, and a
 * recursive listing of a folder to prove that a failed load left nothing
 * behind. Shared by tests/unit/image and tests/system/image.
 */
#ifndef SHOAL_TESTS_IMAGE_FIXTURES_H
#define SHOAL_TESTS_IMAGE_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>

/* One tar entry. type: 'f' file, 'd' folder, 'l' symlink, 'h' hard link,
 * 'c' character device 0/0, 'u' file owned by 1234:5678, 'X' folder with the
 * xattrs user.shoal.test=yes and the forged trusted.overlay.opaque=y and
 * user.overlay.opaque=y. @data is the content (files) or the target. */
struct fx_entry {
	const char *path;
	char type;
	const char *data;
	unsigned mode;
};

enum fx_filter {
	FX_PLAIN,
	FX_GZIP,
	FX_XZ,
	FX_BZIP2,
	FX_ZSTD,
};

/* Writes a tar of @n entries to @path; returns 0 or -1. */
int fx_write_tar(const char *path, const struct fx_entry *e, size_t n,
		 enum fx_filter filter);

/* A named buffer, for archives of whole files (docker save, OCI). */
struct fx_file {
	char *name;
	char *data;
	size_t len;
};

int fx_write_files(const char *path, const struct fx_file *f, size_t n,
		   enum fx_filter filter);

/* Reads a whole file (malloc'd, NUL-terminated); NULL on failure. */
char *fx_read(const char *path, size_t *len);
/* sha256 of a file as 64 hex digits into @hex (65 bytes). */
int fx_sha256_file(const char *path, char *hex);
void fx_sha256(const void *p, size_t n, char *hex);

/*
 * A docker save archive at @out with one image: layer tars @l1 (plain) and
 * @l2 (gzip) given as entry tables, config @config_fmt with two "%s" for
 * the two DiffIDs, and @tag. @work is a scratch folder. The config's hex
 * id goes to @id (65 bytes) when non-NULL.
 */
int fx_docker_save(const char *work, const char *out, const struct fx_entry *l1,
		   size_t n1, const struct fx_entry *l2, size_t n2,
		   const char *config_fmt, const char *tag, char *id);

/* @fmt with its two "%s" replaced by @d1 and @d2. */
void fx_fill_config(char *out, size_t cap, const char *fmt, const char *d1,
		    const char *d2);

/* An OCI layout archive at @out: one image, one gzip layer, named @name. */
int fx_oci_layout(const char *work, const char *out, const struct fx_entry *l,
		  size_t n, const char *name, char *id);

/* A gzip-compressed OCI layout whose index.json names (ref.name @name)
 * a nested index of an attestation, an arm64 and an amd64 manifest; the
 * amd64 config's hex id goes to @id. */
int fx_oci_multiarch(const char *work, const char *out,
		     const struct fx_entry *l, size_t n, const char *name,
		     char *id);

/* A pre-25 docker save: layer folders, the second layer a symbolic link
 * to the first (the same layer used twice). */
int fx_docker_save_legacy(const char *work, const char *out,
			  const struct fx_entry *l, size_t n, const char *tag,
			  char *id);

/* Copies tar @in to @out leaving out the entry named @skip. */
int fx_copy_without(const char *in, const char *out, const char *skip);

/* Every path under @dir with its type and size, sorted, one per line
 * (malloc'd). Two equal listings mean nothing was added or removed. */
char *fx_listing(const char *dir);

/* The base layer and whiteout layer the tests use. */
extern const struct fx_entry fx_base_layer[];
extern const size_t fx_base_layer_n;
extern const struct fx_entry fx_upper_layer[];
extern const size_t fx_upper_layer_n;
extern const char fx_config_fmt[];

#endif
