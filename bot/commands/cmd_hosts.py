"""Providers' machines: /host add, /host verify, /host list."""
from __future__ import annotations

from bot.chat import Attachment
from bot.commands import render_account as ra
from bot.commands.call import Call
from bot.commands.reply import Reply
from bot.commands.spec import Autocomplete as AC
from bot.commands.spec import Param, PType, Role, command, group
from bot.ssh import helper_script

group("host", "register and check the machines you rent out", role=Role.PROVIDER)

HOST_NAME = Param("name", PType.TEXT, "a short name for the machine, e.g. rig-1", max_length=32,
                  label="host name", autocomplete=AC.MY_HOSTS)


@command("host add", "register a machine; the answer says how to set it up",
         Param("name", PType.TEXT, "a short name for the machine, e.g. rig-1", max_length=32, label="host name"),
         Param("address", PType.TEXT, "its host name or IPv4 address", max_length=253),
         Param("port", PType.INT, "its SSH port", min=1, max=65535),
         Param("user", PType.TEXT, "the login the bot uses, e.g. gpuflow", max_length=32),
         role=Role.PROVIDER, private=True, example="/host add rig-1 gpu1.example.net 22 gpuflow")
async def _host_add(call: Call) -> Reply:
    hosts = call.services.hosts
    view = await hosts.add(call.actor, call.str("name"), call.str("address"), call.int("port"), call.str("user"))
    msg = ra.host_setup(hosts.setup_text(view))
    msg.attachments.append(Attachment("gpuflow-helper", helper_script(), "text/x-shellscript",
                                      "the helper to install on the machine"))
    return Reply("host.added", msg, private=True, views=(view,))


@command("host verify", "log in to the machine, pin its host key and read its GPUs", HOST_NAME,
         role=Role.PROVIDER, example="/host verify rig-1")
async def _host_verify(call: Call) -> Reply:
    view, result = await call.services.hosts.verify(call.actor, call.str("name"))
    return Reply("host.verified", ra.host_verified(view, result), views=(view, result))


@command("host list", "your machines", role=Role.PROVIDER)
async def _host_list(call: Call) -> Reply:
    views = await call.services.hosts.list(call.actor)
    return Reply("host.list", ra.host_list(views), views=tuple(views))
