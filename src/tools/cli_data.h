/* Checks of a run's data that resnet-cl's commands share (before any device
 * work). */
#ifndef RCL_CLI_DATA_H
#define RCL_CLI_DATA_H

#include <stdio.h>

#include "rcl/data.h"

/* Labels are positions in the sorted class lists, so train/ and test/ (and
 * the checkpoint a run resumes, when `resume` is non-NULL and records its
 * classes) must name the same classes in the same order: otherwise print
 * one line to `err` with both lists and return RCL_ERR_INVALID. A single
 * class trains to 100% whatever the model learns: a warning line, RCL_OK. */
int cli_check_classes(FILE *err, const rcl_dataset *train, const rcl_dataset *test,
                      const char *resume);

#endif
