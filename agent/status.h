/* SPDX-License-Identifier: MIT */
/* What the agent knows, kept in status.json and shown by `meshgate status`. */
#ifndef MG_STATUS_H
#define MG_STATUS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* Read-modify-write helpers; failures are logged, never fatal. */
void status_note_error(const char *dir, const char *msg);
void status_clear_error(const char *dir);
void status_note_config(const char *dir, int64_t fetched_version);
/* Merge `fields` (an object; ownership taken) into status.json. */
void status_merge(const char *dir, cJSON *fields);

void status_print_config_summary(FILE *f, const struct mg_config *c);

#endif
