"""The house stays in order: the runtime package never needs the developer's tools, the image's
lock is the runtime part of the dev lock, every setting is documented, and the architecture page
names files that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from l2c.config import SETTINGS_DOC

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / "plugins" / "l2c"
# Packages only the developer's tools, tests and linters use: never in the image's lock.
DEV_ONLY = {
    "pytest",
    "pytest-xdist",
    "ruff",
    "sqlfluff",
    "sqlfluff-templater-dbt",
    "xlsxwriter",
    "chinesecalendar",
    "holidays",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_runtime_package_never_imports_the_dev_tools() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(
            n for n in _imports(path) if n.split(".")[0] in ("l2c_dev", "tests")
        )
        for path in RUNTIME.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    # ...nor a library only the dev extra installs
    dev_modules = {"pytest", "xlsxwriter", "chinese_calendar", "holidays", "sqlfluff", "ruff"}
    third_party = {
        str(path.relative_to(REPO)): sorted(n for n in _imports(path) if n.split(".")[0] in dev_modules)
        for path in [*RUNTIME.rglob("*.py"), *(REPO / "dags").glob("*.py")]
    }
    assert {k: v for k, v in third_party.items() if v} == {}


def _lock(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """package (with its environment marker) -> (version, hashes)."""
    text = (REPO / name).read_text("utf-8")
    entries: dict[str, tuple[str, frozenset[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)\s*(;[^\\]*)?", block)
        if head:
            key = head.group(1).lower() + (head.group(3) or "").strip()
            entries[key] = (head.group(2), frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block)))
    return entries


def test_image_lock_is_the_runtime_part_of_the_dev_lock() -> None:
    runtime, dev = _lock("requirements.lock"), _lock("requirements-dev.lock")
    assert len(runtime) > 150 and len(dev) > len(runtime)
    assert all(hashes for _, hashes in runtime.values()), "every pin carries hashes"
    differ = {pkg: (pin, dev.get(pkg)) for pkg, pin in runtime.items() if dev.get(pkg) != pin}
    assert differ == {}, "the image would run other versions than the tests ran"
    in_image = {pkg.split(";")[0] for pkg in runtime} & DEV_ONLY
    assert in_image == set()
    assert {pkg.split(";")[0] for pkg in dev} >= DEV_ONLY


@pytest.mark.parametrize("name", ["requirements.lock", "requirements-dev.lock"])
def test_locks_carry_no_addresses(name: str) -> None:
    text = (REPO / name).read_text("utf-8")
    assert not re.search(r"[a-z]+://|--index-url|--extra-index-url|--find-links", text)


def test_every_setting_is_documented() -> None:
    page = (REPO / "docs" / "configuration.md").read_text("utf-8")
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", page, flags=re.M))
    settings = {doc.env for doc in SETTINGS_DOC}
    assert settings - documented == set(), "settings missing from docs/configuration.md"
    stray = {v for v in documented - settings if v.startswith("L2C_")}
    assert stray == set(), "docs/configuration.md documents L2C_ variables that no setting reads"


def test_architecture_page_names_existing_paths() -> None:
    page = (REPO / "docs" / "architecture.md").read_text("utf-8")
    missing = []
    for path in set(
        re.findall(r"`((?:plugins|dev|dags|tests|bench|expectations|dbt_project)/[^`*<>{}| ]+)`", page)
    ):
        if not (REPO / path).exists():
            missing.append(path)
    for path in set(re.findall(r"`((?:models|macros)/[^`*<>{}| ]+)`", page)):
        if not (REPO / "dbt_project" / path).exists():
            missing.append(path)
    assert sorted(missing) == []


def test_user_docs_stand_alone() -> None:
    """No page sends a reader to a document outside the repository."""
    pages = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "expectations").glob("*.md")]
    offenders = [
        f"{p.relative_to(REPO)}:{n}"
        for p in pages
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if re.search(r"\.\./shared|DESIGN\.md|DESIGN section|\bseed 0\d\d", line)
    ]
    assert offenders == []


def test_dockerfile_dbt_parse_step_runs(tmp_path: Path) -> None:
    """The image build parses the dbt project with only the variables its RUN line sets: run that
    line's `dbt parse` the same way (no l2c variable inherited), so a new env_var() without a default
    cannot break the image build unnoticed."""
    import os
    import shlex
    import subprocess

    from l2c.dbt import dbt_executable

    dockerfile = (REPO / "Dockerfile").read_text("utf-8").replace("\\\n", " ")
    run = next(line for line in dockerfile.splitlines() if line.startswith("RUN") and "dbt parse" in line)
    words = shlex.split(run.split("&&", 2)[2].split("&&")[0])  # DO_NOT_TRACK=1 ... dbt parse ...
    assigns = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    args = words[words.index("parse") + 1 :]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("L2C_", "DBT_"))}
    env.update({k: v.replace("/tmp/parse", str(tmp_path)) for k, v in assigns.items()})
    args = [a.replace("/tmp/parse", str(tmp_path)) for a in args]
    done = subprocess.run(
        [dbt_executable(), "parse", *args],
        cwd=REPO / "dbt_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "manifest.json").exists()
