"""The Dagster UI serves the code location: dagster-webserver on a free localhost port, its
GraphQL endpoint lists the assets, and headless Chromium renders the asset graph (DOM after the
JavaScript ran, and screenshots under var/ui/ for a human to look at).

No Selenium/Playwright (nothing to download offline): ``chromium --headless=new --dump-dom`` /
``--screenshot`` with ``--virtual-time-budget`` lets the single-page app fetch and render first.
Skipped, saying so, where Chromium is not installed (CI installs Debian's ``chromium`` in
``.ci/run``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.config import REPO_ROOT, settings

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (CI installs Debian's chromium package in .ci/run)",
)
WINDOW = (1600, 1000)
LOAD_TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str) -> dict:
    req = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        out = json.loads(resp.read())
    assert "errors" not in out, out
    return out["data"]


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


@pytest.fixture(scope="module")
def webserver(tmp_path_factory) -> Iterator[str]:
    """dagster-webserver on a free port with the workspace; yields its URL once the code
    location has loaded."""
    home = tmp_path_factory.mktemp("dagster_ui_home")
    log = home / "webserver.log"
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    exe = Path(sys.executable).with_name("dagster-webserver")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(exe), "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server too: the whole group is stopped below
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + LOAD_TIMEOUT
        status = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"dagster-webserver exited ({proc.returncode}):\n{log.read_text()}")
            try:
                entries = _graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1)
                continue
            status = entries[0] if entries else None
            if status and status["loadStatus"] == "LOADED":
                break
            time.sleep(1)
        assert status and status["loadStatus"] == "LOADED", (status, log.read_text()[-3000:])
        error = status["locationOrLoadError"]
        assert error["__typename"] == "RepositoryLocation", error
        # the first-visit community dialog would cover the screenshots
        _graphql(url, "mutation { setNuxSeen }")
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _chromium(args: list[str], url: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--virtual-time-budget=30000",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _png_summary(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values of the decompressed image data)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_graphql_lists_the_assets(webserver):
    nodes = _graphql(webserver, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {
        "load_sim",
        "load_lean",
        "raw/option_quotes",
        "quant_udfs",
        "staging/stg_raw__option_quotes",
        "intermediate/int_option_quotes_iv",
        "risk_run",
    } <= keys
    groups = {n["groupName"] for n in nodes}
    assert {"loads", "landing", "udfs", "staging", "intermediate", "downstream"} <= groups


def test_asset_graph_renders_in_chromium(webserver, tmp_path):
    out_dir = settings().var_dir / "ui"
    out_dir.mkdir(parents=True, exist_ok=True)
    group = f"{webserver}/locations/warehouse/asset-groups"
    pages = {
        # global lineage: one node per group (loads -> landing -> staging -> ...)
        "asset_graph": (f"{webserver}/asset-groups", ["loads", "landing", "udfs", "downstream"]),
        # a small group expanded: its assets drawn as nodes (the canvas draws what is in view,
        # so the names asserted are those of a group that fits the window)
        "downstream": (f"{group}/downstream/lineage", ["risk_run", "nightly_ranking"]),
        # the IV and feature models with their checks, for a human to look at
        "intermediate": (f"{group}/intermediate/lineage", []),
    }
    for name, (url, expected) in pages.items():
        if expected:
            dom = _chromium(["--dump-dom"], url, tmp_path / f"profile-{name}-dom")
            assert dom.returncode == 0, dom.stderr[-2000:]
            missing = [text for text in expected if text not in dom.stdout]
            assert not missing, f"{url}: {missing} not rendered"
        png = out_dir / f"{name}.png"
        png.unlink(missing_ok=True)
        shot = _chromium([f"--screenshot={png}"], url, tmp_path / f"profile-{name}-png")
        assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
        width, height, distinct = _png_summary(png)
        assert (width, height) == WINDOW
        assert png.stat().st_size > 20_000, "screenshot too small to show a graph"
        assert distinct > 50, "screenshot is (almost) blank"
