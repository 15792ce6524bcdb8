"""Scenario API, part 2: what people do in the Discord client, turned into INTERACTION_CREATE.

A slash command is built from the commands the bot registered, as the Discord client builds it:
unknown commands or options, missing required options, values of the wrong type, outside
`choices` or outside min/max are refused here (`ClientRefused`), because the real client never
sends them. Buttons and selects must exist (and be enabled) on the message clicked; a modal can
be submitted only if the bot answered with one, with values for its text inputs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devnet.discord import payloads
from devnet.discord.limits import BUTTON, LABEL, SELECTS, TEXT_INPUT
from devnet.discord.model import MANAGE_THREADS, Channel, Command, Guild, Interaction, Message, Role, User
from devnet.discord.payloads import ATTACHMENT_SIZE_LIMIT

if TYPE_CHECKING:
    from devnet.discord.emulator import DiscordEmulator

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2


class ClientRefused(ValueError):
    """The Discord client would not let a person send this interaction."""


class InteractionHandle:
    """One interaction a person made, and what the bot did with it."""

    def __init__(self, emu: DiscordEmulator, interaction: Interaction) -> None:
        self.emu = emu
        self.interaction = interaction

    @property
    def id(self) -> int:
        return self.interaction.id

    async def answered(self, timeout: float = 5.0) -> InteractionHandle:
        await self.emu.wait_until(lambda: self.interaction.answered, timeout, f"a response to {self.describe()}")
        return self

    async def done(self, predicate: Any = None, timeout: float = 10.0) -> Message:
        """The response message once it is no longer "thinking" (and matches `predicate`)."""
        from devnet.discord.messages import LOADING

        def check() -> Message | None:
            message = self.message
            if message is not None and not message.flags & LOADING and (predicate is None or predicate(message)):
                return message
            return None
        return await self.emu.wait_until(check, timeout, f"the final response to {self.describe()}")

    @property
    def response_type(self) -> int | None:
        return self.interaction.response_type

    @property
    def message(self) -> Message | None:
        """The response message (for an update: the message that was updated)."""
        i = self.interaction
        if i.response_message_id is None:
            return None
        return self.emu.state.channels[i.channel_id].messages.get(i.response_message_id)

    @property
    def followups(self) -> list[Message]:
        channel = self.emu.state.channels[self.interaction.channel_id]
        return [channel.messages[m] for m in self.interaction.followup_ids
                if m != self.interaction.response_message_id]

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.interaction.modal

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        return self.interaction.choices

    def describe(self) -> str:
        data = self.interaction.data
        return f"interaction {self.interaction.id} ({data.get('name') or data.get('custom_id')})"


class ActionsMixin:
    async def slash(self: DiscordEmulator, user: User, command: str, /, *, channel: Channel | None = None,
                    **options: Any) -> InteractionHandle:
        """`await emu.slash(alice, "offer create", channel=ch, gpu="A100", count=2)`; without a
        channel the person runs it in their DM with the bot."""
        channel = channel or self.state.dm_channel(user.id)
        data = self._command_data(command, channel, user, options, focused=None)
        return self._dispatch(2, data, user, channel)

    async def autocomplete(self: DiscordEmulator, user: User, command: str, /, *, focused: str,
                           channel: Channel | None = None, **options: Any) -> InteractionHandle:
        """The person is typing into option `focused` (its partial text in `options`)."""
        channel = channel or self.state.dm_channel(user.id)
        data = self._command_data(command, channel, user, options, focused=focused)
        return self._dispatch(4, data, user, channel)

    async def click(self: DiscordEmulator, user: User, message: Message, custom_id: str) -> InteractionHandle:
        item = self._component(message, custom_id, {BUTTON})
        if item.get("style") == 5:
            raise ClientRefused("a link button opens a URL; it sends no interaction")
        return self._dispatch(3, {"custom_id": custom_id, "component_type": BUTTON}, user,
                              self.state.channels[message.channel_id], message)

    async def select(self: DiscordEmulator, user: User, message: Message, custom_id: str, values: list[str]
                     ) -> InteractionHandle:
        item = self._component(message, custom_id, SELECTS)
        low, high = int(item.get("min_values", 1)), int(item.get("max_values", 1))
        if not low <= len(values) <= high:
            raise ClientRefused(f"pick between {low} and {high} values")
        if item["type"] == 3:
            allowed = {o["value"] for o in item.get("options", [])}
            if not set(values) <= allowed:
                raise ClientRefused(f"{values} are not all among the options {sorted(allowed)}")
        data = {"custom_id": custom_id, "component_type": item["type"], "values": values}
        return self._dispatch(3, data, user, self.state.channels[message.channel_id], message)

    async def submit_modal(self: DiscordEmulator, handle: InteractionHandle, values: dict[str, str]
                           ) -> InteractionHandle:
        """Fill in the modal the bot showed in answer to `handle` and press Submit."""
        modal = handle.modal
        if modal is None:
            raise ClientRefused(f"{handle.describe()} was not answered with a modal")
        rows = []
        for item in modal["components"]:
            field = item["components"][0] if item["type"] == 1 else item.get("component", {})
            if field.get("type") != TEXT_INPUT:
                continue
            cid = field["custom_id"]
            value = values.get(cid, field.get("value") or "")
            if field.get("required", True) and not value:
                raise ClientRefused(f"the modal's field {cid!r} is required")
            if len(value) > int(field.get("max_length") or 4000) or len(value) < int(field.get("min_length") or 0):
                raise ClientRefused(f"the modal's field {cid!r} must be {field.get('min_length', 0)}-"
                                    f"{field.get('max_length', 4000)} characters")
            answer = {"type": TEXT_INPUT, "custom_id": cid, "value": value, "id": field.get("id", 0)}
            rows.append({"type": 1, "components": [answer]} if item["type"] == 1 else
                        {"type": LABEL, "id": item.get("id", 0), "component": answer})
        unknown = set(values) - {r["components"][0]["custom_id"] if r["type"] == 1 else r["component"]["custom_id"]
                                 for r in rows}
        if unknown:
            raise ClientRefused(f"the modal has no fields {sorted(unknown)}")
        first = handle.interaction
        channel = self.state.channels[first.channel_id]
        message = channel.messages.get(first.message_id) if first.message_id else None
        return self._dispatch(5, {"custom_id": modal["custom_id"], "components": rows},
                              self.state.users[first.user_id], channel, message)

    # -- building blocks ---------------------------------------------------------------------------
    def _find_command(self: DiscordEmulator, name: str, channel: Channel, user: User) -> Command:
        """The command as the Discord client offers it: guild commands only in their guild, global
        ones in DMs only if their contexts allow BOT_DM, hidden from members lacking
        `default_member_permissions`."""
        in_dm = channel.guild_id is None
        matches = [c for c in self.state.commands.values() if c.name == name and c.type == 1
                   and (c.guild_id is None or c.guild_id == channel.guild_id)
                   and (not in_dm or c.guild_id is None and (c.contexts is None or 1 in c.contexts))
                   and (in_dm or c.contexts is None or 0 in c.contexts)]
        if not matches:
            raise ClientRefused(f"/{name} is not offered {'in DMs' if in_dm else 'in this guild'}")
        command = sorted(matches, key=lambda c: c.guild_id is None)[0]
        needed = int(command.default_member_permissions or 0)
        if not in_dm and needed and self.permissions_in(channel, user.id) & needed != needed:
            raise ClientRefused(f"/{name} is hidden from {user.username} (default_member_permissions)")
        if in_dm and command.default_member_permissions == "0":
            raise ClientRefused(f"/{name} is disabled for everyone but admins")
        return command

    def _command_data(self: DiscordEmulator, command: str, channel: Channel, user: User, given: dict[str, Any],
                      focused: str | None) -> dict[str, Any]:
        words = command.split()
        top = self._find_command(words[0], channel, user)
        resolved: dict[str, dict[str, Any]] = {}
        schema, path = top.options, []
        for word in words[1:]:
            option = next((o for o in schema if o["name"] == word and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)), None)
            if option is None:
                raise ClientRefused(f"/{command}: no subcommand {word!r}")
            path.append(option)
            schema = option.get("options") or []
        if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
            raise ClientRefused(f"/{command} needs a subcommand")
        values = [self._option_value(o, given, resolved, channel, focused) for o in schema]
        leaf = [v for v in values if v is not None]
        unknown = set(given) - {o["name"] for o in schema}
        if unknown:
            raise ClientRefused(f"/{command} has no options {sorted(unknown)}")
        for option in reversed(path):
            leaf = [{"type": option["type"], "name": option["name"], "options": leaf}]
        data: dict[str, Any] = {"id": str(top.id), "name": top.name, "type": 1, "options": leaf}
        if top.guild_id:
            data["guild_id"] = str(top.guild_id)
        if resolved:
            data["resolved"] = resolved
        return data

    def _option_value(self: DiscordEmulator, option: dict[str, Any], given: dict[str, Any],
                      resolved: dict[str, dict[str, Any]], channel: Channel, focused: str | None
                      ) -> dict[str, Any] | None:
        name, kind = option["name"], option["type"]
        if name not in given:
            if option.get("required") and focused is None:
                raise ClientRefused(f"option {name!r} is required")
            return None
        value = given[name]
        out: dict[str, Any] = {"name": name, "type": kind}
        if focused == name:
            return {**out, "value": str(value), "focused": True}
        if kind == STRING:
            if not isinstance(value, str):
                raise ClientRefused(f"{name!r} takes text")
            if not int(option.get("min_length", 0)) <= len(value) <= int(option.get("max_length", 6000)):
                raise ClientRefused(f"{name!r} must be {option.get('min_length', 0)}-{option.get('max_length', 6000)} characters")
        elif kind in (INTEGER, NUMBER):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == INTEGER and not isinstance(value, int)):
                raise ClientRefused(f"{name!r} takes a{'n integer' if kind == INTEGER else ' number'}")
            if "min_value" in option and value < option["min_value"] or "max_value" in option and value > option["max_value"]:
                raise ClientRefused(f"{name!r} must be between {option.get('min_value')} and {option.get('max_value')}")
        elif kind == BOOLEAN:
            if not isinstance(value, bool):
                raise ClientRefused(f"{name!r} takes true or false")
        elif kind in (USER, CHANNEL, ROLE, MENTIONABLE):
            value = self._resolve(kind, value, resolved, channel)
        else:
            raise ClientRefused(f"option type {kind} is not emulated")
        choices = option.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ClientRefused(f"{value!r} is not one of the choices of {name!r}")
        return {**out, "value": value}

    def _resolve(self: DiscordEmulator, kind: int, value: Any, resolved: dict[str, dict[str, Any]],
                 channel: Channel) -> str:
        state = self.state
        if isinstance(value, User):
            resolved.setdefault("users", {})[str(value.id)] = payloads.user(value)
            guild = state.guilds.get(channel.guild_id or 0)
            if guild and value.id in guild.members:
                member = payloads.member(state, guild.members[value.id])
                member.pop("user")
                member["permissions"] = str(self.permissions_in(channel, value.id))
                resolved.setdefault("members", {})[str(value.id)] = member
            return str(value.id)
        if isinstance(value, Channel) and kind in (CHANNEL, MENTIONABLE):
            data = payloads.channel(state, value)
            data["permissions"] = str(self.bot_permissions(value))
            resolved.setdefault("channels", {})[str(value.id)] = data
            return str(value.id)
        if isinstance(value, Role) and kind in (ROLE, MENTIONABLE):
            resolved.setdefault("roles", {})[str(value.id)] = payloads.role(value)
            return str(value.id)
        raise ClientRefused(f"cannot pick {value!r} for an option of type {kind}")

    def _component(self: DiscordEmulator, message: Message, custom_id: str, kinds: set[int]) -> dict[str, Any]:
        current = self.state.channels[message.channel_id].messages.get(message.id)
        if current is None or current.deleted:
            raise ClientRefused("the message is gone")
        for row in current.components:
            for item in row.get("components", []):
                if item.get("custom_id") == custom_id and item.get("type") in kinds:
                    if item.get("disabled"):
                        raise ClientRefused(f"{custom_id!r} is disabled")
                    return item
        raise ClientRefused(f"no enabled component {custom_id!r} on message {message.id}")

    def _dispatch(self: DiscordEmulator, kind: int, data: dict[str, Any], user: User, channel: Channel,
                  message: Message | None = None) -> InteractionHandle:
        state = self.state
        guild: Guild | None = state.guilds.get(channel.guild_id) if channel.guild_id else None
        if guild is not None and user.id not in guild.members:
            raise ClientRefused(f"{user.username} is not a member of {guild.name}")
        if channel.type == 12 and user.id not in channel.thread_members and \
                not self.permissions_in(channel, user.id) & MANAGE_THREADS:
            raise ClientRefused(f"{user.username} cannot see the private thread {channel.name!r}")
        interaction = Interaction(state.ids.next(), state.application_id, kind, data, user.id, channel.id,
                                  guild.id if guild else None, state.now(),
                                  message_id=message.id if message else None)
        state.interactions[interaction.id] = interaction
        payload = self._interaction_payload(interaction, channel, guild, message)
        if self.gateway.dispatch("INTERACTION_CREATE", payload, interaction.guild_id) == 0:
            raise ClientRefused("the bot has no gateway session for this guild (is it connected?)")
        return InteractionHandle(self, interaction)

    def _interaction_payload(self: DiscordEmulator, i: Interaction, channel: Channel, guild: Guild | None,
                             message: Message | None) -> dict[str, Any]:
        state = self.state
        channel_json = payloads.channel(state, channel)
        channel_json["permissions"] = str(self.permissions_in(channel, i.user_id))
        out: dict[str, Any] = {
            "id": str(i.id), "application_id": str(i.application_id), "type": i.type, "data": i.data,
            "channel_id": str(channel.id), "channel": channel_json, "token": i.token, "version": 1,
            "app_permissions": str(self.bot_permissions(channel)), "locale": "en-US", "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        user = state.users[i.user_id]
        if guild is not None:
            member = payloads.member(state, guild.members[user.id])
            member["permissions"] = str(self.permissions_in(channel, user.id))
            self.check_schema("GuildMemberResponse", member, "INTERACTION_CREATE.member")
            out.update(guild_id=str(guild.id), guild={"id": str(guild.id), "locale": "en-US", "features": []},
                       guild_locale="en-US", member=member, context=0,
                       authorizing_integration_owners={"0": str(guild.id)})
        else:
            out.update(user=payloads.user(user), context=1, authorizing_integration_owners={"0": "0"})
        if message is not None:
            message_json = payloads.message(state, self.base_url, message)
            self.check_schema("MessageResponse", message_json, "INTERACTION_CREATE.message")
            out["message"] = message_json
        return out
