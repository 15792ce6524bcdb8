"""Wallet linking and payments from the chat: WalletConnect, SIWE, payment links."""
