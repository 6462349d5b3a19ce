"""Finish loading what ``genedit optimize`` wrote: this plugin's side of :func:`genedit_core.load`.

The core resolves the folder, and because its ``config.json`` names the method under
``genedit.transform``, hands over to :func:`transform` (the ``transform_model`` hook). The method's
own record is ``config["genedit"]["compress"]``. Nothing here builds a network: the card's owning
plugin does, through ``request.build``.

* Layer surgery (``prune-structured``, ``depthwise-separable``): the owner builds the original
  network from zero tensors of the recorded ``base_shapes`` (so it infers the same
  hyperparameters), the recorded surgery is replayed, and the saved tensors go in strictly.
* An int8 program (``model.int8.pt2`` from ``quantize-int8 --backend pt2e``, named by
  ``genedit.file``): the owner builds the original network the same way, for its description
  (scale, channels, tiling), and the compiled program takes its place. It runs on the CPU.
* 2:4 sparsity: the owner builds from the saved tensors; on a GPU with sparse tensor cores the
  fp16/bf16 Linear layers get their semi-structured kernels back.

``model.int8.onnx`` folders need none of this: ``genedit.file`` names the file and the core runs it
through the ``onnxruntime`` backend.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from genedit_core.sdk import WeightsError, load_strict


def transform(request: Any) -> Any:
    recipe = (request.config.get("genedit") or {}).get("compress") or {}
    if recipe.get("surgery"):
        return rebuild(request, recipe)
    if recipe.get("artifact"):
        return load_program(request, recipe)
    model = request.build(request.read_state())
    if request.method == "sparsity":
        from .sparsity import cuda_supports_2_4, to_sparse_kernels

        if cuda_supports_2_4(model.device) and model.module is not None:
            to_sparse_kernels(model.module)
    return model


def _base_state(request: Any, recipe: dict[str, Any]) -> dict[str, Any]:
    """Zero tensors of the original network's shapes, for the owner to build that network from."""
    import torch

    shapes = recipe.get("base_shapes")
    if not isinstance(shapes, dict) or not shapes:
        raise WeightsError(
            f"{request.weights.origin}: the '{request.method}' record in config.json has no base_shapes; "
            "run genedit optimize again to write a loadable folder"
        )
    return {k: torch.zeros(v) for k, v in shapes.items()}


def rebuild(request: Any, recipe: dict[str, Any]) -> Any:
    """The original network, its layers changed as recorded, with the saved tensors loaded strictly."""
    from .surgery import replay

    model = request.build(_base_state(request, recipe))
    try:
        replay(model.module, recipe["surgery"])
    except (AttributeError, ValueError, KeyError) as exc:
        raise WeightsError(
            f"{request.weights.origin}: the recorded layer changes do not fit model '{request.card.name}' ({exc})"
        ) from None
    load_strict(
        model.module, request.read_state(), request.weights.origin, note="after the recorded layer changes"
    )
    model.module.eval()
    return model


def load_program(request: Any, recipe: dict[str, Any]) -> Any:
    """The int8 ExportedProgram in place of the owner's network (whose description it keeps)."""
    import torch

    path = Path(request.weights.path)
    if path.name != recipe["artifact"]:
        raise WeightsError(
            f"{path}: the folder's program is {recipe['artifact']}; its config.json must name it under genedit.file"
        )
    if getattr(request.device, "type", "cpu") != "cpu":
        from genedit_core.sdk import GeneditWarning

        warnings.warn(
            f"{path}: an int8 program for the CPU; it runs there, not on {request.device}",
            GeneditWarning,
            stacklevel=2,
        )
    from .quantize import _pt2e_modules

    _pt2e_modules()  # registers the quantized ops the program calls (and says how to install torchao)
    base = request.build(_base_state(request, recipe), device=torch.device("cpu"), dtype=torch.float32)
    try:
        program = torch.export.load(str(path)).module()
    except Exception as exc:
        raise WeightsError(
            f"{path}: not a readable torch.export program ({str(exc).splitlines()[0][:200]})"
        ) from None
    if recipe.get("compile", True):
        program = torch.compile(program)
    return replace(base, module=program, forward=program)
