"""Release check: the package as a user gets it, not as the repository runs it.

1. ``python -m build --no-isolation`` makes the sdist and, from it, the wheel (so a file left out
   of the sdist breaks the wheel too);
2. ``twine check --strict`` validates both (metadata, README rendering);
3. the wheel must carry the widget bundle, the whole creative, the notebooks,
   ``py.typed`` and the LICENSE, with the version of ``kontext_widget/_version.py``;
4. the wheel is installed into a fresh virtual environment (by this
   environment's pip, dependencies from the package index) and
   the README's quick start runs there, outside the repository, until the local
   server's ``ad.filled`` arrives; ``kontext-widget --version`` works there too.

Run by ``.ci/test``; by hand: ``python .ci/release_check.py`` (``--keep`` leaves the
build and the venv in a temporary directory it prints).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
import zipfile
from email.parser import Parser
from importlib.metadata import version as installed_version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kontext_widget"

# What the README's quick start must produce once the session is idle.
QUICK_START_CHECK = """
assert session.wait_idle(30), "the quick start never became idle"
names = [event.name for event in session.events]
assert names == ["ad.filled"], names
assert session.create_ad("a1").bid_id is not None, "the bid did not go to a1"
import importlib.resources, pathlib, sys
assert pathlib.Path(kw.__file__).resolve().is_relative_to(pathlib.Path(sys.prefix).resolve()), (
    kw.__file__
)
for bundle in ("static/widget.js", "static/event_log.js"):
    assert importlib.resources.files("kontext_widget").joinpath(bundle).is_file(), bundle
