/* test_threads.c: replicas in threads give the numbers of a serial solve, bit for bit.
 *
 * Each replica draws from its own streams and runs on its own method state, and the solve
 * layer tallies the replicas in order whatever thread finished first, so the averages, the
 * Monte-Carlo error, the step counts and the stability flags of a population solve must not
 * depend on how many replicas ran at once. Compared with tolerance 0 (OpenBLAS is pinned to one
 * thread in the replicas, so each product is computed the same way). */
#include <math.h>
#include <string.h>

#include "../check.h"
#include "akt/data.h"
#include "akt/solve.h"
#include "akt/spec.h"

static const char *yaml =
    "seed: 5\n"
    "data: {task: polynomial, dim: 6, alignment: 0.7, noise: 0.1, hermite: {1: 1.0, 2: 0.5},\n"
    "       source: {samples: 24}, target: {samples: 10}, test: {samples: 100}}\n"
    "network: {activation: relu}\n"
    "source: {time: 3}\n"
    "target: {regimes: [scratch, readout, joint], elastic: 0.5, time: 3}\n"
    "solver: {method: population, neurons: 64, replicas: 5}\n";

static int solve_with(size_t threads, const akt_spec *spec, const akt_data *data,
                      akt_solution *solution)
{
    akt_error err = {0};
    akt_solver *solver = akt_solver_alloc(spec, data, &err);
    if (!solver)
        return err.status;
    akt_solver_set_threads(solver, threads);
    int status = akt_solver_run(solver, solution, &err);
    akt_solver_free(solver);
    return status;
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

int main(void)
{
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    CHECK(akt_spec_load_string(&spec, yaml, "threads.yaml", ".", NULL, 0, &err) == AKT_OK);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    akt_solution serial;
    CHECK(solve_with(1, &spec, &data, &serial) == AKT_OK && serial.count == 4);
    for (size_t threads = 2; threads <= 3; threads++) {
        akt_solution parallel;
        CHECK(solve_with(threads, &spec, &data, &parallel) == AKT_OK);
        CHECK(parallel.count == serial.count);
        for (size_t k = 0; k < serial.count && k < parallel.count; k++) {
            const akt_result *a = &serial.results[k], *b = &parallel.results[k];
            CHECK(a->regime == b->regime && a->iterations == b->iterations);
            CHECK(same_bits(a->test_loss, b->test_loss) && same_bits(a->train_loss, b->train_loss));
            CHECK(same_bits(a->mc_error, b->mc_error) && same_bits(a->residual, b->residual));
            CHECK(a->stable == b->stable && a->converged == b->converged);
        }
    }
    /* The Monte-Carlo error is there: five replicas of 64 neurons scatter. */
    CHECK(isfinite(serial.results[1].mc_error) && serial.results[1].mc_error > 0);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return check_finish();
}
