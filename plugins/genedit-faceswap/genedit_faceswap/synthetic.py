"""Two synthetic identities, drawn procedurally: no face dataset large enough ships in any package,
so tests (and issue 16's benchmark) train on faces we draw ourselves.

Imports torch, so only tests and scripts import this module. Each face is a skin-toned ellipse with
eyes, brows and a mouth on a plain background; the identity fixes face shape, skin tone, eye size
and brow weight; each drawing varies pose (shift, roll), expression (the mouth's curve and
opening) and lighting (brightness and a side gradient).
"""

from __future__ import annotations

import math

import torch

IDENTITIES = {
    # face half-width, half-height (of the side); skin RGB; eye radius; brow thickness
    "a": {"face": (0.30, 0.40), "skin": (0.85, 0.65, 0.50), "eye": 0.045, "brow": 0.015},
    "b": {"face": (0.36, 0.34), "skin": (0.45, 0.32, 0.25), "eye": 0.030, "brow": 0.035},
}


BROW_Y = -0.21  # well above the eyes, so a locator can tell the two apart
NOSE_Y = 0.04  # no nose is drawn; the point between eyes and mouth the 5-point template expects


def draw_face(identity: str, size: int, gen: torch.Generator) -> torch.Tensor:
    """One 3×size×size face of ``identity`` ("a" or "b") with random pose, expression and light."""
    return draw_scene(identity, size, gen)[0]


def draw_scene(identity: str, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One face as :func:`draw_face` draws it, and its 5 landmarks (eyes, nose, mouth corners) as
    5×2 pixel coordinates (pixel i spanning [i, i+1)), the layout MTCNN gives, so a drawing can
    go through alignment and convert like a photo whose landmarks are known."""
    p = IDENTITIES[identity]
    r = torch.rand(6, generator=gen)
    dx, dy = (float(r[0]) - 0.5) * 0.08, (float(r[1]) - 0.5) * 0.08
    roll = (float(r[2]) - 0.5) * math.radians(20)
    smile, light, side = (float(r[3]) - 0.5) * 0.2, 0.8 + 0.4 * float(r[4]), (float(r[5]) - 0.5) * 0.6
    t = (torch.arange(size) + 0.5) / size - 0.5
    y, x = torch.meshgrid(t, t, indexing="ij")
    # face coordinates: undo the pose
    u = math.cos(roll) * (x - dx) + math.sin(roll) * (y - dy)
    v = -math.sin(roll) * (x - dx) + math.cos(roll) * (y - dy)
    img = torch.tensor([0.55, 0.6, 0.7])[:, None, None].expand(3, size, size).clone()
    fw, fh = p["face"]
    face = (u / fw) ** 2 + (v / fh) ** 2 <= 1
    img[:, face] = torch.tensor(p["skin"])[:, None]
    dark = torch.tensor([0.1, 0.08, 0.08])[:, None]
    for ex in (-0.11, 0.11):
        img[:, (u - ex) ** 2 + (v + 0.08) ** 2 <= p["eye"] ** 2] = dark
        img[:, ((u - ex).abs() <= 0.07) & ((v - BROW_Y).abs() <= p["brow"])] = dark
    mouth_y = 0.16 + smile * (u / 0.12) ** 2 - smile / 2
    img[:, ((v - mouth_y).abs() <= 0.015 + max(smile, 0) * 0.1) & (u.abs() <= 0.12)] = torch.tensor(
        [0.6, 0.15, 0.2]
    )[:, None]
    shade = light * (1 + side * x)
    corner_y = 0.16 + smile / 2
    points = torch.tensor([[-0.11, -0.08], [0.11, -0.08], [0.0, NOSE_Y], [-0.12, corner_y], [0.12, corner_y]])
    cos, sin = math.cos(roll), math.sin(roll)
    xs = dx + cos * points[:, 0] - sin * points[:, 1]
    ys = dy + sin * points[:, 0] + cos * points[:, 1]
    return (img * shade).clamp(0, 1), (torch.stack([xs, ys], 1) + 0.5) * size


def faces(identity: str, count: int, size: int, seed: int = 0) -> torch.Tensor:
    """``count`` faces of ``identity``, N×3×size×size, the same for the same seed."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([draw_face(identity, size, gen) for _ in range(count)])
