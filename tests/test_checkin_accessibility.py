"""The check-in, exam and proctor pages in Debian's headless Chromium, by keyboard alone.

The check-in is driven with key presses only (Tab, Enter, Space over DevTools) on a fake
camera, microphone and screen: the system check passes, the consent is recorded in Delta with
the tier and notice version, and an identity attempt with no ID card in view fails with its
reasons and a retry. axe-core (installed from npm by scripts/setup.sh into .tools/axe) is
injected into each page and state and must find no serious or critical violation.
"""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

from proctorlake.core.checkin import NOTICE_VERSION
from proctorlake.core.settings import REPO_ROOT
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.storage import lake
from tests.fixtures.realtime import Chromium, write_y4m

AXE = REPO_ROOT / ".tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CAMERA = WebcamScript((Segment("present", 30.0),))
KEYS = {
    "Tab": {"key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9},
    "Enter": {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
    "Space": {"key": " ", "code": "Space", "windowsVirtualKeyCode": 32, "text": " "},
}
RUN_AXE = """
axe.run(document).then((r) => JSON.stringify({
  passed: r.passes.length,
  serious: r.violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' '))})),
}))
"""


def press(page, key: str) -> None:
    for kind in ("keyDown", "keyUp"):
        fields = dict(KEYS[key])
        if kind == "keyUp":
            fields.pop("text", None)
        page.send("Input.dispatchKeyEvent", type=kind, **fields)


def tab_to(page, selector: str, max_tabs: int = 25) -> None:
    """Press Tab until the element has the focus: it is reachable by keyboard."""
    check = f"!!document.activeElement && document.activeElement.matches({json.dumps(selector)})"
    for _ in range(max_tabs):
        if page.evaluate(check):
            return
        press(page, "Tab")
    raise AssertionError(f"{selector} never got the keyboard focus")


def serious_violations(page) -> list[dict]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = json.loads(page.evaluate(RUN_AXE))
    assert result["passed"] >= 5, result  # axe really checked the page
    return result["serious"]


def _events(settings, session_id: str) -> list[tuple]:
    rows = lake.read_table(settings, "checkin_events").filter(pc.field("session_id") == session_id)
    return [
        (r["step"], r["outcome"], r["attempt"], r["tier"], r["notice_version"])
        for r in sorted(rows.to_pylist(), key=lambda r: r["at"])
    ]


@pytest.mark.slow
def test_checkin_exam_and_proctor_pages_by_keyboard_with_no_serious_axe_violation(
    realtime_api, tmp_path
):
    assert AXE.exists(), "axe-core is missing: run scripts/setup.sh"
    api = realtime_api
    video = write_y4m(tmp_path / "camera.y4m", render_webcam_frames(CAMERA, seed=3, fps=5), 5)
    # recording: client, the page's own upload: no media gateway runs in this test.
    session = api.create_session(
        student_id="stu-a11y", student_name="Grace Hopper", policy={"recording": "client"}
    )
    sid, fragment = (
        session["session_id"],
        f"session={session['session_id']}&token={session['token']}",
    )
    browser = Chromium(tmp_path / "profile", video, tmp_path / "chromium.log")
    try:
        checkin = browser.open(f"{api.base_url}/checkin#{fragment}")
        checkin.wait_for("document.getElementById('notice').textContent.length > 0", 60)
        assert checkin.evaluate("document.getElementById('expected-name').textContent") == (
            "Grace Hopper"  # from the roster, not from the page
        )
        assert serious_violations(checkin) == []

        tab_to(checkin, "#system-run")
        press(checkin, "Enter")
        checkin.wait_for("!document.getElementById('system-continue').hidden", 90)
        states = checkin.evaluate(
            "[...document.querySelectorAll('.checks span')].map((s) => s.dataset.state)"
        )
        assert states == ["ok", "ok", "ok", "ok"], checkin.evaluate(
            "document.querySelector('.checks').innerText"
        )
        press(checkin, "Enter")  # the focus moved to Continue
        checkin.wait_for("!document.getElementById('step-consent').hidden", 10)
        assert serious_violations(checkin) == []
        tab_to(checkin, "#consent-accept")
        press(checkin, "Enter")  # not read yet: refused, focus back on the checkbox
        checkin.wait_for("document.getElementById('consent-error').textContent !== ''", 10)
        assert checkin.evaluate("document.activeElement.id") == "consent-read"
        press(checkin, "Space")
        tab_to(checkin, "#consent-accept")
        press(checkin, "Enter")
        checkin.wait_for("!document.getElementById('step-identity').hidden", 20)
        assert serious_violations(checkin) == []

        tab_to(checkin, "#id-capture")
        press(checkin, "Enter")  # the camera shows a face, no ID card
        checkin.wait_for("document.activeElement.id === 'selfie-capture'", 20)
        press(checkin, "Enter")
        error = checkin.wait_for("document.getElementById('identity-error').textContent", 180)
        assert error.startswith("Identity not confirmed:") and "try again (1 of 3)" in error
        assert serious_violations(checkin) == []

        events = _events(api.settings, sid)
        steps = [(step, outcome) for step, outcome, *_ in events]
        assert steps == [
            ("camera", "passed"),
            ("microphone", "passed"),
            ("screen", "passed"),
            ("bandwidth", "passed"),
            ("consent", "accepted"),
            ("identity", "failed"),
        ]
        consent = next(e for e in events if e[0] == "consent")
        assert consent[3:] == ("ai_human", NOTICE_VERSION)
        checkin.close()

        exam = browser.open(f"{api.base_url}/exam#{fragment}")
        exam.wait_for("document.getElementById('status').dataset.state === 'ok'", 60)
        assert serious_violations(exam) == []
        exam.close()

        proctor_token = api.staff_token("inst-a", subject="proctor-a11y")
        proctor = browser.open(f"{api.base_url}/proctor#token={proctor_token}")
        card = f'.card[data-session-id="{sid}"]'
        proctor.wait_for(f"document.querySelector({json.dumps(card)}) !== null", 30)
        assert serious_violations(proctor) == []
        tab_to(proctor, card)
        press(proctor, "Enter")
        proctor.wait_for("!document.getElementById('panel').hidden", 20)
        tab_to(proctor, "#chat-text")
        assert serious_violations(proctor) == []
        proctor.close()
    finally:
        browser.close()
