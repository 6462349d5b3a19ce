"""Device and dtype choice, shared by every command.

``auto`` prefers CUDA, then MPS, then CPU. Reduced precision follows the card: bf16 on a CPU only
where the CPU computes it natively (AVX512-BF16 or AMX) *and* the card says bf16 is safe; fp16 never
on a CPU, where PyTorch lacks half kernels for conv ("slow_conv2d_cpu not implemented for Half").
"""

from __future__ import annotations

import functools
import os
import platform
import re
from typing import TYPE_CHECKING

from .errors import DeviceError

if TYPE_CHECKING:
    import torch

    from .cards import ModelCard

DTYPE_NAMES = ("auto", "fp32", "bf16", "fp16")


def check_device_name(name: str | None) -> str:
    """The lower-cased device name, or a :class:`DeviceError` when it is not one genedit knows.

    Torch-free, so a command can refuse ``--device ''`` or ``--device gpu`` before anything loads.
    ``None`` means ``auto``; an empty string is an error (a script's unset variable, not a choice).
    """
    text = "auto" if name is None else str(name).strip().lower()
    if text in ("auto", "cpu", "mps", "cuda") or re.fullmatch(r"cuda:\d{1,3}", text):
        return text
    shown = repr(name) if not text else name
    raise DeviceError(f"--device {shown}: expected auto, cpu, cuda, cuda:N or mps")


def choose_device(name: str | None = "auto") -> torch.device:
    import torch

    name = check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"--device {name}: CUDA is not available on this machine (use --device cpu or auto)"
            )
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
        return dev
    if not _mps_available():  # check_device_name leaves only mps
        raise DeviceError(
            "--device mps: Apple MPS is not available on this machine (use --device cpu or auto)"
        )
    return torch.device("mps")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


#: oneDNN's ISA levels, lowest first, with the CPU flags each adds to the one before
#: (the values ``ONEDNN_MAX_CPU_ISA`` takes; AVX10_1_512* are the newer names of the last three);
#: a name ending in ``*`` stands for every flag it starts.
ONEDNN_ISA_LEVELS: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (("SSE41",), frozenset()),
    (("AVX",), frozenset({"avx"})),
    (("AVX2",), frozenset({"avx2", "fma"})),
    (("AVX2_VNNI",), frozenset({"avx_vnni"})),
    (("AVX2_VNNI_2",), frozenset({"avx_vnni_int8", "avx_ne_convert"})),
    (("AVX512_CORE",), frozenset({"avx512*"})),  # every AVX-512 extension
    (("AVX512_CORE_VNNI",), frozenset({"avx512_vnni"})),
    (("AVX512_CORE_BF16",), frozenset({"avx512_bf16"})),
    (("AVX512_CORE_FP16", "AVX10_1_512"), frozenset({"avx512_fp16"})),
    (("AVX512_CORE_AMX", "AVX10_1_512_AMX"), frozenset({"amx_bf16", "amx_int8", "amx_tile"})),
    (("AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16"), frozenset({"amx_fp16"})),
)


def onednn_isa_cap() -> str | None:
    """The ISA level oneDNN is capped to (``ONEDNN_MAX_CPU_ISA``, or the older ``DNNL_MAX_CPU_ISA``),
    upper-cased; ``None`` when unset, ``ALL``/``DEFAULT``, or not a level oneDNN knows (it ignores those)."""
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        value = os.environ.get(name, "").strip().upper()
        if value:
            known = any(value in names for names, _ in ONEDNN_ISA_LEVELS)
            return value if known else None
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports, less those above oneDNN's ISA cap when one is set;
    empty where ``/proc/cpuinfo`` does not exist.

    Kernel choices that depend on the instruction set (bf16, int8 dot products) read these, and the
    benchmarks print them, because results from an AMX machine do not carry over to an AVX2 one.
    The cap counts because oneDNN (torch's and OpenVINO's conv kernels) obeys it: capped to AVX2 on
    an AMX CPU, a bf16 conv in torch runs several times slower than fp32 (OpenVINO falls back to
    reference kernels), so genedit must not choose bf16 there. The cap also lets one machine stand
    in for an older one.
    """
    return capped_flags(reported_cpu_flags(), onednn_isa_cap())


@functools.lru_cache(maxsize=1)
def reported_cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def capped_flags(flags: frozenset[str], cap: str | None) -> frozenset[str]:
    """``flags`` without those of the oneDNN ISA levels above ``cap`` (a name from :data:`ONEDNN_ISA_LEVELS`)."""
    if cap is None:
        return flags
    above = False
    for names, added in ONEDNN_ISA_LEVELS:
        if above:
            flags = frozenset(f for f in flags if not any(_flag_matches(f, a) for a in added))
        above = above or cap in names
    return flags


def _flag_matches(flag: str, name: str) -> bool:
    return flag.startswith(name[:-1]) if name.endswith("*") else flag == name


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def cpu_has_int8_dot() -> bool:
    """True when an x86 CPU multiplies u8×s8 with 32-bit accumulation (AVX-VNNI, AVX512-VNNI, AMX-INT8).

    Without it, x86 int8 kernels sum pairs of u8×s8 products in 16 bits (``vpmaddubsw``), which
    saturates unless the weights use 7 bits; quantizers then need ``reduce_range``.
    ``GENEDIT_CPU_VNNI=0/1`` overrides the reading, for tests and for quantizing for another machine.
    """
    if os.environ.get("GENEDIT_CPU_VNNI") is not None:
        return os.environ["GENEDIT_CPU_VNNI"] == "1"
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU has AVX512-BF16 or AMX-BF16 (what oneDNN uses for fast bf16 conv)."""
    if os.environ.get("GENEDIT_CPU_BF16") is not None:
        return os.environ["GENEDIT_CPU_BF16"] == "1"
    if cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        return True
    if onednn_isa_cap() is not None:
        # The capped flags decide: oneDNN reads the cap once, when first asked, so torch's probe
        # below may have answered before the cap was set (a long-lived process, a test).
        return False
    try:
        import torch

        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def choose_dtype(name: str, device: torch.device, card: ModelCard | None = None) -> torch.dtype:
    import torch

    name = (name or "auto").lower()
    if name not in DTYPE_NAMES:
        raise DeviceError(f"--dtype {name}: expected one of {', '.join(DTYPE_NAMES)}")
    if name == "fp32":
        return torch.float32
    if name == "fp16":
        if device.type == "cpu":
            raise DeviceError("--dtype fp16: half precision is not supported on CPU; use bf16 or fp32")
        return torch.float16
    if name == "bf16":
        if device.type == "cpu" and not cpu_has_native_bf16():
            raise DeviceError("--dtype bf16: this CPU has no native bf16 (AVX512-BF16/AMX); use fp32")
        return torch.bfloat16
    # auto
    if card is None:
        return torch.float32
    if device.type == "cuda":
        if card.fp16_safe:
            return torch.float16
        if card.bf16_safe and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if device.type == "cpu" and card.bf16_safe and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    if isinstance(dtype, str):  # already a name (a model run without torch: genedit_core.warm)
        return str(dtype)
    import torch

    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))
