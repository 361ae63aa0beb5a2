/* report.h: everything akt shows a person or a program, written to a stream the caller owns.
 *
 * The library computes; this module formats. The JSON form is the output contract of
 * DESIGN.md (tests and outside tools parse it); the table is for people. */
#ifndef AKT_REPORT_H
#define AKT_REPORT_H

#include <stdio.h>

#include "akt/compare.h"
#include "akt/data.h"
#include "akt/spec.h"
#include "akt/solve.h"

/* A readable table: one row per regime (test loss, train loss, mc error, transfer benefit
 * against scratch, method, converged, seconds), headed by a one-line problem summary. */
void akt_report_table(FILE *out, const akt_spec *spec, const akt_data *data,
                      const akt_solution *solution);

/* akt solve --observables: a second block after the table, one row per observable
 * (akt_observable order), one column per regime: value +- error, "-" where not measured. */
void akt_report_observables_table(FILE *out, const akt_solution *solution);

/* {"results": [...], "alignment": x, "spec": {...}} on one line, then a newline; each result
 * ends with "observables" and "observable_errors", {name: value or null} in akt_observable
 * order. */
int akt_report_json(FILE *out, const akt_spec *spec, const akt_data *data,
                    const akt_solution *solution, akt_error *err);

/* A double as JSON: %.17g, or null for NaN/Inf (the io module's rule, for callers outside the
 * library). */
void akt_report_json_number(FILE *out, double value);

/* The transfer benefit of a result: the scratch regime's test loss minus the result's, for the
 * readout and joint regimes (> 0: transfer helps); NaN for source and scratch, for a NULL
 * result, and when the solution has no scratch result. The one rule for akt solve's JSON and
 * table and akt sweep's rows. */
double akt_report_transfer_benefit(const akt_solution *solution, const akt_result *result);

/* test_loss - bias, the bias-corrected value (DESIGN.md: test_loss_corrected), where a nonzero
 * bias was estimated; NAN otherwise. */
double akt_report_corrected_loss(const akt_result *result);

/* akt train: one row per regime (seed mean and sd of the test loss, Euler bias, step bound). */
void akt_report_train_table(FILE *out, const akt_spec *spec, const akt_data *data,
                            const akt_width_result *results, size_t count);
int akt_report_train_json(FILE *out, const akt_spec *spec, const akt_width_result *results,
                          size_t count, akt_error *err);

/* akt compare: per regime the theory, each width's seed mean with its gap to the theory, and
 * the 1/N fit with its verdict. */
void akt_report_compare_table(FILE *out, const akt_spec *spec, const akt_data *data,
                              const akt_comparison *comparison);
int akt_report_compare_json(FILE *out, const akt_spec *spec, const akt_comparison *comparison,
                            akt_error *err);

/* A progress bar with elapsed time and ETA, redrawn in place on a terminal; nothing otherwise.
 * started is the monotonic time (seconds) the work began; done == total ends the line. */
/* One phase's progress on a terminal line, rewritten in place: the regime, which replica, flow
 * time t of horizon, accepted steps, the last step size and the estimated time left (NAN:
 * unknown). The caller decides whether out is a terminal and how often to call. */
void akt_report_phase_progress(FILE *out, akt_regime regime, size_t replica, size_t replicas,
                               double t, double horizon, long steps, double step,
                               double remaining);

/* Clears the progress line. */
void akt_report_progress_clear(FILE *out);

void akt_report_progress(FILE *out, const char *label, size_t done, size_t total,
                         double started);

#endif
