"""deploy/: the shared env file satisfies a cluster node's checks and names every setting;
the systemd units run the commands the CLI has and pass systemd-analyze."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server.cli import build_parser
from server.deployment import is_cluster, missing_shared_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
README = Path(__file__).resolve().parents[1] / "README.md"


def _env_file() -> dict[str, str]:
    env = {}
    for line in (DEPLOY / "fieldtrace.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


def test_the_env_file_is_a_complete_cluster_configuration(tmp_path: Path) -> None:
    env = _env_file()
    assert is_cluster(env["FIELDTRACE_DATABASE_URL"], env)
    key = tmp_path / "audit-signing-key.pem"
    key.write_text("placeholder")  # the file must exist on the node; its contents aside
    missing = missing_shared_settings({**env, "FIELDTRACE_SIGNING_KEY_FILE": str(key)})
    assert missing == []
    # every setting it lists is one the README documents (no typo silently ignored)
    documented = set(re.findall(r"`(FIELDTRACE_[A-Z0-9_]+)`", README.read_text()))
    assert set(env) - documented - {"FIELDTRACE_DEPLOYMENT"} == set()


def test_units_run_commands_the_cli_has() -> None:
    parser = build_parser()
    for unit in (DEPLOY / "systemd").glob("fieldtrace-*.service"):
        line = next(ln for ln in unit.read_text().splitlines() if ln.startswith("ExecStart="))
        argv = line.split("/bin/fieldtrace ", 1)[1].split()
        parser.parse_args(argv)  # exits (SystemExit) on an unknown command or option
        if "serve" in argv:
            assert "--no-worker" in argv  # a web node runs no job worker


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_units_pass_systemd_analyze(tmp_path: Path) -> None:
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = re.sub(r"/srv/fieldtrace/\.venv/bin/fieldtrace|/usr/local/bin/weed", "/bin/true",
                      unit.read_text())  # fmt: skip
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, sorted(tmp_path.glob("*.service")))],
        capture_output=True,
        text=True,
        env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
