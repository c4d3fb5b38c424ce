/* Data-parallel training under MPI (issue #18, docs/distributed.md): two
 * ranks on one PoCL device, each with one worker thread, on a tiny fixed
 * data set (2 classes x 8 CIFAR-10 JPEGs, no augmentation), against one
 * process (stops, failures, resume: test_train_mpi_stop.c).
 *  - two epochs of SGD and of Adam over 2 ranks (batch 8 = 4 per rank,
 *    gradients all-reduced in many small buckets during the backward, and
 *    once with --no-overlap) give the losses and every parameter and
 *    optimizer state of one process with --accumulate 2 (micro-batches of
 *    4: BN statistics per micro-batch, as per rank), bit for bit;
 *  - with --sync-bn they match one process at the global batch (BN over
 *    all its images), running statistics included, to float tolerance.
 * Registered only in an MPI build (RCL_MPI). */
#include "train_mpi_util.h"

static void equivalence(const char *optim, const char *extra, const char *tag)
{
    char common[2048], args[4096], single[1200], multi[1200];
    snprintf(common, sizeof common, "--device %d train --model resnet20 --data %s --epochs 2 "
             "--batch-size 8 --no-augment --optimizer %s --lr %s --log-interval 1", dev(), g_data,
             optim, strcmp(optim, "sgd") ? "0.01" : "0.05");
    snprintf(single, sizeof single, "%s/%s-single", g_dir, optim); /* one per optimizer */
    snprintf(multi, sizeof multi, "%s/%s-mpi", g_dir, tag);
    static char *single_out[2]; /* the one-process run of each optimizer, once */
    char **cached = &single_out[strcmp(optim, "sgd") != 0], *o1 = NULL, *o2 = NULL;
    int rc = 0;
    if (!*cached) {
        rc = tu_run(cached, "%s --accumulate 2 --out %s", common, single);
        if (rc) fail_msg("one process: rc %d\n%s", rc, *cached);
    }
    o1 = strdup(*cached);
    snprintf(args, sizeof args, "%s %s --check-sync 1 --out %s", common, extra, multi);
    rc = run_mpi(&o2, args);
    if (rc) fail_msg("2 ranks: rc %d\n%s", rc, o2);
    if (!strstr(o2, "rank 0 of 2") || !strstr(o2, "rank 1 of 2") ||
        !strstr(o2, "BatchNorm statistics per rank"))
        fail_msg("2 ranks: the per-rank lines or the BN note are missing\n%s", o2);
    char *l1 = loss_lines(o1), *l2 = loss_lines(o2);
    if (strcmp(l1, l2) || !strstr(l1, "Epoch [2/2], step [2/2]"))
        fail_msg("%s: losses differ\none process:\n%s2 ranks:\n%s", tag, l1, l2);
    char a[1300], b[1300];
    snprintf(a, sizeof a, "%s/last.safetensors", single);
    snprintf(b, sizeof b, "%s/last.safetensors", multi);
    compare_checkpoints(a, b, tag, 0, 0, 0);
    free(l1);
    free(l2);
    free(o1);
    free(o2);
}

/* --sync-bn on 2 ranks of 2 images against one process at batch 4, 4 steps:
 * the sums run in another order (double on the host), so to float
 * tolerance. Adam's normalised step turns float-level differences of
 * near-zero gradients into weight differences of up to 2 lr per step (the
 * sign of such a gradient decides a whole step: its first, bias-corrected
 * step is lr * sign(g); 4 steps can differ by 8 lr), so for Adam the
 * weights and running statistics are compared to 1e-2 relative (of the
 * tensor's largest value; with F(4x4) as the default for the im2col
 * path's convs too, layer2.2.bn1.running_var lands 3e-3 apart) plus 4 lr
 * (the running statistics follow the weights; measured: at most 0.77 lr with Winograd
 * F(2x2) on the 32x32 maps, 2.03 lr with F(4x4), whose rounding differs
 * from the direct sum's more) and its moments not at all; its losses to
 * 2e-3 (F(4x4) at the current points with im2col's 3x3 convs as F(4x4)
 * too: 8e-4 at step 4), SGD's to 2e-4. Without --sync-bn the losses
 * differ by 0.056 at step 1 and 0.12 at step 4 (measured on PoCL), and
 * SGD above checks the synchronised statistics to float tolerance. */
