/* cli_env.h — the environment variables the `aspire` program honours, mapped onto library options
 * (the library itself reads none): ASPIRE_REFERENCE=1 (plain C paths), ASPIRE_WINOGRAD=0 (no
 * Winograd convolutions), ASPIRE_BN=fast|onednn (batch-norm kernel), ASPIRE_PROFILE=1 (per-op
 * timings), ASPIRE_MODELS=DIR (where the shipped model files are), ASPIRE_ALLOW_OUTSIDE_PATHS=1 (datasets may
 * name images outside their folder). */
#ifndef ASPIRE_CLI_ENV_H
#define ASPIRE_CLI_ENV_H

#include "aspire/engine.h"

/* The engine settings from the environment, over the given threads and seed. */
aspire_ctx_options cli_engine_options(int threads, uint64_t seed);
/* 1 when ASPIRE_ALLOW_OUTSIDE_PATHS=1: a dataset's metadata.csv may name images outside its folder
 * (as --allow-outside-paths). */
int cli_allow_outside_paths(void);
/* $ASPIRE_MODELS, or NULL when unset or empty. */
const char *cli_models_dir(void);

#endif
