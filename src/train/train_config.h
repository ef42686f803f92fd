/* train_config.h — the training configuration's JSON form and command line. Private to the
 * training module. */
#ifndef ASPIRE_TRAIN_CONFIG_H
#define ASPIRE_TRAIN_CONFIG_H

#include "aspire/train.h"

#include <cjson/cJSON.h>

/* The config as a new JSON object (NULL on OOM); the caller deletes it. */
cJSON *tr_config_to_json(const aspire_train_config *c);
/* Fills *c from the object (missing or mistyped fields are refused naming `path` and the field);
 * strings go to *st. */
int tr_config_from_json(const cJSON *o, aspire_train_config *c, aspire_train_strings *st, const char *path);
/* train.json's text (text[0, n)) → *cfg, checked as tr_config_check does; messages name `path`.
 * On failure *st is freed. aspire_train_config_load reads the file and calls it. */
int tr_config_parse(const char *text, size_t n, aspire_train_config *cfg, aspire_train_strings *st, const char *path);
/* Every numeric field finite and in its range. path NULL: messages name the command-line option
 * ("--lr must be a finite number in (0, 10], got inf", ASPIRE_ERR_ARG); else the file and field
 * ("RUN/train.json: config field 'lr' must be ...", ASPIRE_ERR_FORMAT). */
int tr_config_check(const aspire_train_config *c, const char *path);
/* The `aspire train` command line that repeats the run, into buf. */
int tr_config_command(const aspire_train_config *c, char *buf, size_t n);

#endif
