/* test_io.c: the io module under the sweep's resumable file (and akt data's CSV and solve's
 * output files): JSON strings and numbers, CSV fields, and atomic replacement, in particular that
 * a failing writer or a missing directory leaves the old file intact and no temporary behind. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "io/io.h"

/* What a print function writes, as a malloc'd string. */
static char *printed(void (*print)(FILE *, const char *), const char *text)
{
    char *buffer = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buffer, &size);
    if (!out)
        return NULL;
    print(out, text);
    fclose(out);
    return buffer;
}

static void check_text_formats(void)
{
    const char *raw = "a\"b\\c\nd\x01";
    const char *json = "\"a\\\"b\\\\c\\u000ad\\u0001\"";
    char *streamed = printed(akt_io_json_string, raw), *quoted = akt_io_json_quoted(raw);
    CHECK(streamed && !strcmp(streamed, json));
    CHECK(quoted && !strcmp(quoted, json));
    free(streamed);
    free(quoted);
    char *plain = printed(akt_io_csv_field, "target.gamma"), *comma = printed(akt_io_csv_field, "a,\"b\"");
    CHECK(plain && !strcmp(plain, "target.gamma"));
    CHECK(comma && !strcmp(comma, "\"a,\"\"b\"\"\""));
    free(plain);
    free(comma);
    CHECK(akt_io_is_json_number("0.5") && akt_io_is_json_number("-1e-3") && akt_io_is_json_number("10"));
    CHECK(!akt_io_is_json_number("1.") && !akt_io_is_json_number("01") && !akt_io_is_json_number("nan") &&
          !akt_io_is_json_number(".5") && !akt_io_is_json_number("1e") && !akt_io_is_json_number(""));
}

static int write_text(FILE *out, void *context, akt_error *err)
{
    (void)err;
    fputs(context, out);
    return AKT_OK;
}

static int write_then_fail(FILE *out, void *context, akt_error *err)
{
    fputs(context, out);
    return akt_error_set(err, AKT_ERR_NUMERIC, "writer gave up");
}

static char *contents(const char *path)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return NULL;
    char *text = calloc(256, 1);
    if (text && fread(text, 1, 255, in) == 0)
        text[0] = '\0';
    fclose(in);
    return text;
}

static bool same_contents(const char *path, const char *expected)
{
    char *text = contents(path);
    bool same = text && !strcmp(text, expected);
    free(text);
    return same;
}

static void check_replace(const char *directory)
{
    char path[512], temporary[600], missing[600];
    snprintf(path, sizeof path, "%s/table.csv", directory);
    snprintf(temporary, sizeof temporary, "%s.partial", path);
    snprintf(missing, sizeof missing, "%s/no/such/dir/table.csv", directory);
    akt_error err = {0};
    CHECK(akt_io_replace(path, temporary, write_text, "old\n", &err) == AKT_OK);
    CHECK(same_contents(path, "old\n"));
    CHECK(akt_io_replace(path, temporary, write_text, "new\n", &err) == AKT_OK);
    CHECK(same_contents(path, "new\n") && access(temporary, F_OK) != 0);
    /* a writer's failure: its status and message, the old file kept, no temporary left */
    CHECK(akt_io_replace(path, temporary, write_then_fail, "half", &err) == AKT_ERR_NUMERIC);
    CHECK(!strcmp(err.message, "writer gave up"));
    CHECK(same_contents(path, "new\n") && access(temporary, F_OK) != 0);
    /* the default temporary name (<path>.tmp.<pid>) is gone after success too */
    char pid_name[700];
    snprintf(pid_name, sizeof pid_name, "%s.tmp.%ld", path, (long)getpid());
    CHECK(akt_io_replace(path, NULL, write_text, "third\n", &err) == AKT_OK);
    CHECK(same_contents(path, "third\n") && access(pid_name, F_OK) != 0);
    /* no directory: AKT_ERR_IO naming the file */
    CHECK(akt_io_replace(missing, NULL, write_text, "x", &err) == AKT_ERR_IO);
    CHECK(strstr(err.message, "no/such/dir") != NULL);
    /* staged but discarded: the old file stays */
    akt_io_staged staged;
    CHECK(akt_io_stage(&staged, path, NULL, write_text, "staged\n", &err) == AKT_OK);
    CHECK(same_contents(path, "third\n"));
    akt_io_discard(&staged);
    CHECK(same_contents(path, "third\n") && access(pid_name, F_OK) != 0);
    unlink(path);
}

int main(void)
{
    check_text_formats();
    char directory[] = "/tmp/akt-test-io.XXXXXX";
    CHECK(mkdtemp(directory) != NULL);
    check_replace(directory);
    rmdir(directory);
    return check_finish();
}
