#!/usr/bin/env python3
"""Writes tests/ref/imagenet_crops_ref.txt: torchvision's evaluation crops of
a few photos of ../shared/data/imagenet-sample, which
tests/test_host_imagenet.c compares with rcl_imagenet_ten_crop (no torch
needed there; the photos are read from the shared data, never committed).

For each photo: torchvision.io.decode_jpeg (libjpeg-turbo), v2 Resize(256,
bilinear, antialias=False) on the uint8 tensor, TenCrop(224). Recorded per
crop: the sum of each channel and 48 pixels (c, y, x, value) at fixed
pseudo-random places. Rerun: python3 tests/ref/make_imagenet_crops_ref.py [DATA]

Format: 'photo <relative path> <h> <w> <resized h> <resized w>', then 10
lines 'crop <k> <sum R> <sum G> <sum B> <c:y:x:v> x 48'."""
import os
import random
import sys

import torch
import torchvision
from torchvision.io import decode_jpeg, read_file, ImageReadMode
from torchvision.transforms import v2

PHOTOS = ["n01440764/n01440764_tench.JPEG", "n03908714/n03908714_pencil_sharpener.JPEG",
          "n02391049/n02391049_zebra.JPEG", "n04443257/n04443257_tobacco_shop.JPEG"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared/data")
    root = os.path.join(data, "imagenet-sample")
    rng = random.Random(7)
    lines = ["# torchvision %s, torch %s (tests/ref/make_imagenet_crops_ref.py)" %
             (torchvision.__version__, torch.__version__)]
    for rel in PHOTOS:
        img = decode_jpeg(read_file(os.path.join(root, rel)), mode=ImageReadMode.RGB)
        r = v2.functional.resize(img, 256, interpolation=v2.InterpolationMode.BILINEAR,
                                 antialias=False)
        crops = v2.functional.ten_crop(r, 224)
        lines.append("photo %s %d %d %d %d" % (rel, img.shape[1], img.shape[2], r.shape[1],
                                               r.shape[2]))
        for k, c in enumerate(crops):
            sums = [int(c[ch].to(torch.int64).sum()) for ch in range(3)]
            pts = []
            for _ in range(48):
                ch, y, x = rng.randrange(3), rng.randrange(224), rng.randrange(224)
                pts.append("%d:%d:%d:%d" % (ch, y, x, int(c[ch, y, x])))
            lines.append("crop %d %d %d %d %s" % (k, sums[0], sums[1], sums[2], " ".join(pts)))
    out = os.path.join(here, "imagenet_crops_ref.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
