/* cli_env.c — the environment variables of the `aspire` program (cli_env.h). */
#include "cli/cli_env.h"

#include <stdlib.h>
#include <string.h>

static int env_is(const char *name, const char *value) {
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

aspire_ctx_options cli_engine_options(int threads, uint64_t seed) {
    aspire_ctx_options o = {0};
    o.threads = threads;
    o.seed = seed;
    o.reference = getenv("ASPIRE_REFERENCE") && atoi(getenv("ASPIRE_REFERENCE")) == 1;
    o.no_winograd = getenv("ASPIRE_WINOGRAD") && atoi(getenv("ASPIRE_WINOGRAD")) == 0;
    o.bn_kernel = env_is("ASPIRE_BN", "fast") ? ASPIRE_BN_FAST : env_is("ASPIRE_BN", "onednn") ? ASPIRE_BN_ONEDNN : ASPIRE_BN_DEFAULT;
    o.profile = getenv("ASPIRE_PROFILE") && atoi(getenv("ASPIRE_PROFILE")) == 1;
    return o;
}

const char *cli_models_dir(void) {
    const char *d = getenv("ASPIRE_MODELS");
    return d && *d ? d : NULL;
}

int cli_allow_outside_paths(void) { return env_is("ASPIRE_ALLOW_OUTSIDE_PATHS", "1"); }
