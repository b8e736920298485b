"""Packaging: `pip install .` brings the dependencies and the `digit-studio` command; the lock file agrees
with the pins it was made from."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from digit_core import __version__, config

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    """name → version of every ``name==version`` line (comments and ``-r`` lines skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#;]+)", line.strip())
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def test_the_package_declares_its_dependencies_and_command() -> None:
    from setuptools.config.pyprojecttoml import read_configuration

    project = read_configuration(PROJECT_ROOT / "pyproject.toml", expand=True)["project"]
    assert project["scripts"] == {"digit-studio": "digit_core.cli:main"}
    assert project["version"] == __version__
    # Package names are case-insensitive (SQLAlchemy is sqlalchemy).
    dependencies = {re.split(r"[=<>!~]", requirement)[0].lower(): requirement.lower()
                    for requirement in project["dependencies"]}
    requirements = _pins(PROJECT_ROOT / "requirements.txt")
    assert dependencies == {name: f"{name}=={version}" for name, version in requirements.items()}
    import keras

    assert dependencies["keras"] == f"keras=={keras.__version__}"  # saved models depend on it


def test_the_lock_pins_what_the_requirements_pin() -> None:
    lock = _pins(PROJECT_ROOT / "requirements.lock")
    for requirements in ("requirements.txt", "requirements-dev.txt"):
        for name, version in _pins(PROJECT_ROOT / requirements).items():
            assert lock.get(name) == version, f"{requirements} pins {name}=={version}, the lock {lock.get(name)}"
    assert {"tensorflow", "keras", "tensorboard", "tqdm", "pytest"} <= set(lock)
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "pip install -q -r requirements.lock" in ci and "pip install -q --no-deps ." in ci


def test_an_installed_copy_keeps_its_files_where_it_is_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.MODELS_DIR_ENV, raising=False)
    monkeypatch.delenv(config.RUNS_DIR_ENV, raising=False)
    assert config.models_dir() == PROJECT_ROOT / "models"  # a checkout: its own folders
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")  # no pyproject.toml beside it
    monkeypatch.chdir(tmp_path)
    assert config.models_dir() == tmp_path / "models" and config.runs_dir() == tmp_path / "runs"


def test_the_installed_command_is_the_module_command() -> None:
    command = shutil.which("digit-studio", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("digit-studio is not installed in this environment (`pip install .` installs it; CI does)")
    version = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"digit-studio {__version__}"
    installed = subprocess.run([command, "train", "--help"], capture_output=True, text=True, timeout=60)
    module = subprocess.run([sys.executable, "-m", "digit_core", "train", "--help"], capture_output=True,
                            text=True, timeout=60, cwd=PROJECT_ROOT)
    assert installed.returncode == module.returncode == 0
    assert installed.stdout.startswith("usage: digit-studio train ")

    def options_and_examples(help_text: str, prog: str) -> str:  # the usage lines wrap by the name's length
        return help_text[help_text.index("\noptions:"):].replace(prog, "PROG")

    assert options_and_examples(installed.stdout, "digit-studio") == options_and_examples(module.stdout,
                                                                                          "python -m digit_core")
