/* resnet-cl-tune's whole program (tune_main.c); main.c only calls it, so
 * that the fuzz target tests/fuzz/fuzz_cli.c can run its option parsing
 * with cli_parse_only set (tools/cli_parse.h). */
#ifndef RCL_TUNE_MAIN_H
#define RCL_TUNE_MAIN_H

int tune_main(int argc, char **argv);

#endif
