/* resnet-cl-tune's entry point: everything is in tune_main (tune_main.c). */
#include "tune_main.h"

int main(int argc, char **argv)
{
    return tune_main(argc, argv);
}
