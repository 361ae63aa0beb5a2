/* error.c: filling akt_error records (see include/akt/error.h). */
#include "akt/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages are one line (DESIGN.md: one-line errors), even when they quote user input such as
 * a multi-line YAML scalar: control characters become spaces. */
static void keep_one_line(char *message)
{
    for (char *c = message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

int akt_error_set(akt_error *err, int status, const char *format, ...)
{
    if (err) {
        va_list args;
        va_start(args, format);
        vsnprintf(err->message, sizeof err->message, format, args);
        va_end(args);
        keep_one_line(err->message);
        err->status = status;
    }
    return status;
}

int akt_error_prefix(akt_error *err, const char *format, ...)
{
    if (!err)
        return AKT_ERR_INPUT;
    /* Build "prefix + message" in a larger buffer, then cut to the record's size. */
    char joined[2 * AKT_ERROR_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(joined, AKT_ERROR_MESSAGE_SIZE, format, args);
    va_end(args);
    if (length < 0)
        length = 0;
    if (length >= AKT_ERROR_MESSAGE_SIZE)
        length = AKT_ERROR_MESSAGE_SIZE - 1;
    memcpy(joined + length, err->message, strlen(err->message) + 1);
    joined[AKT_ERROR_MESSAGE_SIZE - 1] = '\0';
    keep_one_line(joined);
    memcpy(err->message, joined, AKT_ERROR_MESSAGE_SIZE);
    return err->status;
}

int akt_error_exit_code(int status)
{
    switch (status) {
    case AKT_OK: return 0;
    case AKT_ERR_INPUT: return 2;
    case AKT_ERR_INTERRUPTED: return 130;
    default: return 1;
    }
}
