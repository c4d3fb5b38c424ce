/* Checks of a run's data shared by resnet-cl's commands (cli_data.h). */
#include "tools/cli_data.h"

#include "rcl/checkpoint.h"
#include "rcl/status.h"

#include <stdlib.h>

int cli_check_classes(FILE *err, const rcl_dataset *train, const rcl_dataset *test,
                      const char *resume)
{
    int st = rcl_dataset_check_classes(train, "train/", test, "test/");
    if (!st && resume) {
        rcl_checkpoint_info info = {0};
        /* an unreadable file is reported where the run loads it */
        if (rcl_checkpoint_info_read(resume, &info) == RCL_OK && info.class_names)
            st = rcl_dataset_check_class_csv(train, "train/", info.class_names, resume);
        free(info.class_names);
    }
    if (st) {
        fprintf(err, "resnet-cl: %s\n", rcl_last_error());
        return st;
    }
    if (train->num_classes == 1)
        fprintf(err, "resnet-cl: warning: the data has one class (%s): every prediction is that "
                     "class, so accuracy is 100%% whatever the model learns\n",
                train->class_names[0]);
    return RCL_OK;
}
