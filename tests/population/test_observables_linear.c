/* test_observables_linear.c: issue 15's acceptance for linear networks: the population's
 * observables (README "Observables") match the exact moment closure's within their errors.
 *
 * Linear activation makes the moment closure the exact infinite-width answer at any time
 * (THEORY.md section 4), so it is an independent reference for every observable the population
 * measures from its neurons: the alignments of Phi and the NTK on both splits, retention, the
 * forgetting loss, both distances and the feature-learning magnitude. The population (S = 1024
 * x 4, with its error runs) must agree within 3 of its total errors (the closure's are 0), on
 * a problem where the observables are far from trivial values, for readout_init zero and source
 * (the readout distance starts at |z_src| or at 0). Every regime must report the observables
 * its definition gives, so a missing one fails rather than passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../check.h"
#include "akt/data.h"
#include "akt/solve.h"
#include "akt/spec.h"

static const char *const problem =
    "seed: 5\n"
    "data: {task: linear, dim: 10, alignment: 0.6, noise: 0.1, source: {samples: 30},"
    " target: {samples: 15}, test: {samples: 300}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 3}\n"
    "target: {regimes: [scratch, readout, joint], gamma: 1.0, weight_decay: 0.05, elastic: 0.5,"
    " readout_decay: 0.01, time: 3}\n"
    "solver: {neurons: 1024, replicas: 4}\n";

static void solve(const char *method, const char *readout_init, akt_solution *solution)
{
    char method_set[64], init_set[64];
    snprintf(method_set, sizeof method_set, "solver.method=%s", method);
    snprintf(init_set, sizeof init_set, "target.readout_init=%s", readout_init);
    const char *overrides[] = {method_set, init_set};
    akt_spec spec;
    akt_data data;
    akt_error err;
    CHECK(akt_spec_load_string(&spec, problem, "observables", ".", overrides, 2, &err) == AKT_OK);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    CHECK(akt_solve(&spec, &data, solution, &err) == AKT_OK);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

/* The observables a regime must report (README "Observables"). */
static bool expected(akt_regime regime, akt_observable k)
{
    switch (k) {
    case AKT_OBSERVABLE_RETENTION: return regime != AKT_REGIME_SOURCE;
    case AKT_OBSERVABLE_SOURCE_TEST_LOSS:
    case AKT_OBSERVABLE_READOUT_DISTANCE: return regime == AKT_REGIME_JOINT;
    case AKT_OBSERVABLE_HIDDEN_DISTANCE:
        return regime == AKT_REGIME_JOINT || regime == AKT_REGIME_READOUT;
    case AKT_OBSERVABLE_FEATURE_LEARNING: return regime != AKT_REGIME_READOUT;
    default: return true;
    }
}

static void population_against_closure(const char *readout_init)
{
    akt_solution exact, population;
    solve("exact", readout_init, &exact);
    solve("population", readout_init, &population);
    int compared = 0;
    for (size_t i = 0; i < population.count; i++) {
        const akt_result *p = &population.results[i];
        const akt_result *e = akt_solution_find(&exact, p->regime);
        CHECK(e != NULL);
        if (!e)
            continue;
        for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
            const char *name = akt_observable_name((akt_observable)k);
            if (!expected(p->regime, (akt_observable)k))
                continue;
            double d = fabs(p->observables[k] - e->observables[k]);
            double error = p->observable_errors[k];
            bool close = d <= 3.0 * error ||
                         (error == 0.0 && d == 0.0);   /* definitional values (readout's) */
            if (!close || getenv("AKT_TEST_VERBOSE"))
                printf("  %s %-8s %-24s population %.6g +- %.2g  exact %.6g  (%.1f errors)\n",
                       readout_init, akt_regime_name(p->regime), name, p->observables[k], error,
                       e->observables[k], error > 0 ? d / error : 0.0);
            CHECK(isfinite(p->observables[k]) && isfinite(e->observables[k]));
            CHECK(close);
            compared++;
        }
    }
    /* source 5 (alignments, feature learning), scratch 6 (and retention), readout 6 (alignments,
     * retention, hidden distance), joint 9 */
    CHECK(compared == 26);
}

int main(void)
{
    population_against_closure("zero");
    population_against_closure("source");
    return check_finish();
}
