"""Convert the MTCNN weights of the PyPI package ``facenet-pytorch`` to one safetensors file.

``facenet-pytorch`` 2.6.0 (MIT, Timothy Esler) ships ``facenet_pytorch/data/{pnet,rnet,onet}.pt``:
plain state dicts (``conv1.weight``, ``prelu1.weight``, ... ``dense6_3.bias``) of Zhang et al.'s
P-, R- and O-Net, 2 MB in all. genedit never depends on the package (it pins old torch and
torchvision); this script reads the three files out of the wheel with
``torch.load(weights_only=True)``, refuses anything that is not a flat mapping of names to tensors,
and writes them as ``pnet.*``, ``rnet.*`` and ``onet.*`` into
``genedit_faceswap/weights/mtcnn.safetensors`` with the package's MIT notice next to it.

    pip download facenet-pytorch==2.6.0 --no-deps -d /tmp/fnp
    python scripts/convert_mtcnn_weights.py /tmp/fnp/facenet_pytorch-2.6.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "plugins" / "genedit-faceswap" / "genedit_faceswap" / "weights"
NETS = ("pnet", "rnet", "onet")


def read_state(blob: bytes, member: str) -> dict[str, torch.Tensor]:
    """The state dict in ``blob``, loaded without unpickling arbitrary objects."""
    state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SystemExit(f"{member}: not a plain state dict ({type(state).__name__})")
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="facenet_pytorch-2.6.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    merged: dict[str, torch.Tensor] = {}
    digests = {}
    with zipfile.ZipFile(args.wheel) as z:
        names = z.namelist()
        licence_name = next(n for n in names if n.endswith(".dist-info/LICENSE.md"))
        licence = z.read(licence_name).decode("utf-8")
        version = licence_name.split("-")[1].split(".dist")[0]
        for net in NETS:
            member = f"facenet_pytorch/data/{net}.pt"
            blob = z.read(member)
            digests[net] = hashlib.sha256(blob).hexdigest()
            for key, value in read_state(blob, member).items():
                merged[f"{net}.{key}"] = value.float().contiguous()
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "mtcnn.safetensors"
    meta = {"source": f"facenet-pytorch {version} (PyPI), facenet_pytorch/data/*.pt"}
    meta.update({f"sha256_{net}.pt": d for net, d in digests.items()})
    save_file(merged, str(target), metadata=meta)
    (args.out / "LICENSE-facenet-pytorch.txt").write_text(
        f"mtcnn.safetensors holds the tensors of facenet_pytorch/data/pnet.pt, rnet.pt and onet.pt\n"
        f"from facenet-pytorch {version} (PyPI), converted by scripts/convert_mtcnn_weights.py, "
        f"under the package's licence:\n\n{licence}"
    )
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"wrote {target} ({target.stat().st_size} bytes, {len(merged)} tensors) sha256 {digest}")


if __name__ == "__main__":
    main()
