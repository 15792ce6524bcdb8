"""The core stays free of chat libraries and front-ends; handlers hold no business rules."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = ("discord", "telegram", "handlers", "devnet")   # devnet: local stand-ins (demo, tests)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_does_not_import_front_ends():
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN_IN_CORE:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_handlers_do_not_touch_the_store():
    offenders = []
    for path in (ROOT / "handlers").rglob("*.py"):
        for name in _imports(path):
            if name.startswith(("bot.db", "sqlalchemy")):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
