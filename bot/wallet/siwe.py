"""Sign-In with Ethereum (EIP-4361): build the message the user signs, and verify it afterwards.

Why both directions here: the same message is signed through WalletConnect (personal_sign) or by
hand in any wallet (`/wallet verify <signature>`), so verification needs only the message text and
the signature. Only EOA signatures are checked (no EIP-1271 contract wallets).
"""
from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

_HEADER = " wants you to sign in with your Ethereum account:"
_NONCE_ALPHABET = string.ascii_letters + string.digits


class SiweError(Exception):
    """The sign-in failed; the message is fit to show the user."""


def new_nonce(length: int = 17) -> str:
    """EIP-4361 wants at least 8 alphanumeric characters; 17 gives ~100 bits."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SiweError("the sign-in message has an invalid date") from exc
    if moment.tzinfo is None:
        raise SiweError("the sign-in message has a date without a time zone")
    return moment


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default=())
    version: str = "1"

    def to_text(self) -> str:
        """The exact EIP-4361 text (LF line ends), the bytes the wallet signs."""
        lines = [f"{self.domain}{_HEADER}", self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += ["", f"URI: {self.uri}", f"Version: {self.version}", f"Chain ID: {self.chain_id}",
                  f"Nonce: {self.nonce}", f"Issued At: {_iso(self.issued_at)}"]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {_iso(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {_iso(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {r}" for r in self.resources]
        return "\n".join(lines)

    def personal_sign_params(self) -> list[str]:
        """Params for a WalletConnect personal_sign request: [hex(utf8 message), address]."""
        return ["0x" + self.to_text().encode("utf-8").hex(), self.address]

    @classmethod
    def parse(cls, text: str) -> "SiweMessage":
        """Parse a message as a user pasted it back (CRLF and surrounding blank space tolerated)."""
        lines = text.replace("\r\n", "\n").strip().split("\n")
        if len(lines) < 7 or not lines[0].endswith(_HEADER):
            raise SiweError("this is not a sign-in message from this bot")
        domain = lines[0][: -len(_HEADER)]
        address = lines[1].strip()
        if not is_address(address):
            raise SiweError("the sign-in message has no valid Ethereum address")
        if lines[2] != "":
            raise SiweError("the sign-in message is malformed")
        idx = 3
        statement = None
        if lines[idx] != "":
            statement = lines[idx]
            idx += 1
        if lines[idx] != "":
            raise SiweError("the sign-in message is malformed")
        idx += 1
        fields: dict[str, str] = {}
        resources: list[str] = []
        for line in lines[idx:]:
            if line == "Resources:":
                fields["Resources"] = ""
                continue
            if line.startswith("- ") and "Resources" in fields:
                resources.append(line[2:])
                continue
            key, sep, value = line.partition(": ")
            if not sep or key in fields:
                raise SiweError("the sign-in message is malformed")
            fields[key] = value
        try:
            chain_id = int(fields["Chain ID"])
            msg = cls(domain=domain, address=address, uri=fields["URI"], chain_id=chain_id, nonce=fields["Nonce"],
                      issued_at=_parse_time(fields["Issued At"]), statement=statement,
                      expiration_time=_parse_time(fields["Expiration Time"]) if "Expiration Time" in fields else None,
                      not_before=_parse_time(fields["Not Before"]) if "Not Before" in fields else None,
                      request_id=fields.get("Request ID"), resources=tuple(resources),
                      version=fields["Version"])
        except (KeyError, ValueError) as exc:
            raise SiweError("the sign-in message is missing a field") from exc
        if msg.version != "1" or not re.fullmatch(r"[A-Za-z0-9]{8,}", msg.nonce):
            raise SiweError("the sign-in message is malformed")
        return msg


def build_message(*, domain: str, address: str, uri: str, chain_id: int, statement: str | None = None,
                  ttl: timedelta = timedelta(minutes=10), nonce: str | None = None,
                  now: datetime | None = None) -> SiweMessage:
    """A fresh message for `address` (checksummed here, as EIP-4361 requires)."""
    if not is_address(address):
        raise ValueError("not an Ethereum address")
    if statement is not None and "\n" in statement:
        raise ValueError("the statement must be one line")
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    return SiweMessage(domain=domain, address=to_checksum_address(address), uri=uri, chain_id=chain_id,
                       nonce=nonce or new_nonce(), issued_at=issued, statement=statement,
                       expiration_time=issued + ttl)


def recover_address(text: str, signature: str | bytes) -> str:
    """The address that signed `text` with personal_sign (EIP-191)."""
    try:
        return Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception as exc:  # eth-account raises several types for junk input
        raise SiweError("that signature is not valid; copy it again from your wallet") from exc


def verify(text: str, signature: str | bytes, *, domain: str, nonce: str, chain_id: int,
           now: datetime | None = None, clock_skew: timedelta = timedelta(minutes=1)) -> SiweMessage:
    """Check a signed sign-in message; returns it (with the proven address) or raises SiweError."""
    msg = SiweMessage.parse(text)
    if msg.domain != domain:
        raise SiweError(f"this message was made for {msg.domain}, not for this bot")
    if not secrets.compare_digest(msg.nonce, nonce):
        raise SiweError("this sign-in message is not the latest one; ask for a new one with /wallet link")
    if msg.chain_id != chain_id:
        raise SiweError(f"this message is for chain {msg.chain_id}, but the bot uses chain {chain_id}")
    moment = now or datetime.now(UTC)
    if msg.expiration_time is not None and moment > msg.expiration_time + clock_skew:
        raise SiweError("this sign-in message expired; ask for a new one with /wallet link")
    if msg.not_before is not None and moment + clock_skew < msg.not_before:
        raise SiweError("this sign-in message is not valid yet")
    # The pasted text may have lost trailing spaces or gained CRLFs: try it and our own rendering.
    signers = {recover_address(candidate, signature)
               for candidate in dict.fromkeys((text.replace("\r\n", "\n").strip(), msg.to_text()))}
    if msg.address.lower() not in {s.lower() for s in signers}:
        raise SiweError(f"the signature does not come from {msg.address}; sign the message with that account")
    return msg
