"""Command-line errors that say what to do: version, import failures, stores down (#15 item 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sessionware
from sessionware.cli.command import main

from ..backends.conftest import free_ports

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed entry point's module form, as a user's shell would run it."""
    return subprocess.run(
        [sys.executable, "-m", "sessionware", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_version_flag_prints_the_package_version() -> None:
    """``sessionware --version`` prints the version and exits 0."""
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"sessionware {sessionware.__version__}"


def test_audit_reports_an_exception_raised_while_importing_the_target(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyError inside the user's module is named as an import failure, not a wrong target."""
    monkeypatch.chdir(ROOT)
    code = main(["audit", "tests.newcomer.broken_settings:app"])
    err = capsys.readouterr().err
    assert code == 1
    assert "importing 'tests.newcomer.broken_settings' raised KeyError" in err
    assert "SESSIONWARE_TEST_SETTING_THAT_IS_NEVER_SET" in err
    assert "expected a SessionConfig" not in err


def test_audit_still_says_when_the_module_does_not_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A mistyped module name stays a usage error (exit 2) naming the module."""
    assert main(["audit", "no_such_module_here:app"]) == 2
    assert "cannot import 'no_such_module_here'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_commands_check_a_redis_store_at_startup(command: str) -> None:
    """``demo``/``bench`` against a Redis nobody listens on exit 1 with address and cause."""
    port = free_ports(26400, 1)[0]
    done = run(command, "--backend", f"redis://:hunter2@127.0.0.1:{port}/0")
    assert done.returncode == 1
    assert "sessionware demo on" not in done.stdout
    line = done.stderr.strip()
    assert line.startswith("sessionware: error: cannot reach the session store at redis://")
    assert f"127.0.0.1:{port}" in line and "refused" in line.lower()
    assert "hunter2" not in done.stderr + done.stdout


def test_demo_checks_a_sql_store_at_startup() -> None:
    """A PostgreSQL URL with nothing listening fails at start with the driver's reason."""
    port = free_ports(26410, 1)[0]
    done = run("demo", "--backend", f"postgresql://app:hunter2@127.0.0.1:{port}/app")
    assert done.returncode == 1
    assert "cannot reach the session store at postgresql://app:***@127.0.0.1" in done.stderr
    assert "refused" in done.stderr.lower()
    assert "hunter2" not in done.stderr
