#!/usr/bin/env python3
"""PyTorch parity fixtures for resnet-cl (tests/test_parity.c).

Command (from the repository root; needs only torch, numpy, safetensors):

    python3 tests/parity/make_fixture.py

It rewrites tests/parity/<fixture>.safetensors for every name in FIXTURES
(resnet18, resnet50, resnet20 with BatchNorm; resnet20 and resnet18 with
gn, ln, in (resnet20 only) and none as <model>_<norm>; one or more names as arguments
rewrite just those). The output
is deterministic (float64 on the CPU), so rerunning it leaves the committed
files unchanged unless the script changes. See docs/parity.md.

Weights are not stored: this script and tests/support/parity_weights.c both
generate them from the tensor's name (FNV-1a 64 of the name seeds splitmix64,
see gen_uniform). The models are computed in float64 from the float32-rounded
weights and inputs, so the fixture holds the exact answer the float32 C code
approximates. The gammas of a block's second and third BatchNorm are near 0.1
rather than 1 (as with zero_init_residual, but not zero): with gamma 1 these
deep nets are chaotic at initialisation, and float32 rounding alone (PyTorch's
own included) moves resnet50's gradients by percents; see docs/parity.md.
Recorded per model, batch 8 at 32x32, 10 classes:

  gen/<t>/sample              samples of a few generated tensors (GEN_CHECK)
  eval_logits                 eval mode, generated running stats, before training
  logits, loss                train-mode forward, mean cross-entropy
  grad/<p>/sample|norm|sum    every parameter gradient: 16 sampled elements
                              (sample_indices), its L2 norm, its sum
  adam/<p>/sample, adam/<p>/dnorm
                              from the generated weights: 3 x (train forward,
                              backward, Adam(lr 1e-3) step); samples of p_3 and
                              ||p_3 - p_0||
  adam/<buffer>/sample        BN running_mean / running_var samples after them
  sgd/...                     the same for SGD(lr 0.01, momentum 0.9, wd 5e-4)
  partial/...                 a partial batch: eval_logits, logits, loss, grad/...
                              and adam/... (as above) on the first 5 images and
                              labels only; the C test runs them on a model built
                              for batch 8 (its buffers hold the 8-image pass)
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

COMMAND = "python3 tests/parity/make_fixture.py"
BATCH, SIZE, CLASSES, NSAMPLE, STEPS = 8, 32, 10, 16, 3
PARTIAL = 5  # the partial-batch case: the model is built for BATCH, trained on 5
ADAM = dict(lr=1e-3)
SGD = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
M64 = (1 << 64) - 1
GEN_CHECK = ("input", "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
             "bn1.running_var", "fc.weight", "fc.bias")


# ----------------------------------------------------------------- weights
def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def gen_uniform(name, n):
    """u in [-1, 1): splitmix64 finaliser of fnv1a64(name) + (i+1)*golden."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(fnv1a64(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 * 2.0 - 1.0


def gen_value(name, shape):
    """The generated value of tensor `name` (float64 of the float32 rounding)."""
    n = int(np.prod(shape))
    u = gen_uniform(name, n)
    if name == "input":
        v = (u + 1) / 2
    elif name.endswith("running_mean"):
        v = 0.1 * u
    elif name.endswith("running_var"):
        v = 1 + 0.05 * (u + 1)
    elif len(shape) == 4:
        v = u * np.sqrt(3.0 / (shape[1] * shape[2] * shape[3]))
    elif len(shape) == 2:
        v = u / np.sqrt(shape[1])
    elif name == "fc.bias":
        v = 0.1 * u
    elif name.endswith(".weight") and name.startswith("layer") and \
            name.endswith(("bn2.weight", "bn3.weight")):  # late BN gamma in a block
        v = (1 + 0.1 * u) * 0.1
    elif name.endswith(".weight"):  # BatchNorm gamma
        v = 1 + 0.1 * u
    elif name.endswith(".bias"):    # BatchNorm beta
        v = 0.1 * u
    else:
        raise ValueError(f"no generator for {name}")
    return torch.from_numpy(v.astype(np.float32).astype(np.float64).reshape(shape))  # exact


