"""A screenshot of every page from the running app in headless Chromium, kept as artifacts.

Saved under .artifacts/screenshots/ (git-ignored). Each capture waits until the page shows
numbers from the generated lakehouse, so a screenshot of an empty or broken page fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dashboards.links import sign_in_url
from tests.fixtures.chromium import WINDOW
from tests.fixtures.dashboard_server import REPO_ROOT

SCREENSHOTS = REPO_ROOT / ".artifacts" / "screenshots"

# Page url path, extra query, texts that must be visible: numbers from the fixture spec.
# (Tables draw on a canvas, so their cells are not page text; headings, metrics and
# markdown are.)
PAGES = [
    ("", {}, ["Overview", "Flags per hour by type", "Review backlog", "33.3%", "face_not_visible"]),
    (
        "session_review",
        {"session": "N1"},
        ["Session review", "Incident timeline", "Video at 2:00", "Sampled frames", "2:15",
         "50:00–50:10", "Ana Lima"],
    ),
    ("detector_quality", {}, ["Detector quality", "Precision over time", "66.7%"]),
    ("erasure_requests", {}, ["Invalid certificates", "E-N3", "does NOT match"]),
]  # fmt: skip


@pytest.mark.slow
def test_screenshot_every_page(lakehouse, dashboard_server, chromium):
    for page, query, expected in PAGES:
        url = sign_in_url(lakehouse.settings, "alice", dashboard_server, page, **query)
        path = SCREENSHOTS / f"{page or 'overview'}.png"
        path.unlink(missing_ok=True)

        shown = chromium.screenshot(url, path, expected)

        assert "uni-south" not in shown and "Dan Weiss" not in shown  # alice's institution only
        picture = Image.open(path)
        assert picture.size == WINDOW
        pixels = np.asarray(picture.convert("RGB")).reshape(-1, 3)
        colours = np.unique(pixels[::7], axis=0)
        assert len(colours) > 50, f"{path.name} looks blank ({len(colours)} colours)"
