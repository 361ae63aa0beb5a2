/* Theory against width for a small relu problem (issue "Finite-width networks"): the population
 * solver's infinite-width prediction and networks of width 128 and 2048 trained by the same
 * protocol on the same data. The mean gap must shrink with N, and at N = 2048 the seed mean
 * must sit within 3 standard errors (plus the theory's mc_error) plus 5 percent of the theory.
 *
 * Observables (issue "observables", acceptance): every observable the definitions give a regime
 * (README "Observables") is finite on both sides, and at N = 2048 the networks' seed mean is
 * within max(3 sqrt(theory_error^2 + se^2), 0.02) of the theory (akt_observable_verdict). */
#include <math.h>

#include "akt/compare.h"
#include "akt/data.h"
#include "akt/spec.h"
#include "../check.h"

static const char problem[] =
    "seed: 2\n"
    "data: {task: polynomial, dim: 20, alignment: 0.6, noise: 0.1, hermite: {1: 1.0, 2: 0.5},\n"
    "       source: {samples: 60}, target: {samples: 20}, test: {samples: 1000}}\n"
    "network: {activation: relu}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 10}\n"
    "target: {gamma: 1.0, weight_decay: 0.05, elastic: 0.5, readout_decay: 0.1, time: 10,\n"
    "         regimes: [scratch, readout, joint]}\n"
    "solver: {method: population, neurons: 2048, replicas: 4, step_tolerance: 1.0e-4}\n";

/* Whether the definitions give regime r observable o (the rest are NAN by definition). */
static bool defined(akt_regime r, akt_observable o)
{
    switch (o) {
    case AKT_OBSERVABLE_RETENTION: return r != AKT_REGIME_SOURCE;
    case AKT_OBSERVABLE_SOURCE_TEST_LOSS:
    case AKT_OBSERVABLE_READOUT_DISTANCE: return r == AKT_REGIME_JOINT;
    case AKT_OBSERVABLE_HIDDEN_DISTANCE: return r == AKT_REGIME_JOINT || r == AKT_REGIME_READOUT;
    case AKT_OBSERVABLE_FEATURE_LEARNING: return r != AKT_REGIME_READOUT;
    default: return true; /* the four alignments */
    }
}

/* Theory against the widest networks, observable by observable. */
static void check_observables(const akt_regime_comparison *regime)
{
    const akt_result *theory = &regime->theory;
    const akt_width_result *large = &regime->widths[regime->width_count - 1];
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
        akt_observable o = (akt_observable)k;
        if (!defined(regime->regime, o))
            continue;
        double t = theory->observables[k], te = theory->observable_errors[k];
        double n = large->observables[k], ne = large->observable_se[k];
        double te2 = isfinite(te) ? te * te : 0.0, ne2 = isfinite(ne) ? ne * ne : 0.0;
        double allowed = fmax(3.0 * sqrt(te2 + ne2), 0.02); /* an unknown error counts 0 */
        printf("  %-8s %-24s theory %10.5f +- %.1e  N=%ld %10.5f +- %.1e  |diff| %.4f  allowed "
               "%.4f%s\n", akt_regime_name(regime->regime), akt_observable_name(o), t, te,
               large->width, n, ne, fabs(t - n), allowed,
               fabs(t - n) <= allowed ? "" : "  MISS");
        CHECK(isfinite(t) && isfinite(n));
        CHECK(fabs(t - n) <= allowed);
        CHECK(regime->observable_verdicts[k] == (fabs(t - n) <= allowed));
    }
}

int main(void)
{
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    CHECK(akt_spec_load_string(&spec, problem, "relu_compare", ".", NULL, 0, &err) == AKT_OK);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    long widths[2] = {128, 2048};
    akt_comparison comparison;
    int status = akt_compare(&spec, &data, widths, 2, 4, NULL, &comparison, &err);
    CHECK(status == AKT_OK);
    if (status != AKT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return check_finish();
    }
    CHECK(comparison.count == 4);
    double gap_small_total = 0, gap_large_total = 0;
    for (size_t k = 0; k < comparison.count; k++) {
        const akt_regime_comparison *regime = &comparison.regimes[k];
        double theory = regime->theory.test_loss, mc = regime->theory.mc_error;
        const akt_width_result *small = &regime->widths[0], *large = &regime->widths[1];
        double gap_small = fabs(small->test_loss_mean - theory);
        double gap_large = fabs(large->test_loss_mean - theory);
        printf("%-8s theory %.5f +- %.1e  N=128 %.5f +- %.1e  N=2048 %.5f +- %.1e  euler %.1e\n",
               akt_regime_name(regime->regime), theory, mc, small->test_loss_mean,
               small->test_loss_se, large->test_loss_mean, large->test_loss_se,
               large->euler_bias);
        CHECK(regime->width_count == 2);
        CHECK(gap_large <= 3 * (large->test_loss_se + mc) + 0.05 * theory);
        gap_small_total += gap_small / theory;
        gap_large_total += gap_large / theory;
    }
    /* "the mean gap": averaged over the regimes, relative to the theory */
    printf("mean relative gap: N=128 %.4f, N=2048 %.4f\n", gap_small_total / 4, gap_large_total / 4);
    CHECK(gap_large_total < gap_small_total);
    printf("observables, theory against N = 2048 (4 seeds):\n");
    for (size_t k = 0; k < comparison.count; k++)
        check_observables(&comparison.regimes[k]);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return check_finish();
}
