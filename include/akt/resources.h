/* resources.h: refusing, up front, a solve that cannot fit in the machine's memory.
 *
 * A spec such as data.dim 100000 with method exact asks for a (1 + 2D)^2 moment matrix times the
 * stepper's work vectors, terabytes: without a check the process is killed by the kernel's OOM
 * killer after minutes of swapping, or malloc fails deep inside a solver. akt_resources_check
 * estimates the peak memory of the solve from the sizes alone (no allocation) and refuses it as
 * bad input (DESIGN.md, Decisions: "Resource refusal ... exit 2 with the estimate"). */
#ifndef AKT_RESOURCES_H
#define AKT_RESOURCES_H

#include "akt/data.h"
#include "akt/error.h"
#include "akt/method.h"
#include "akt/spec.h"

/* The share of physical memory a solve may plan to use: the rest is left to the system, the
 * data already loaded and the allocator's overhead. */
#define AKT_RESOURCES_MEMORY_SHARE 0.8

/* Estimated peak memory of a solve in GiB: the method's own estimate (akt_method_type
 * memory_gib); method NULL: the largest of the methods the spec's regimes resolve to; width > 0
 * means finite-width networks of that width (akt train / compare), method then ignored. data
 * may be NULL: the sizes then come from the spec (synthetic and fashion_mnist tasks; the data's
 * own memory is included, since it has not been allocated yet); a csv spec without data
 * estimates the solver's memory only from what the spec says (its sizes are in the files). */
double akt_resources_estimate_gib(const akt_spec *spec, const akt_data *data,
                                  const akt_method_type *method, long width);

/* Physical memory of the machine in GiB (sysconf(_SC_PHYS_PAGES) * page size); 0 if unknown. */
double akt_resources_physical_gib(void);

/* AKT_OK, or AKT_ERR_INPUT with the estimate and the limit in GiB when the estimate exceeds
 * AKT_RESOURCES_MEMORY_SHARE of physical memory. Call it before akt_data_load (data NULL) to
 * avoid building huge data, and again with the data (csv sizes are known only then). */
int akt_resources_check(const akt_spec *spec, const akt_data *data,
                        const akt_method_type *method, long width, akt_error *err);

#endif
