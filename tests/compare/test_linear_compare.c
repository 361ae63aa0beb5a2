/* Theory against width for linear networks at a finite time: the exact moment closure is the
 * N -> infinity limit (THEORY.md section 4), so the networks' seed means must approach it as N
 * grows and the 1/N extrapolation must be compatible with it, in every regime. */
#include <math.h>

#include "akt/compare.h"
#include "akt/data.h"
#include "akt/spec.h"
#include "../check.h"

static const char problem[] =
    "seed: 5\n"
    "data: {task: linear, dim: 8, alignment: 0.6, noise: 0.1,\n"
    "       source: {samples: 40}, target: {samples: 10}, test: {samples: 500}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 5}\n"
    "target: {gamma: 1.0, weight_decay: 0.05, elastic: 0.5, readout_decay: 0.01, time: 5,\n"
    "         regimes: [scratch, readout, joint]}\n"
    "solver: {method: exact}\n";

int main(void)
{
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    CHECK(akt_spec_load_string(&spec, problem, "linear_compare", ".", NULL, 0, &err) == AKT_OK);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    long widths[3] = {16, 64, 256};
    akt_comparison comparison;
    int status = akt_compare(&spec, &data, widths, 3, 6, NULL, &comparison, &err);
    CHECK(status == AKT_OK);
    if (status != AKT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return check_finish();
    }
    CHECK(comparison.count == 4);
    for (size_t k = 0; k < comparison.count; k++) {
        const akt_regime_comparison *regime = &comparison.regimes[k];
        double theory = regime->theory.test_loss;
        double gap_small = fabs(regime->widths[0].test_loss_mean - theory);
        double gap_large = fabs(regime->widths[2].test_loss_mean - theory);
        printf("%-8s theory %.6f  N=16 %.6f  N=64 %.6f  N=256 %.6f  fit %.6f +- %.2e  euler %.1e\n",
               akt_regime_name(regime->regime), theory, regime->widths[0].test_loss_mean,
               regime->widths[1].test_loss_mean, regime->widths[2].test_loss_mean,
               regime->intercept, regime->intercept_error, regime->widths[2].euler_bias);
        CHECK(regime->width_count == 3);
        /* the networks approach the theory: 16 times the width, a smaller gap */
        CHECK(gap_large < gap_small || gap_large < 1e-6 * theory);
        /* at N = 256 the seed mean sits within 3 standard errors plus 5 percent */
        CHECK(gap_large <= 3 * regime->widths[2].test_loss_se + 0.05 * theory);
        CHECK(regime->compatible);
        /* each width's step was refined until halving it moved the losses by < 0.1 percent */
        CHECK(regime->widths[2].step_converged && regime->widths[2].euler_bias <= 1e-3);
    }
    akt_data_free(&data);
    akt_spec_free(&spec);
    return check_finish();
}
