#!/usr/bin/env python3
"""The PyTorch peer of `resnet-cl bench` (issue #14; README, "Tuning and speed").

For every model of the table it alternates, round by round, `resnet-cl
bench` (a subprocess) and the same model in PyTorch on the CPU with the
same number of threads, batch, input size and optimizer (Adam, lr 1e-3):
a training step is forward + cross-entropy + backward + Adam step, an
inference step is forward in eval mode under no_grad. Every round measures
the median of --steps steps after --warmup untimed ones, on both sides.
It prints one row per model: images/s of each (median and range over the
rounds) and the ratio resnet-cl / PyTorch (median of the per-round ratios
and their range), for training and for inference; --csv writes the same.

    python3 bench/torch_peer.py --bin build/resnet-cl --device 0 --threads 2 \\
        --rounds 3 --models resnet20,resnet18

Models: torchvision's resnet18/34/50/101/152 (num_classes 10; at 32x32 this
is the course layout), the paper's CIFAR nets resnet20/32/44/56/110 with
option-A shortcuts written out below (x[:, :, ::2, ::2] zero-padded in
channels, as resnet-cl builds them), and "resnet50@224" (224x224, its own
batch). Needs torch and torchvision from PyPI; the build and the tests never
do. The machine should be otherwise idle; the ratios are the numbers to
quote, not the absolute rates.
"""
import argparse
import re
import statistics
import subprocess
import sys
import time

# model name -> (resnet-cl model, input size, default batch)
TABLE = {
    "resnet18": ("resnet18", 32, 100),
    "resnet34": ("resnet34", 32, 100),
    "resnet50": ("resnet50", 32, 64),
    "resnet50@224": ("resnet50", 224, 16),
    "resnet20": ("resnet20", 32, 128),
    "resnet32": ("resnet32", 32, 128),
    "resnet44": ("resnet44", 32, 128),
    "resnet56": ("resnet56", 32, 128),
    "resnet110": ("resnet110", 32, 128),
}
DEFAULT_MODELS = "resnet18,resnet34,resnet50,resnet50@224,resnet20,resnet56,resnet110"


def cifar_resnet(depth, num_classes=10):
    """He et al. 2016, section 4.2: 6n+2 layers, 16/32/64 filters, option A."""
    import torch.nn as nn
    import torch.nn.functional as F

    class ShortcutA(nn.Module):
        def __init__(self, planes):
            super().__init__()
            self.pad = planes // 4

        def forward(self, x):
            return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    class Block(nn.Module):
        def __init__(self, inp, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = ShortcutA(planes) if stride != 1 or inp != planes else nn.Identity()

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    n = (depth - 2) // 6
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    inp = 16
    for planes, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(n):
            layers.append(Block(inp, planes, stride if i == 0 else 1))
            inp = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


def torch_model(name):
    import torchvision
    base = name.split("@")[0]
    m = re.fullmatch(r"resnet(\d+)", base)
    depth = int(m.group(1))
    if depth in (18, 34, 50, 101, 152):
        return getattr(torchvision.models, base)(num_classes=10)
    return cifar_resnet(depth)


def torch_round(model, batch, size, steps, warmup, device="cpu"):
    """(train images/s, inference images/s), medians of `steps` timed steps
    (on CUDA each step ends with a synchronize, as resnet-cl's end with a
    clFinish)."""
    import torch
    import torch.nn.functional as F
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    x = torch.rand(batch, 3, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for i in range(warmup + steps):
        sync()
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    train = batch / statistics.median(times)
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(warmup + steps):
            sync()
            t = time.perf_counter()
            model(x)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - t)
    return train, batch / statistics.median(times)


def rcl_round(args, rcl_model, batch, size):
    cmd = [args.bin, "--device", str(args.device), "bench", "--model", rcl_model, "--batch-size",
           str(batch), "--size", str(size), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--no-profile"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("torch_peer.py: %s failed (%d):\n%s%s" % (" ".join(cmd), out.returncode, out.stdout,
                                                           out.stderr))
    tr = re.search(r"training step:.*-> ([0-9.]+) images/s", out.stdout)
    inf = re.search(r"inference:.*-> ([0-9.]+) images/s", out.stdout)
    if not tr or not inf:
        sys.exit("torch_peer.py: cannot read the rates from:\n" + out.stdout)
    return float(tr.group(1)), float(inf.group(1))


def med_range(v, fmt="%.1f"):
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(v), min(v), max(v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/resnet-cl")
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--models", default=DEFAULT_MODELS,
                    help="comma-separated, from: " + ", ".join(TABLE))
    ap.add_argument("--batch-size", type=int, default=0, help="override every model's batch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--csv", help="also write the table here")
    ap.add_argument("--torch-device", default="cpu",
                    help="PyTorch's device: cpu (default) or cuda[:N] (the GPU peer, docs/gpu.md)")
    ap.add_argument("--cuda-fp32", action="store_true",
                    help="on CUDA, convolutions and matmuls in full float32 like resnet-cl "
                         "(torch.backends.cudnn.allow_tf32 = False; PyTorch's default runs "
                         "convolutions in TF32 on Ampere and later)")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in TABLE:
            sys.exit("torch_peer.py: unknown model %r (known: %s)" % (n, ", ".join(TABLE)))
    dev = subprocess.run([args.bin, "devices"], capture_output=True, text=True).stdout
    where = "%d threads" % args.threads
    if args.torch_device != "cpu":
        if args.cuda_fp32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        where = "%s (%s), cudnn.allow_tf32=%s, cuda.matmul.allow_tf32=%s" % (
            args.torch_device, torch.cuda.get_device_name(args.torch_device),
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    print("# torch %s on %s; resnet-cl device %d of:\n# %s" % (
        torch.__version__, where, args.device, dev.strip().replace("\n", "\n# ")))
    rows = []
    hdr = ("model", "batch", "size", "resnet-cl train img/s", "PyTorch train img/s", "train ratio",
           "resnet-cl inference img/s", "PyTorch inference img/s", "inference ratio")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for n in names:
        rcl_model, size, batch = TABLE[n]
        if args.batch_size:
            batch = args.batch_size
        model = torch_model(n).to(args.torch_device)
        r_tr, r_inf, t_tr, t_inf = [], [], [], []
        for _ in range(args.rounds):  # alternate: resnet-cl, then PyTorch
            a, b = rcl_round(args, rcl_model, batch, size)
            r_tr.append(a)
            r_inf.append(b)
            a, b = torch_round(model, batch, size, args.steps, args.warmup, args.torch_device)
            t_tr.append(a)
            t_inf.append(b)
        ratio_tr = [a / b for a, b in zip(r_tr, t_tr)]
        ratio_inf = [a / b for a, b in zip(r_inf, t_inf)]
        row = (n, str(batch), "%dx%d" % (size, size), med_range(r_tr), med_range(t_tr),
               med_range(ratio_tr, "%.2f") + "x", med_range(r_inf), med_range(t_inf),
               med_range(ratio_inf, "%.2f") + "x")
        rows.append(row)
        print("| " + " | ".join(row) + " |", flush=True)
    if args.csv:
        with open(args.csv + ".tmp", "w") as f:
            f.write(",".join(hdr) + "\n")
            for r in rows:
                f.write(",".join('"%s"' % c for c in r) + "\n")
        import os
        os.replace(args.csv + ".tmp", args.csv)


if __name__ == "__main__":
    main()
