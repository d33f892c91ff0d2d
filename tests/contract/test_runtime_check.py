"""`make runtime-check` (infra.runtime) fails on a module of functions/ that the
runtime cannot import, not only on a handler: a route module is loaded by the first
request for its section, and would fail there."""

from __future__ import annotations

import sys
from pathlib import Path

from infra.runtime import base_env, every_env, unimportable


def test_a_module_that_does_not_import_is_named_with_why(tmp_path: Path) -> None:
    package = tmp_path / "probe"
    (package / "routes").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ok.py").write_text("import json\n")
    (package / "broken.py").write_text("import not_packaged_anywhere\n")
    (package / "routes" / "__init__.py").write_text("raise RuntimeError('at import')\n")
    (package / "routes" / "unseen.py").write_text("")

    failures = unimportable(sys.executable, base_env(), task_root=tmp_path)

    assert failures == {
        "probe.broken": "ModuleNotFoundError: No module named 'not_packaged_anywhere'",
        "probe.routes": "RuntimeError: at import",
    }


def test_every_module_of_the_functions_imports_here() -> None:
    assert unimportable(sys.executable, every_env()) == {}
