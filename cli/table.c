/*
 * Table printer: see table.h. Cells are kept as one owned string each in
 * row-major order; widths are computed at print time.
 */
#include "cli/table.h"
#include "common/alloc.h"

#include <errno.h>
#include <string.h>

struct cli_table {
	size_t ncols;
	size_t nrows; /* including the header row */
	size_t cap;
	char **cells;
};

static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		char **n =
			shoal_realloc(t->cells, ncap * t->ncols * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->cells = n;
		t->cap = ncap;
	}
	char **row = t->cells + t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		row[i] = shoal_strdup(cells[i] ? cells[i] : "");
		if (!row[i]) {
			while (i-- > 0)
				shoal_free(row[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

int cli_table_new(size_t ncols, const char *const *headers,
		  struct cli_table **out)
{
	struct cli_table *t = shoal_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ncols = ncols;
	int rc = cli_table_add(t, headers);
	if (rc < 0) {
		cli_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t *w = shoal_calloc(t->ncols, sizeof(*w));
	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cells[r * t->ncols + c]) +
				    CLI_TABLE_PADDING;
			if (cw < CLI_TABLE_MINWIDTH)
				cw = CLI_TABLE_MINWIDTH;
			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			fputs(s, f);
			if (c + 1 == t->ncols)
				break;
			for (size_t p = width(s); p < w[c]; p++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	shoal_free(w);
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		shoal_free(t->cells[i]);
	shoal_free(t->cells);
	shoal_free(t);
}
