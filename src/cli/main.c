/* resnet-cl's entry point: everything is in cli_main (cli_main.c). */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
