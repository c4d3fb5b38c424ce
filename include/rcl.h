/* resnet-cl public API (prefix rcl_): runtime, tensors, GEMM, layer ops,
 * optimizers. All functions return RCL_OK (0) or a negative rcl_status. */
#ifndef RCL_H
#define RCL_H

#include "rcl/status.h"
#include "rcl/runtime.h"
#include "rcl/tensor.h"
#include "rcl/gemm.h"
#include "rcl/ops.h"
#include "rcl/norm.h"
#include "rcl/optim.h"
#include "rcl/safetensors.h"
#include "rcl/data.h"
#include "rcl/rng.h"
#include "rcl/model.h"
#include "rcl/optimizer.h"
#include "rcl/plateau.h"
#include "rcl/checkpoint.h"
#include "rcl/trainer.h"
#include "rcl/tune_cache.h"
#include "rcl/profile.h"

#endif
