/* spec_test_util.h: writing a spec to a temporary file and asserting on load errors.
 * Shared by the tests of the spec suite. */
#ifndef AKT_SPEC_TEST_UTIL_H
#define AKT_SPEC_TEST_UTIL_H

/* mkdtemp and realpath. */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akt/spec.h"
#include "../check.h"

static char spec_test_dir[256];

/* A fresh directory for this test program's files. */
static inline const char *test_dir(void)
{
    if (!spec_test_dir[0]) {
        snprintf(spec_test_dir, sizeof spec_test_dir, "/tmp/akt_spec_test_XXXXXX");
        if (!mkdtemp(spec_test_dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return spec_test_dir;
}

/* Writes text to DIR/name and returns the path (static storage, one at a time). */
static inline const char *write_spec(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_dir(), name);
    FILE *file = fopen(path, "w");
    if (!file || fputs(text, file) < 0 || fclose(file)) {
        perror(path);
        exit(1);
    }
    return path;
}

#ifndef SPEC_TEST_NO_EXPECT
/* Loads text (from a file "spec.yaml") with overrides and checks it fails with AKT_ERR_INPUT, a
 * one-line message, an emptied spec, and a message containing every fragment; a fragment that
 * starts with ':' is prefixed with the file's path (so ":3:10: x" means "PATH:3:10: x"). */
#define EXPECT_ERROR(text, overrides, count, ...)                                              \
    expect_error_at(__LINE__, text, overrides, count, (const char *[]){ __VA_ARGS__, NULL })

static inline void expect_error_at(int line, const char *text, const char *const *overrides, size_t count,
                            const char **fragments)
{
    const char *path = write_spec("spec.yaml", text);
    akt_spec spec;
    akt_error err = { 0 };
    int status = akt_spec_load(&spec, path, overrides, count, &err);
    bool ok = status == AKT_ERR_INPUT && err.status == AKT_ERR_INPUT && !strchr(err.message, '\n') &&
              spec.file == NULL && spec.sweep == NULL;
    for (size_t i = 0; fragments[i]; i++) {
        char expected[1024];
        if (fragments[i][0] == ':')
            snprintf(expected, sizeof expected, "%s%s", path, fragments[i]);
        else
            snprintf(expected, sizeof expected, "%s", fragments[i]);
        if (!strstr(err.message, expected)) {
            fprintf(stderr, "line %d: message lacks \"%s\"\n", line, expected);
            ok = false;
        }
    }
    if (!ok)
        fprintf(stderr, "line %d: status %d, message: %s\n", line, status, err.message);
    CHECK(ok);
    akt_spec_free(&spec);
}
#endif

#endif
