/* test_readout.c: the readout regime's closed form against training the readout alone.
 *
 * akt_network_readout_predict claims f = Phi_s(x, X2)(Phi_s(X2, X2) + lambda_r I)^{-1} y2 with
 * Phi_s = (1/N) sum_i phi(h_i) phi(h_i'), for any gamma (derived in finite.h from the per-neuron
 * readout equation). The independent check is the flow itself: hidden weights frozen
 * (train_hidden false), z from zero, decay lambda_r, gamma 0.8 (not 1, so a wrong gamma factor
 * would show), trained by Euler long enough that the remaining transient is below 1e-12:
 *   - lambda_r = 0.1, width 40 > P2: the output error decays at least at rate lambda_r, T = 400
 *     leaves e^{-40};
 *   - lambda_r = 0, width 8 < P2 = 20: Phi_s has rank 8, the answer is the minimum-norm least-
 *     squares readout (pseudo-inverse); the flow converges at the smallest nonzero eigenvalue mu
 *     of Phi_s, so T = 40 / mu (computed here from the spectrum).
 * Query predictions are compared norm-wise (max error <= 1e-6 max |f|). The hidden weights are
 * first trained briefly on a source task, so the features are adapted, not the initial ones. */
#include "../check.h"
#include "akt/exact.h"
#include "finite_fixture.h"

enum { D = 6, P1 = 30, P2 = 20, M = 50 };
#define GAMMA 0.8

static double smallest_nonzero_eigenvalue(const akt_network *net, const double *X2)
{
    akt_error err;
    double K[P2 * P2], eigenvalues[P2];
    CHECK(akt_network_kernel(net, X2, P2, X2, P2, K, &err) == AKT_OK);
    CHECK(akt_symmetric_eigen(K, P2, eigenvalues, &err) == AKT_OK);
    double cutoff = akt_pseudo_inverse_cutoff(eigenvalues, P2), smallest = INFINITY;
    size_t rank = 0;
    for (size_t k = 0; k < P2; k++)
        if (eigenvalues[k] > cutoff) {
            smallest = fmin(smallest, eigenvalues[k]);
            rank++;
        }
    printf("  Phi_s: rank %zu of %d, smallest nonzero eigenvalue %.3g, largest %.3g\n", rank, P2,
           smallest, eigenvalues[P2 - 1]);
    return smallest;
}

static void check_width(size_t width, double readout_decay, const akt_data *data)
{
    akt_error err;
    akt_network *net = akt_network_alloc(width, D, AKT_ACTIVATION_RELU, &err);
    akt_network *readout = akt_network_alloc(width, D, AKT_ACTIVATION_RELU, &err);
    CHECK(net && readout);
    CHECK(akt_network_init(net, akt_finite_stream_seed(5, width, 0), &err) == AKT_OK);
    akt_finite_problem source = {.X = data->source.x, .y = data->source.y, .P = P1, .gamma = 1.0,
                                 .lambda = 0.05, .train_hidden = true};
    CHECK(akt_network_train(net, &source, 2.0, NULL, NULL, &err) == AKT_OK);

    double f_closed[M], f_flow[M];
    CHECK(akt_network_readout_predict(net, data->target.x, data->target.y, P2, readout_decay,
                                      data->test.x, M, f_closed, &err) == AKT_OK);
    akt_network_copy(readout, net);
    memset(readout->z, 0, width * sizeof *readout->z);
    akt_finite_problem target = {.X = data->target.x, .y = data->target.y, .P = P2,
                                 .gamma = GAMMA, .lambda = readout_decay, .train_hidden = false};
    double rate = readout_decay > 0 ? readout_decay
                                    : smallest_nonzero_eigenvalue(net, data->target.x);
    double T = 40.0 / rate;
    akt_finite_trace trace;
    CHECK(akt_network_train(readout, &target, T, NULL, &trace, &err) == AKT_OK);
    CHECK(akt_network_predict(readout, data->test.x, M, GAMMA, f_flow, &err) == AKT_OK);
    CHECK(memcmp(readout->W, net->W, width * D * sizeof *net->W) == 0); /* hidden stayed frozen */
    double diff = 0.0;
    for (size_t k = 0; k < M; k++)
        diff = fmax(diff, fabs(f_flow[k] - f_closed[k]));
    double size = max_abs(f_closed, M);
    printf("  width %zu, readout decay %g: flow T = %.4g (%ld steps, dt %.3g), max |f_flow - "
           "f_closed| = %.2e of max |f| %.3g\n", width, readout_decay, T, trace.steps,
           trace.dt_first, diff, size);
    CHECK(size > 0.1);
    CHECK(diff <= 1e-6 * size);
    akt_network_free(net);
    akt_network_free(readout);
}

int main(void)
{
    akt_data data;
    make_data(&data, D, P1, P2, M, 21);
    check_width(40, 0.1, &data);
    check_width(8, 0.0, &data);
    free_data(&data);
    return check_finish();
}
