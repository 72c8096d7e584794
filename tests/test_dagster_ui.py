"""The Dagster UI a data engineer opens shows the pipeline's lineage and its check results.

One session is analysed through Dagster into the local-mode instance (the one ``proctorlake
up`` serves), then the real ``dagster-webserver`` is started on that instance and headless
Chromium captures the asset lineage and the incidents asset's checks. Screenshots are kept
under .artifacts/screenshots/ (git-ignored); each capture waits until the page shows the
assets or checks by name, so a blank or broken page fails the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterInstance
from PIL import Image

from dagster_project.runs import analyze_in_dagster
from proctorlake.app import launchers
from proctorlake.core.settings import REPO_ROOT, Settings, load_settings
from tests.fixtures.batch_media import ingest, present_then_absent, render_screen, render_webcam
from tests.fixtures.broker import free_port

pytestmark = pytest.mark.slow

LINEAGE_READY_JS = (
    "(() => { const t = document.body ? document.body.innerText : '';"
    " return %s.every(x => t.includes(x)) && !t.includes('Loading...')"
    " && t.split('1 / 1 Passed').length > 4; })()"
)
"""Every node of the lineage drawn with its check result (the nodes load one by one)."""

SCREENSHOTS = REPO_ROOT / ".artifacts" / "screenshots"
SESSION = "ui-1"

# The UI greets a new browser profile with a newsletter pop-up over the graph; this is what
# its "Skip" button stores, set before the UI's own scripts run.
SKIP_COMMUNITY_POPUP = "localStorage.setItem('communityNux', JSON.stringify('1'));"


@pytest.fixture
def ui_settings(proctorlake_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", "10")
    monkeypatch.setenv("PROCTORLAKE_DAGSTER_PORT", str(free_port()))
    settings = load_settings()
    monkeypatch.setenv("DAGSTER_HOME", str(launchers.dagster_home(settings)))
    return settings


def _assert_not_blank(path: Path) -> None:
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    colours = np.unique(pixels[::7], axis=0)
    assert len(colours) > 30, f"{path.name} looks blank ({len(colours)} colours)"


def test_ui_shows_lineage_and_checks(spark, ui_settings: Settings, tmp_path: Path, chromium):
    settings = ui_settings
    webcam = render_webcam(tmp_path / "webcam.mp4", present_then_absent(20, 6, 10))
    ingest(settings, SESSION, webcam, render_screen(tmp_path / "screen.mp4", 20))
    with DagsterInstance.get() as instance:
        (run,) = analyze_in_dagster(settings, [SESSION], instance)
    assert run.success, run.error
    assert all(run.checks.values()) and len(run.checks) == 4

    (spec,) = [s for s in launchers.service_specs(settings) if s.name == "dagster"]
    state = launchers.start(settings, spec)
    try:
        assert state.running, state
        base = f"http://127.0.0.1:{settings.dagster_port}"
        chromium.call("Page.enable")
        chromium.call("Page.addScriptToEvaluateOnNewDocument", source=SKIP_COMMUNITY_POPUP)

        # session_reports' upstream lineage: every layer's node with its check results.
        lineage = SCREENSHOTS / "dagster_lineage.png"
        lineage.unlink(missing_ok=True)
        shown = chromium.screenshot(
            f"{base}/assets/gold/session_reports?view=lineage&lineageScope=upstream&lineageDepth=4",
            lineage,
            ["media_chunks", "detection_events", "incidents", "session_reports", "Passed"],
            timeout_s=180,
            ready_js=LINEAGE_READY_JS,
        )
        assert shown.count("1 / 1 Passed") == 4, shown  # one check per layer, all passed
        assert "Join the Dagster community" not in shown
        _assert_not_blank(lineage)
    finally:
        launchers.stop(settings, spec)
