"""The loaded-model descriptor that plugins return from ``load_model``.

Like spandrel's descriptors, it states what the core's tiler and device logic need to know
(scale, channel counts, size multiple, tiling support) so the core never guesses from the module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from .cards import ModelCard
    from .weights import ResolvedWeights


@dataclass
class LoadedModel:
    """A ready-to-run network in the genedit convention: RGB float 0–1 in, RGB float 0–1 out.

    ``forward`` wraps the plugin's module with whatever the layout needs (value range, mean shift,
    Y-channel handling), so callers only ever see the convention above. The other fields describe
    the model to the core, which never inspects the module:

    * ``in_channels``: channels of the image ``forward`` takes (3 for RGB); ``0`` for a model whose
      ``forward`` takes a latent instead of an image (a GAN generator).
    * ``latent_shape``: per-sample shape of the model's latent (``(100,)`` for DCGAN's z, ``(16,)``
      for a VAE with 16 latent dimensions); ``None`` for models without one. With
      ``in_channels == 0`` it is also the shape ``forward`` takes (:attr:`takes_latent`), and tools
      that feed models generically (benchmarks, optimize, export) draw standard-normal latents of it
      instead of image crops.
    * ``receptive_field``: input pixels of context on each side that can reach one output pixel.
      The tiler's default overlap covers it, which makes tiled and whole-image outputs agree.
    * ``activation_bytes_per_pixel``: peak memory a forward pass holds per input pixel, in bytes at
      fp32 (the core scales it for bf16/fp16); ``tile="auto"`` sizes tiles from it. ``None``: the
      core assumes a 64-feature network (see :func:`genedit_core.tiling.auto_tile`).
    * ``backend``: the runtime ``forward`` runs in, recorded in provenance: ``"torch"``, or the name
      of the ``genedit.backends`` entry point that runs it (a converting backend sets its own).
    * ``provenance``: what the model adds to the provenance of every output it makes (a face swap
      marks its outputs ``synthetic`` and names the training run); genedit's own fields win a clash.
    """

    card: ModelCard
    module: Any
    forward: Callable[[torch.Tensor], torch.Tensor]
    device: Any
    dtype: Any
    scale: int = 1
    in_channels: int = 3
    out_channels: int = 3
    size_multiple: int = 1
    min_size: int = 1
    tileable: bool = True
    receptive_field: int = 16
    weights: ResolvedWeights | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    latent_shape: tuple[int, ...] | None = None
    activation_bytes_per_pixel: float | None = None
    backend: str = "torch"
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def takes_latent(self) -> bool:
        """True when ``forward`` takes latents of ``latent_shape`` rather than images."""
        return self.in_channels == 0 and bool(self.latent_shape)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.takes_latent:
            assert self.latent_shape is not None
            if tuple(x.shape[1:]) != tuple(self.latent_shape):
                shape = "×".join(map(str, self.latent_shape))
                raise ValueError(f"{self.card.name}: expected latents N×{shape}, got {tuple(x.shape)}")
        elif x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.card.name}: expected N×{self.in_channels}×H×W, got {tuple(x.shape)}")
        return self.forward(x)

    @property
    def name(self) -> str:
        return self.card.name

    def upscale(self, image: Any, *, tile: int | str | None = "auto", overlap: int | None = None) -> Any:
        """Upscale a PIL image (any mode genedit reads) and return a PIL image."""
        from .pipeline import apply_to_pil

        return apply_to_pil(self, image, task="upscale", tile=tile, overlap=overlap)

    def generate(self, seeds: list[int] | range, **params: Any) -> Any:
        """Sample one image per seed through the owning plugin's ``generate`` hook.

        ``params`` are ``interpolate=(a, b)`` with ``steps`` (every generator), plus the options
        the card declares for ``generate`` (``genedit info NAME``; ``class_=`` for ``--class``),
        checked first: an undeclared or mistyped one is a :class:`UsageError` naming the valid
        ones. Returns a float tensor N×C×H×W in 0–1: one image per seed, or ``steps`` frames for
        ``interpolate``.
        What the plugin returns is checked first (:func:`~genedit_core.pipeline.check_images`), so
        NaN weights or a wrong shape are one error naming the model and weights, not black images.
        """
        from .errors import PluginError
        from .options import check_task_params
        from .pipeline import check_images
        from .plugins import get_plugins
        from .requests import GenerateRequest

        params = check_task_params(self.card, "generate", params)
        request = GenerateRequest(self.card, self, [int(s) for s in seeds], params)
        images = get_plugins().owner_hook("generate", self.card)(request=request)
        if images is None:
            raise PluginError(f"no installed plugin generates with model '{self.card.name}'")
        interpolate = params.get("interpolate")
        count = int(params.get("steps") or 8) if interpolate else len(request.seeds)
        check_images(images, self, "generate", count=count, batched=True)
        return images

    def __repr__(self) -> str:
        return (
            f"LoadedModel({self.card.name}, x{self.scale}, device={self.device}, dtype={self.dtype}, "
            f"weights={self.weights.origin if self.weights else None})"
        )
