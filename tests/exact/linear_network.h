/* linear_network.h: a finite-width two-layer LINEAR network, written out neuron by neuron from
 * THEORY.md section 1, as the independent reference the exact solvers are tested against.
 *
 *   f(x) = 1/(gamma N) sum_i z_i w_i.x / sqrt(D),   Delta_mu = y_mu - f(x_mu)
 *   dz_i/dt = gamma sum_mu Delta_mu w_i.x_mu/sqrt(D) - lambda z_i
 *   dw_i/dt = gamma z_i sum_mu Delta_mu x_mu/sqrt(D) - lambda w_i - delta (w_i - w_src_i)
 *
 * Nothing here uses libakt. The state is one array: z (N values) then w (N x D, row i = neuron i).
 * Integrators: forward Euler (plain gradient descent) and classical RK4. */
#ifndef AKT_TEST_LINEAR_NETWORK_H
#define AKT_TEST_LINEAR_NETWORK_H

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t N, D;
    double *state;       /* z then w: N (1 + D) values */
    double *w_src;       /* N x D, NULL without a source (then delta is ignored) */
    double *work;        /* integrator scratch: 5 N (1 + D) */
} linear_network;

typedef struct {
    const double *X, *y;  /* P x D, P */
    size_t P;
    double gamma, lambda, delta;
} network_phase;

static inline int linear_network_alloc(linear_network *net, size_t N, size_t D, gsl_rng *rng)
{
    size_t size = N * (1 + D);
    net->N = N;
    net->D = D;
    net->state = malloc(size * sizeof *net->state);
    net->work = malloc(5 * size * sizeof *net->work);
    net->w_src = NULL;
    if (!net->state || !net->work)
        return 0;
    for (size_t i = 0; i < size; i++)
        net->state[i] = gsl_ran_gaussian(rng, 1.0);
    return 1;
}

static inline void linear_network_free(linear_network *net)
{
    free(net->state);
    free(net->work);
    free(net->w_src);
}

/* f on the rows of X (M x D). */
static inline void linear_network_predict(const linear_network *net, const double *state,
                                          const double *X, size_t M, double gamma, double *f)
{
    size_t N = net->N, D = net->D;
    const double *z = state, *w = state + N;
    for (size_t m = 0; m < M; m++) {
        double sum = 0.0;
        for (size_t i = 0; i < N; i++) {
            double h = 0.0;
            for (size_t k = 0; k < D; k++)
                h += w[i * D + k] * X[m * D + k];
            sum += z[i] * h;
        }
        f[m] = sum / (gamma * (double)N * sqrt((double)D));
    }
}

/* The gradient-flow velocity of every parameter. */
static inline void linear_network_velocity(const linear_network *net, const network_phase *ph,
                                           const double *state, double *velocity)
{
    size_t N = net->N, D = net->D, P = ph->P;
    const double *z = state, *w = state + N;
    double *dz = velocity, *dw = velocity + N;
    double f[P], u[D];
    linear_network_predict(net, state, ph->X, P, ph->gamma, f);
    for (size_t k = 0; k < D; k++) {
        u[k] = 0.0;
        for (size_t mu = 0; mu < P; mu++)
            u[k] += (ph->y[mu] - f[mu]) * ph->X[mu * D + k];
        u[k] /= sqrt((double)D);
    }
    for (size_t i = 0; i < N; i++) {
        double wu = 0.0;
        for (size_t k = 0; k < D; k++)
            wu += w[i * D + k] * u[k];
        dz[i] = ph->gamma * wu - ph->lambda * z[i];
        for (size_t k = 0; k < D; k++) {
            double pull = net->w_src ? ph->delta * (w[i * D + k] - net->w_src[i * D + k]) : 0.0;
            dw[i * D + k] = ph->gamma * z[i] * u[k] - ph->lambda * w[i * D + k] - pull;
        }
    }
}

static inline double vector_norm(const double *v, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += v[i] * v[i];
    return sqrt(sum);
}

/* One forward-Euler (gradient-descent) step of size dt; returns |velocity| at the start. */
static inline double linear_network_euler(linear_network *net, const network_phase *ph, double dt)
{
    size_t size = net->N * (1 + net->D);
    double *velocity = net->work;
    linear_network_velocity(net, ph, net->state, velocity);
    for (size_t i = 0; i < size; i++)
        net->state[i] += dt * velocity[i];
    return vector_norm(velocity, size);
}

/* One classical RK4 step of size dt (global error O(dt^4)). */
static inline void linear_network_rk4(linear_network *net, const network_phase *ph, double dt)
{
    size_t size = net->N * (1 + net->D);
    double *k1 = net->work, *k2 = k1 + size, *k3 = k2 + size, *k4 = k3 + size, *trial = k4 + size;
    double *x = net->state;
    linear_network_velocity(net, ph, x, k1);
    for (size_t i = 0; i < size; i++)
        trial[i] = x[i] + 0.5 * dt * k1[i];
    linear_network_velocity(net, ph, trial, k2);
    for (size_t i = 0; i < size; i++)
        trial[i] = x[i] + 0.5 * dt * k2[i];
    linear_network_velocity(net, ph, trial, k3);
    for (size_t i = 0; i < size; i++)
        trial[i] = x[i] + dt * k3[i];
    linear_network_velocity(net, ph, trial, k4);
    for (size_t i = 0; i < size; i++)
        x[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
}

/* beta_hat = <z w>/gamma: the network's linear predictor, f(x) = beta_hat.x/sqrt(D). */
static inline void linear_network_beta(const linear_network *net, double gamma, double *beta)
{
    size_t N = net->N, D = net->D;
    for (size_t k = 0; k < D; k++) {
        double sum = 0.0;
        for (size_t i = 0; i < N; i++)
            sum += net->state[i] * net->state[N + i * D + k];
        beta[k] = sum / ((double)N * gamma);
    }
}

/* Empirical second moments (1/N) sum_i v_i v_i' of v = (z, w) or (z, w, w_src): n x n. */
static inline void linear_network_moments(const linear_network *net, double *S, size_t *n_out)
{
    size_t N = net->N, D = net->D, n = net->w_src ? 1 + 2 * D : 1 + D;
    double v[n];
    memset(S, 0, n * n * sizeof *S);
    for (size_t i = 0; i < N; i++) {
        v[0] = net->state[i];
        memcpy(v + 1, net->state + N + i * D, D * sizeof *v);
        if (net->w_src)
            memcpy(v + 1 + D, net->w_src + i * D, D * sizeof *v);
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++)
                S[a * n + b] += v[a] * v[b] / (double)N;
    }
    *n_out = n;
}

static inline void random_gaussian(gsl_rng *rng, double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        values[i] = gsl_ran_gaussian(rng, 1.0);
}

#endif