session.destroy()
server.stop()
print("quick start OK:", names)
"""


def version() -> str:
    text = (PACKAGE / "_version.py").read_text(encoding="utf-8")
    match = re.fullmatch(r'__version__ = "([^"]+)"\n', text)
    if match is None:
        raise SystemExit(f"kontext_widget/_version.py must hold only __version__ = '...': {text!r}")
    return match.group(1)


# Files that may name the version: its one source, and records of past releases/runs.
VERSION_MAY_APPEAR_IN = {"kontext_widget/_version.py", "CHANGELOG.md", "bench/RESULTS.md"}


def check_single_version_source(expected_version: str) -> None:
    """The version is written once: pyproject.toml reads it, the code imports it."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if 'dynamic = ["version"]' not in pyproject or (
        'path = "kontext_widget/_version.py"' not in pyproject
    ):
        raise SystemExit("pyproject.toml must take the version from kontext_widget/_version.py")
    if not (ROOT / ".git").exists():
        print("  version source: not a git checkout, tracked files not scanned")
        return
    tracked = subprocess.run(
        ["git", "grep", "-l", "-w", "-F", expected_version, "--", ".", ":!package-lock.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    elsewhere = sorted(set(tracked) - VERSION_MAY_APPEAR_IN)
    if elsewhere:
        raise SystemExit(
            f"the version {expected_version} is written in {elsewhere}: "
            "import kontext_widget.__version__ instead"
        )
    print(f"  version {expected_version} written only in kontext_widget/_version.py")


def run(*command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    started = time.monotonic()
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - started
    if result.returncode != 0:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        raise SystemExit(f"failed ({result.returncode}) after {took:.1f} s: {command}")
    print(f"  {took:5.1f} s  {' '.join(str(part) for part in command[:4])} ...")
    return result.stdout


def _pip_version() -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", installed_version("pip"))[:2])


def readme_quick_start() -> str:
    """The first Python block under "## Quick start" in README.md, as users copy it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    if match is None:
        raise SystemExit("README.md: no python block under '## Quick start'")
    return match.group(1)


def check_wheel(wheel: Path, expected_version: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"kontext_widget-{expected_version}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        shipped_license = archive.read(f"{dist_info}/licenses/LICENSE")
    required = {
        "kontext_widget/py.typed",
        "kontext_widget/static/widget.js",
        "kontext_widget/static/event_log.js",
        "kontext_widget/notebooks/chat_demo.ipynb",
        "kontext_widget/notebooks/placements.ipynb",
        *(
            f"kontext_widget/_local_server/creative/{path.name}"
            for path in (PACKAGE / "_local_server" / "creative").iterdir()
            if path.is_file()
        ),
    }
    missing = sorted(required - names)
    if missing:
        raise SystemExit(f"{wheel.name} lacks {missing}")
    stray = sorted(n for n in names if n.endswith((".pyc", ".ts")) or n.startswith("tests/"))
    if stray:
        raise SystemExit(f"{wheel.name} carries files users do not need: {stray}")
    problems = []
    if metadata["Version"] != expected_version:
        problems.append(f"Version {metadata['Version']!r} != _version.py {expected_version!r}")
    if metadata["License-Expression"] != "MIT":
        problems.append(f"License-Expression {metadata['License-Expression']!r}")
    if "LICENSE" not in (metadata.get_all("License-File") or []):
        problems.append("no License-File: LICENSE")
    if shipped_license != (ROOT / "LICENSE").read_bytes():
        problems.append("the shipped LICENSE differs from the repository's")
    if problems:
        raise SystemExit(f"{wheel.name} metadata: {problems}")
    print(f"  wheel contents OK: {len(names)} files, version {expected_version}, MIT")


# What an sdist must carry to rebuild, test and document the package.
SDIST_REQUIRED = frozenset(
    {
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "pyproject.toml",
        "kontext_widget/_version.py",
        "kontext_widget/static/widget.js",
        "kontext_widget/static/event_log.js",
        "kontext_widget/_local_server/creative/creative.js",
        "notebooks/chat_demo.ipynb",
        "docs/protocol.md",
        "docs/api.py",
        ".ci/release_check.py",  # tests/test_release_check.py runs from an sdist too
    }
)


def check_sdist(sdist: Path, expected_version: str) -> None:
    prefix = f"kontext_widget-{expected_version}/"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    missing = sorted(SDIST_REQUIRED - names)
    if missing:
        raise SystemExit(f"{sdist.name} lacks {missing}")
    built = sorted(name for name in names if name.startswith("docs/_build"))
    if built:
        raise SystemExit(f"{sdist.name} carries the built API reference: {built[:3]}")
    print(f"  sdist contents OK: {len(names)} entries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="keep the build and the venv")
    args = parser.parse_args()

    expected_version = version()
    work = Path(tempfile.mkdtemp(prefix="kontext-widget-release-"))
    started = time.monotonic()
    check_single_version_source(expected_version)
    try:
        dist = work / "dist"
        # No build isolation (hatchling comes with the test extra): two throwaway
        # environments would double this step. build still checks that the installed
        # backend satisfies [build-system] requires.
        run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT)
        (wheel,) = dist.glob("*.whl")
        (sdist,) = dist.glob("*.tar.gz")
        run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
        check_wheel(wheel, expected_version)
        check_sdist(sdist, expected_version)

        env_dir = work / "venv"
        # This environment's pip installs into the venv (``--python``, pip >= 22.3),
        # which spares bootstrapping a pip there; an older pip gets one bootstrapped.
        outer_pip = _pip_version() >= (22, 3)
        venv.create(env_dir, with_pip=not outer_pip, clear=True)
        python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        # Nothing of this environment or checkout leaks in: no PYTHONPATH, cwd outside.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KONTEXT"))}
        env["KONTEXT_WIDGET_CONFIG_DIR"] = str(work / "config")
        pip = (
            (sys.executable, "-m", "pip", "--python", python)
            if outer_pip
            else (python, "-m", "pip")
        ) + ("--disable-pip-version-check",)
        run(*pip, "install", "--quiet", wheel, env=env)
        script = work / "quick_start.py"
        script.write_text(readme_quick_start() + QUICK_START_CHECK, encoding="utf-8")
        print("  " + run(python, script, cwd=work, env=env).strip().splitlines()[-1])
        cli = env_dir / ("Scripts" if os.name == "nt" else "bin") / "kontext-widget"
        shown = run(cli, "--version", cwd=work, env=env).strip()
        if not shown.endswith(expected_version):
            raise SystemExit(f"kontext-widget --version says {shown!r}")
    finally:
        if args.keep:
            print(f"  kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"release check passed in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
