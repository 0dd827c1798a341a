"""The README's Python snippets run as written, in order, in one namespace, against a fresh devnet
deployment (what ``make deploy RPC=...`` leaves): no undefined names, no job that does not exist,
and every ``print(...)  # output`` prints exactly the output its comment shows.

The node's URL reaches the snippets as ``$COMPUTERAILS_RPC`` (the variable the CLI reads too),
and they run in a folder holding ``deployments/31337.json``, as they would in a checkout.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest

from tests.support.anvil import Anvil

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of every ```python block, in order."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


def printed_comments(code: str) -> dict[int, str]:
    """Line -> the comment after a top-level ``print(...)`` statement on that line."""
    comments = {
        tok.start[0]: tok.string[1:].strip()
        for tok in tokenize.generate_tokens(io.StringIO(code).readline)
        if tok.type == tokenize.COMMENT
    }
    found = {}
    for node in ast.parse(code).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
            and node.end_lineno in comments
        ):
            found[node.lineno] = comments[node.end_lineno]
    return found


def run_block(code: str, namespace: dict[str, Any], first_line: int = 1) -> None:
    """Run one block statement by statement (tracebacks name README.md and its line numbers);
    a commented print must print its comment."""
    expected = printed_comments(code)
    for node in ast.parse(code).body:
        line = node.lineno
        ast.increment_lineno(node, first_line - 1)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(ast.Module([node], []), str(README), "exec"), namespace)
        if line in expected:
            assert out.getvalue().strip() == expected[line], f"README.md line {first_line + line - 1}"


def test_python_blocks__found_with_their_lines():
    text = "intro\n```python\nx = 1\n```\ntext\n```bash\nls\n```\n```python\nprint(x)  # 1\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "print(x)  # 1\n")]


def test_printed_comments__top_level_prints_only():
    code = "x = 2  # two\nprint(x)  # 2\nfor i in range(2):\n    print(i)  # not checked\nprint(\n    x,\n)  # 2\n"
    assert printed_comments(code) == {2: "2", 5: "2"}


def test_run_block__print_differs_from_its_comment__fails():
    with pytest.raises(AssertionError, match="README.md line 12"):
        run_block("x = 1\nprint(x + 1)  # 3\n", {}, 11)


@pytest.fixture
def devnet(tmp_path, monkeypatch):
    """A fresh anvil with the protocol deployed by the deploy script's own function; the working
    directory holds deployments/31337.json."""
    node = Anvil().start()
    try:
        deployment = node.deploy(tmp_path / "deployments", direct_governance=False)
        assert deployment.name == "31337.json"
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("COMPUTERAILS_RPC", node.url)
        yield node
    finally:
        node.stop()


def test_readme__python_snippets__run_as_written(devnet):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 4, "the README lost its Python walkthrough"
    namespace: dict[str, Any] = {"__name__": "readme"}
    for line, code in blocks:
        run_block(code, namespace, line)
    assert os.environ["COMPUTERAILS_RPC"] == devnet.url
