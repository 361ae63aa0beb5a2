/* io.h: the file formats libakt writes, defined once for data, solve and the applications.
 *
 * Internal to the library (not installed). Three things every writer needs the same way:
 *   - JSON text: strings escaped as RFC 8259 asks, doubles with 17 significant digits (which
 *     read back as the same double) or null for NaN/Inf, and the test whether a text already is
 *     a JSON number (a swept value such as "0.5" stays a number in a JSON row);
 *   - CSV fields quoted as RFC 4180 asks (only when a comma, quote or line break needs it);
 *   - atomic replacement of a file: the new content goes to a temporary name in the same
 *     directory, is flushed and fsync'ed, and rename() puts it in place (atomic on POSIX within
 *     a directory), then the directory is fsync'ed so that the rename itself survives a crash.
 *     A reader or a crash sees the old file or the new one, never a mix or a half; any failure
 *     unlinks the temporary and leaves the old file as it was.
 * Uses only libc and the core layer, so that every layer above may use it. */
#ifndef AKT_IO_IO_H
#define AKT_IO_IO_H

#include <stdbool.h>
#include <stdio.h>

#include "akt/error.h"

/* ---- JSON ---------------------------------------------------------------------------- */

/* text as a JSON string: quoted, '"' and '\' escaped, control characters as \u00XX; other
 * bytes (UTF-8 included) as they are. */
void akt_io_json_string(FILE *out, const char *text);

/* The same quoted text as a malloc'd string (for writers that build text in memory), or NULL
 * when out of memory. */
char *akt_io_json_quoted(const char *text);

/* A double as JSON: %.17g, or null for NaN and infinities (JSON has no such numbers). */
void akt_io_json_number(FILE *out, double value);

/* True if text is a JSON number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
bool akt_io_is_json_number(const char *text);

/* ---- CSV ----------------------------------------------------------------------------- */

/* One CSV field: text as it is, or double-quoted with inner quotes doubled when it holds a
 * comma, a quote or a line break. */
void akt_io_csv_field(FILE *out, const char *text);

/* ---- atomic replacement -------------------------------------------------------------- */

/* Writes a file's whole content to out; returns AKT_OK or a status set in err. Write errors of
 * the stream itself need not be checked: the caller of the writer checks the stream after it. */
typedef int (*akt_io_writer)(FILE *out, void *context, akt_error *err);

/* Replaces path by what write produces. temporary is the name written first (it must be in
 * path's directory); NULL means "<path>.tmp.<pid>", which no other process uses. A fixed name
 * (akt sweep's "<path>.partial") lets a signal handler or a later run find and remove what a
 * killed process left. Errors are AKT_ERR_IO naming the file (or write's own status); on any
 * failure the temporary is unlinked and path is untouched. */
int akt_io_replace(const char *path, const char *temporary, akt_io_writer write, void *context,
                   akt_error *err);

/* The two halves of akt_io_replace, for replacing several files together (all written before
 * any is renamed). akt_io_stage writes and fsyncs the temporary; akt_io_commit renames it into
 * place and fsyncs the directory; akt_io_discard unlinks a staged temporary that will not be
 * committed. Each staged file ends with exactly one akt_io_commit or akt_io_discard (commit
 * discards on failure), which also free what stage allocated. */
typedef struct {
    char *path;
    char *temporary;
} akt_io_staged;

int akt_io_stage(akt_io_staged *staged, const char *path, const char *temporary,
                 akt_io_writer write, void *context, akt_error *err);
int akt_io_commit(akt_io_staged *staged, akt_error *err);
void akt_io_discard(akt_io_staged *staged);

#endif
