"""Console front-end: a line-oriented REPL over the shared services (like errbot's Text backend)."""
from handlers.console.repl import ConsoleFrontend

__all__ = ["ConsoleFrontend"]
