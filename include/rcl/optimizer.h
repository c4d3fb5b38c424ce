/* An optimizer over all of a model's parameters (torch.optim.Adam / SGD over
 * model.parameters()), with its step count and a settable learning rate. */
#ifndef RCL_OPTIMIZER_H
#define RCL_OPTIMIZER_H

#include "rcl/model.h"
#include "rcl/optim.h"

typedef enum rcl_optim_kind { RCL_OPTIM_ADAM = 0, RCL_OPTIM_SGD = 1 } rcl_optim_kind;

typedef struct rcl_optimizer {
    rcl_optim_kind kind;
    rcl_adam_hparams adam;
    rcl_sgd_hparams sgd;
    int64_t step;          /* steps taken so far (PyTorch's state['step']) */
    rcl_model *model;
    /* 1: one launch updates every parameter (set by init when the model's
     * parameters, gradients and state could be moved into flat buffers);
     * 0: one launch per tensor (the same kernel; set it to compare) */
    int flat;
} rcl_optimizer;

/* Caller-owned. State tensors (Adam exp_avg/exp_avg_sq, SGD momentum_buffer)
 * live in each rcl_param's state[] and are zero-initialised here; values,
 * grads and state become views of one flat buffer per kind (each rcl_param
 * tensor stays a tensor of its own shape, read and written as before). */
int rcl_optimizer_init(rcl_optimizer *o, rcl_model *m, rcl_optim_kind kind,
                       const rcl_adam_hparams *adam, const rcl_sgd_hparams *sgd);
/* One update of every parameter from its grad. */
int rcl_optimizer_step(rcl_optimizer *o);
void rcl_optimizer_set_lr(rcl_optimizer *o, float lr);
float rcl_optimizer_lr(const rcl_optimizer *o);
/* Number of state tensors per parameter (2 Adam, 1 SGD with momentum, else 0)
 * and their names in PyTorch's optimizer state ("exp_avg", ...). */
int rcl_optimizer_state_count(const rcl_optimizer *o);
const char *rcl_optimizer_state_name(const rcl_optimizer *o, int i);

#endif
