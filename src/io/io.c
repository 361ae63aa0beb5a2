/* io.c: JSON and CSV text and the atomic replacement of files (see io/io.h).
 *
 * Why one module: the escaping rules and the temporary-file dance were written three times
 * (spec printing, sweep tables, data CSV, kernel/trajectory outputs), each with its own gaps
 * (only the sweep fsync'ed; only some unlinked the temporary on every failure). Here each rule
 * exists once. */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

/* ---- JSON ---------------------------------------------------------------------------- */

/* The escaped form of one byte of a JSON string (at most 6 characters and a NUL). */
static const char *json_escape(unsigned char c, char buffer[8])
{
    if (c == '"' || c == '\\')
        snprintf(buffer, 8, "\\%c", c);
    else if (c < 0x20)
        snprintf(buffer, 8, "\\u%04x", c);
    else
        snprintf(buffer, 8, "%c", c);
    return buffer;
}

void akt_io_json_string(FILE *out, const char *text)
{
    char buffer[8];
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        fputs(json_escape(*c, buffer), out);
    fputc('"', out);
}

char *akt_io_json_quoted(const char *text)
{
    char buffer[8];
    size_t length = 3;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        length += strlen(json_escape(*c, buffer));
    char *quoted = malloc(length);
    if (!quoted)
        return NULL;
    size_t used = 0;
    quoted[used++] = '"';
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        const char *escaped = json_escape(*c, buffer);
        size_t n = strlen(escaped);
        memcpy(quoted + used, escaped, n);
        used += n;
    }
    quoted[used++] = '"';
    quoted[used] = '\0';
    return quoted;
}

void akt_io_json_number(FILE *out, double value)
{
    if (isfinite(value))
        fprintf(out, "%.17g", value);
    else
        fputs("null", out);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips one or more digits; NULL when there is none. */
static const char *skip_digits(const char *c)
{
    if (!is_digit(*c))
        return NULL;
    while (is_digit(*c))
        c++;
    return c;
}

bool akt_io_is_json_number(const char *text)
{
    const char *c = text;
    if (*c == '-')
        c++;
    if (*c == '0')
        c++;
    else if (*c >= '1' && *c <= '9')
        c = skip_digits(c);
    else
        return false;
    if (*c == '.' && !(c = skip_digits(c + 1)))
        return false;
    if (*c == 'e' || *c == 'E') {
        c++;
        if (*c == '+' || *c == '-')
            c++;
        if (!(c = skip_digits(c)))
            return false;
    }
    return *c == '\0';
}

/* ---- CSV ----------------------------------------------------------------------------- */

void akt_io_csv_field(FILE *out, const char *text)
{
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

/* ---- atomic replacement -------------------------------------------------------------- */

/* fsync of path's directory, which makes a rename into it durable. Best effort: some file
 * systems refuse fsync on a directory, and the rename has happened either way. */
static void sync_directory(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    char *slash = strrchr(copy, '/');
    const char *directory = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
    int fd = open(directory, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static char *temporary_name(const char *path, const char *temporary)
{
    if (temporary)
        return strdup(temporary);
    size_t size = strlen(path) + 32;
    char *name = malloc(size);
    if (name)
        snprintf(name, size, "%s.tmp.%ld", path, (long)getpid());
    return name;
}

/* Runs write on an open stream and makes its content durable; closes the stream. */
static int write_and_sync(FILE *file, const akt_io_staged *staged, akt_io_writer write,
                          void *context, akt_error *err)
{
    int status = write(file, context, err);
    bool failed = ferror(file) != 0 || fflush(file) != 0 || fsync(fileno(file)) != 0;
    int saved = errno;
    if (fclose(file) != 0 && !failed) {
        failed = true;
        saved = errno;
    }
    if (status == AKT_OK && failed)
        status = akt_error_set(err, AKT_ERR_IO, "%s: write failed: %s", staged->path,
                               strerror(saved));
    return status;
}

void akt_io_discard(akt_io_staged *staged)
{
    if (staged->temporary)
        unlink(staged->temporary);
    free(staged->temporary);
    free(staged->path);
    staged->temporary = staged->path = NULL;
}

int akt_io_stage(akt_io_staged *staged, const char *path, const char *temporary,
                 akt_io_writer write, void *context, akt_error *err)
{
    staged->path = strdup(path);
    staged->temporary = temporary_name(path, temporary);
    if (!staged->path || !staged->temporary) {
        free(staged->path);
        free(staged->temporary);
        staged->temporary = staged->path = NULL;
        return akt_out_of_memory(err, "a file name");
    }
    FILE *file = fopen(staged->temporary, "w");
    if (!file) {
        int status = akt_error_set(err, AKT_ERR_IO, "%s: cannot create: %s", staged->temporary,
                                   strerror(errno));
        free(staged->temporary);   /* nothing was created: nothing to unlink */
        staged->temporary = NULL;
        akt_io_discard(staged);
        return status;
    }
    int status = write_and_sync(file, staged, write, context, err);
    if (status != AKT_OK)
        akt_io_discard(staged);
    return status;
}

int akt_io_commit(akt_io_staged *staged, akt_error *err)
{
    if (rename(staged->temporary, staged->path) != 0) {
        int status = akt_error_set(err, AKT_ERR_IO, "%s: cannot rename %s into place: %s",
                                   staged->path, staged->temporary, strerror(errno));
        akt_io_discard(staged);
        return status;
    }
    sync_directory(staged->path);
    free(staged->temporary);   /* renamed: the name is gone, nothing to unlink */
    staged->temporary = NULL;
    akt_io_discard(staged);
    return AKT_OK;
}

int akt_io_replace(const char *path, const char *temporary, akt_io_writer write, void *context,
                   akt_error *err)
{
    akt_io_staged staged;
    int status = akt_io_stage(&staged, path, temporary, write, context, err);
    return status == AKT_OK ? akt_io_commit(&staged, err) : status;
}
