/* error.c: filling akt_error records (see include/akt/error.h). */
#include "akt/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int akt_error_set(akt_error *err, int status, const char *format, ...)
{
    if (err) {
        va_list args;
        va_start(args, format);
        vsnprintf(err->message, sizeof err->message, format, args);
        va_end(args);
        err->status = status;
    }
    return status;
}

int akt_error_prefix(akt_error *err, const char *format, ...)
{
    if (!err)
        return AKT_ERR_INPUT;
    char prefix[AKT_ERROR_MESSAGE_SIZE];
    char joined[AKT_ERROR_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    vsnprintf(prefix, sizeof prefix, format, args);
    va_end(args);
    snprintf(joined, sizeof joined, "%s%s", prefix, err->message);
    memcpy(err->message, joined, sizeof joined);
    return err->status;
}

int akt_error_exit_code(int status)
{
    switch (status) {
    case AKT_OK: return 0;
    case AKT_ERR_INPUT: return 2;
    default: return 1;
    }
}
