/* report.h: everything akt shows a person or a program, written to a stream the caller owns.
 *
 * The library computes; this module formats. The JSON form is the output contract of
 * DESIGN.md (tests and outside tools parse it); the table is for people. */
#ifndef AKT_REPORT_H
#define AKT_REPORT_H

#include <stdio.h>

#include "akt/data.h"
#include "akt/spec.h"
#include "akt/transfer.h"

/* A readable table: one row per regime (test loss, train loss, mc error, transfer benefit
 * against scratch, method, converged, seconds), headed by a one-line problem summary. */
void akt_report_table(FILE *out, const akt_spec *spec, const akt_data *data,
                      const akt_solution *solution);

/* {"results": [...], "alignment": x, "spec": {...}} on one line, then a newline. */
int akt_report_json(FILE *out, const akt_spec *spec, const akt_data *data,
                    const akt_solution *solution, akt_error *err);

/* A double as JSON: %.17g, or null for NaN/Inf. */
void akt_report_json_number(FILE *out, double value);

#endif
