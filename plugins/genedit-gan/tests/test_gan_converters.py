"""Checkpoints users bring: state dicts written by hand in each published layout, loaded through
``genedit_core.load`` and compared with a reference forward written here from the raw tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import genedit_core
from genedit_core.errors import WeightsError

G = torch.Generator().manual_seed(0)


def rnd(*shape, scale=1.0):
    return torch.randn(*shape, generator=G) * scale


# --- DCGAN: pytorch/examples (main.*) and HugGAN (model.*) ------------------------------------------


def dcgan_state(prefix: str, nz=6, ngf=4, nc=3, size=16) -> dict:
    n_up = int(math.log2(size)) - 2
    chans = [ngf * 2 ** (n_up - 1 - i) for i in range(n_up)] + [nc]
    sd, idx, cin = {}, 0, nz
    for i, c in enumerate(chans):
        sd[f"{prefix}.{idx}.weight"] = rnd(cin, c, 4, 4, scale=0.2)
        if i < len(chans) - 1:
            sd[f"{prefix}.{idx + 1}.weight"] = 1 + rnd(c, scale=0.1)
            sd[f"{prefix}.{idx + 1}.bias"] = rnd(c, scale=0.1)
            sd[f"{prefix}.{idx + 1}.running_mean"] = rnd(c, scale=0.1)
            sd[f"{prefix}.{idx + 1}.running_var"] = 0.5 + torch.rand(c, generator=G)
            sd[f"{prefix}.{idx + 1}.num_batches_tracked"] = torch.tensor(7)
        idx += 3
        cin = c
    return sd


def dcgan_reference(sd: dict, prefix: str, z: torch.Tensor) -> torch.Tensor:
    convs = sorted(int(k.split(".")[1]) for k, v in sd.items() if v.ndim == 4)
    x = z[:, :, None, None]
    for i, idx in enumerate(convs):
        x = F.conv_transpose2d(
            x, sd[f"{prefix}.{idx}.weight"], stride=1 if i == 0 else 2, padding=0 if i == 0 else 1
        )
        if i == len(convs) - 1:
            return torch.tanh(x)
        b = f"{prefix}.{idx + 1}"
        x = (x - sd[f"{b}.running_mean"].view(1, -1, 1, 1)) / torch.sqrt(
            sd[f"{b}.running_var"].view(1, -1, 1, 1) + 1e-5
        )
        x = torch.relu(x * sd[f"{b}.weight"].view(1, -1, 1, 1) + sd[f"{b}.bias"].view(1, -1, 1, 1))
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("prefix", "filename"), [("main", "netG_epoch_24.pth"), ("model", "pytorch_model.bin")]
)
def test_dcgan_layouts(gan_plugins, tmp_path, prefix, filename):
    sd = dcgan_state(prefix)
    path = tmp_path / filename
    torch.save(
        {f"module.{k}" if prefix == "main" else k: v for k, v in sd.items()}, path
    )  # DataParallel prefix too
    model = genedit_core.load("dcgan", weights=str(path), device="cpu", dtype="fp32")
    assert model.hyperparameters["nz"] == 6 and model.hyperparameters["size"] == 16
    z = rnd(3, 6)
    torch.testing.assert_close(
        model.forward(z), (dcgan_reference(sd, prefix, z) + 1) / 2, rtol=1e-4, atol=1e-5
    )


def test_dcgan_64_default_layout_is_inferred(gan_plugins, tmp_path):
    sd = dcgan_state("main", nz=100, ngf=2, nc=3, size=64)
    assert sorted(k for k, v in sd.items() if v.ndim == 4) == [f"main.{i}.weight" for i in (0, 12, 3, 6, 9)]
    torch.save(sd, tmp_path / "netG.pth")
    model = genedit_core.load("dcgan", weights=str(tmp_path / "netG.pth"), device="cpu", dtype="fp32")
    assert model.hyperparameters == {"nz": 100, "nc": 3, "size": 64, "ngf": 2, "class_names": []}
    z = rnd(2, 100)
    torch.testing.assert_close(
        model.forward(z), (dcgan_reference(sd, "main", z) + 1) / 2, rtol=1e-4, atol=1e-5
    )


def test_wrong_checkpoint_is_refused_with_the_file_named(gan_plugins, tmp_path):
    sd = dcgan_state("main")
    sd["main.0.weight"] = sd["main.0.weight"][:, :3]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="bad.pth"):
        genedit_core.load("dcgan", weights=str(tmp_path / "bad.pth"), device="cpu", dtype="fp32")
    torch.save({"foo.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="other.pth"):
        genedit_core.load("stylegan2", weights=str(tmp_path / "other.pth"), device="cpu", dtype="fp32")


# --- StyleGAN2: rosinality {"g_ema": ..., "latent_avg": ...} -----------------------------------------

SD, CH, N_MLP, SIZE = 8, [8, 6, 4], 2, 16  # style dim, channels at 4/8/16


def _modconv(sd, p, cin, cout, k, up=False):
    sd[f"{p}.weight"] = rnd(1, cout, cin, k, k)
    sd[f"{p}.modulation.weight"] = rnd(cin, SD)
    sd[f"{p}.modulation.bias"] = torch.ones(cin) + rnd(cin, scale=0.1)
    if up:
        k1 = torch.tensor([1.0, 3, 3, 1])
        sd[f"{p}.blur.kernel"] = (k1[None] * k1[:, None]) / 64 * 4


def _styled(sd, p, cin, cout, up=False):
    _modconv(sd, f"{p}.conv", cin, cout, 3, up)
    sd[f"{p}.noise.weight"] = rnd(1, scale=0.3)
    sd[f"{p}.activate.bias"] = rnd(cout, scale=0.1)


def _torgb(sd, p, cin, up=True):
    _modconv(sd, f"{p}.conv", cin, 3, 1)
    sd[f"{p}.bias"] = rnd(1, 3, 1, 1, scale=0.1)
    if up:
        k1 = torch.tensor([1.0, 3, 3, 1])
        sd[f"{p}.upsample.kernel"] = (k1[None] * k1[:, None]) / 64 * 4


def rosinality_state() -> dict:
    sd: dict = {}
    for i in range(1, N_MLP + 1):
        sd[f"style.{i}.weight"] = rnd(SD, SD) / 0.01
        sd[f"style.{i}.bias"] = rnd(SD, scale=0.1)
    sd["input.input"] = rnd(1, CH[0], 4, 4)
    _styled(sd, "conv1", CH[0], CH[0])
    _torgb(sd, "to_rgb1", CH[0], up=False)
    for j in range(len(CH) - 1):
        _styled(sd, f"convs.{2 * j}", CH[j], CH[j + 1], up=True)
        _styled(sd, f"convs.{2 * j + 1}", CH[j + 1], CH[j + 1])
        _torgb(sd, f"to_rgbs.{j}", CH[j + 1])
    for i in range(2 * (len(CH) - 1) + 1):
        r = 2 ** ((i + 5) // 2)
        sd[f"noises.noise_{i}"] = rnd(1, 1, r, r)
    return sd


def _blur(x, pad, kernel):
    c = x.shape[1]
    return F.conv2d(F.pad(x, [pad, pad, pad, pad]), kernel.expand(c, 1, 4, 4), groups=c)


def sg2_reference(sd: dict, z: torch.Tensor, psi: float, latent_avg: torch.Tensor) -> torch.Tensor:
    """Per-sample, activation-modulation formulation (x·s, conv, ·demod), written from the raw dict."""
    k1 = torch.tensor([1.0, 3, 3, 1])
    kern = (k1[None] * k1[:, None]) / 64 * 4
    x = z * torch.rsqrt((z**2).mean(1, keepdim=True) + 1e-8)
    for i in range(1, N_MLP + 1):
        w_, b_ = sd[f"style.{i}.weight"], sd[f"style.{i}.bias"]
        x = F.leaky_relu(x @ (w_ * 0.01 / math.sqrt(SD)).t() + b_ * 0.01, 0.2) * math.sqrt(2)
    w = latent_avg + psi * (x - latent_avg)
    outs = []
    for n in range(z.shape[0]):
        wn = w[n : n + 1]

        def mconv(h, p, demod=True, up=False, wn=wn):
            weight = sd[f"{p}.weight"][0]
            s = wn @ (sd[f"{p}.modulation.weight"] / math.sqrt(SD)).t() + sd[f"{p}.modulation.bias"]
            fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
            h = h * s.view(1, -1, 1, 1) / math.sqrt(fan_in)
            if up:
                h = F.conv_transpose2d(h, weight.transpose(0, 1), stride=2)
                h = _blur(h, 1, kern)
            else:
                h = F.conv2d(h, weight, padding=weight.shape[-1] // 2)
            if demod:
                d = torch.rsqrt(
                    ((weight[None] * s.view(1, 1, -1, 1, 1) / math.sqrt(fan_in)) ** 2).sum((2, 3, 4)) + 1e-8
                )
                h = h * d.view(1, -1, 1, 1)
            return h

        def styled(h, p, noise, up=False):
            h = mconv(h, f"{p}.conv", up=up)
            h = h + sd[f"{p}.noise.weight"] * noise
            return F.leaky_relu(h + sd[f"{p}.activate.bias"].view(1, -1, 1, 1), 0.2) * math.sqrt(2)

        def up_skip(s):
            c = s.shape[1]
            return F.conv_transpose2d(s, kern.expand(c, 1, 4, 4), stride=2, padding=1, groups=c)

        h = styled(sd["input.input"], "conv1", sd["noises.noise_0"])
        skip = mconv(h, "to_rgb1.conv", demod=False) + sd["to_rgb1.bias"]
        for j in range(len(CH) - 1):
            h = styled(h, f"convs.{2 * j}", sd[f"noises.noise_{2 * j + 1}"], up=True)
            h = styled(h, f"convs.{2 * j + 1}", sd[f"noises.noise_{2 * j + 2}"])
            skip = up_skip(skip) + mconv(h, f"to_rgbs.{j}.conv", demod=False) + sd[f"to_rgbs.{j}.bias"]
        outs.append(skip)
    return torch.cat(outs)


def test_stylegan2_rosinality_checkpoint(gan_plugins, tmp_path):
    sd = rosinality_state()
    latent_avg = rnd(SD, scale=0.5)
    path = tmp_path / "stylegan2-tiny-config-f.pt"
    torch.save({"g_ema": sd, "latent_avg": latent_avg}, path)
    model = genedit_core.load("stylegan2", weights=str(path), device="cpu", dtype="fp32")
    assert model.hyperparameters["size"] == SIZE and model.hyperparameters["channels"] == CH
    torch.testing.assert_close(model.module.latent_avg, latent_avg)
    from genedit_gan.sampling import generate_images

    for psi in (1.0, 0.5):
        got = generate_images(model, [0, 1], {"truncation": psi})
        z = torch.stack([torch.randn(SD, generator=torch.Generator().manual_seed(s)) for s in (0, 1)])
        ref = ((sg2_reference(sd, z, psi, latent_avg) + 1) / 2).clamp(0, 1)
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_stylegan2_without_latent_avg_estimates_it(gan_plugins, tmp_path):
    torch.save({"g_ema": rosinality_state()}, tmp_path / "g.pt")
    model = genedit_core.load("stylegan2", weights=str(tmp_path / "g.pt"), device="cpu", dtype="fp32")
    avg = model.module.latent_avg
    assert float(avg.abs().sum()) > 0
    z = torch.randn(4096, SD, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(avg, model.module.mapping(z).mean(0), rtol=1e-4, atol=1e-5)


# --- BigGAN-deep: pytorch-pretrained-BigGAN -----------------------------------------------------------

Z, E, NCLS, CW, NST = 6, 4, 5, 4, 11
LAYERS = [(False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)]
ATTN = 2


def _sn(sd, p, out, *rest, bias=True):
    w = rnd(out, *rest, scale=0.5)
    sd[f"{p}.weight_orig"] = w
    sd[f"{p}.weight_u"] = F.normalize(rnd(out), dim=0)
    sd[f"{p}.weight_v"] = F.normalize(rnd(w[0].numel()), dim=0)
    if bias:
        sd[f"{p}.bias"] = rnd(out, scale=0.1)


def _bn(sd, p, c, cond=True):
    sd[f"{p}.running_means"] = rnd(NST, c, scale=0.2)
    sd[f"{p}.running_vars"] = 0.5 + torch.rand(NST, c, generator=G)
    if cond:
        _sn(sd, f"{p}.scale", c, Z + E, bias=False)
        _sn(sd, f"{p}.offset", c, Z + E, bias=False)
    else:
        sd[f"{p}.weight"] = 1 + rnd(c, scale=0.1)
        sd[f"{p}.bias"] = rnd(c, scale=0.1)


def biggan_state() -> dict:
    sd = {"embeddings.weight": rnd(E, NCLS)}
    _sn(sd, "generator.gen_z", 16 * LAYERS[0][1] * CW, Z + E)
    idx = 0
    for i, (_, a, b) in enumerate(LAYERS):
        if i == ATTN:
            c = a * CW
            p = f"generator.layers.{idx}"
            _sn(sd, f"{p}.snconv1x1_theta", c // 8, c, 1, 1, bias=False)
            _sn(sd, f"{p}.snconv1x1_phi", c // 8, c, 1, 1, bias=False)
            _sn(sd, f"{p}.snconv1x1_g", c // 2, c, 1, 1, bias=False)
            _sn(sd, f"{p}.snconv1x1_o_conv", c, c // 2, 1, 1, bias=False)
            sd[f"{p}.gamma"] = torch.tensor([0.7])
            idx += 1
        p, cin, cout, mid = f"generator.layers.{idx}", a * CW, b * CW, a * CW // 4
        _bn(sd, f"{p}.bn_0", cin)
        _sn(sd, f"{p}.conv_0", mid, cin, 1, 1)
        _bn(sd, f"{p}.bn_1", mid)
        _sn(sd, f"{p}.conv_1", mid, mid, 3, 3)
        _bn(sd, f"{p}.bn_2", mid)
        _sn(sd, f"{p}.conv_2", mid, mid, 3, 3)
        _bn(sd, f"{p}.bn_3", mid)
        _sn(sd, f"{p}.conv_3", cout, mid, 1, 1)
        idx += 1
    _bn(sd, "generator.bn", CW, cond=False)
    _sn(sd, "generator.conv_to_rgb", CW, CW, 3, 3)
    return sd


def biggan_reference(sd: dict, z: torch.Tensor, onehot: torch.Tensor, trunc: float) -> torch.Tensor:
    def w(p):
        wo, u, v = sd[f"{p}.weight_orig"], sd[f"{p}.weight_u"], sd[f"{p}.weight_v"]
        return wo / torch.dot(u, wo.reshape(wo.shape[0], -1) @ v)

    def stats(p):
        pos = trunc / (1 / (NST - 1))
        frac, lo = math.modf(pos)
        lo = int(lo)
        m, v = sd[f"{p}.running_means"], sd[f"{p}.running_vars"]
        if frac == 0:
            return m[lo], v[lo]
        return m[lo] * frac + m[lo + 1] * (1 - frac), v[lo] * frac + v[lo + 1] * (1 - frac)

    def cbn(x, p, cond):
        m, v = stats(p)
        xn = (x - m.view(1, -1, 1, 1)) / torch.sqrt(v.view(1, -1, 1, 1) + 1e-4)
        return (
            xn * (1 + cond @ w(f"{p}.scale").t())[:, :, None, None]
            + (cond @ w(f"{p}.offset").t())[:, :, None, None]
        )

    def conv(x, p, pad=0):
        return F.conv2d(x, w(p), sd.get(f"{p}.bias"), padding=pad)

    cond = torch.cat([z, onehot @ sd["embeddings.weight"].t()], 1)
    h = cond @ w("generator.gen_z").t() + sd["generator.gen_z.bias"]
    h = h.view(z.shape[0], 4, 4, -1).permute(0, 3, 1, 2)
    idx = 0
    for i, (up, _, b) in enumerate(LAYERS):
        if i == ATTN:
            p = f"generator.layers.{idx}"
            n, c, hh, ww = h.shape
            theta = conv(h, f"{p}.snconv1x1_theta").view(n, c // 8, hh * ww)
            phi = F.max_pool2d(conv(h, f"{p}.snconv1x1_phi"), 2).view(n, c // 8, -1)
            beta = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), -1)
            g = F.max_pool2d(conv(h, f"{p}.snconv1x1_g"), 2).view(n, c // 2, -1)
            o = torch.bmm(g, beta.permute(0, 2, 1)).view(n, c // 2, hh, ww)
            h = h + sd[f"{p}.gamma"] * conv(o, f"{p}.snconv1x1_o_conv")
            idx += 1
        p = f"generator.layers.{idx}"
        x0 = h
        y = conv(torch.relu(cbn(h, f"{p}.bn_0", cond)), f"{p}.conv_0")
        y = torch.relu(cbn(y, f"{p}.bn_1", cond))
        if up:
            y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = conv(y, f"{p}.conv_1", 1)
        y = conv(torch.relu(cbn(y, f"{p}.bn_2", cond)), f"{p}.conv_2", 1)
        y = conv(torch.relu(cbn(y, f"{p}.bn_3", cond)), f"{p}.conv_3")
        if x0.shape[1] != b * CW:
            x0 = x0[:, : x0.shape[1] // 2]
        if up:
            x0 = F.interpolate(x0, scale_factor=2, mode="nearest")
        h = y + x0
        idx += 1
    m, v = stats("generator.bn")
    h = F.batch_norm(h, m, v, sd["generator.bn.weight"], sd["generator.bn.bias"], False, 0.0, 1e-4)
    return torch.tanh(conv(torch.relu(h), "generator.conv_to_rgb", 1)[:, :3])


@pytest.mark.parametrize("trunc", [1.0, 0.4, 0.33])
def test_biggan_deep_checkpoint(gan_plugins, tmp_path, trunc):
    sd = biggan_state()
    torch.save(sd, tmp_path / "pytorch_model.bin")
    model = genedit_core.load(
        "biggan", weights=str(tmp_path / "pytorch_model.bin"), device="cpu", dtype="fp32"
    )
    hp = model.hyperparameters
    assert (hp["z_dim"], hp["num_classes"], hp["n_stats"], hp["attention_pos"], hp["rgb_out"]) == (
        Z,
        NCLS,
        NST,
        ATTN,
        CW,
    )
    assert model.module.size == 16
    z = rnd(2, Z)
    y = torch.tensor([3, 1])
    got = model.module(z, y, trunc)
    ref = biggan_reference(sd, z, F.one_hot(y, NCLS).float(), trunc)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_biggan_config_json_layers_are_honoured(gan_plugins, tmp_path):
    import json

    sd = biggan_state()
    torch.save(sd, tmp_path / "pytorch_model.bin")
    cfg = {"layers": [[u, a, b] for u, a, b in LAYERS], "channel_width": CW, "z_dim": Z, "n_stats": NST}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    model = genedit_core.load(
        "biggan", weights=str(tmp_path / "pytorch_model.bin"), device="cpu", dtype="fp32"
    )
    assert model.module.layer_spec == LAYERS
