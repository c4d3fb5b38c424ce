#!/usr/bin/env python3
"""The torchvision peer of `resnet-cl bench-loader` (docs/imagenet.md).

Runs torchvision's ImageFolder + DataLoader with the paper's training
transform (shorter side random in [256, 480], random 224 crop, horizontal
flip, ToTensor, AlexNet PCA lighting sigma 0.1) -- or, with
--transform rrc, the usual RandomResizedCrop(224) + flip -- on the same
folder with the same number of workers, alternating rounds with
`resnet-cl bench-loader` in this one run, and prints both images/s and
their ratio (resnet-cl / torchvision, median over the rounds).

    python3 bench/torch_loader_peer.py --data ../shared/data/imagenet-sample \
        --bin build/resnet-cl --threads 1 --images 600 --rounds 3

Needs torch and torchvision (pip install torch torchvision). The first
batch of every run is not timed, on both sides.
"""
import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time

EIGVAL = [0.2175, 0.0188, 0.0045]
EIGVEC = [[-0.5675, 0.7192, 0.4009],
          [-0.5808, -0.0045, -0.8140],
          [-0.5836, -0.6948, 0.4203]]


class RandomShortSide:
    """Resize the shorter side to a random size in [lo, hi] (PIL bilinear)."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __call__(self, img):
        import torchvision.transforms.functional as F
        return F.resize(img, random.randint(self.lo, self.hi))


class Lighting:
    """AlexNet PCA colour noise on a [0, 1] CHW tensor (fb.resnet.torch)."""

    def __init__(self, sigma):
        import torch
        self.sigma = sigma
        self.val = torch.tensor(EIGVAL)
        self.vec = torch.tensor(EIGVEC)

    def __call__(self, t):
        import torch
        if self.sigma == 0:
            return t
        alpha = torch.randn(3) * self.sigma
        shift = (self.vec * (alpha * self.val).view(1, 3)).sum(1)
        return t + shift.view(3, 1, 1)


def torch_run(data, threads, batch, images, transform):
    import torch
    import torchvision.datasets as D
    import torchvision.transforms as T
    torch.set_num_threads(1)
    if transform == "paper":
        tf = T.Compose([RandomShortSide(256, 480), T.RandomCrop(224), T.RandomHorizontalFlip(),
                        T.ToTensor(), Lighting(0.1)])
    else:
        tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor()])
    root = os.path.join(data, "train") if os.path.isdir(os.path.join(data, "train")) else data
    ds = D.ImageFolder(root, transform=tf)
    # threads workers decode; the main process only collates (as resnet-cl's
    # consumer only copies the batch out)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=threads,
                                     persistent_workers=True, prefetch_factor=2)
    done = timed = 0
    t0 = None
    while done < images:
        for x, _ in dl:
            done += x.shape[0]
            if t0 is None:
                t0 = time.perf_counter()
            else:
                timed += x.shape[0]
            if done >= images:
                break
    wall = time.perf_counter() - t0
    del dl
    return timed / wall


def rcl_run(binary, data, threads, batch, images, extra):
    cmd = [binary, "bench-loader", "--data", data, "--threads", str(threads), "--batch-size",
           str(batch), "--images", str(images)] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"images/s: ([0-9.]+)", out)
    if not m:
        sys.exit("torch_loader_peer: no images/s in the output of %s:\n%s" % (" ".join(cmd), out))
    stages = re.search(r"per image \(worker time\): (.*)", out)
    return float(m.group(1)), stages.group(1) if stages else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--bin", default="build/resnet-cl")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--images", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--transform", choices=["paper", "rrc"], default="paper",
                    help="paper: scale [256,480] + crop + flip + lighting (what bench-loader "
                         "does); rrc: RandomResizedCrop(224) + flip")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit("torch_loader_peer: %s is not an executable; build resnet-cl or give --bin" % a.bin)
    import torch
    import torchvision
    print("peer: torch %s, torchvision %s, %d worker%s, batch %d, %d images a run, %d rounds, "
          "transform %s" % (torch.__version__, torchvision.__version__, a.threads,
                            "" if a.threads == 1 else "s", a.batch_size, a.images, a.rounds,
                            a.transform))
    extra = ["--lighting", "0.1" if a.transform == "paper" else "0"]
    ours, theirs = [], []
    for r in range(a.rounds):
        v, stages = rcl_run(a.bin, a.data, a.threads, a.batch_size, a.images, extra)
        ours.append(v)
        t = torch_run(a.data, a.threads, a.batch_size, a.images, a.transform)
        theirs.append(t)
        print("round %d: resnet-cl %.1f images/s (%s); torchvision %.1f images/s" %
              (r + 1, v, stages, t))
    mo, mt = statistics.median(ours), statistics.median(theirs)
    print("median: resnet-cl bench-loader %.1f images/s, torchvision ImageFolder+DataLoader "
          "%.1f images/s, ratio %.2f" % (mo, mt, mo / mt))


if __name__ == "__main__":
    main()
