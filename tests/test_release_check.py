""".ci/release_check.py's checks fail on a wheel or sdist that lacks what users need."""

from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def release() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kontext_widget_release_check", ROOT / ".ci" / "release_check.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def wheel_files(version: str) -> dict[str, bytes]:
    info = f"kontext_widget-{version}.dist-info"
    files = {
        "kontext_widget/__init__.py": b"",
        "kontext_widget/py.typed": b"",
        "kontext_widget/static/widget.js": b"export default {}",
        "kontext_widget/static/event_log.js": b"export default {}",
        "kontext_widget/notebooks/chat_demo.ipynb": b"{}",
        "kontext_widget/notebooks/placements.ipynb": b"{}",
        f"{info}/METADATA": (
            f"Metadata-Version: 2.4\nName: kontext-widget\nVersion: {version}\n"
            "License-Expression: MIT\nLicense-File: LICENSE\n\n"
        ).encode(),
        f"{info}/licenses/LICENSE": (ROOT / "LICENSE").read_bytes(),
    }
    for path in (ROOT / "kontext_widget" / "_local_server" / "creative").iterdir():
        if path.is_file():
            files[f"kontext_widget/_local_server/creative/{path.name}"] = b"x"
    return files


def write_wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_a_complete_wheel_passes(release: ModuleType, tmp_path: Path) -> None:
    version = release.version()
    release.check_wheel(write_wheel(tmp_path / "ok.whl", wheel_files(version)), version)


@pytest.mark.parametrize(
    "missing",
    [
        "kontext_widget/static/widget.js",
        "kontext_widget/static/event_log.js",
        "kontext_widget/py.typed",
        "kontext_widget/notebooks/placements.ipynb",
        "kontext_widget/_local_server/creative/creative.js",
    ],
)
def test_a_wheel_without_a_runtime_file_fails(
    release: ModuleType, tmp_path: Path, missing: str
) -> None:
    version = release.version()
    files = wheel_files(version)
    del files[missing]
    with pytest.raises(SystemExit, match=missing.replace(".", r"\.")):
        release.check_wheel(write_wheel(tmp_path / "bad.whl", files), version)


def test_a_wheel_with_other_metadata_fails(release: ModuleType, tmp_path: Path) -> None:
    version = release.version()
    files = wheel_files(version)
    metadata = f"kontext_widget-{version}.dist-info/METADATA"
    files[metadata] = files[metadata].replace(b"License-Expression: MIT\n", b"")
    files[metadata] = files[metadata].replace(f"Version: {version}".encode(), b"Version: 9.9.9")
    with pytest.raises(SystemExit, match=r"Version '9\.9\.9'.*License-Expression None"):
        release.check_wheel(write_wheel(tmp_path / "bad.whl", files), version)


def test_an_sdist_with_a_built_api_reference_fails(release: ModuleType, tmp_path: Path) -> None:
    version = release.version()
    names = sorted(release.SDIST_REQUIRED)
    sdist = tmp_path / "kontext_widget.tar.gz"

    def build(extra: list[str]) -> Path:
        with tarfile.open(sdist, "w:gz") as archive:
            for name in names + extra:
                info = tarfile.TarInfo(f"kontext_widget-{version}/{name}")
                archive.addfile(info, io.BytesIO(b""))
        return sdist

    release.check_sdist(build([]), version)
    with pytest.raises(SystemExit, match="built API reference"):
        release.check_sdist(build(["docs/_build/api/index.html"]), version)


def test_the_version_is_written_once(release: ModuleType) -> None:
    release.check_single_version_source(release.version())  # raises SystemExit otherwise


def test_the_readme_quick_start_is_what_runs(release: ModuleType) -> None:
    code = release.readme_quick_start()
    assert "kw.LocalAdServer()" in code
    assert "create_session(" in code
    assert 'session.add_message({"id": "a1", "role": "assistant"' in code
