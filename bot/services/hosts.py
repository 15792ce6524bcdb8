"""Provider machines: registering one makes the person a provider and gives the bot its key.

The bot makes one ed25519 key pair per host; the private half is sealed with the master key
and never shown; the public half goes into the provider's sudo-restricted account.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Host, Provider
from bot.domain.errors import Conflict, InvalidInput, NotAvailableYet, NotFound
from bot.chat.text import one_line
from bot.ssh import HostKeyMismatch, HostTarget, HostVerification, SshError, generate_keypair, host_setup_text, verify_host
from bot.services import listing
from bot.services.context import Actor, ServiceContext
from bot.services.views import HostView
from bot.ssh.names import HOST_NAME_RE, HOST_RE, check_bot_login   # the same patterns the host's helper checks

MAX_HOSTS = 50
MAX_GPU_REPORT = 1000     # raw provider text: bounded and control-free, escaped only when shown
KEY_PURPOSE = "host-ssh-key:{provider}:{name}"


def provider_slug(display_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")[:40]
    return slug or "provider"


class HostService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def add(self, actor: Actor, name: str, address: str, port: int, login_user: str) -> HostView:
        name = name.lower()
        if not HOST_NAME_RE.fullmatch(name):
            raise InvalidInput("host name: lowercase letters, digits and '-', at most 32, e.g. rig-1")
        if not HOST_RE.fullmatch(address):
            raise InvalidInput("address must be a host name or an IPv4 address, e.g. gpu1.example.net")
        if not 1 <= port <= 65535:
            raise InvalidInput("port must be between 1 and 65535")
        try:
            check_bot_login(login_user)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        if self.ctx.box is None:
            raise NotAvailableYet("the operator has not set GPUFLOW_MASTER_KEY, so host keys cannot be stored")
        async with self.ctx.sessions.begin() as session:
            provider = await self._provider_for(session, actor)
            hosts = (await session.scalars(select(Host).where(Host.provider_id == provider.id))).all()
            if any(h.name == name for h in hosts):
                raise Conflict(f"you already have a host named {name}")
            if len(hosts) >= MAX_HOSTS:
                raise Conflict(f"at most {MAX_HOSTS} hosts per provider")
            pair = generate_keypair(f"gpuflow-{provider.name}-{name}")
            host = Host(provider_id=provider.id, name=name, address=address, port=port, login_user=login_user,
                        public_key=pair.public,
                        private_key_sealed=self.ctx.box.seal(pair.private_openssh,
                                                             KEY_PURPOSE.format(provider=provider.id, name=name)))
            session.add(host)
            await session.flush()
            return _view(host)

    def setup_text(self, view: HostView) -> str:
        """What the provider must install: the bot's key, the helper, the sudoers line, sshd's Match block."""
        return host_setup_text(view.name, view.login_user, view.public_key, self.ctx.settings.ssh.helper_path)

    def target(self, host: Host) -> HostTarget:
        if self.ctx.box is None:
            raise NotAvailableYet("the operator has not set GPUFLOW_MASTER_KEY")
        return HostTarget.from_sealed(address=host.address, port=host.port, login_user=host.login_user,
                                      sealed_key=host.private_key_sealed, box=self.ctx.box,
                                      purpose=KEY_PURPOSE.format(provider=host.provider_id, name=host.name),
                                      host_key=host.host_key, helper=self.ctx.settings.ssh.helper_path)

    async def verify(self, actor: Actor, name: str) -> tuple[HostView, HostVerification]:
        """Log in, pin the host key on first contact (refuse a changed one later), read the GPUs.

        Passing lists the host's waiting offers (bot.services.listing) and may clear its flagged
        ones. Failing (unreachable, refused login, a changed host key) unverifies the host: its
        offers are taken off the listings until a verify passes again, since the last check is what
        renters rely on. The pinned key stays, so a changed key is never taken on silently; rentals
        already running keep going (the worker uses the pin, not this mark)."""
        if self.ctx.ssh is None:
            raise NotAvailableYet("SSH is not set up on this bot")
        async with self.ctx.sessions() as session:
            host = await self._own_host(session, actor, name)
        try:
            result = await verify_host(self.ctx.ssh, self.target(host))
        except HostKeyMismatch:
            await self._failed(host.id)
            raise Conflict(f"{host.name} presented a different host key than the one pinned "
                           f"({host.host_key_fingerprint}); if you reinstalled it, remove and add the host again. "
                           "Its offers are not listed until it verifies") from None
        except SshError as exc:
            await self._failed(host.id)
            raise Conflict(f"could not verify {host.name}: {one_line(str(exc), 200)}. "
                           f"Its offers are not listed until /host verify {host.name} passes") from None
        return await self.record_verification(actor, host.name, result), result

    async def record_verification(self, actor: Actor, name: str, result: HostVerification) -> HostView:
        """What a passing verify changes, once the machine has answered: the pin, the GPU report,
        the verified mark; then the host's flagged offers are reviewed and its waiting offers
        listed. Tests and the demo's stand-in machines call this with a stand-in result."""
        report = ", ".join(f"{g.name} {g.memory_gb:.0f} GB" for g in result.gpus) or "no GPUs"
        async with self.ctx.sessions.begin() as session:
            row = await self._own_host(session, actor, name)
            if row.host_key is not None and row.host_key != result.host_key:
                raise Conflict(f"{row.name} presented a different host key than the one pinned")
            row.host_key, row.host_key_fingerprint = result.host_key, result.fingerprint
            row.gpu_report, row.verified_at = one_line(report, MAX_GPU_REPORT), self.ctx.now()
            await session.flush()
            kept = await listing.review_flagged(session, row, result.gpus)
            await listing.list_waiting(session, self.ctx.settings, row.provider_id, host_id=row.id)
            return _view(row, await listing.host_offer_views(session, self.ctx.settings, row.id), tuple(kept))

    async def _failed(self, host_id: int) -> None:
        async with self.ctx.sessions.begin() as session:
            row = await session.get(Host, host_id)
            if row is None or row.verified_at is None:
                return
            row.verified_at = None
            await session.flush()
            await listing.unlist_gapped(session, self.ctx.settings, row.provider_id, host_id=row.id)

    async def _own_host(self, session: AsyncSession, actor: Actor, name: str) -> Host:
        provider = await session.scalar(select(Provider).where(Provider.user_id == actor.user_id))
        host = provider and await session.scalar(
            select(Host).where(Host.provider_id == provider.id, Host.name == name.lower()[:64]))
        if host is None:
            raise NotFound(f"you have no host named {name[:32]!r} (see /host list)")
        return host

    async def list(self, actor: Actor) -> list[HostView]:
        async with self.ctx.sessions() as session:
            provider = await session.scalar(select(Provider).where(Provider.user_id == actor.user_id))
            if provider is None:
                return []
            hosts = (await session.scalars(
                select(Host).where(Host.provider_id == provider.id).order_by(Host.name))).all()
            return [_view(h) for h in hosts]

    async def _provider_for(self, session: AsyncSession, actor: Actor) -> Provider:
        provider = await session.scalar(select(Provider).where(Provider.user_id == actor.user_id))
        if provider is not None:
            return provider
        base = provider_slug(actor.name)
        slug, n = base, 1
        while await session.scalar(select(Provider.id).where(Provider.name == slug)) is not None:
            n += 1
            slug = f"{base}-{n}"
        provider = Provider(user_id=actor.user_id, name=slug)
        session.add(provider)
        await session.flush()
        return provider


def _view(h: Host, offers: tuple = (), kept_flagged: tuple = ()) -> HostView:
    return HostView(name=h.name, address=h.address, port=h.port, login_user=h.login_user,
                    public_key=h.public_key, host_key_fingerprint=h.host_key_fingerprint,
                    verified=h.verified_at is not None, gpu_report=h.gpu_report, offers=offers,
                    kept_flagged=kept_flagged)
