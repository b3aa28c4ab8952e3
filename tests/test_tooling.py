"""The README's two commands on a new machine: `make test` installs what the tests need from the
system (scripts/install-test-deps.sh) and CI runs nothing else; the README and docs/ describe the
project from inside the repository.

The installer is never allowed to install here: `apt-get` and `sudo` are stand-ins on PATH that
record how they were called, and missing files are simulated with XINLIAN_TEST_DEPS_ROOT."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT_DIR / "scripts" / "install-test-deps.sh"
ALL_PACKAGES = ["chromium", "postgresql", "gettext", "fonts-wqy-microhei", "slapd", "ldap-utils"]
# What the script looks for, under the root it is given.
FILES = {
    "chromium": "usr/bin/chromium",
    "postgresql": "usr/lib/postgresql/17/bin/initdb",
    "gettext": "usr/bin/msgfmt",
    "fonts-wqy-microhei": "usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "slapd": "usr/sbin/slapd",
    "ldap-utils": "usr/bin/ldapadd",
}


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class InstallTestDepsTests(SimpleTestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="xinlian-deps-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.tmp.chmod(0o755)
        self.log = self.tmp / "calls.log"
        self.log.touch()
        self.log.chmod(0o666)
        # Stand-ins that record their arguments and install nothing.
        self.bin = self.tmp / "bin"
        _executable(self.bin / "apt-get", f'#!/bin/sh\necho "apt-get $*" >> {self.log}\n')
        _executable(self.bin / "sudo", f'#!/bin/sh\necho "sudo $*" >> {self.log}\n'
                                       '[ "$1" = -n ] && shift\nexec "$@"\n')
        self.root = self.tmp / "root"
        self.root.mkdir()
        self.root.chmod(0o755)

    def run_script(self, *args: str, root: Path | None = None,
                   path: str | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "XINLIAN_TEST_DEPS_ROOT"}
        env["PATH"] = path or f"{self.bin}:{os.environ['PATH']}"
        if root is not None:
            env["XINLIAN_TEST_DEPS_ROOT"] = str(root)
        return subprocess.run(["/bin/bash", str(SCRIPT), *args], env=env, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def calls(self) -> str:
        return self.log.read_text()

    def test_everything_present_does_nothing(self):
        """This machine has what the tests need (they are running): no apt-get, no output."""
        result = self.run_script()
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "", ""))
        self.assertEqual(self.calls(), "")
        check = self.run_script("--check")
        self.assertEqual((check.returncode, check.stdout), (0, ""))

    def test_detection_names_each_missing_package(self):
        missing = list(ALL_PACKAGES)
        for package in [*ALL_PACKAGES, None]:
            result = self.run_script("--check", root=self.root)
            if missing:
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertEqual(result.stdout.strip(),
                                 f"install-test-deps: missing {' '.join(missing)}")
            else:
                self.assertEqual((result.returncode, result.stdout), (0, ""))
            if package:
                _executable(self.root / FILES[package], "")
                missing.remove(package)
        self.assertEqual(self.calls(), "", "--check installs nothing")

    def test_demo_needs_only_gettext(self):
        """`make demo` asks only for what serving needs: no browser, no PostgreSQL, no font."""
        result = self.run_script("--check", "--demo", root=self.root)
        self.assertEqual((result.returncode, result.stdout.strip()),
                         (1, "install-test-deps: missing gettext"))
        _executable(self.root / FILES["gettext"], "")
        result = self.run_script("--check", "--demo", root=self.root)
        self.assertEqual((result.returncode, result.stdout), (0, ""))

    def test_a_non_executable_browser_does_not_count(self):
        (self.root / "usr/bin").mkdir(parents=True)
        (self.root / "usr/bin/chromium").write_text("")
        result = self.run_script("--check", root=self.root)
        self.assertIn("chromium", result.stdout)

    def test_missing_packages_are_installed_with_apt_get(self):
        result = self.run_script(root=self.root)
        calls = self.calls()
        self.assertIn("apt-get update -qq", calls)
        self.assertRegex(calls, r"apt-get install -y -qq chromium postgresql gettext "
                                r"fonts-wqy-microhei slapd ldap-utils\n")
        self.assertIn("install-test-deps: installing chromium postgresql gettext "
                      "fonts-wqy-microhei slapd ldap-utils", result.stdout)
        # The stand-in installed nothing: the script checks again and says so.
        self.assertEqual(result.returncode, 1)
        self.assertIn("apt-get ran, but chromium postgresql gettext fonts-wqy-microhei slapd "
                      "ldap-utils still missing", result.stderr)

    def test_without_root_or_sudo_it_says_what_to_run(self):
        # Only what the script needs on PATH: no sudo.
        plain = self.tmp / "plain"
        plain.mkdir()
        for tool in ("dirname", "id", "env"):
            (plain / tool).symlink_to(shutil.which(tool))
        (plain / "apt-get").symlink_to(self.bin / "apt-get")
        plain.chmod(0o755)
        env_path = str(plain)
        if os.geteuid() == 0:
            # "nobody" may not be able to enter the checkout (CI clones into a private folder):
            # run a copy of the script from this test's own world-readable folder, beside a
            # stand-in .venv so that only the system packages are in question.
            copy = self.tmp / "scripts" / SCRIPT.name
            copy.parent.mkdir()
            shutil.copy2(SCRIPT, copy)
            _executable(self.tmp / ".venv" / "bin" / "python", "")
            for folder in (copy.parent, self.tmp / ".venv", self.tmp / ".venv" / "bin"):
                folder.chmod(0o755)
            command = [shutil.which("runuser"), "-u", "nobody", "--", "env", f"PATH={env_path}",
                       f"XINLIAN_TEST_DEPS_ROOT={self.root}", "/bin/bash", str(copy)]
            result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                    stdin=subprocess.DEVNULL)
        else:
            result = self.run_script(root=self.root, path=env_path)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("installing them takes root", result.stderr)
        self.assertIn("sudo apt-get install -y chromium postgresql gettext fonts-wqy-microhei "
                      "slapd ldap-utils",
                      result.stderr)
        self.assertEqual(self.calls(), "")

    def test_a_bad_argument_is_refused(self):
        result = self.run_script("--install-everything")
        self.assertEqual(result.returncode, 2)
        self.assertIn("usage:", result.stderr)


class MakeTestTests(SimpleTestCase):
    def make_n(self, target: str) -> list[str]:
        out = subprocess.run(["make", "-n", "-B", target], cwd=PROJECT_DIR, capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.splitlines()

    def test_make_test_installs_the_system_packages_first(self):
        lines = self.make_n("test")
        first = next(i for i, line in enumerate(lines) if "install-test-deps.sh" in line)
        pytest = next(i for i, line in enumerate(lines) if "pytest" in line)
        pip = next(i for i, line in enumerate(lines) if "pip install" in line)
        self.assertLess(first, pip)  # python3-venv before the venv is made
        self.assertLess(first, pytest)
        self.assertTrue(any("lint-imports" in line for line in lines))
        self.assertTrue(any("with-postgres.sh" in line for line in lines))

    def test_ci_runs_the_readme_command_only(self):
        ci = (PROJECT_DIR / ".ci" / "run").read_text()
        commands = [line for line in ci.splitlines()
                    if line.strip() and not line.startswith("#")
                    and not line.startswith(("set ", "cd "))]
        self.assertEqual(commands, ["make test"])
        self.assertIn("make test", (PROJECT_DIR / "README.md").read_text())


class DocsTests(SimpleTestCase):
    def test_readme_points_inside_the_repository(self):
        readme = (PROJECT_DIR / "README.md").read_text()
        self.assertNotIn("../shared", readme)
        self.assertNotIn("DESIGN.md", readme)
        self.assertIn("docs/architecture.md", readme)

    def test_relative_links_resolve(self):
        for doc in [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]:
            for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
                if "://" in target:
                    continue
                self.assertTrue((doc.parent / target).exists(), f"{doc.name} → {target}")

    def test_architecture_names_every_app_and_the_outcome_types(self):
        text = (PROJECT_DIR / "docs" / "architecture.md").read_text()
        apps = [p.name for p in (PROJECT_DIR / "xinlian").iterdir()
                if (p / "__init__.py").exists()]
        for app in apps:
            self.assertIn(f"`{app}`", text, app)
        for name in ("NotFound", "NotAllowed", "Conflict", "Invalid", "xinlian/lib/actions.py",
                     "xinlian/access/adapters.py", "import-linter"):
            self.assertIn(name, text)
        tiers = text[text.index("| tier |"):]
        for tier, what in enumerate(("roster", "risk level", "screening scores", "case details",
                                     "counselling notes"), start=1):
            self.assertRegex(tiers, rf"\n\| {tier} \| {what}")
