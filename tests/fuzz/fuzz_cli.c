/* libFuzzer target: the command lines of resnet-cl (every subcommand:
 * devices, train, eval, predict, summary, bench, bench gemm) and of
 * resnet-cl-tune. The input is split on NUL and newline into arguments; a
 * first argument "resnet-cl-tune" runs the tuner's tune_main on the rest,
 * anything else resnet-cl's cli_main with argv[0] = "resnet-cl". With
 * cli_parse_only set, every command returns after parsing and checking its
 * options: no file is read, no device opened, nothing trained. Run it with
 * -close_fd_mask=3 (ci/fuzz.sh does) to keep the usage texts quiet. */
#include "fuzz_util.h"
#include "cli/cli.h"
#include "tune_main.h"

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cli_parse_only = 1;
    /* as in the tests: no device pinning or environment from the caller */
    unsetenv("RESNET_CL_DEVICE");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "resnet-cl";
    /* arguments: the pieces between NUL / newline (empty ones kept: "" is an argument) */
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i == size || text[i] == '\n' || text[i] == 0) {
            text[i] = 0;
            if (i < size || i > start) argv[argc++] = text + start;
            start = i + 1;
        }
    }
    argv[argc] = NULL;
    int rc;
    if (argc >= 2 && !strcmp(argv[1], "resnet-cl-tune")) rc = tune_main(argc - 1, argv + 1);
    else rc = cli_main(argc, argv);
    if (rc != 0 && rc != 2) abort(); /* parse-only: success, help, or a usage error */
    fflush(stdout);
    free(text);
    return 0;
}
