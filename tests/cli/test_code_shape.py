"""The code's shape is a checked contract (issue 10): no function in bot/, handlers/ or db/ (migrations excepted)
is over 60 lines, so each reads on one screen. The import layers are checked by import-linter in .ci/run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 60


def long_functions() -> list[str]:
    found = []
    for package in ("bot", "handlers", "db"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_over_sixty_lines():
    assert long_functions() == []
