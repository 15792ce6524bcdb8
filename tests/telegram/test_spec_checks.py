"""The checks built from api.json find what is wrong, and the emulator's own answers are checked."""
from __future__ import annotations

import pytest
from telegram import Bot

from devnet.telegram import ApiSpec, LoopbackTelegram, RateLimits
from devnet.telegram.decode import typed_params
from devnet.telegram.emulator import TelegramEmulator


@pytest.fixture(scope="module")
def spec() -> ApiSpec:
    return ApiSpec.load()


def test_every_emulated_method_is_in_the_description(spec: ApiSpec) -> None:
    emu = TelegramEmulator(spec=spec)
    assert [m for m in emu._handlers if spec.method_name(m) != m] == []


def test_nested_types_are_checked_recursively(spec: ApiSpec) -> None:
    good = {"inline_keyboard": [[{"text": "Rent", "callback_data": "r:1"}]]}
    assert spec.check_value(("InlineKeyboardMarkup",), good, "m") == []
    flat = {"inline_keyboard": [{"text": "Rent", "callback_data": "r:1"}]}
    assert "expected Array of InlineKeyboardButton" in " ".join(spec.check_value(("InlineKeyboardMarkup",), flat, "m"))
    typo = {"inline_keyboard": [[{"text": "Rent", "callback": "r:1"}]]}
    assert spec.check_value(("InlineKeyboardMarkup",), typo, "m") == ["m.inline_keyboard[0][0].callback: not a field "
                                                                      "of InlineKeyboardButton"]
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0}}
    assert spec.check_value(("Update",), update, "u") == ["u.message.chat: required by Message, missing"]


def test_abstract_types_pick_their_branch_by_discriminator(spec: ApiSpec) -> None:
    user = {"id": 1, "is_bot": False, "first_name": "A"}
    assert spec.check_value(("ChatMember",), {"status": "member", "user": user}, "c") == []
    problems = spec.check_value(("ChatMember",), {"status": "administrator", "user": user}, "c")
    assert "c.can_be_edited: required by ChatMemberAdministrator, missing" in problems
    assert spec.check_value(("BotCommandScope",), {"type": "chat"}, "s") == ["s.chat_id: required by "
                                                                            "BotCommandScopeChat, missing"]


def test_scalars_are_strict(spec: ApiSpec) -> None:
    assert spec.check_value(("Integer",), True, "x") != []          # a bool is no Integer
    assert spec.check_value(("Float",), 3, "x") == []
    assert spec.check_value(("Integer", "String"), "@chan", "x") == []
    assert spec.check_call("sendMessage", {"chat_id": 1}) == ["sendMessage.text: required by sendMessage, missing"]


def test_form_values_are_read_as_their_field_types(spec: ApiSpec) -> None:
    params = typed_params(spec, "sendMessage", {"chat_id": "-1001234", "text": "123", "disable_notification": "true",
                                                "reply_markup": '{"inline_keyboard": []}'}, {})
    assert params == {"chat_id": -1001234, "text": "123", "disable_notification": True,
                      "reply_markup": {"inline_keyboard": []}}
    assert typed_params(spec, "sendMessage", {"chat_id": "@channel"}, {})["chat_id"] == "@channel"


async def test_an_invalid_answer_of_the_emulator_is_a_violation() -> None:
    async with LoopbackTelegram(limits=RateLimits.off()) as tg:
        async def broken(emu, params):
            return {"id": "not an integer", "is_bot": True, "first_name": "x"}
        tg.emu._handlers["getMe"] = broken
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            pass                                            # Bot.initialize calls getMe
        assert tg.take_violations() == ["emulator answered an invalid getMe result: getMe().id: expected Integer, "
                                        "got str 'not an integer'"]


async def test_an_invalid_update_built_by_a_scenario_is_a_violation() -> None:
    async with LoopbackTelegram() as tg:
        tg.emu.updates.build("message", {"message_id": 1})
        assert [v.split(":")[0] for v in tg.take_violations()] == ["emulator produced an invalid Update"] * 2
