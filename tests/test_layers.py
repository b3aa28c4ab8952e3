"""The layer rule of docs/architecture.md, as `make lint` checks it: `lint-imports` with the
contract in pyproject.toml keeps the project as it is, and breaks on an import that climbs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

PROJECT_DIR = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


class LayerContractTests(SimpleTestCase):
    def test_the_project_keeps_the_contract(self):
        result = lint_imports(PROJECT_DIR)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("1 kept, 0 broken", result.stdout)

    def test_make_lint_runs_the_contract(self):
        lint = subprocess.run(["make", "-n", "lint"], cwd=PROJECT_DIR, capture_output=True,
                              text=True, timeout=60)
        self.assertIn("lint-imports", lint.stdout)

    def copy(self) -> Path:
        """The project's Python files and contract, in a folder of their own to break."""
        root = Path(tempfile.mkdtemp(prefix="xinlian-layers-"))
        self.addCleanup(shutil.rmtree, root, True)
        shutil.copy(PROJECT_DIR / "pyproject.toml", root)
        shutil.copytree(PROJECT_DIR / "xinlian", root / "xinlian",
                        ignore=shutil.ignore_patterns("static", "templates", "locale", "__pycache__"))
        return root

    def add_import(self, root: Path, module: str, line: str) -> None:
        path = root / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\n{line}\n")

    def assert_broken(self, root: Path, importer: str, imported: str) -> None:
        result = lint_imports(root)
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertIn(f"{importer} is not allowed to import {imported}", result.stdout)

    def test_a_lower_app_importing_a_higher_one_breaks_it(self):
        root = self.copy()
        self.add_import(root, "xinlian.care.models", "import xinlian.screening.models  # noqa")
        self.assert_broken(root, "xinlian.care", "xinlian.screening")

    def test_lib_imports_no_app(self):
        root = self.copy()
        self.add_import(root, "xinlian.lib.crypto", "import xinlian.network.models  # noqa")
        self.assert_broken(root, "xinlian.lib", "xinlian.network")

    def test_apps_of_one_layer_are_independent(self):
        root = self.copy()
        self.add_import(root, "xinlian.notify.models", "import xinlian.access.policy  # noqa")
        self.assert_broken(root, "xinlian.notify", "xinlian.access")

    def test_adapters_may_use_access_but_nothing_higher(self):
        """network's API is an adapter: access is allowed to it, care is not."""
        root = self.copy()
        self.add_import(root, "xinlian.network.api", "import xinlian.care.models  # noqa")
        self.assert_broken(root, "xinlian.network", "xinlian.care")

    def test_a_new_app_needs_a_place_in_the_layers(self):
        root = self.copy()
        (root / "xinlian" / "newapp").mkdir()
        (root / "xinlian" / "newapp" / "__init__.py").write_text("")
        result = lint_imports(root)
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertIn("xinlian.newapp", result.stdout)
