"""digit_core must never import Streamlit (house rule 1): the CLI and tests use it without a server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE_DIR = Path(__file__).resolve().parents[2] / "digit_core"


def _is_streamlit(module: str | None) -> bool:
    """streamlit itself, its submodules, and streamlit components such as streamlit_drawable_canvas."""
    top = (module or "").split(".")[0]
    return top == "streamlit" or top.startswith("streamlit_")


def streamlit_imports(source: str) -> list[int]:
    """Line numbers of every import of Streamlit in ``source``, at any depth (functions included)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            lines += [node.lineno for alias in node.names if _is_streamlit(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_streamlit(node.module):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            # __import__("streamlit") and importlib.import_module("streamlit")
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("__import__", "import_module") and _is_streamlit(str(node.args[0].value)):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("source, expected", [
    ("import streamlit as st\n", [1]),
    ("import os\nfrom streamlit import session_state\n", [2]),
    ("import json, streamlit.components.v1 as components\n", [1]),
    ("def show():\n    import streamlit\n", [2]),
    ("from streamlit_drawable_canvas import st_canvas\n", [1]),
    ("import importlib\nimportlib.import_module('streamlit')\n", [2]),
    ("st = __import__('streamlit')\n", [1]),
    ("import streamlined\nfrom . import streamlit_helpers\n# import streamlit\nname = 'streamlit'\n", []),
])
def test_checker_finds_streamlit_imports(source: str, expected: list[int]) -> None:
    assert streamlit_imports(source) == expected


def test_no_core_module_imports_streamlit() -> None:
    modules = sorted(CORE_DIR.rglob("*.py"))
    assert len(modules) > 10, f"expected the digit_core modules in {CORE_DIR}"
    offenders = [f"{path.relative_to(CORE_DIR.parent)}:{line}" for path in modules
                 for line in streamlit_imports(path.read_text(encoding="utf-8"))]
    assert offenders == [], f"digit_core must not import streamlit: {offenders}"
