"""Stand-in provider machines for the demo's market part and service-level tests, which have no
real host to log in to: what `/host verify` would have read from one (a fresh host key and the
GPUs the offer lists). They go through the real recording path,
`HostService.record_verification`, so listing follows exactly as after a real verify."""
from __future__ import annotations

from bot.domain.query import normalize_gpu
from bot.ssh import Gpu, HostVerification, fingerprint, generate_keypair

# the names nvidia-smi prints for the models the demo and the tests list
_REPORTED = {"rtx4090": "NVIDIA GeForce RTX 4090", "rtx3090": "NVIDIA GeForce RTX 3090",
             "a100": "NVIDIA A100-SXM4-80GB", "h100": "NVIDIA H100 80GB HBM3"}


def stand_in_verification(gpu: str = "rtx4090", count: int = 1, vram_gb: int = 24) -> HostVerification:
    host_key = " ".join(generate_keypair().public.split()[:2])
    name = _REPORTED.get(normalize_gpu(gpu), gpu)
    gpus = tuple(Gpu(name=name, memory_mib=vram_gb * 1024) for _ in range(count))
    return HostVerification(host_key=host_key, fingerprint=fingerprint(host_key), gpus=gpus)
