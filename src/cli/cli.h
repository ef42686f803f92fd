/* cli.h — the `aspire` program's shared pieces: the subcommand signature and option parsing.
 * Each subcommand lives in its own cmd_<name>.c, parses its own options into a struct with
 * cli_parse, and returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef ASPIRE_CLI_H
#define ASPIRE_CLI_H

#include <stdint.h>

typedef int (*cli_fn)(int argc, char **argv);

/* CLI_U64: 0 .. 2^64 - 1, a sign refused (strtoull would read "-1" as 2^64 - 1). Whatever the
 * kind, --threads, --seed and --corpus-seed refuse negative values in every command. */
typedef enum { CLI_STR, CLI_INT, CLI_I64, CLI_FLOAT, CLI_DOUBLE, CLI_FLAG, CLI_U64 } cli_kind;

typedef struct cli_opt {
    const char *name;   /* "--epochs" */
    cli_kind kind;
    void *dst;          /* const char **, int *, int64_t *, float *, double *, int * (flag), uint64_t * */
    const char *help;   /* one line; the default is shown from *dst */
} cli_opt;

/* Parses argv[1..] (argv[0] is the subcommand) into the options. Positional arguments are
 * refused unless `positional` is not NULL, in which case they are collected there (at most
 * max_positional). Returns 0 on success, 2 on a usage error (printed as one line on stderr), and
 * -1 after `--help` printed the usage on stdout. Callers: `if (rc) return rc < 0 ? 0 : rc;` */
int cli_parse(const char *cmd, const char *summary, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **positional, int max_positional, int *npositional);
/* The usage text, on stdout (it is what --help asked for). */
void cli_usage(const char *cmd, const char *summary, const cli_opt *opts, int nopts);
/* Prints "aspire CMD: message" (with aspire_errmsg() when msg is NULL) on stderr; returns 1. */
int cli_fail(const char *cmd, const char *msg);
/* "24,32,64" -> v[0..n); each value in 1..hi, at most max of them. Returns n, or -1 (a value out of
 * range, too many, or not a comma-separated list of integers). */
int cli_parse_ints(const char *s, int *v, int max, int hi);

/* The subcommands (one per cmd_*.c). */
int cmd_version(int argc, char **argv);
int cmd_world(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_pretrain_captioner(int argc, char **argv);  /* aspire pretrain captioner */
int cmd_pretrain_generator(int argc, char **argv);  /* aspire pretrain generator */
int cmd_caption(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_pretrain_segmenter(int argc, char **argv);  /* aspire pretrain segmenter */
int cmd_segment(int argc, char **argv);
int cmd_pretrain_inpainter(int argc, char **argv);  /* aspire pretrain inpainter */
int cmd_edit(int argc, char **argv);
int cmd_personalize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_run(int argc, char **argv);     /* aspire run: the whole pipeline */
int cmd_status(int argc, char **argv);  /* aspire status RUNDIR */

#endif
