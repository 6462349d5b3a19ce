"""The face swap autoencoder through the shared trainer at a tiny size, on the synthetic identities:
it learns, exports a run that ``genedit run swap`` loads, and the augmentation does what it says."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from genedit_faceswap.align import align, template
from genedit_faceswap.autoencoder import CodeAdversary, FaceSwapAE, coverage_window, window_mask
from genedit_faceswap.synthetic import draw_scene, faces
from genedit_faceswap.training import (
    FaceSwapTask,
    adversary_weight,
    code_adversary_terms,
    random_transform,
    random_warp,
    ssim_loss,
)
from PIL import Image
from safetensors.torch import load_file

from genedit_core.sdk import Trainer, UsageError, load, load_config

TINY = [
    "model.width=4",
    "model.code=8",
    "data.size=16",
    "train.batch_size=4",
    "train.lr=3e-3",
    "train.log_every=1",
    "train.sample_every=1000",
    "train.device=cpu",
]


def _save(images: torch.Tensor, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray((img.permute(1, 2, 0) * 255).round().byte().numpy()).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def identities(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("identities")
    return _save(faces("a", 8, 16, seed=1), root / "A"), _save(faces("b", 8, 16, seed=2), root / "B")


@pytest.fixture(scope="module")
def run(identities, tmp_path_factory) -> tuple[Path, list[dict]]:
    a, b = identities
    task = FaceSwapTask()
    cfg = load_config(task.default_config, None, [*TINY, f"data.b={b}", "train.steps=40"])
    trainer = Trainer(task, cfg, tmp_path_factory.mktemp("runs") / "run", data=str(a), quiet=True)
    return _fit(trainer), trainer.history


def _fit(trainer: Trainer) -> Path:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: a second thread only waits on a busy 2-core machine
    try:
        return trainer.fit()
    finally:
        torch.set_num_threads(threads)


def test_training_lowers_the_reconstruction_loss(run):
    _, history = run
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)


def test_the_run_exports_both_decoders_and_swaps(run, identities, cli, tmp_path):
    path, _ = run
    assert {k.split(".")[0] for k in load_file(str(path / "model.safetensors"))} == {
        "encoder",
        "decoder_a",
        "decoder_b",
    }
    model = load("faceswap", weights=str(path), device="cpu", dtype="fp32")
    assert model.hyperparameters["width"] == 4 and model.hyperparameters["code"] == 8
    x = faces("a", 1, 16, seed=5)
    net = model.module
    with torch.no_grad():
        as_b = net.decoder_b(net.encoder(x * 2 - 1))
        as_a = net.decoder_a(net.encoder(x * 2 - 1))
    assert torch.allclose(model(x), as_b) and not torch.allclose(as_a, as_b, atol=1e-3)
    src = identities[1] / "0.png"
    code, _, err = cli(
        "run",
        "swap",
        "-m",
        "faceswap",
        "--weights",
        str(path),
        str(src),
        "--direction",
        "b2a",
        "-o",
        str(tmp_path / "o.png"),
    )
    assert code == 0, err
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (16, 16)
    code, _, err = cli("run", "swap", "-m", "faceswap", str(src), "-o", str(tmp_path / "p.png"))
    assert code == 1 and "pass --weights" in err and "Traceback" not in err


def test_two_identities_are_required(identities, tmp_path):
    task = FaceSwapTask()
    cfg = load_config(task.default_config, None, [*TINY, "train.steps=1"])
    with pytest.raises(UsageError, match="--data-a FACES_A --data-b FACES_B"):
        Trainer(task, cfg, tmp_path / "r", data=str(identities[0]), quiet=True).fit()


def test_augmentation_is_seeded_and_the_warp_bends_only_the_input():
    img = faces("a", 1, 32, seed=3)[0]

    def gen():
        return torch.Generator().manual_seed(7)

    assert torch.equal(
        random_transform(img, gen(), 10, 0.05, 0.05), random_transform(img, gen(), 10, 0.05, 0.05)
    )
    plain = random_transform(img, gen(), 0, 0, 0)  # no rotation, zoom or shift: maybe a mirror
    assert torch.allclose(plain, img, atol=1e-5) or torch.allclose(plain, img.flip(-1), atol=1e-5)
    assert torch.allclose(random_warp(img, gen(), 0.0), img, atol=1e-5)
    bent = random_warp(img, gen(), 0.03)
    assert 0.005 < (bent - img).abs().mean() < 0.2
    assert ssim_loss(img[None], img[None]) < 1e-4 < ssim_loss(bent[None], img[None])


def test_faceswap_train_is_genedit_train_faceswap_with_two_folders(identities, cli, tmp_path):
    a, b = identities
    sets = [x for item in TINY for x in ("--set", item)]
    out = tmp_path / "run"
    code, _, err = cli(
        "faceswap", "train", str(a), str(b), "--out", str(out), *sets, "--set", "train.steps=2", "-q"
    )
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["identities"] == {"a": str(a), "b": str(b)} and config["size"] == 16
    assert (out / "model.safetensors").is_file()


def test_a_learnt_mask_is_trained_exported_and_drawn_on_swap(identities, tmp_path):
    from genedit_faceswap.autoencoder import swap_with_mask
    from genedit_faceswap.convert import feather_mask

    a, b = identities
    task = FaceSwapTask()
    cfg = load_config(task.default_config, None, [*TINY, f"data.b={b}", "model.mask=true", "train.steps=30"])
    trainer = Trainer(task, cfg, tmp_path / "run", data=str(a), quiet=True)
    path = _fit(trainer)
    losses = [h["mask_loss"] for h in trainer.history if "mask_loss" in h]
    assert len(losses) == 30 and sum(losses[-5:]) < 0.7 * sum(losses[:5]), losses
    assert load_file(str(path / "model.safetensors"))["decoder_b.9.weight"].shape[0] == 4
    model = load("faceswap", weights=str(path), device="cpu", dtype="fp32")
    assert model.hyperparameters["mask"] is True
    face, mask = swap_with_mask(model, faces("a", 2, 16, seed=9), "a2b")
    assert face.shape == (2, 3, 16, 16) and mask.shape == (2, 1, 16, 16)
    # it has learnt where the face is: high on the template's face, low in the corners
    target = feather_mask(16, 0.25)[0, 0] > 0.5
    assert mask[:, 0][:, target].mean() > mask[:, 0][:, ~target].mean() + 0.2


def test_the_mask_follows_its_face_through_the_same_random_transform():
    from genedit_faceswap.training import TwoFaces

    imgs = faces("a", 2, 16, seed=4)
    mask = torch.zeros(1, 16, 16)
    mask[:, 4:12, 4:12] = 1
    plain = TwoFaces(imgs, imgs, 16, {"rotate": 10, "zoom": 0.05, "shift": 0.1, "warp": 0.02})
    masked = TwoFaces(imgs, imgs, 16, plain.aug, mask)
    p, m = plain[1], masked[1]
    assert len(p) == 4 and len(m) == 6
    assert torch.allclose(p[0], m[0]) and torch.allclose(p[1], m[1])  # the same draws for the face
    moved = random_transform(torch.cat([imgs[1], mask]), torch.Generator().manual_seed(1), 10, 0.05, 0.1)[3:]
    assert torch.allclose(m[2], moved.clamp(0, 1)) and not torch.equal(m[2], mask)


def test_the_eye_and_mouth_regions_sit_on_the_aligned_eyes_and_mouth():
    from genedit_faceswap.align import align
    from genedit_faceswap.synthetic import draw_scene
    from genedit_faceswap.training import region_masks

    regions = region_masks(64, 0.25)
    assert regions.shape == (2, 64, 64) and not (regions[0].bool() & regions[1].bool()).any()
    gen = torch.Generator().manual_seed(11)
    for _ in range(4):
        img, points = draw_scene("a", 96, gen)
        crop = align(img[None], points, 64, 0.25)[0][0]
        eyes = crop.mean(0) < 0.2  # the pupils (and the brows, which are above the eye regions)
        eyes[: int(64 * 0.38)] = False
        mouth = crop[0] - crop[1] > 0.3
        assert eyes.any() and mouth.any()
        assert (regions[0].bool() & eyes).sum() >= 0.9 * eyes.sum()
        assert (regions[1].bool() & mouth).sum() >= 0.9 * mouth.sum()


def test_the_multipliers_weight_the_loss_on_eyes_and_mouth_only():
    from genedit_faceswap.training import loss_weights, region_masks

    regions = region_masks(32, 0.25)[None]
    assert loss_weights(regions, 1, 1) is None
    w = loss_weights(regions, 3, 2)
    eyes, mouth = regions[0, 0].bool(), regions[0, 1].bool()
    assert (w[0, 0][eyes] == 3).all() and (w[0, 0][mouth] == 2).all()
    assert (w[0, 0][~eyes & ~mouth] == 1).all()
    face = torch.ones(1, 1, 32, 32)
    assert torch.equal(loss_weights(regions, 3, 2, face, 3), 3 * w)
    # an error on the eyes alone costs more with the multiplier; SSIM weighs it too
    x = torch.rand(1, 3, 32, 32)
    y = torch.where(eyes, 1 - x, x)
    plain = (x - y).abs().mean()
    weighted = ((x - y).abs() * w).mean() / w.mean()
    assert weighted > 1.5 * plain
    assert ssim_loss(x, y, w) > ssim_loss(x, y)


def test_training_carries_the_regions_through_the_random_transform(identities, tmp_path):
    a, b = identities
    task = FaceSwapTask()
    cfg = load_config(task.default_config, None, [*TINY, f"data.b={b}", "train.steps=1"])
    assert cfg["loss"]["eye_multiplier"] == 3 and cfg["loss"]["mouth_multiplier"] == 2  # faceswap's
    item = task.build_dataset(str(a), cfg)[3]
    assert len(item) == 6 and item[2].shape == (2, 16, 16)  # eyes and mouth of A
    off = load_config(
        task.default_config, None, [*TINY, f"data.b={b}", "loss.eye_multiplier=1", "loss.mouth_multiplier=1"]
    )
    assert len(task.build_dataset(str(a), off)[3]) == 4
    both = load_config(task.default_config, None, [*TINY, f"data.b={b}", "model.mask=true"])
    item = task.build_dataset(str(a), both)[3]
    assert item[2].shape == (3, 16, 16)  # the learnt mask's target, then eyes and mouth
    trainer = Trainer(
        task,
        load_config(task.default_config, None, [*TINY, f"data.b={b}", "model.mask=true", "train.steps=2"]),
        tmp_path / "r",
        data=str(a),
        quiet=True,
    )
    _fit(trainer)
    assert {"l1", "ssim_loss", "mask_loss"} <= set(trainer.history[-1])


def test_the_coverage_window_shows_the_encoder_eyes_and_mouth_but_not_the_outline():
    size = 64
    window = coverage_window(1.05)
    seen = window_mask(torch.tensor(window), size, size)[0, 0]
    for x, y in template(size):  # eyes, nose and mouth corners of every aligned crop: fully seen
        assert seen[int(y), int(x)] == 1
    gen = torch.Generator().manual_seed(4)
    for _ in range(8):  # identity A's outline (skin against the bluish background): never seen
        img, points = draw_scene("a", 96, gen)
        crop = align(img[None], points, size)[0][0]
        background = crop[2] > crop[0] + 0.05
        assert background.sum() > 500 and seen[background].max() == 0
    # what the window hides cannot reach the code; without a window it does
    torch.manual_seed(0)
    x = faces("a", 2, size, seed=3)
    noisy = torch.where(seen == 0, torch.rand_like(x), x)
    windowed, plain = FaceSwapAE(4, 8, window=window), FaceSwapAE(4, 8)
    with torch.no_grad():
        assert torch.equal(windowed.encode(x), windowed.encode(noisy))
        assert not torch.allclose(plain.encode(x), plain.encode(noisy), atol=1e-3)
        assert not torch.equal(
            windowed.encode(x), windowed.encode(torch.where(seen == 1, torch.rand_like(x), x))
        )


def test_model_coverage_trains_exports_and_swaps_through_the_window(identities, tmp_path):
    a, b = identities
    task = FaceSwapTask()
    cfg = load_config(
        task.default_config,
        None,
        [*TINY, f"data.b={b}", "train.steps=3", "model.coverage=1.05", "model.input_norm=true"],
    )
    path = _fit(Trainer(task, cfg, tmp_path / "run", data=str(a), quiet=True))
    assert "window" in load_file(str(path / "model.safetensors"))
    model = load("faceswap", weights=str(path), device="cpu", dtype="fp32")
    assert torch.allclose(model.module.window, torch.tensor(coverage_window(1.05)))
    assert model.hyperparameters["window"] == pytest.approx(list(coverage_window(1.05)), abs=1e-5)
    assert model.hyperparameters["input_norm"] is True and model.module.input_norm
    x = faces("a", 1, 16, seed=5)
    hidden = window_mask(model.module.window, 16, 16)[0, 0] == 0
    assert hidden.any()
    with torch.no_grad():
        assert torch.equal(model(x), model(torch.where(hidden, 1 - x, x)))
    bad = load_config(task.default_config, None, [*TINY, f"data.b={b}", "train.steps=1", "model.coverage=-1"])
    with pytest.raises(UsageError, match="model.coverage"):
        Trainer(task, bad, tmp_path / "bad", data=str(a), quiet=True).fit()


def test_input_norm_hands_the_encoder_contrast_not_skin_tone_or_light():
    torch.manual_seed(0)
    x = faces("a", 2, 32, seed=6)
    # another skin tone and light: each colour channel scaled and shifted
    recoloured = (
        x * torch.tensor([0.5, 0.45, 0.6])[:, None, None] + torch.tensor([0.05, 0.1, 0.02])[:, None, None]
    )
    for window in (None, coverage_window(1.05)):
        changes = []
        for input_norm in (True, False):
            net = FaceSwapAE(4, 8, window=window, input_norm=input_norm)
            with torch.no_grad():
                code, other = net.encode(x), net.encode(recoloured)
            changes.append(float((code - other).norm() / code.norm()))
        # standardised, the code barely moves (what is left: the guard against a flat crop's zero
        # spread); as plain 0-1 pixels it moves with the colours
        assert changes[0] < 0.07 and changes[0] < changes[1] / 2, changes
    assert "input_norm_flag" in FaceSwapAE(4, 8, input_norm=True).state_dict()
    assert "input_norm_flag" not in FaceSwapAE(4, 8).state_dict()


def test_the_confusion_moves_only_the_code_and_the_adversary_loss_only_the_adversary():
    adversary = CodeAdversary(8, 4)
    code = torch.randn(6, 8, 2, 2, requires_grad=True)
    confusion, adversary_loss, logs = code_adversary_terms(code, 3, adversary, adversary)
    assert set(logs) == {"confusion", "adversary_loss", "adversary_accuracy"}
    confusion.backward(retain_graph=True)
    assert code.grad is not None and code.grad.abs().sum() > 0
    assert all(p.grad is None for p in adversary.parameters())
    code.grad = None
    adversary_loss.backward()
    assert code.grad is None
    assert all(p.grad is not None for p in adversary.parameters())
    # the confusion is 0 exactly when the adversary is at chance (logit 0 for every face)
    with torch.no_grad():
        for p in adversary.parameters():
            p.zero_()
    assert float(code_adversary_terms(code.detach(), 3, adversary, adversary)[0]) == pytest.approx(
        0, abs=1e-6
    )


def _toy_codes(weight: float, steps: int = 400, cells: int = 0) -> tuple[float, float]:
    """A linear encoder (its code passed through noise, a channel of finite capacity) and one linear
    decoder per identity, on 2-d points: a pose, and a trait that differs between the identities
    (±1) and varies a little within each, mixed by a rotation; trained with ``weight`` × confusion.
    Returns a fresh linear probe's accuracy at telling A's codes from B's, and the R² of the pose
    read linearly from the codes. ``cells`` 1: the flat adversary (on the 2×1×1 code flattened)."""
    torch.manual_seed(0)
    mix = torch.tensor([[0.8, -0.6], [0.6, 0.8]])
    encoder, decoders = torch.nn.Linear(2, 2), (torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    adversary = CodeAdversary(2, 8, cells)
    params = [*encoder.parameters(), *decoders[0].parameters(), *decoders[1].parameters()]
    opt, opt_adversary = torch.optim.Adam(params, 1e-2), torch.optim.Adam(adversary.parameters(), 1e-2)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        pose = torch.rand(2 * n) * 2 - 1
        sign = torch.cat([-torch.ones(n), torch.ones(n)])
        x = torch.stack([pose, sign + 0.3 * torch.randn(2 * n)], 1) @ mix.T
        return x, encoder(x) + 0.1 * torch.randn(2 * n, 2), pose, sign

    for _ in range(steps):
        x, z, _, _ = draw(32)
        recon = F.mse_loss(decoders[0](z[:32]), x[:32]) + F.mse_loss(decoders[1](z[32:]), x[32:])
        confusion, adversary_loss, _ = code_adversary_terms(z[..., None, None], 32, adversary, adversary)
        (recon + weight * confusion + adversary_loss).backward()
        for o in (opt, opt_adversary):
            o.step()
            o.zero_grad()
    with torch.no_grad():
        (_, z, pose, sign), (_, z2, pose2, sign2) = draw(200), draw(200)
    z, z2 = (torch.cat([c, torch.ones(400, 1)], 1) for c in (z, z2))
    probe = torch.linalg.lstsq(z, sign[:, None]).solution
    accuracy = float(((z2 @ probe)[:, 0].sign() == sign2).float().mean())
    fit = torch.linalg.lstsq(z, pose[:, None]).solution
    r2 = 1 - float(((z2 @ fit)[:, 0] - pose2).pow(2).mean() / pose2.var())
    return accuracy, r2


@pytest.mark.parametrize("cells", [0, 1])
def test_the_code_adversary_takes_identity_out_of_the_code_and_keeps_the_pose(cells):
    accuracy, r2 = _toy_codes(0.0, cells=cells)
    assert accuracy > 0.95 and r2 > 0.95  # unopposed, the code keeps who it came from
    accuracy, r2 = _toy_codes(1.0, cells=cells)
    assert accuracy < 0.7  # near chance: the identity is gone
    assert r2 > 0.9  # the pose is still there


def test_the_flat_adversary_sees_a_trait_where_it_sits_which_the_mean_over_the_map_dilutes():
    # codes 4×8×8 (the report's code map is 8×8) of noise; identity only in cell (3, 4) of channel
    # 0, away from the border the convolutions' padding could locate: a trait of the aligned crop
    # that always sits at the same place (an eye's size), one cell among 64
    gen = torch.Generator().manual_seed(0)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(2 * n, 4, 8, 8, generator=gen)
        z[:n, 0, 3, 4] += 1.5
        z[n:, 0, 3, 4] -= 1.5
        return z, torch.cat([torch.zeros(n), torch.ones(n)])

    accuracies = []
    for cells in (0, 64):
        torch.manual_seed(0)
        adversary = CodeAdversary(4, 16, cells)
        assert adversary(torch.zeros(3, 4, 8, 8)).shape == (3,)
        opt = torch.optim.Adam(adversary.parameters(), 3e-3)
        for _ in range(300):
            z, y = draw(32)
            F.binary_cross_entropy_with_logits(adversary(z), y).backward()
            opt.step()
            opt.zero_grad()
        with torch.no_grad():
            z, y = draw(500)
            accuracies.append(float(((adversary(z) > 0).float() == y).float().mean()))
    # the trait's cell alone tells them apart 93% of the time (a shift of ±1.5 in unit noise); the
    # mean over the map sees it among 63 cells of noise
    assert accuracies[1] > 0.85 and accuracies[0] < 0.75, accuracies


def test_the_confusion_weight_ramps_up_from_zero_as_dann_does():
    assert adversary_weight(2.0, 0, 0) == adversary_weight(2.0, 500, 0) == 2.0
    ramp = [adversary_weight(2.0, step, 100) for step in range(0, 201, 10)]
    assert ramp[0] == 0.0
    assert all(later > earlier for earlier, later in zip(ramp[:10], ramp[1:11]))
    assert ramp[5] == pytest.approx(2 * (2 / (1 + math.exp(-5)) - 1))
    assert ramp[10:] == [pytest.approx(2 * (2 / (1 + math.exp(-10)) - 1))] * 11  # held after the ramp


def test_the_extra_adversary_updates_train_only_the_classifier_on_this_batch():
    torch.manual_seed(0)
    code = torch.randn(8, 4, 2, 2)
    code[:4, 0] += 1.0
    code.requires_grad_(True)
    task = FaceSwapTask()
    losses, moved = [], []
    for steps in (1, 6):
        torch.manual_seed(1)
        adversary = CodeAdversary(4, 8, 4)
        before = [p.detach().clone() for p in adversary.parameters()]
        ctx = SimpleNamespace(
            cfg={"loss": {"code_adversary_steps": steps}},
            nets={"adversary": adversary},
            optimizers={"adversary": torch.optim.Adam(adversary.parameters(), 1e-2)},
            accumulating=False,
            backward=lambda loss: loss.backward(),
        )
        task._catch_up(code, 4, ctx)
        moved.append(any(not torch.equal(b, p) for b, p in zip(before, adversary.parameters())))
        with torch.no_grad():
            losses.append(float(code_adversary_terms(code, 4, adversary, adversary)[1]))
    assert moved == [False, True]  # steps 1: only the step's own update, none here
    assert losses[1] < losses[0] - 0.05, losses  # five updates on the batch: it tells them apart better
    assert code.grad is None  # the encoder's code is never moved by the classifier's updates


def test_loss_code_adversary_trains_a_classifier_that_is_not_exported(identities, tmp_path):
    a, b = identities
    task = FaceSwapTask()
    cfg = load_config(
        task.default_config, None, [*TINY, f"data.b={b}", "train.steps=3", "loss.code_adversary=0.5"]
    )
    trainer = Trainer(task, cfg, tmp_path / "run", data=str(a), quiet=True)
    path = _fit(trainer)
    assert {"confusion", "adversary_loss", "adversary_accuracy"} <= set(trainer.history[-1])
    # the swap's weights are the plain network's: the adversary is a training aid only
    assert set(load_file(str(path / "model.safetensors"))) == set(FaceSwapAE(4, 8).state_dict())
    with torch.no_grad():
        assert load("faceswap", weights=str(path), device="cpu", dtype="fp32")(faces("a", 1, 16)).shape == (
            1,
            3,
            16,
            16,
        )
    bad = load_config(
        task.default_config, None, [*TINY, f"data.b={b}", "train.steps=1", "loss.code_adversary=-1"]
    )
    with pytest.raises(UsageError, match="loss.code_adversary"):
        Trainer(task, bad, tmp_path / "bad", data=str(a), quiet=True).fit()


def test_the_stronger_adversary_options_train_and_export_the_plain_network(identities, tmp_path):
    a, b = identities
    task = FaceSwapTask()
    options = [
        "loss.code_adversary=1",
        "loss.code_adversary_net=flat",
        "loss.code_adversary_width=16",
        "loss.code_adversary_steps=3",
        "loss.code_adversary_ramp=2",
    ]
    cfg = load_config(task.default_config, None, [*TINY, f"data.b={b}", "train.steps=3", *options])
    trainer = Trainer(task, cfg, tmp_path / "run", data=str(a), quiet=True)
    path = _fit(trainer)
    # the flat classifier on the 8-channel 2×2 code map of 16 px crops
    assert task.build_networks(cfg)["adversary"].net[1].in_features == 8 * 2 * 2
    weights = [h["adversary_weight"] for h in trainer.history]
    assert weights[0] == 0.0 and 0 < weights[1] < weights[2] <= 1.0  # ramped in over 2 steps
    assert set(load_file(str(path / "model.safetensors"))) == set(FaceSwapAE(4, 8).state_dict())
    for bad_option in ("loss.code_adversary_net=dense", "loss.code_adversary_steps=0"):
        bad = load_config(
            task.default_config,
            None,
            [*TINY, f"data.b={b}", "train.steps=1", "loss.code_adversary=1", bad_option],
        )
        with pytest.raises(UsageError, match=bad_option.split("=")[0]):
            Trainer(task, bad, tmp_path / "bad", data=str(a), quiet=True).fit()
