/* result.c: the shared vocabulary of core.h: names of the enums, results and their losses. */
#include "akt/core.h"

#include <math.h>

const char *const akt_activation_words[] = { "linear", "relu", "tanh", "erf", NULL };
const char *const akt_regime_words[] = { "source", "scratch", "readout", "joint", NULL };
const char *const akt_readout_init_words[] = { "zero", "source", "random", NULL };
const char *const akt_split_words[] = { "source", "target", "test", "source_test", NULL };

const char *akt_regime_name(akt_regime regime) { return akt_regime_words[regime]; }
const char *akt_activation_name(akt_activation activation) { return akt_activation_words[activation]; }
const char *akt_readout_init_name(akt_readout_init init) { return akt_readout_init_words[init]; }
const char *akt_split_name(int split) { return akt_split_words[split]; }

static const char *const observable_names[AKT_OBSERVABLE_COUNT] = {
    "ntk_alignment_train", "ntk_alignment_test", "feature_alignment_train",
    "feature_alignment_test", "retention", "source_test_loss", "hidden_distance",
    "readout_distance", "feature_learning"};

const char *akt_observable_name(akt_observable observable)
{
    return observable_names[observable];
}

const akt_result *akt_solution_find(const akt_solution *solution, akt_regime regime)
{
    for (size_t i = 0; i < solution->count; i++)
        if (solution->results[i].regime == regime)
            return &solution->results[i];
    return NULL;
}

double akt_mean_squared_error(const double *f, const double *y, size_t n)
{
    if (n == 0)
        return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (f[i] - y[i]) * (f[i] - y[i]);
    return sum / (double)n;
}
