"""The chat core's contract with front-ends: messages made of spans and actions, and where a call
came from. No chat library is imported here (tests/test_layering.py). See README.md."""
# the submodule bot.chat.plain is imported first: importing it later would rebind the package's
# name `plain` from the span helper below to the module
from bot.chat.plain import render_plain, split_lines, split_message  # isort: skip
from bot.chat.invocation import Invocation
from bot.chat.message import (Action, ActionStyle, Attachment, Line, Message, Span, Style, bold, code, link,
                              message, plain, pre, user)
from bot.chat.text import clean_text, one_line

__all__ = ["Action", "ActionStyle", "Attachment", "Invocation", "Line", "Message", "Span", "Style", "bold",
           "clean_text", "code", "link", "message", "one_line", "plain", "pre", "render_plain", "split_lines",
           "split_message", "user"]
