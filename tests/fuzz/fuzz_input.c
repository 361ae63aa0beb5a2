/* fuzz_input.c: the temporary file the IDX and CSV harnesses feed their readers through. */
#include "fuzz_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

static char temporary_path[64];

static void remove_temporary(void)
{
    if (temporary_path[0])
        unlink(temporary_path);
}

static void make_temporary(void)
{
    if (temporary_path[0])
        return;
    strcpy(temporary_path, "/tmp/akt-fuzz-XXXXXX");
    int fd = mkstemp(temporary_path);
    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    close(fd);
    atexit(remove_temporary);
}

const char *fuzz_write_temporary(const uint8_t *data, size_t size, int compress)
{
    make_temporary();
    if (compress) {
        gzFile file = gzopen(temporary_path, "wb");
        if (!file || (size && gzwrite(file, data, (unsigned)size) != (int)size) || gzclose(file) != Z_OK) {
            fprintf(stderr, "cannot write %s\n", temporary_path);
            abort();
        }
        return temporary_path;
    }
    FILE *file = fopen(temporary_path, "wb");
    if (!file || (size && fwrite(data, 1, size, file) != size) || fclose(file) != 0) {
        fprintf(stderr, "cannot write %s\n", temporary_path);
        abort();
    }
    return temporary_path;
}
