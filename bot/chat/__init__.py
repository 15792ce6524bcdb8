"""The chat core's contract with front-ends: messages made of spans and actions, and where a call
came from. No chat library is imported here (tests/test_layering.py)."""
from bot.chat.invocation import Invocation
from bot.chat.message import (Action, ActionStyle, Attachment, Line, Message, Span, Style, bold, code, link,
                              message, plain, pre, user)
from bot.chat.plain import render_plain, split_lines, split_message

__all__ = ["Action", "ActionStyle", "Attachment", "Invocation", "Line", "Message", "Span", "Style", "bold",
           "code", "link", "message", "plain", "pre", "render_plain", "split_lines", "split_message", "user"]
