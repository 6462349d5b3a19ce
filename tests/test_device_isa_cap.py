"""oneDNN's ISA cap (``ONEDNN_MAX_CPU_ISA``) is the CPU genedit chooses for.

Why it matters: torch and OpenVINO run their convs on oneDNN, which obeys the cap. Capped to AVX2 on
an AMX CPU, a bf16 conv in torch runs several times slower than fp32, so the dtype choice (and the
auto-backend table, whose rows are per CPU) must follow the cap, not ``/proc/cpuinfo``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from genedit_core import autobackend, device
from genedit_core.cards import ModelCard

# The flags a Sapphire Rapids Xeon reports (a subset: the ones the levels name, and some that none does).
SAPPHIRE_RAPIDS = frozenset(
    [
        "fpu",
        "sse",
        "sse2",
        "ssse3",
        "sse4_1",
        "sse4_2",
        "avx",
        "f16c",
        "avx2",
        "fma",
        "bmi2",
        "avx512f",
        "avx512dq",
        "avx512cd",
        "avx512bw",
        "avx512vl",
        "avx512ifma",
        "avx512vbmi",
        "avx512_vbmi2",
        "avx512_bitalg",
        "avx512_vpopcntdq",
        "avx_vnni",
        "avx512_vnni",
        "avx512_bf16",
        "avx512_fp16",
        "amx_bf16",
        "amx_tile",
        "amx_int8",
        "sha_ni",
    ]
)
BASE = frozenset(["fpu", "sse", "sse2", "ssse3", "sse4_1", "sse4_2", "f16c", "bmi2", "sha_ni"])


@pytest.mark.parametrize(
    ("cap", "kept"),
    [
        ("SSE41", BASE),
        ("AVX2", BASE | {"avx", "avx2", "fma"}),
        ("AVX2_VNNI", BASE | {"avx", "avx2", "fma", "avx_vnni"}),
        (
            "AVX512_CORE_BF16",
            SAPPHIRE_RAPIDS - {"avx512_fp16", "amx_bf16", "amx_tile", "amx_int8"},
        ),
        ("AVX10_1_512_AMX", SAPPHIRE_RAPIDS),
        (None, SAPPHIRE_RAPIDS),
    ],
)
def test_a_cap_removes_the_flags_of_every_level_above_it(cap, kept):
    assert device.capped_flags(SAPPHIRE_RAPIDS, cap) == kept


@pytest.mark.parametrize(
    ("value", "cap"), [("avx2", "AVX2"), ("ALL", None), ("DEFAULT", None), ("avx3", None)]
)
def test_the_cap_is_read_like_onednn_reads_it(monkeypatch, value, cap):
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", value)
    assert device.onednn_isa_cap() == cap


@pytest.fixture
def amx_cpu(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(device, "reported_cpu_flags", lambda: SAPPHIRE_RAPIDS)
    monkeypatch.delenv("GENEDIT_CPU_BF16", raising=False)
    monkeypatch.delenv("GENEDIT_CPU_VNNI", raising=False)
    device.cpu_has_native_bf16.cache_clear()
    yield
    device.cpu_has_native_bf16.cache_clear()


def test_capped_to_avx2_an_amx_cpu_gets_fp32_and_its_own_table_rows(amx_cpu, monkeypatch):
    card = ModelCard(name="c", tasks=("upscale",), family="toy", summary="s", scales=(2,), bf16_safe=True)
    cpu = torch.device("cpu")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    assert device.choose_dtype("auto", cpu, card) == torch.bfloat16
    assert device.cpu_has_int8_dot()
    uncapped = autobackend.device_key(cpu)

    torch.ops.mkldnn._is_mkldnn_bf16_supported()  # oneDNN has read its (absent) cap: as in a long-lived process
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    device.cpu_has_native_bf16.cache_clear()
    assert device.choose_dtype("auto", cpu, card) == torch.float32
    assert not device.cpu_has_int8_dot()
    assert autobackend.device_key(cpu) == uncapped + " (ISA cap AVX2)"


@pytest.mark.skipif(
    not {"avx512_bf16", "amx_bf16"} & device.reported_cpu_flags(), reason="needs a CPU with native bf16"
)
def test_torch_obeys_the_cap_so_genedit_must():
    """The premise, checked on this machine: under the cap torch itself says bf16 is not native."""
    probe = "import torch; print(torch.ops.mkldnn._is_mkldnn_bf16_supported())"
    import os

    for cap, expected in ((None, "True"), ("AVX2", "False")):
        env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
        if cap:
            env["ONEDNN_MAX_CPU_ISA"] = cap
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected, cap
