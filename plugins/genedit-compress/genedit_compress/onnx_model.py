"""Run an exported ``.onnx`` file as a genedit :class:`LoadedModel` through onnxruntime.

The wrapper's ``forward`` takes and returns torch tensors (0–1 RGB, NCHW), so the core's tiler,
alpha handling and image I/O work unchanged. The model name, scale and receptive field come from
the ``genedit.*`` metadata written by ``genedit export --format onnx``; files from elsewhere work
too when the caller names the card, and the scale is then read from one probe run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genedit_core.sdk import UsageError, WeightsError


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    have = ort.get_available_providers()
    if str(device).startswith("cuda") and "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _card_for(meta: dict[str, str], path: Path, card: Any) -> Any:
    if card is not None:
        return card
    from genedit_core.sdk import ModelCard

    name = meta.get("genedit.model")
    if name:
        try:
            from genedit_core.sdk import get_card

            return get_card(name)
        except Exception:
            pass
    return ModelCard(
        name=name or path.stem,
        tasks=("upscale",),
        family="onnx",
        summary=f"ONNX model {path.name}",
        needs_weights=True,
        channels_last=False,
        plugin="compress",
    )


def load_onnx_model(path: str | Path, card: Any = None, device: str = "cpu", weights: Any = None) -> Any:
    """A LoadedModel whose ``forward`` runs ``path`` in onnxruntime (``module`` is the session).

    The ``onnxruntime`` entry point of ``genedit.backends``: :func:`genedit_core.load` calls it with
    the file it resolved and that file's ``weights`` record (so the file is not hashed twice).
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError(
            "running .onnx files needs onnxruntime: pip install 'genedit-compress[onnx]'"
        ) from None
    import torch

    from genedit_core.sdk import LoadedModel, ResolvedWeights, sha256_of

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: ONNX file not found")
    try:
        session = ort.InferenceSession(str(path), providers=_providers(device))
    except Exception as exc:
        raise WeightsError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:200]})") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    _warn_if_int8_mismatch(meta, path)
    card = _card_for(meta, path, card)
    from dataclasses import replace

    card = replace(card, channels_last=False)  # numpy needs plain NCHW; skip the tiler's memory-format step
    input_name = session.get_inputs()[0].name
    in_channels = int(meta.get("genedit.in_channels", session.get_inputs()[0].shape[1] or 3))

    def forward(x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        y = session.run(None, {input_name: arr})[0]
        return torch.from_numpy(y).to(x.device)

    # genedit.input_shape: files exported before latent_shape had its name; only generators had it.
    legacy = meta.get("genedit.input_shape")
    shape_text = meta.get("genedit.latent_shape", legacy)
    latent_shape = tuple(json.loads(shape_text)) if shape_text else None
    if legacy:
        in_channels = 0
    if in_channels == 0:
        scale = 1
    else:
        scale = int(meta["genedit.scale"]) if "genedit.scale" in meta else _probe_scale(forward, in_channels)
    hyper = json.loads(meta.get("genedit.hyperparameters", "{}") or "{}")
    if weights is None:
        weights = ResolvedWeights(path, str(path), sha256_of(path), None, {"backend": "onnxruntime"})
    return LoadedModel(
        card=card,
        module=session,
        forward=forward,
        device=torch.device("cpu"),
        dtype=torch.float32,
        scale=scale,
        in_channels=in_channels,
        out_channels=int(meta.get("genedit.out_channels", 3)),
        receptive_field=int(meta.get("genedit.receptive_field", 16)),
        weights=weights,
        hyperparameters=hyper,
        tileable=meta.get("genedit.dynamic_size", "true") == "true" and in_channels != 0,
        latent_shape=latent_shape,
    )


def _warn_if_int8_mismatch(meta: dict[str, str], path: Path) -> None:
    """Full-range int8 weights saturate on x86 without VNNI; say so rather than return drifted pixels."""
    from genedit_core.sdk import cpu_has_int8_dot, is_x86

    if meta.get("genedit.int8.reduce_range") != "false" or not is_x86() or cpu_has_int8_dot():
        return
    import warnings

    from genedit_core.sdk import GeneditWarning

    warnings.warn(
        f"{path}: int8 weights made for a VNNI CPU ({meta.get('genedit.int8.target', '?')}); this CPU lacks "
        "VNNI, so results drift. Re-run optimize with --target avx2 (or auto) on this machine",
        GeneditWarning,
        stacklevel=2,
    )


def _probe_scale(forward: Any, in_channels: int) -> int:
    import torch

    y = forward(torch.zeros(1, in_channels, 16, 16))
    return max(1, y.shape[-1] // 16)
