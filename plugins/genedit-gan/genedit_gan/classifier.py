"""A small digit classifier: the offline feature extractor for FID, KID and the Inception Score.

Trained by ``scripts/train_digits_classifier.py`` on the training split of scikit-learn's digits
(the first 1,500 images, the same split ``builtin:digits`` trains GANs on) with small random shifts,
zooms and noise, so that it also reads generated digits that are a little off-centre. Its 64-d
penultimate activations play the role of Inception's pool features and its softmax that of
Inception's class probabilities.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import WeightsError

INPUT_SIZE = 32
WEIGHTS_FILE = "weights/digits-classifier.safetensors"


class DigitClassifier(nn.Module):
    def __init__(self, width: int = 16, features: int = 64, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1)
        self.fc1 = nn.Linear(4 * width * 16, features)
        self.fc2 = nn.Linear(features, classes)
        self.dropout = nn.Dropout(0.3)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.max_pool2d(F.relu(self.conv3(h)), 2)
        return F.relu(self.fc1(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.features(x)))


def prepare(images: torch.Tensor) -> torch.Tensor:
    """N×C×H×W in 0–1 (grey or RGB, any size) → N×1×32×32 grey, as the classifier was trained."""
    x = images.float()
    if x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif x.shape[1] != 1:
        x = x.mean(1, keepdim=True)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        down = x.shape[-1] > INPUT_SIZE
        x = F.interpolate(
            x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=down
        )
    return x.clamp(0, 1)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shift (±3 px), zoom (0.85–1.15), rotation (±10°) and pixel noise."""
    n = x.shape[0]
    ang = (torch.rand(n, generator=gen) - 0.5) * (20 * torch.pi / 180)
    zoom = 0.85 + 0.3 * torch.rand(n, generator=gen)
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * (6 / INPUT_SIZE) * 2
    cos, sin = torch.cos(ang) / zoom, torch.sin(ang) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    out = out + 0.05 * torch.randn(out.shape, generator=gen) * torch.rand(n, 1, 1, 1, generator=gen)
    return out.clamp(0, 1)


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = 60,
    batch: int = 64,
    seed: int = 0,
    lr: float = 2e-3,
) -> DigitClassifier:
    """Adam with cosine decay over ``epochs`` of augmented batches; deterministic for a seed."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = prepare(images)
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(len(x) // batch):
            idx = order[i * batch : (i + 1) * batch]
            loss = F.cross_entropy(model(augment(x[idx], gen)), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    pred = model(prepare(images)).argmax(1)
    return float((pred == labels).float().mean())


def load_bundled(device: torch.device | str = "cpu") -> DigitClassifier:
    """The shipped classifier, its file checked against the sha256 in the manifest."""
    from safetensors.torch import load_file

    from genedit_core.sdk import sha256_of

    ref = resources.files("genedit_gan").joinpath(WEIGHTS_FILE)
    path = Path(str(ref))
    if not path.is_file():
        raise WeightsError(
            f"{path}: the digit classifier is not installed; run scripts/train_digits_classifier.py"
        )
    manifest = json.loads(resources.files("genedit_gan").joinpath("weights/manifest.json").read_text())
    expected = manifest.get("digits-classifier", {}).get("sha256")
    if expected and sha256_of(path) != expected:
        raise WeightsError(f"{path}: sha256 does not match weights/manifest.json; reinstall genedit-gan")
    model = DigitClassifier()
    model.load_state_dict(load_file(str(path)))
    return model.eval().to(device)