static void sync_bn(const char *optim, const char *lr, const char *tag, double rtol, double atol,
                    double ltol, int skip_optim)
{
    char common[2048], args[4096], single[1200], multi[1200];
    snprintf(common, sizeof common, "--device %d train --model resnet20 --data %s --epochs 1 "
             "--batch-size 4 --no-augment --optimizer %s --lr %s --log-interval 1", dev(), g_data,
             optim, lr);
    snprintf(single, sizeof single, "%s/%s-single", g_dir, tag);
    snprintf(multi, sizeof multi, "%s/%s-mpi", g_dir, tag);
    char *o1 = NULL, *o2 = NULL;
    int rc = tu_run(&o1, "%s --out %s", common, single);
    if (rc) fail_msg("one process: rc %d\n%s", rc, o1);
    snprintf(args, sizeof args, "%s --sync-bn --check-sync 1 --out %s", common, multi);
    rc = run_mpi(&o2, args);
    if (rc || !strstr(o2, "BatchNorm statistics over all ranks (--sync-bn)"))
        fail_msg("2 ranks --sync-bn: rc %d\n%s", rc, o2);
    double l1[8], l2[8];
    int n1 = losses(o1, l1, 8), n2 = losses(o2, l2, 8);
    assert_int_equal(n1, 4);
    assert_int_equal(n2, 4);
    for (int i = 0; i < 4; i++)
        if (fabs(l1[i] - l2[i]) > ltol)
            fail_msg("%s: step %d loss %.4f (one process) vs %.4f (2 ranks)", tag, i + 1, l1[i], l2[i]);
    char a[1300], b[1300];
    snprintf(a, sizeof a, "%s/last.safetensors", single);
    snprintf(b, sizeof b, "%s/last.safetensors", multi);
    compare_checkpoints(a, b, tag, rtol, atol, skip_optim);
    free(o1);
    free(o2);
}

static void test_sync_bn(void **state)
{
    (void)state;
    /* SGD: the weights and running statistics to 1e-3 relative, the
     * momentum buffers (the raw gradients) not at all: behind the stack of
     * 19 BatchNorms at batch 4, the first layers' gradients move at the 1e-3
     * level with the float rounding of the forward pass (measured: one
     * step of batch 10, one process against 2 ranks, conv1's gradient
     * differs by 2.4e-4 of 0.24 with the direct convs; Winograd rounds
     * differently again), and 4 steps of momentum compound it. Absolute
     * 5e-5: a ReLU input within rounding of 0 (test_parity.c PINNED) goes
     * either way in the two runs and moves a BN bias by ~1e-5 (largest
     * difference measured: 1.4e-6 with F(4x4) at Lavin & Gray's points,
     * 1.1e-5 with F(2x2) and im2col, 1.4e-5 at cl/conv_wino.cl's points,
     * bn1.bias, ~2% of it). A sync error moves the losses (2e-4 above)
     * and the running statistics by far more. */
    sync_bn("sgd", "0.002", "sgd-sync-bn", 1e-3, 5e-5, 2e-4, 1);
    sync_bn("adam", "0.0005", "adam-sync-bn", 1e-2, 2e-3, 2e-3, 1);
}

static void test_equivalence(void **state)
{
    (void)state;
    equivalence("sgd", "", "sgd-overlap");
    equivalence("adam", "", "adam-overlap");
    equivalence("sgd", "--no-overlap", "sgd-no-overlap");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_equivalence, setup),
    cmocka_unit_test_setup(test_sync_bn, setup),
};

int main(int argc, char **argv)
{
    return cleanup(rcl_test_main_fast(argc, argv, "train_mpi", tests, sizeof tests / sizeof tests[0]));
}
