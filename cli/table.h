/*
 * Tables as the docker CLI prints them (Go's text/tabwriter with a minimum
 * cell width of 10, padding 3, blanks): each column is as wide as its
 * widest cell plus 3, at least 10; the last column is not padded. Widths
 * count UTF-8 code points. Rows are copied; memory is bounded by what the
 * caller adds. For `node ls`, `service ls`, `service ps` and the like.
 */
#ifndef SHOAL_CLI_TABLE_H
#define SHOAL_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define CLI_TABLE_MINWIDTH 10
#define CLI_TABLE_PADDING 3

struct cli_table;

/** cli_table_new() - a table with @ncols @headers; 0 or -ENOMEM. */
int cli_table_new(size_t ncols, const char *const *headers,
		  struct cli_table **out);
/** cli_table_add() - append a row of ncols cells (copied); 0 or -ENOMEM. */
int cli_table_add(struct cli_table *t, const char *const *cells);
/** cli_table_print() - headers then rows to @f. */
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

#endif
