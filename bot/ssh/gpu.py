"""Strict parsing of `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader` and the
comparison with what the renter paid for. Provider output is untrusted: anything unexpected
is an error, never a guess."""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.query import normalize_gpu
from bot.ssh.errors import BadProviderOutput

GPUINFO_COMMAND = ("nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader")
MAX_GPUS = 16
_LINE_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9 ._()/-]{0,63}), ([1-9][0-9]{0,6}) MiB")
# what may follow the listed model in the reported name without making it another GPU
_VARIANT_SUFFIX_RE = re.compile(r"(?:sxm[0-9]?|pcie|nvl|hbm[0-9]?e?|[0-9]{1,3}gb)+")


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int

    @property
    def memory_gb(self) -> float:
        return self.memory_mib / 1024


@dataclass(frozen=True)
class GpuSpec:
    """What the listing promises: `count` GPUs of `model`, each with `vram_gb`."""
    model: str
    count: int
    vram_gb: int


@dataclass(frozen=True)
class GpuCheck:
    ok: bool
    found: tuple[Gpu, ...]
    reason: str  # empty when ok; built from our own words and numbers only


def parse_gpuinfo(raw: bytes | str) -> tuple[Gpu, ...]:
    """Parse nvidia-smi's CSV; raises BadProviderOutput on anything but well-formed lines."""
    try:
        text = raw.decode("ascii") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise BadProviderOutput("GPU report is not ASCII") from None
    lines = [ln.strip() for ln in text.strip().splitlines()] if text.strip() else []
    if not lines:
        raise BadProviderOutput("GPU report is empty (no NVIDIA GPU or driver not loaded)")
    if len(lines) > MAX_GPUS:
        raise BadProviderOutput(f"GPU report lists more than {MAX_GPUS} GPUs")
    gpus = []
    for n, line in enumerate(lines, 1):
        m = _LINE_RE.fullmatch(line)
        if not m:
            raise BadProviderOutput(f"GPU report line {n} is not 'name, N MiB'")
        gpus.append(Gpu(name=m.group(1).strip(), memory_mib=int(m.group(2))))
    return tuple(gpus)


def same_model(reported: str, listed: str) -> bool:
    """'NVIDIA GeForce RTX 4090' is an 'RTX 4090'; 'NVIDIA A100-SXM4-80GB' is an 'A100';
    'RTX 4090 D' is not an 'RTX 4090'."""
    r, want = normalize_gpu(reported), normalize_gpu(listed)
    if not want:
        return False
    return r == want or (r.startswith(want) and bool(_VARIANT_SUFFIX_RE.fullmatch(r[len(want):])))


def vram_matches(memory_mib: int, vram_gb: int) -> bool:
    """Cards report a little less than the box says (24564 MiB on a 24 GB card, 15360 on a 16 GB T4)."""
    return abs(memory_mib / 1024 - vram_gb) <= max(1.0, 0.07 * vram_gb)


def check_gpus(found: tuple[Gpu, ...], spec: GpuSpec) -> GpuCheck:
    """Exactly `spec.count` GPUs, all of the listed model and memory size."""
    if len(found) != spec.count:
        return GpuCheck(False, found, f"expected {spec.count} GPU(s), the host reports {len(found)}")
    for i, gpu in enumerate(found):
        if not same_model(gpu.name, spec.model):
            return GpuCheck(False, found, f"GPU {i} is not a {normalize_gpu(spec.model)}")
        if not vram_matches(gpu.memory_mib, spec.vram_gb):
            return GpuCheck(False, found, f"GPU {i} has {gpu.memory_mib} MiB, expected about {spec.vram_gb} GB")
    return GpuCheck(True, found, "")
