/* test_target_error.c: solver.target_error refines a sampled solve until its parts are below it.
 *
 * A small linear problem (D = 8, P2 = 24) at S = 64 x 4
 * has a sampling part (6e-5 in the scratch regime) above the target 2e-5; the refinement must grow the neurons until
 * hypot(mc_error, bias) and the integration error of every regime are each below the target,
 * and the answer must then agree with the exact closure within 3 errors (THEORY.md section 4:
 * linear networks are solved exactly). Without error runs the key is refused up front. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "akt/data.h"
#include "akt/solve.h"
#include "akt/spec.h"

static const char *const problem =
    "seed: 5\n"
    "data: {task: linear, dim: 8, alignment: 0.5, noise: 0.1, source: {samples: 24},"
    " target: {samples: 24}, test: {samples: 200}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 2}\n"
    "target: {regimes: [scratch, readout], gamma: 1.0, weight_decay: 0.05, time: 2}\n"
    "solver: {neurons: 64, replicas: 4}\n";

static int solve(const char *const *overrides, size_t count, akt_solution *solution,
                 akt_error *err)
{
    akt_spec spec;
    akt_data data;
    CHECK(akt_spec_load_string(&spec, problem, "target_error", ".", overrides, count, err) == AKT_OK);
    CHECK(akt_data_load(&data, &spec, err) == AKT_OK);
    int status = akt_solve(&spec, &data, solution, err);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return status;
}

int main(void)
{
    const double target = 2e-5;
    akt_error err;
    akt_solution exact, plain, refined, refused;
    const char *exact_set[] = {"solver.method=exact"};
    const char *plain_set[] = {"solver.method=population"};
    const char *refined_set[] = {"solver.method=population", "solver.target_error=2e-5"};
    const char *refused_set[] = {"solver.method=population", "solver.target_error=2e-5",
                                 "solver.estimate_errors=false"};
    CHECK(solve(exact_set, 1, &exact, &err) == AKT_OK);
    /* the starting size misses the target, so the refinement has work to do */
    CHECK(solve(plain_set, 1, &plain, &err) == AKT_OK);
    const akt_result *scratch = akt_solution_find(&plain, AKT_REGIME_SCRATCH);
    CHECK(scratch && hypot(scratch->mc_error, scratch->bias) > 2.0 * target);
    CHECK(solve(refined_set, 2, &refined, &err) == AKT_OK);
    CHECK(refined.count == exact.count);
    for (size_t k = 0; k < refined.count; k++) {
        const akt_result *r = &refined.results[k];
        const akt_result *e = akt_solution_find(&exact, r->regime);
        printf("%-8s %.6f +- %.2e (mc %.2e, integration %.2e, bias %+.2e) exact %.6f stable %d\n",
               akt_regime_name(r->regime), r->test_loss, r->error, r->mc_error,
               r->integration_error, r->bias, e->test_loss, (int)r->stable);
        CHECK(r->converged);
        CHECK(hypot(r->mc_error, r->bias) <= target);
        CHECK(r->integration_error <= target);
        CHECK(fabs(r->test_loss - e->test_loss) <= 3.0 * r->error);
    }
    CHECK(solve(refused_set, 3, &refused, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "solver.estimate_errors") != NULL);
    return check_finish();
}
