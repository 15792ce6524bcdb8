"""Stand-in provider machines for the demo's market part and service-level tests, which have no
real host to log in to: what `/host verify` would have read from one (a fresh host key and the
GPUs the offer lists). They go through the real recording path,
`HostService.record_verification`, so listing follows exactly as after a real verify."""
from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.domain.query import normalize_gpu
from bot.ssh import Gpu, HostVerification, fingerprint

# the names nvidia-smi prints for the models the demo and the tests list
_REPORTED = {"rtx4090": "NVIDIA GeForce RTX 4090", "rtx3090": "NVIDIA GeForce RTX 3090",
             "a100": "NVIDIA A100-SXM4-80GB", "h100": "NVIDIA H100 80GB HBM3"}


def stand_in_host_key(seed: str) -> str:
    """The same machine presents the same host key every time ("type base64")."""
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"gpuflow-stand-in:{seed}".encode()).digest())
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def stand_in_verification(gpu: str = "rtx4090", count: int = 1, vram_gb: int = 24, *,
                          machine: str = "rig") -> HostVerification:
    """What verifying the stand-in `machine` reads: its host key and `count` GPUs of `gpu`."""
    host_key = stand_in_host_key(machine)
    name = _REPORTED.get(normalize_gpu(gpu), gpu)
    gpus = tuple(Gpu(name=name, memory_mib=vram_gb * 1024) for _ in range(count))
    return HostVerification(host_key=host_key, fingerprint=fingerprint(host_key), gpus=gpus)