def sample_indices(name, numel):
    h = fnv1a64(name)
    return [((h + j * 2654435761) & M64) % numel for j in range(NSAMPLE)]


def load_generated(model):
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith("num_batches_tracked"):
                t.zero_()
            else:
                t.copy_(gen_value(name, tuple(t.shape)))


# ------------------------------------------------------------------ models
# The normalization of the model being built (make() sets it): "bn", or
# through the norm_layer hook "gn" (GroupNorm(largest divisor of C <= 32, C)),
# "ln" (GroupNorm(1, C)), "in" (GroupNorm(C, C)), "none" (identity, and a
# bias on every conv).
NORM = "bn"


def norm_layer(c):
    if NORM == "bn":
        return nn.BatchNorm2d(c)
    if NORM == "gn":
        return nn.GroupNorm(max(g for g in range(1, min(32, c) + 1) if c % g == 0), c)
    if NORM == "ln":
        return nn.GroupNorm(1, c)
    if NORM == "in":
        return nn.GroupNorm(c, c)
    if NORM == "none":
        return nn.Identity()
    raise ValueError(NORM)


def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, 3, stride, 1, bias=NORM == "none")


def conv1x1(i, o, stride=1):
    return nn.Conv2d(i, o, 1, stride, bias=NORM == "none")


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision v1.5: the stride sits on the 3x3."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv3 = conv1x1(planes, planes * 4)
        self.bn3 = norm_layer(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision.models.ResNet (same module names, hence state_dict names)."""

    def __init__(self, block, layers, num_classes):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=NORM == "none")
        self.bn1 = norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class CifarBlock(nn.Module):
    """He et al. 2015, Sec. 4.2: BasicBlock with the option-A shortcut."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.pad = (planes - inplanes) // 2
        self.subsample = stride != 1 or inplanes != planes

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.subsample:
            sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + sc)


class CifarResNet(nn.Module):
    def __init__(self, n, num_classes):
        super().__init__()
        self.conv1 = conv3x3(3, 16)
        self.bn1 = norm_layer(16)
        inplanes = 16
        for s, planes in enumerate((16, 32, 64)):
            blocks = []
            for b in range(n):
                blocks.append(CifarBlock(inplanes, planes, 2 if (b == 0 and s > 0) else 1))
                inplanes = planes
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# <model> (BatchNorm) or <model>_<norm>: the fixture files' names
FIXTURES = ("resnet18", "resnet50", "resnet20", "resnet20_gn", "resnet20_ln", "resnet20_in",
            "resnet20_none", "resnet18_gn", "resnet18_ln", "resnet18_none")
# (no resnet18_in: at 32x32 resnet18's layer4 maps are 1x1, where InstanceNorm
# outputs beta exactly and no gradient reaches the convs before it; float32
# results there are rounding noise with nothing to compare)
MODELS = {
    "resnet18": lambda: ResNet(BasicBlock, [2, 2, 2, 2], CLASSES),
    "resnet50": lambda: ResNet(Bottleneck, [3, 4, 6, 3], CLASSES),
    "resnet20": lambda: CifarResNet(3, CLASSES),
}


# ----------------------------------------------------------------- fixture
def samples(name, t):
    flat = t.detach().reshape(-1)
    return flat[sample_indices(name, flat.numel())].clone()


def train_steps(model, x, y, opt):
    for _ in range(STEPS):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


