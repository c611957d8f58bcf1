"""Run dbt with the connection settings from ``warehouse.config`` exported as env vars.

``profiles.yml`` reads only ``env_var()``; this is where those variables get their values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from warehouse.config import REPO_ROOT, settings


def dbt_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings().env())
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(args: list[str]) -> int:
    """Run ``dbt <args>`` in the repo with the project's profile; returns dbt's exit code."""
    exe = Path(sys.executable).with_name("dbt")
    cmd = [str(exe) if exe.exists() else "dbt", *args]
    if args and args[0] not in ("--version", "-h", "--help"):
        cmd += ["--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=dbt_env(), check=False).returncode
