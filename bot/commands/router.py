"""The entry points every front-end calls: a typed call (`invoke`), a line of text
(`handle_text`) or a pressed button (`invoke_action`). All three resolve the caller from the
invocation, check the command's role, fill implied arguments from the place of the call,
validate against the command table (bot.commands.spec) and call the services directly.

Never raises for bad input: a UserError becomes a Reply with kind "error" and ok=False; an
internal failure is logged and answered plainly (kind "internal-error").
"""
from __future__ import annotations

import logging
from typing import Mapping

from bot.chat import Action, Invocation, Message
from bot.commands import spec
from bot.commands.binding import bind, parse_text, resolve_path, split_command, usage_hint
from bot.commands.call import Call
from bot.commands.codec import ActionCodec
from bot.commands.reply import Reply, error_reply
from bot.commands.spec import Autocomplete as AC
from bot.commands.spec import Command, Role
from bot.domain.errors import InvalidInput, PermissionDenied, UserError
from bot.services import Actor, Services
from bot.services.suggestions import Suggestion

log = logging.getLogger(__name__)
INTERNAL_ERROR = "internal-error"
ROLE_REFUSAL = {Role.SUPPORT: "only support staff can use /{path}",
                Role.ADMIN: "only admins can use /{path}"}


class CommandRouter:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.codec = ActionCodec(services)
        spec.load()

    # -- entry points ---------------------------------------------------------------------------

    async def invoke(self, inv: Invocation, path: str, args: Mapping[str, object] | None = None) -> Reply:
        """A typed call: `invoke(inv, "offer create", {"gpu": "rtx4090", "count": 1, ...})`."""
        cmd = spec.get(path) if isinstance(path, str) else None
        if cmd is None:
            return error_reply(f"unknown command /{str(path)[:30]}: try /help")
        return await self._run(inv, None, cmd, dict(args or {}), typed=True)

    async def handle_text(self, inv: Invocation, text: str) -> Reply:
        """A line of text (console, Telegram text commands): parsed into the same typed arguments."""
        try:
            name, rest = split_command(text)
            cmd, rest = resolve_path(name, rest)
            raw = parse_text(cmd, rest)
        except UserError as exc:
            return error_reply(exc.message)
        return await self._run(inv, None, cmd, raw, typed=False)

    async def invoke_action(self, inv: Invocation, data: str) -> Reply:
        """A button pressed: `data` is what `codec.encode` put in the custom_id / callback data.
        The call runs as the person who pressed it, with every check a typed call gets."""
        try:
            path, args = await self.codec.decode(data)
        except UserError as exc:
            return error_reply(exc.message)
        return await self.invoke(inv, path, args)

    async def run_action(self, inv: Invocation, action: Action) -> Reply:
        """An action taken from a reply directly (a front-end that keeps replies in memory)."""
        if action.command is None:
            return error_reply("that button opens a link; it runs no command")
        return await self.invoke(inv, action.command, dict(action.args))

    async def handle(self, who: Actor | Invocation, text: str) -> Reply:
        """Text from an already resolved actor (tests, scripts) or an invocation."""
        if isinstance(who, Invocation):
            return await self.handle_text(who, text)
        inv = Invocation(platform=who.platform, platform_user_id=f"user-{who.user_id}", display_name=who.name,
                         is_dm=True)
        try:
            name, rest = split_command(text)
            cmd, rest = resolve_path(name, rest)
            raw = parse_text(cmd, rest)
        except UserError as exc:
            return error_reply(exc.message)
        return await self._run(inv, who, cmd, raw, typed=False)

    async def preflight(self, inv: Invocation, path: str, args: Mapping[str, object] | None = None
                        ) -> tuple[Reply | None, dict[str, object]]:
        """Every check a typed call gets before it runs (role, implied arguments, types and bounds),
        without running it: for a front-end that asks for a confirmation first (/resolve). Returns
        (the refusal, or None) and the arguments with implied ones filled in."""
        cmd = spec.get(path) if isinstance(path, str) else None
        if cmd is None:
            return error_reply(f"unknown command /{str(path)[:30]}: try /help"), {}
        raw = dict(args or {})
        try:
            actor = await self.services.places.actor(inv)
            self._check_role(cmd, actor)
            await self._fill_implied(cmd, inv, raw)
            bind(cmd, raw, typed=True)
        except UserError as exc:
            return error_reply(exc.message), raw
        return None, raw

    async def suggest(self, inv: Invocation, path: str, option: str, prefix: str = "") -> list[Suggestion]:
        """Autocomplete for one option of a command, from the option's source in the table
        (listed GPU models, the caller's offers, rentals, hosts...). Never raises: an unknown
        command or option, or a failure, suggests nothing."""
        cmd = spec.get(path)
        p = cmd.param(option) if cmd else None
        if p is None or p.autocomplete is None:
            return []
        prefix = prefix[:100]
        try:
            s = self.services.suggestions
            source = p.autocomplete
            if source is AC.GPU_MODEL:
                return await s.gpu_models(prefix)
            if source is AC.REGION:
                return await s.regions(prefix)
            if source is AC.OFFER:
                return await s.offers(prefix)
            if source is AC.TOKEN:
                return s.tokens(prefix)
            actor = await self.services.places.actor(inv)
            mine = {AC.MY_OFFERS: s.my_offers, AC.MY_RENTALS: s.my_rentals, AC.MY_HOSTS: s.my_hosts,
                    AC.OPEN_DISPUTES: s.open_disputes}[source]
            return await mine(actor, prefix)
        except Exception:   # suggestions are a convenience: never an error in the person's face
            log.warning("suggestions for /%s %s failed", path[:30], option[:30], exc_info=True)
            return []

    # -- the one path every call takes ----------------------------------------------------------

    async def _run(self, inv: Invocation, actor: Actor | None, cmd: Command, raw: dict[str, object], *,
                   typed: bool) -> Reply:
        try:
            if actor is None:
                actor = await self.services.places.actor(inv)
            self._check_role(cmd, actor)
            await self._fill_implied(cmd, inv, raw)
            args = bind(cmd, raw, typed=typed)
            reply = await cmd.handler(Call(self.services, cmd, inv, actor, args))
        except UserError as exc:
            return error_reply(exc.message)
        except Exception:   # an internal failure: logged with the command, answered without internals
            log.exception("command /%s failed (platform %s)", cmd.path, inv.platform)
            return Reply(INTERNAL_ERROR, Message().add(
                "Something went wrong on our side and the command did not finish; try again in a moment."),
                ok=False)
        if cmd.private:
            reply.private = True
        return reply

    def _check_role(self, cmd: Command, actor: Actor) -> None:
        allowed = {Role.SUPPORT: actor.is_staff, Role.ADMIN: actor.is_admin}.get(cmd.role, True)
        if not allowed:
            raise PermissionDenied(ROLE_REFUSAL[cmd.role].format(path=cmd.path))

    async def _fill_implied(self, cmd: Command, inv: Invocation, raw: dict[str, object]) -> None:
        for p in cmd.params:
            if p.implied and raw.get(p.name) in (None, ""):
                rental_id = await self.services.places.rental_at(inv)
                if rental_id is None:
                    raise InvalidInput(f"say which rental (#7), or use this inside the dispute's thread: "
                                       f"{usage_hint(cmd)}")
                raw[p.name] = rental_id
