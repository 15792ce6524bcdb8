"""Who is who: platform accounts resolved to users, roles from config, the renter's SSH key."""
from __future__ import annotations

import re
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from sqlalchemy import select

from bot.db.models import Identity, User
from bot.domain.errors import InvalidInput
from bot.services.context import Actor, ServiceContext
from bot.ssh.keys import fingerprint

PLATFORMS = ("console", "discord", "telegram")
SEEN_EVERY = timedelta(minutes=1)     # last_seen_at is refreshed at most this often (one write a minute)
_PLATFORM_ID_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_SSH_KEY_RE = re.compile(r"(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) "
                         r"([A-Za-z0-9+/]{20,2000}={0,3})(?: [\x21-\x7e ]{0,100})?")


def clean_display_name(name: str) -> str:
    """Printable, single-line, bounded: names are shown in channels and timelines."""
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip()
    return (cleaned or "anonymous")[:100]


class UserService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def identify(self, platform: str, platform_user_id: str, display_name: str) -> Actor:
        """Find or create the user behind a platform account; roles come from the config."""
        if platform not in PLATFORMS:
            raise InvalidInput(f"unknown platform {platform[:20]!r}")
        if not _PLATFORM_ID_RE.fullmatch(platform_user_id):
            raise InvalidInput("user names may use letters, digits, '.', '_', '-' and '@' (at most 64)")
        name = clean_display_name(display_name)
        key = f"{platform}:{platform_user_id}"
        is_admin = key in self.ctx.settings.admins
        is_support = is_admin or key in self.ctx.settings.support
        async with self.ctx.sessions.begin() as session:
            ident = await session.scalar(
                select(Identity).where(Identity.platform == platform,
                                       Identity.platform_user_id == platform_user_id))
            if ident is None:
                user = User(display_name=name, is_admin=is_admin, is_support=is_support)
                session.add(user)
                await session.flush()
                session.add(Identity(user_id=user.id, platform=platform, platform_user_id=platform_user_id,
                                     display_name=name, last_seen_at=self.ctx.now()))
            else:
                user = await session.get(User, ident.user_id)
                if (user.is_admin, user.is_support) != (is_admin, is_support):
                    user.is_admin, user.is_support = is_admin, is_support
                if ident.display_name != name:     # renamed on the platform: show the new name
                    ident.display_name = user.display_name = name
                if ident.last_seen_at is None or self.ctx.now() - ident.last_seen_at > SEEN_EVERY:
                    ident.last_seen_at = self.ctx.now()     # account notices go where they were last seen
            return Actor(user_id=user.id, name=user.display_name, platform=platform,
                         is_support=user.is_support, is_admin=user.is_admin)

    async def set_ssh_key(self, actor: Actor, public_key: str) -> str:
        """Store the renter's OpenSSH public key; returns its SHA256 fingerprint."""
        key_text = validate_ssh_public_key(public_key)
        async with self.ctx.sessions.begin() as session:
            user = await session.get(User, actor.user_id)
            user.ssh_public_key = key_text
        return fingerprint(key_text)


def validate_ssh_public_key(text: str) -> str:
    """Accept one OpenSSH public key line (ed25519, ECDSA, or RSA >= 3072 bits)."""
    line = " ".join(text.split())
    if len(line) > 2200 or not _SSH_KEY_RE.fullmatch(line):
        raise InvalidInput("that is not an OpenSSH public key: paste one line like "
                           "'ssh-ed25519 AAAA... you@laptop' (from ~/.ssh/id_ed25519.pub)")
    try:
        key = load_ssh_public_key(" ".join(line.split(" ")[:2]).encode())
    except (ValueError, TypeError):
        raise InvalidInput("that public key is damaged: copy the whole line from your .pub file") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 3072:
        raise InvalidInput("RSA keys must have at least 3072 bits; an ed25519 key is better")
    if not isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
        raise InvalidInput("unsupported key type")
    return line

