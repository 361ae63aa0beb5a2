/* test_gradient.c: the hand-written backward pass against central finite differences of the loss.
 *
 * The trainer's right-hand side must equal -gamma^2 N dL/dtheta - lambda theta - delta (theta -
 * theta_src)|hidden with L = 1/2 sum (y - f)^2 (THEORY.md section 1). Here dL/dtheta comes from
 * central differences of akt_network_loss, an independent route through the forward pass only.
 * Compared norm-wise: max |rhs - rhs_fd| <= 1e-6 max |rhs|. Central differences with step
 * 1e-5 have truncation error ~ 1e-10 (tanh: smooth; relu away from kinks: the loss is exactly
 * quadratic in each weight, so only round-off ~ eps |L| / step ~ 1e-10 remains), far below 1e-6.
 *
 * Cases: tanh with decay, elastic pull and an output offset (centring); relu away from kinks
 * (every |h| larger than the largest change a step can make, checked); erf and linear; and the
 * readout-only flow, whose hidden velocity must be exactly zero. */
#include "../check.h"
#include "finite_fixture.h"

enum { N = 7, D = 4, P = 6 };
#define FD_STEP 1e-5
#define TOLERANCE 1e-6

typedef struct {
    double gamma, lambda, delta;
    bool offset;
    bool train_hidden;
} gradient_case;

static double loss_at(akt_network *net, const akt_finite_problem *pb)
{
    double loss = NAN;
    akt_error err;
    CHECK(akt_network_loss(net, pb, &loss, &err) == AKT_OK);
    return loss;
}

static double central_difference(akt_network *net, const akt_finite_problem *pb, double *theta)
{
    double saved = *theta;
    *theta = saved + FD_STEP;
    double up = loss_at(net, pb);
    *theta = saved - FD_STEP;
    double down = loss_at(net, pb);
    *theta = saved;
    return (up - down) / (2.0 * FD_STEP);
}

/* Smallest |h| over all neurons and points: relu has a kink at 0. */
static double smallest_preactivation(const akt_network *net, const double *X)
{
    double smallest = INFINITY;
    for (size_t mu = 0; mu < P; mu++)
        for (size_t i = 0; i < N; i++) {
            double h = cblas_ddot(D, X + mu * D, 1, net->W + i * D, 1) / sqrt((double)D);
            smallest = fmin(smallest, fabs(h));
        }
    return smallest;
}

static void check_case(akt_activation activation, const gradient_case *gc, unsigned long seed)
{
    akt_error err;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double X[P * D], y[P], offset[P];
    fill_gaussian(rng, X, P * D);
    fill_gaussian(rng, y, P);
    fill_gaussian(rng, offset, P);
    akt_network *net = akt_network_alloc(N, D, activation, &err);
    CHECK(net != NULL);
    CHECK(akt_network_init(net, seed, &err) == AKT_OK);
    akt_network_set_anchor(net);
    for (size_t k = 0; k < N * D; k++)   /* move away from the anchor: the pull is then nonzero */
        net->W[k] += 0.3 * gsl_ran_gaussian(rng, 1.0);
    if (activation == AKT_ACTIVATION_RELU) {
        /* A step moves h by at most FD_STEP |x_k|/sqrt(D) < 1e-4 here (|x_k| < 10). */
        double margin = smallest_preactivation(net, X);
        printf("  relu: smallest |h| %.3g (must exceed 1e-4: no kink within a step)\n", margin);
        CHECK(margin > 1e-4);
    }
    akt_finite_problem pb = {.X = X, .y = y, .P = P, .gamma = gc->gamma, .lambda = gc->lambda,
                             .delta = gc->delta, .train_hidden = gc->train_hidden,
                             .offset = gc->offset ? offset : NULL};
    double dW[N * D], dz[N], dW_fd[N * D], dz_fd[N];
    CHECK(akt_network_rhs(net, &pb, dW, dz, NULL, &err) == AKT_OK);
    double scale = gc->gamma * gc->gamma * N;
    for (size_t i = 0; i < N; i++)
        dz_fd[i] = -scale * central_difference(net, &pb, &net->z[i]) - gc->lambda * net->z[i];
    for (size_t k = 0; k < N * D; k++)
        dW_fd[k] = gc->train_hidden ? -scale * central_difference(net, &pb, &net->W[k]) -
                                          gc->lambda * net->W[k] -
                                          gc->delta * (net->W[k] - net->W_src[k])
                                    : 0.0;
    double err_z = 0.0, err_w = 0.0;
    for (size_t i = 0; i < N; i++)
        err_z = fmax(err_z, fabs(dz[i] - dz_fd[i]));
    for (size_t k = 0; k < N * D; k++)
        err_w = fmax(err_w, fabs(dW[k] - dW_fd[k]));
    double size_z = max_abs(dz_fd, N), size_w = max_abs(dW_fd, N * D);
    printf("  %s gamma %g lambda %g delta %g offset %d hidden %d: |dz err| %.2e of %.2e, "
           "|dW err| %.2e of %.2e\n", akt_activation_name(activation), gc->gamma, gc->lambda,
           gc->delta, gc->offset, gc->train_hidden, err_z, size_z, err_w, size_w);
    CHECK(size_z > 0.0);
    CHECK(err_z <= TOLERANCE * size_z);
    if (gc->train_hidden) {
        CHECK(size_w > 0.0);
        CHECK(err_w <= TOLERANCE * size_w);
    } else {
        CHECK(max_abs(dW, N * D) == 0.0);
    }
    akt_network_free(net);
    gsl_rng_free(rng);
}

int main(void)
{
    gradient_case full = {0.7, 0.3, 0.2, true, true};
    gradient_case plain = {1.3, 0.05, 0.5, false, true};
    gradient_case readout_only = {0.9, 0.1, 0.0, false, false};
    check_case(AKT_ACTIVATION_TANH, &full, 11);
    check_case(AKT_ACTIVATION_TANH, &plain, 12);
    check_case(AKT_ACTIVATION_RELU, &full, 13);
    check_case(AKT_ACTIVATION_RELU, &plain, 14);
    check_case(AKT_ACTIVATION_ERF, &full, 15);
    check_case(AKT_ACTIVATION_LINEAR, &full, 16);
    check_case(AKT_ACTIVATION_RELU, &readout_only, 17);
    return check_finish();
}