def make(arch, dtype=torch.float64, norm="bn"):
    """The fixture tensors computed in `dtype`, and metadata."""
    global NORM
    NORM = norm
    torch.manual_seed(0)  # nothing random is used; this only pins torch's state
    model = MODELS[arch]().to(dtype)
    x = gen_value("input", (BATCH, 3, SIZE, SIZE)).to(dtype)
    y = torch.arange(BATCH) % CLASSES
    out = {}

    # a few generated tensors, one per formula, to check the C generator
    shapes = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    shapes["input"] = tuple(x.shape)
    for name in (n for n in GEN_CHECK if n in shapes):
        out[f"gen/{name}/sample"] = samples(name, gen_value(name, shapes[name]))

    load_generated(model)
    model.eval()
    with torch.no_grad():
        out["eval_logits"] = model(x)

    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out["logits"] = logits.detach()
    out["loss"] = loss.detach().reshape(1)
    for name, p in model.named_parameters():
        out[f"grad/{name}/sample"] = samples(name, p.grad)
        out[f"grad/{name}/norm"] = p.grad.norm().reshape(1)
        out[f"grad/{name}/sum"] = p.grad.sum().reshape(1)

    for tag, cls, hp in (("adam", torch.optim.Adam, ADAM), ("sgd", torch.optim.SGD, SGD)):
        load_generated(model)
        p0 = {n: p.detach().clone() for n, p in model.named_parameters()}
        train_steps(model, x, y, cls(model.parameters(), **hp))
        for name, p in model.named_parameters():
            out[f"{tag}/{name}/sample"] = samples(name, p)
            out[f"{tag}/{name}/dnorm"] = (p.detach() - p0[name]).norm().reshape(1)
            out[f"{tag}/{name}/pnorm"] = p.detach().norm().reshape(1)  # for errors(), not saved
        for name, b in model.named_buffers():
            if not name.endswith("num_batches_tracked"):
                out[f"{tag}/{name}/sample"] = samples(name, b)

    # the partial batch (BatchNorm fixtures): the first PARTIAL images, same checks
    if norm != "bn":
        return finish(model, arch, norm, out)
    xp, yp = x[:PARTIAL], y[:PARTIAL]
    load_generated(model)
    model.eval()
    with torch.no_grad():
        out["partial/eval_logits"] = model(xp)
    model.train()
    model.zero_grad(set_to_none=True)
    logits = model(xp)
    loss = F.cross_entropy(logits, yp)
    loss.backward()
    out["partial/logits"] = logits.detach()
    out["partial/loss"] = loss.detach().reshape(1)
    for name, p in model.named_parameters():
        out[f"partial/grad/{name}/sample"] = samples(name, p.grad)
        out[f"partial/grad/{name}/norm"] = p.grad.norm().reshape(1)
        out[f"partial/grad/{name}/sum"] = p.grad.sum().reshape(1)
    load_generated(model)
    p0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    train_steps(model, xp, yp, torch.optim.Adam(model.parameters(), **ADAM))
    for name, p in model.named_parameters():
        out[f"partial/adam/{name}/sample"] = samples(name, p)
        out[f"partial/adam/{name}/dnorm"] = (p.detach() - p0[name]).norm().reshape(1)
        out[f"partial/adam/{name}/pnorm"] = p.detach().norm().reshape(1)
    for name, b in model.named_buffers():
        if not name.endswith("num_batches_tracked"):
            out[f"partial/adam/{name}/sample"] = samples(name, b)

    return finish(model, arch, norm, out)


def finish(model, arch, norm, out):
    nparams = sum(p.numel() for p in model.parameters())
    meta = {"model": arch, "norm": norm, "batch": str(BATCH),
            "partial": str(PARTIAL if norm == "bn" else 0), "size": str(SIZE), "classes": str(CLASSES),
            "samples": str(NSAMPLE), "steps": str(STEPS),
            "param_tensors": str(len(list(model.parameters()))), "params": str(nparams),
            "adam": "lr=1e-3 betas=(0.9,0.999) eps=1e-8 weight_decay=0",
            "sgd": "lr=0.01 momentum=0.9 dampening=0 weight_decay=5e-4 nesterov=False",
            "command": COMMAND, "torch": torch.__version__}
    numel = {n: p.numel() for n, p in model.named_parameters()}
    tensors = {k: v.detach().double().contiguous() for k, v in out.items()}
    return tensors, meta, numel


