/* test_ntk.c: the NTK lambda_max that sets the Euler step, against an explicit Jacobian.
 *
 * The stability rule dt (lambda_max + lambda + delta) <= 0.5 is only right if
 * akt_network_ntk_lambda_max has the right scaling. Independently: J_{mu, theta} = df(x_mu)/dtheta
 * by central differences of akt_network_predict (tanh, smooth: error ~ step^2 ~ 1e-10), then
 * K = gamma^2 N J J' (the Gram of the flow's output feedback, THEORY.md section 1) and its
 * largest eigenvalue by LAPACK. With 500 power iterations the estimate must agree to 1e-6 (the
 * gap here makes the iteration error negligible; printed); the 20-iteration estimate the trainer
 * uses must be a lower bound within 10 percent (inside the factor 4 the rule keeps to the edge).
 * Also the readout-only Gram (hidden frozen): K = Phi = J_z J_z'. */
#include "../check.h"
#include "akt/exact.h"
#include "finite_fixture.h"

enum { N = 9, D = 5, P = 8 };
#define GAMMA 0.7
#define FD_STEP 1e-5

static void output_derivative(akt_network *net, double *theta, const double *X, double *column)
{
    akt_error err;
    double up[P], down[P], saved = *theta;
    *theta = saved + FD_STEP;
    CHECK(akt_network_predict(net, X, P, GAMMA, up, &err) == AKT_OK);
    *theta = saved - FD_STEP;
    CHECK(akt_network_predict(net, X, P, GAMMA, down, &err) == AKT_OK);
    *theta = saved;
    for (size_t mu = 0; mu < P; mu++)
        column[mu] = (up[mu] - down[mu]) / (2.0 * FD_STEP);
}

static double explicit_lambda_max(akt_network *net, const double *X, bool hidden)
{
    akt_error err;
    size_t count = N + (hidden ? N * D : 0);
    double *J = malloc(count * P * sizeof *J); /* count x P: one row per parameter */
    for (size_t i = 0; i < N; i++)
        output_derivative(net, &net->z[i], X, J + i * P);
    for (size_t k = 0; hidden && k < N * D; k++)
        output_derivative(net, &net->W[k], X, J + (N + k) * P);
    double K[P * P], eigenvalues[P];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, P, (int)count, GAMMA * GAMMA * N, J,
                P, J, P, 0.0, K, P);
    CHECK(akt_symmetric_eigen(K, P, eigenvalues, &err) == AKT_OK);
    free(J);
    printf("  explicit Gram: top eigenvalues %.6g, %.6g\n", eigenvalues[P - 1], eigenvalues[P - 2]);
    return eigenvalues[P - 1];
}

int main(void)
{
    akt_error err;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 4);
    double X[P * D], y[P];
    fill_gaussian(rng, X, P * D);
    fill_gaussian(rng, y, P);
    akt_network *net = akt_network_alloc(N, D, AKT_ACTIVATION_TANH, &err);
    CHECK(akt_network_init(net, 99, &err) == AKT_OK);
    for (int hidden = 1; hidden >= 0; hidden--) {
        akt_finite_problem pb = {.X = X, .y = y, .P = P, .gamma = GAMMA, .lambda = 0.1,
                                 .train_hidden = hidden};
        double exact = explicit_lambda_max(net, X, hidden), converged, quick;
        CHECK(akt_network_ntk_lambda_max(net, &pb, 500, &converged, &err) == AKT_OK);
        CHECK(akt_network_ntk_lambda_max(net, &pb, 20, &quick, &err) == AKT_OK);
        printf("  hidden %d: explicit %.10g, power(500) %.10g, power(20) %.10g\n", hidden, exact,
               converged, quick);
        CHECK_RELATIVE(converged, exact, 1e-6);
        CHECK(quick <= exact * (1 + 1e-9) && quick >= 0.9 * exact);
    }
    akt_network_free(net);
    gsl_rng_free(rng);
    return check_finish();
}
