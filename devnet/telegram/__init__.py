"""A loopback Telegram Bot API for the real python-telegram-bot client (tests and the demo).

`LoopbackTelegram` serves `{base}/bot<token>/<method>` on 127.0.0.1 with Telegram's answers and
limits, every call and every result checked against the official Bot API description
(shared/specs/telegram/api.json), and a scenario API to act as people (send, press, open links)
and read what the bot showed. See README.md for the facts it reproduces.
"""
from .errors import ApiError
from .facade import LoopbackTelegram
from .limits import RateLimits
from .scenario import ScenarioError, SentMessage, TgUser
from .spec import ApiSpec, find_spec_file

__all__ = ["ApiError", "ApiSpec", "LoopbackTelegram", "RateLimits", "ScenarioError", "SentMessage", "TgUser",
           "find_spec_file"]
