/* cmd_version.c — `aspire version`: the version and the backends this build uses. */
#include "cli/cli.h"

#include "aspire/common.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>

int cmd_version(int argc, char **argv) {
    int rc = cli_parse("version", "Print the version and the build's backends.", argc, argv, NULL, 0, NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    const dnnl_version_t *v = dnnl_version();
    printf("aspire %s (oneDNN %d.%d.%d, %d threads)\n", ASPIRE_VERSION, v->major, v->minor, v->patch,
           aspire_get_threads());
    return 0;
}
