#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (committed;
rerun after changing a format). Every image is synthetic (drawn here), so
nothing of the shared data set is committed; ci/fuzz.sh adds a few real
CIFAR-10 JPEGs from ../shared/data to its working copy of the image and
CIFAR corpora when that data is there. Needs Python 3 with Pillow."""
import io, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fnv1a(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def pixels(w, h, seed):
    """A smooth synthetic RGB picture, w x h, as bytes (HWC)."""
    out = bytearray()
    for y in range(h):
        for x in range(w):
            out += bytes(((x * 255 // max(w - 1, 1) + seed * 40) % 256,
                          (y * 255 // max(h - 1, 1) + seed * 90) % 256,
                          ((x ^ y) * 8 + seed * 17) % 256))
    return bytes(out)


def images():
    from PIL import Image
    def enc(img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        return b.getvalue()
    rgb32 = Image.frombytes("RGB", (32, 32), pixels(32, 32, 1))
    rgb = Image.frombytes("RGB", (48, 40), pixels(48, 40, 2))
    put("image", "rgb32_q75.jpg", enc(rgb32, "JPEG", quality=75))
    put("image", "rgb_progressive.jpg", enc(rgb, "JPEG", quality=60, progressive=True))
    put("image", "rgb_420_restart.jpg", enc(rgb, "JPEG", quality=50, subsampling=2))
    put("image", "grey.jpg", enc(rgb.convert("L"), "JPEG", quality=70))
    put("image", "cmyk.jpg", enc(rgb32.convert("CMYK"), "JPEG", quality=70))
    put("image", "rgb.png", enc(rgb32, "PNG"))
    put("image", "rgba.png", enc(rgb.convert("RGBA"), "PNG"))
    put("image", "grey.png", enc(rgb.convert("L"), "PNG"))
    put("image", "grey_alpha.png", enc(rgb32.convert("LA"), "PNG"))
    put("image", "palette.png", enc(rgb.convert("P"), "PNG"))
    put("image", "bilevel.png", enc(rgb32.convert("1"), "PNG"))
    put("image", "rgb16.png", enc(Image.frombytes("I;16", (16, 8), bytes(range(256))), "PNG"))
    return rgb32


def cifar():
    # records: label byte + R plane + G plane + B plane (32 x 32)
    recs = b""
    for label in range(3):
        px = pixels(32, 32, label)
        planes = b"".join(px[c::3] for c in range(3))
        recs += bytes([label]) + planes
    put("cifar_bin", "three_records.bin", recs)
    put("cifar_bin", "one_record.bin", recs[:3073])
    names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
    put("cifar_bin", "batches.meta.txt", names)
    put("cifar_bin", "meta_crlf.txt", "  a \r\n\r\nb\r\nc\nd\ne\nf\ng\nh\ni\nj")


def safetensors(tensors, meta, pad_to=8):
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % pad_to)
    return struct.pack("<Q", len(h)) + h + data


def st_corpus():
    meta = {"format": "pt", "checkpoint": "resnet-cl", "arch": "resnet20", "num_classes": "10",
            "in_h": "32", "in_w": "32", "stride_on_1x1": "0", "norm": "gn",
            "norm_config": "groups=32 eps=1e-05 momentum=0.1 lrn=5,0.0001,0.75,1 brn=3,5,5000,20000",
            "init": "kaiming-normal", "init_config": "mode=fan_out gain=1 zero_init_residual=1",
            "classes": "airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck",
            "epoch": "3", "seed": "7", "lr": "0.001", "optimizer": "adam", "normalize": "1"}
    f32 = struct.pack("<6f", 1, -2, 3.5, 0, 1e-3, 7)
    ts = [("conv1.weight", "F32", [2, 3], f32),
          ("bn1.num_batches_tracked", "I64", [], struct.pack("<q", 5)),
          ("fc.bias", "F16", [2], b"\x00\x3c\x00\xc0"),
          ("empty", "F32", [0, 4], b""),
          ("u8", "U8", [3], b"\x01\x02\x03"),
          ("bf", "BF16", [1], b"\x80\x3f"),
          ("i32", "I32", [1, 1], struct.pack("<i", -3)),
          ("f64", "F64", [1], struct.pack("<d", 2.5)),
          ("b", "BOOL", [2], b"\x01\x00")]
    st = safetensors(ts, meta)
    put("safetensors", "checkpoint_like.safetensors", st)
    put("safetensors", "plain.safetensors", safetensors(ts[:2], None))
    put("safetensors", "empty_header.safetensors", safetensors([], None))
    put("safetensors", "meta_only.safetensors", safetensors([], {"arch": "resnet18", "num_classes": "1000",
                                                                 "in_h": "224", "in_w": "224"}))
    # the JSON corpus: safetensors headers and small documents
    put("json", "header.json", st[8:8 + struct.unpack("<Q", st[:8])[0]])
    put("json", "escapes.json", '{"a\\u00e9\\ud83d\\ude00":"\\"\\\\\\/\\b\\f\\n\\r\\t","k":[0,-1,18446744073709551615]}')
    put("json", "nested.json", "[[[[{\"x\":[]}]]]]")
    put("json", "utf8.json", '{"caf\u00e9":"\u65e5\u672c"}')
    put("json", "ints.json", "[0,-0,123456789012345678,{}]  \n")


def tune_corpus():
    key = ("platform OpenCL 3.0 PoCL 3.1\ndevice cpu-haswell-AMD EPYC\ndriver 3.1\ncompute_units 2\n"
           "env POCL_MAX_PTHREAD_COUNT=- POCL_CPU_MAX_CU_COUNT=- POCL_AFFINITY=-")
    def tune_file(entries, checksum=True, version=2):
        text = "resnet-cl tune cache v%d\n%s\nentries %d\n" % (version, key, len(entries))
        for k, p, v in entries:
            text += "param %s %s %d\n" % (k, p, v)
        if checksum:
            text += "checksum %016x\n" % fnv1a(text.encode())
        return text
    ents = [("gemm.NN_m6_n12_k9", "PATH", 1), ("gemm.NT_m6_n7_k13", "MWI", 4),
            ("conv2d.chunk", "COL_BUDGET_MB", 256), ("relu", "VW", -1)]
    put("tune_cache", "valid.txt", tune_file(ents))
    put("tune_cache", "empty.txt", tune_file([]))
    put("tune_cache", "stale_driver.txt", tune_file(ents).replace("driver 3.1", "driver 3.0"))
    # without the checksum line: the target appends a correct one
    put("tune_cache", "body_only.txt", tune_file(ents, checksum=False))
    # v1: read without its conv WINOGRAD entry
    put("tune_cache", "v1_winograd.txt", tune_file(ents + [("conv", "WINOGRAD", 0)], version=1))


def program_corpus():
    key = (b"rcl-program-v1\nOpenCL 3.0 PoCL\ncpu\n3.1\nrelu.cl\n-DVW=4\n"
           b"__kernel void k(__global float *x) { x[0] = 0; }\n")
    binary = b"\x7fELF\x02\x01\x01" + bytes(range(64))
    def entry(k, b):
        return b"RCLPROG1" + struct.pack("<QQQ", len(k), len(b), fnv1a(k + b)) + k + b
    put("program_entry", "valid.bin", entry(key, binary))
    put("program_entry", "other_key.bin", entry(key.replace(b"3.1", b"3.2"), binary))
    put("program_entry", "header_only.bin", entry(key, binary)[:32])


def cli_corpus():
    lines = {
        "help": "--help",
        "train_full": "--device\n0\ntrain\n--model\nresnet20\n--data\n/d\n--epochs\n5\n--batch-size\n64\n"
                      "--optimizer\nsgd\n--lr\n0.1\n--momentum\n0.9\n--nesterov\n--weight-decay\n5e-4\n"
                      "--milestones\n30,60\n--seed\n3\n--no-augment\n--normalize\n--paper-stride\n"
                      "--train-per-class\n10\n--test-per-class\n5\n--log-interval\n7\n--out\nruns/x\n--no-save",
        "train_eq": "train\n--epochs=3\n--step-size=2\n--lr-factor=10\n--resume=ck.safetensors",
        "train_norm": "train\n--norm\ngn\n--groups\n16\n--init\nkaiming-uniform\n--init-mode\nfan_out\n"
                      "--init-gain\n1.5\n--zero-init-residual",
        "train_brn": "train\n--norm=brn\n--brn-r-max\n3\n--brn-d-max\n5\n--brn-warmup\n10\n--brn-ramp\n20",
        "train_lrn": "train\n--norm\nlrn\n--lrn-size\n5\n--lrn-alpha\n1e-4\n--lrn-beta\n0.75\n--lrn-k\n1",
        "train_help": "train\n--help",
        "eval": "eval\n--checkpoint\nc.safetensors\n--data\nd\n--split\ntrain\n--batch-size\n10\n--per-class\n3",
        "predict": "predict\n--checkpoint\nc.safetensors\na.jpg\nb.png",
        "predict_dashdash": "predict\n--checkpoint=c\n--\n--weird.jpg",
        "summary": "summary\n--model\nresnet50\n--classes\n100\n--input\n64x48\n--paper-stride\n--norm\nws",
        "summary_list": "summary\n--list",
        "bench": "bench\n--model\nresnet18\n--batch-size\n8\n--steps\n3\n--warmup\n1\n--size\n64\n--classes\n10\n--no-profile",
        "bench_gemm": "bench\ngemm\n--model\nresnet20\n--batch-size\n4\n--image-size\n32\n--reps\n2\n--rounds\n1\n--no-tune-cache",
        "devices": "--no-tune-cache\ndevices",
        "tune": "resnet-cl-tune\n--device\n0\n--model\nresnet20\n--batch-size\n8\n--image-size\n32\n--classes\n10\n"
                "--budget\n60\n--shapes\n64x64x64\n--dry-run\n--if-missing\n--norm\nin",
        "tune_help": "resnet-cl-tune\n--help",
        "bench_loader": "bench-loader\n--data\n/nonexistent\n--threads\n2\n--images\n64\n--eval\n--strict-data",
        "mean_image": "mean-image\n--data\n/nonexistent\n--threads\n3\n--out\n/nonexistent/m.bin",
        "nul_split": "train\0--epochs\0002",
        "train_recipe": "train\n--recipe\nimagenet\n--data\n/d\n--accumulate\n8\n--val-split\nval\n--crop\n"
                        "224\n--scale\n256,480\n--resize\n256\n--lighting\n0.1\n--mean-image\nm.bin\n"
                        "--threads\n4\n--strict-data\n--cache-dir\n/c\n--no-index-cache\n--iterations\n600000",
        "train_plateau": "train\n--lr-schedule\nplateau\n--plateau-patience\n3\n--plateau-threshold\n0.01\n"
                         "--plateau-threshold-mode\nabs\n--plateau-cooldown\n1\n--min-lr\n1e-5\n"
                         "--weights\nw.safetensors\n--reset-head\n--pipeline\ncifar",
        "eval_imagenet": "eval\n--checkpoint\nc\n--data\nd\n--ten-crop\n--resize\n256\n--crop\n224\n"
                         "--json\nr.json\n--full-decode\n--threads\n2",
        "recompute_bn": "recompute-bn\n--checkpoint\nc\n--data\nd\n--out\no\n--batches\n10\n--scale-min\n"
                        "256\n--scale-max\n480",
        "tune_list": "resnet-cl-tune\n--device\n0\n--model\nresnet20,plain20,resnet56\n--dry-run",
    }
    for k, v in lines.items():
        put("cli", k + ".txt", v)


def imagenet_index_corpus():
    """Mode byte + an index cache, a class list, val ground truths, an image."""
    w = ["n01440764", "n01443537", "n01484850"]
    body = "classes 3\n" + "".join("%s\t%s words, more\n" % (x, x) for x in w)
    body += "files 4\n0\t123\tn01440764/a.JPEG\n1\t0\tn01443537/b b.JPEG\n2\t99\tn01484850/c.png\n0\t5\tx/y/z.jpg\n"
    put("imagenet_index", "index.tsv", b"\0" + ("rcl-file-index 1\nstamp 0123456789abcdef\nsource the 1000 ILSVRC-2012 classes\n" + body).encode())
    # regressions of fuzz findings: a size at the limit (LLONG_MAX / 2) then a 19-digit one
    # past it (x * 10 overflowed), and a label one digit past the classes
    head = b"\0rcl-file-index 1\nstamp 0123456789abcdef\nsource the 1000 ILSVRC-2012 classes\n"
    big = body.replace("\t123\t", "\t4611686018427387903\t").replace("\t99\t", "\t9988888888888888888\t")
    put("imagenet_index", "index_big_size.tsv", head + big.encode())
    put("imagenet_index", "index_bad_label.tsv", head + body.replace("\n0\t5\t", "\n5\t5\t").encode())
    put("imagenet_index", "index_stale.tsv", b"\0" + b"rcl-file-index 1\nstamp zz\nclasses 1\n")
    put("imagenet_index", "synset_words.txt", b"\1" + b"n01440764 tench, Tinca tinca\nn01443537 goldfish\n\n")
    put("imagenet_index", "loc_mapping.txt", b"\1" + b"n01440764 : tench\r\nn01443537 : goldfish\r\n")
    put("imagenet_index", "LOC_val_solution.csv", b"\2" + b"ImageId,PredictionString\n"
        b"ILSVRC2012_val_00000001,n01751748 1 2 3 4 \nILSVRC2012_val_00000002,n09193705 5 6 7 8 n09193705 1 1 2 2\n")
    put("imagenet_index", "ground_truth.txt", b"\3" + b"490\n361\n171\n822\n297\n")
    from PIL import Image
    buf = io.BytesIO()
    Image.frombytes("RGB", (40, 24), pixels(40, 24, 3)).save(buf, "JPEG", quality=80)
    put("imagenet_index", "scaled.jpg", b"\4\x10" + buf.getvalue())


if __name__ == "__main__":
    imagenet_index_corpus()
    images()
    cifar()
    st_corpus()
    tune_corpus()
    program_corpus()
    cli_corpus()
    print("wrote", OUT)
