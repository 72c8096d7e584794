"""A failed identity check reaches the proctor page as a review item, over real HTTP.

The identity router publishes a sealed ``verified`` event on ``sessions``; the API's topic
follower must turn ``review_required=true`` into a ``review`` server-sent event for the
session's institution only, list it on ``/proctoring/sessions`` (ranked with high-severity
sessions), and still list it after an API restart (read back from Delta).
"""

from __future__ import annotations

import av  # noqa: F401  (imported before anything that may import decord)
import pytest

from models.embeddings import detect_and_embed
from models.identity_pairs import astronaut, grace_hopper
from models.identity_samples import face_crop, photograph_card, render_id_card
from tests.fixtures.realtime import SseReader, bearer, encode_jpeg


def _id_card_photo(face_image, name: str, number: str, seed: int) -> bytes:
    face = detect_and_embed(face_image)[0]
    card = render_id_card(face_crop(face_image, face.box), name, number)
    return encode_jpeg(photograph_card(card, seed), 92)


def _listed(api, token: str) -> list[dict]:
    with api.client() as client:
        response = client.get("/proctoring/sessions", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_failed_identity_check_is_a_review_item_on_the_proctor_page(realtime_api):
    api = realtime_api
    proctor = api.staff_token("inst-a", subject="proctor-r")
    quiet = api.create_session("inst-a", student_id="stu-quiet")
    # an exam that waives the selfie burst: the check is the card against one selfie
    session = api.create_session(
        "inst-a", student_id="stu-review", policy={"liveness_required": False}
    )
    sid = session["session_id"]
    live = SseReader(f"{api.base_url}/proctoring/live", {"token": proctor, "severity": "high"})
    outsider = SseReader(
        f"{api.base_url}/proctoring/live", {"token": api.staff_token("inst-b"), "severity": "low"}
    )
    live.next_event(lambda k, e: k == "ready")
    outsider.next_event(lambda k, e: k == "ready")
    assert all(not s["reviews"] for s in _listed(api, proctor))

    card = _id_card_photo(grace_hopper(), "Grace Hopper", "G19061209", seed=2)
    with api.client() as client:
        checked = client.post(  # Grace Hopper's card, the astronaut's selfie
            f"/sessions/{sid}/verify-identity",
            files=[
                ("id_photo", ("c.jpg", card, "image/jpeg")),
                ("selfie_photo", ("s.jpg", encode_jpeg(astronaut()), "image/jpeg")),
            ],
            headers=bearer(session["token"]),
        )
    assert checked.status_code == 200, checked.text
    result = checked.json()
    assert result["review_required"] is True

    _, review, _ = live.next_event(lambda k, e: k == "review", timeout_s=30)
    assert review["session_id"] == sid
    assert review["record_id"] == result["record_id"]
    assert review["verified"] is False and review["review_required"] is True
    assert review["reasons"] == result["reasons"]
    assert review["similarity_score"] == pytest.approx(result["similarity_score"])
    # Nothing for inst-b: the feed handed the review to every stream at once, so a marker
    # of inst-b published after it reaches the outsider behind anything it was given.
    marker = api.create_session("inst-b", student_id="stu-marker")["session_id"]
    seen = outsider.events_until(lambda k, e: k == "session" and e["session_id"] == marker)
    assert [kind for kind, _ in seen if kind == "review"] == []
    with api.client() as client:  # the marker leaves no open session behind
        ended = client.post(
            f"/proctoring/sessions/{marker}/actions",
            json={"type": "end_session"},
            headers=bearer(api.staff_token("inst-b")),
        )
    assert ended.status_code == 201, ended.text
    live.close()
    outsider.close()

    def check_listing() -> None:
        listed = _listed(api, proctor)
        assert [s["session_id"] for s in listed] == [sid, quiet["session_id"]]
        (item,) = listed[0]["reviews"]
        assert (item["kind"], item["record_id"]) == ("identity", result["record_id"])
        assert listed[1]["reviews"] == []
        assert _listed(api, api.staff_token("inst-b")) == []

    check_listing()
    api.restart()  # the review now comes back from the signed Delta record
    check_listing()