# Error metrics of tests/test_parity.c (max over the checked values; the test
# passes a category when its error is <= its tolerance). `got` is a float32 run.
CATEGORIES = ("eval_logits", "logits", "loss", "grad", "grad_norm", "grad_sum",
              "adam", "adam_dnorm", "adam_bn", "sgd", "sgd_dnorm", "sgd_bn")
ROUND = 2.0**-22  # a few float32 roundings of an updated parameter, relative


def errors(ref, got, numel, pre=""):
    """`pre` "partial/": the partial-batch case (its Adam run only)."""
    e = dict.fromkeys(CATEGORIES, 0.0)
    ref = {k[len(pre):]: v for k, v in ref.items() if k.startswith(pre)} if pre else ref
    got = {k[len(pre):]: v for k, v in got.items() if k.startswith(pre)} if pre else got

    def upd(cat, v):
        e[cat] = max(e[cat], float(v))

    for k in ("eval_logits", "logits"):
        upd(k, ((got[k] - ref[k]).abs() / ref[k].abs().max()).max())
    upd("loss", ((got["loss"] - ref["loss"]).abs() / ref["loss"].abs()).max())
    for name, n in numel.items():
        g = f"grad/{name}/"
        rms = ref[g + "norm"] / n**0.5
        upd("grad", ((got[g + "sample"] - ref[g + "sample"]).abs()
                     / (ref[g + "sample"].abs() + rms)).max())
        upd("grad_norm", ((got[g + "norm"] - ref[g + "norm"]).abs() / ref[g + "norm"]).max())
        upd("grad_sum", ((got[g + "sum"] - ref[g + "sum"]).abs() / ref[g + "norm"]).max())
        for tag in ("adam", "sgd"):
            t = f"{tag}/{name}/"
            if t + "sample" not in ref:
                continue
            want, dn = ref[t + "sample"], ref[t + "dnorm"]
            err = ((got[t + "sample"] - want).abs() - ROUND * want.abs()).clamp(min=0)
            upd(tag, (err / (dn / n**0.5)).max())
            err = ((got[t + "dnorm"] - dn).abs() - ROUND * got[t + "pnorm"]).clamp(min=0)
            upd(tag + "_dnorm", (err / dn).max())
    for k in ref:
        for tag in ("adam", "sgd"):
            if k.startswith(tag + "/") and "running_" in k:
                want = ref[k]
                upd(tag + "_bn", ((got[k] - want).abs()
                                  / (want.abs() + want.pow(2).mean().sqrt())).max())
    return e


def main():
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    here = os.path.dirname(os.path.abspath(__file__))
    for name in (sys.argv[1:] or FIXTURES):
        arch, _, norm = name.partition("_")
        norm = norm or "bn"
        ref, meta, numel = make(arch, norm=norm)
        # The same in float32: how far PyTorch's own float32 lands from the
        # exact answer, under the C test's metrics (recorded as metadata).
        f32, _, _ = make(arch, torch.float32, norm=norm)
        for cat, v in errors(ref, f32, numel).items():
            meta[f"torch_f32_err.{cat}"] = f"{v:.3g}"
        if norm == "bn":
            for cat, v in errors(ref, f32, numel, "partial/").items():
                if not cat.startswith("sgd"):
                    meta[f"torch_f32_err.partial.{cat}"] = f"{v:.3g}"
        tensors = {k: v for k, v in ref.items() if not k.endswith("/pnorm")}
        path = os.path.join(here, f"{name}.safetensors")
        save_file(tensors, path, metadata=meta)
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes, "
              f"loss {ref['loss'].item():.6f}")
        print("  PyTorch float32 errors: " + ", ".join(
            f"{c} {meta['torch_f32_err.' + c]}" for c in CATEGORIES))


if __name__ == "__main__":
    main()
