"""Face alignment: a similarity transform from 5 landmarks to a canonical template, and the crop.

Imports torch, so only hook bodies import this module. Coordinates are in pixels, pixel i spanning
[i, i+1), as :class:`genedit_faceswap.mtcnn.Faces` gives them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# The widely used 5-point template of a 112x112 face crop (eyes, nose tip, mouth corners), as
# fractions of the side: a frontal face lands here after alignment.
TEMPLATE = (
    torch.tensor(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
    )
    / 112
)


def template(size: int, padding: float = 0.25) -> torch.Tensor:
    """The template's 5 points in a size x size crop, shrunk towards the centre by ``padding``.

    The template itself frames the face tightly; padding leaves room for hair, chin and the
    blending margin a face swap needs.
    """
    return ((TEMPLATE - 0.5) / (1 + 2 * padding) + 0.5) * size


def umeyama(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The 2x3 similarity (rotation, uniform scale, shift) taking ``src`` points closest to ``dst``.

    Umeyama's least-squares solution (1991): no shear, so the face keeps its proportions.
    """
    src, dst = src.double(), dst.double()
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sigma, vt = torch.linalg.svd(cov)
    sign = torch.ones(2, dtype=torch.double)
    if torch.det(u) * torch.det(vt) < 0:
        sign[1] = -1
    rotation = u @ torch.diag(sign) @ vt
    var = s.pow(2).sum(1).mean()
    scale = (sigma * sign).sum() / var if var > 0 else torch.tensor(1.0, dtype=torch.double)
    shift = mu_d - scale * rotation @ mu_s
    return torch.cat([scale * rotation, shift[:, None]], 1).float()


def warp(image: torch.Tensor, matrix: torch.Tensor, size: int) -> torch.Tensor:
    """The size x size crop whose pixel p shows the image at ``matrix``'s inverse of p (bilinear)."""
    _, _, h, w = image.shape
    full = torch.cat([matrix.double(), torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.double)])
    inverse = torch.linalg.inv(full)[:2]
    centres = torch.arange(size, dtype=torch.double) + 0.5
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ inverse.T
    grid = torch.stack([points[..., 0] / w, points[..., 1] / h], -1) * 2 - 1
    grid = grid[None].to(image.dtype)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def align(
    image: torch.Tensor, landmarks: torch.Tensor, size: int, padding: float = 0.25
) -> tuple[torch.Tensor, torch.Tensor]:
    """One aligned crop (1 x 3 x size x size) and its 2x3 image-to-crop transform."""
    matrix = umeyama(landmarks, template(size, padding))
    return warp(image, matrix, size).clamp(0, 1), matrix
