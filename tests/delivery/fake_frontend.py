"""A small fake front-end for any platform name: it claims deliveries and "sends" them into an
in-memory (or on-disk, shared between processes) message store, like a chat platform would.

`dedupes=True` behaves like Discord with `enforce_nonce`: a resend with a nonce it has seen
returns the message already made instead of a second one. `fail` makes every send raise, like a
platform answering HTTP 500.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.delivery.queue import Delivery, DeliveryQueue
from bot.delivery.refs import PlatformRef


@dataclass
class Posted:
    id: str
    where: str                  # "dm:<user>" or "<purpose>:<chat>"
    text: str
    nonce: str
    kind: str
    deleted: bool = False
    edits: int = 0


@dataclass
class FakePlatform:
    name: str
    dedupes: bool = False
    fail: str | None = None                      # a reason: every send fails with it
    sink: Path | None = None                     # messages kept on disk (shared across processes)
    posted: list[Posted] = field(default_factory=list)

    def load(self) -> None:
        if self.sink is not None and self.sink.exists():
            self.posted = [Posted(**json.loads(line)) for line in self.sink.read_text().splitlines() if line]

    def _save(self) -> None:
        if self.sink is not None:
            with self.sink.open("w") as f:
                for p in self.posted:
                    f.write(json.dumps(p.__dict__) + "\n")
                f.flush()

    def send(self, d: Delivery) -> PlatformRef:
        """What the platform does with one delivery; raises like a failing API."""
        self.load()
        if self.fail:
            raise RuntimeError(self.fail)
        where = f"dm:{d.recipient}" if d.purpose == "dm" else f"{d.purpose}:{d.chat_id}"
        if d.action in ("edit", "delete"):
            target = next(p for p in self.posted if p.id == d.ref.message_id)
            if d.action == "delete":
                target.deleted = True
            else:
                target.text, target.edits = d.message.text(), target.edits + 1
            self._save()
            return d.ref
        if self.dedupes:
            seen = next((p for p in self.posted if p.nonce == d.key), None)
            if seen is not None:
                return PlatformRef(chat_id=d.chat_id, message_id=seen.id)
        msg = Posted(id=str(len(self.posted) + 1), where=where, text=d.message.text(), nonce=d.key, kind=d.kind.value)
        self.posted.append(msg)
        self._save()
        return PlatformRef(chat_id=d.chat_id, channel_id=d.channel_id, message_id=msg.id)

    async def drain(self, queue: DeliveryQueue) -> int:
        """Claim and handle everything due now; returns how many were handled."""
        done = 0
        while batch := await queue.claim(self.name):
            for d in batch:
                try:
                    ref = self.send(d)
                except RuntimeError as exc:
                    await queue.failed(d, str(exc))
                else:
                    await queue.sent(d, ref)
                done += 1
        return done

    def live(self, where_prefix: str = "") -> list[Posted]:
        return [p for p in self.posted if not p.deleted and p.where.startswith(where_prefix)]
