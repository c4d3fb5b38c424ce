/* The launcher detection of the dist layer (no device, no MPI started):
 * rcl_dist_launch_size reads the process count that mpirun (Open MPI),
 * a PMI launcher (MPICH's hydra, srun --mpi=pmi2) or srun itself sets, and
 * ignores SLURM_NTASKS, which an sbatch script's own environment holds
 * while it runs a single process (a build without MPI refused to start
 * there). */
#include "harness.h"
#include "rcl/dist.h"

#include <stdlib.h>
#include <string.h>

static const char *const VARS[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS",
                                   "SLURM_NTASKS"};

static void clear(void)
{
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++) unsetenv(VARS[i]);
}

static void test_launch_size(void **state)
{
    (void)state;
    const char *var = "x";
    clear();
    assert_int_equal(rcl_dist_launch_size(&var), 1);
    assert_null(var);
    /* sbatch --ntasks=4 running the script itself: one process */
    setenv("SLURM_NTASKS", "4", 1);
    assert_int_equal(rcl_dist_launch_size(&var), 1);
    /* srun -n 4: every task sees its step's size */
    setenv("SLURM_STEP_NUM_TASKS", "4", 1);
    assert_int_equal(rcl_dist_launch_size(&var), 4);
    assert_string_equal(var, "SLURM_STEP_NUM_TASKS");
    clear();
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    assert_int_equal(rcl_dist_launch_size(&var), 2);
    assert_string_equal(var, "OMPI_COMM_WORLD_SIZE");
    clear();
    setenv("PMI_SIZE", "3", 1);
    assert_int_equal(rcl_dist_launch_size(NULL), 3);
    /* one process, or garbage: not a multi-process launch */
    setenv("PMI_SIZE", "1", 1);
    assert_int_equal(rcl_dist_launch_size(&var), 1);
    setenv("PMI_SIZE", "two", 1);
    assert_int_equal(rcl_dist_launch_size(&var), 1);
    clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launch_size),
    };
    return cmocka_run_group_tests_name("host_dist", tests, NULL, NULL);
}
