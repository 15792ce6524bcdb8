"""Local stand-ins for the outside world, used by the demo and the tests.

- `devnet.anvil`: a local chain (anvil) standing in for Ethereum;
- `devnet.relay`: a loopback WalletConnect relay standing in for relay.walletconnect.org;
- `devnet.node_wallet` + `wallet.mjs`: the official WalletKit SDK in a Node process standing in
  for a person's phone wallet;
- `devnet.sshd` + `fake_nvidia_smi`: a local OpenSSH server (needs root) set up like a provider's
  machine, with a fake GPU;
- `devnet.discord`: a loopback Discord (REST + gateway) the real discord.py client runs against,
  every request and answer validated against Discord's OpenAPI description;
- `devnet.telegram`: a loopback Telegram Bot API for the real python-telegram-bot client, every
  call and answer checked against the official API description (shared/specs/telegram/api.json).

They need the repository's node_modules (`npm ci`) and, for sshd, root. The bot itself (bot/)
never imports this package.
"""
