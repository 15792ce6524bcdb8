"""SSH provisioning and GPU verification on provider hosts (no database, no chat code).

Usage: one `SshPool` for the bot; a `HostTarget` per host built from stored columns
(`HostTarget.from_sealed`); then `verify_host`, `provision`, `extend`, `revoke`, `reconcile`; for
several rentals on one host at once, `provision_many`, `extend_many`, `revoke_many` (one helper
call each).
"""
from bot.ssh.batch import (AccountChange, ChangeResult, ExtendRequest, ExtendResult, ProvisionRequest, apply_changes,
                           extend_many, provision_many, revoke_many)
from bot.ssh.errors import (BadProviderOutput, CommandTimeout, HelperRefused, HostKeyMismatch, HostUnreachable,
                            SshError, UnsafeLogin)
from bot.ssh.escape import chat_escape
from bot.ssh.gpu import Gpu, GpuCheck, GpuSpec, check_gpus, parse_gpuinfo
from bot.ssh.keys import KeyPair, fingerprint, generate_keypair, load_private_key, open_sealed_key
from bot.ssh.names import renter_user
from bot.ssh.onboarding import helper_script, host_setup_text, sudoers_line
from bot.ssh.pool import SshLimits, SshPool
from bot.ssh.provision import (Credentials, HostVerification, ProvisionResult, extend, provision, reconcile, revoke,
                               verify_host)
from bot.ssh.target import DEFAULT_HELPER, HostTarget

__all__ = [
    "AccountChange", "ChangeResult", "ExtendRequest", "ExtendResult", "ProvisionRequest", "apply_changes",
    "extend_many", "provision_many", "revoke_many",
    "BadProviderOutput", "CommandTimeout", "Credentials", "DEFAULT_HELPER", "Gpu", "GpuCheck", "GpuSpec",
    "HelperRefused", "HostKeyMismatch", "HostTarget", "HostUnreachable", "HostVerification", "KeyPair",
    "ProvisionResult", "SshError", "SshLimits", "SshPool", "UnsafeLogin", "chat_escape", "check_gpus", "extend", "fingerprint",
    "generate_keypair", "helper_script", "host_setup_text", "load_private_key", "open_sealed_key",
    "parse_gpuinfo", "provision", "reconcile", "renter_user", "revoke", "sudoers_line", "verify_host",
]
