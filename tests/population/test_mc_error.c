/* test_mc_error.c: the reported mc_error is the replica spread of a ~1/sqrt(S) fluctuation, so
 * going from S to 4S neurons must halve it. With 8 replicas each standard error is itself
 * uncertain by about 1/sqrt(2 * 7) = 27 percent, so their ratio by about 38 percent: the band
 * 1.4 .. 2.9 around 2 is about 0.8 sigma below and 1.2 sigma above in log terms; a solver
 * whose mc_error did not scale (ratio 1) or scaled like 1/S (ratio 4) fails. The streams are
 * fixed, so the measured ratio is reproducible. Relu source phase, D = 8, P1 = 32, T = 2. */
#include <stdio.h>

#include "../check.h"
#include "helpers.h"

static double source_mc_error(const akt_data *data, long neurons)
{
    akt_spec spec;
    test_spec(&spec, AKT_ACTIVATION_RELU);
    spec.solver.neurons = neurons;
    spec.solver.replicas = 8;
    spec.source.time = 2.0;
    bool wanted[AKT_REGIME_COUNT] = {true, false, false, false};
    akt_solution solution;
    akt_error err = {0, ""};
    int status = population_transfer(&spec, data, wanted, &solution, &err);
    if (status != AKT_OK)
        fprintf(stderr, "%s\n", err.message);
    CHECK(status == AKT_OK);
    printf("S = %5ld: source test loss %.6f +- %.2e\n", neurons, solution.results[0].test_loss,
           solution.results[0].mc_error);
    return solution.results[0].mc_error;
}

int main(void)
{
    akt_data data;
    test_data_linear(&data, 8, 32, 8, 50, 1000, 21);
    double small = source_mc_error(&data, 256), large = source_mc_error(&data, 1024);
    printf("ratio %.3f\n", small / large);
    CHECK(small / large >= 1.4 && small / large <= 2.9);
    test_data_free(&data);
    return check_finish();
}
