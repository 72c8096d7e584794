"""POST /sessions/{id}/verify-identity over real HTTP against the real app, broker and lake."""

from __future__ import annotations

import av  # noqa: F401  (imported before anything that may import decord)
import cv2
import numpy as np
import pytest

from models.embeddings import detect_and_embed
from models.identity_pairs import astronaut, carphone_frames, grace_hopper, vary
from models.identity_samples import face_crop, photograph_card, render_id_card
from proctorlake.core.topics import SESSIONS
from proctorlake.governance import sealed_topics
from proctorlake.governance.signing import public_key_pem, verify_record
from proctorlake.services.identity import identity_object_key, signed_payload
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from realtime.api.auth import issue_token
from tests.fixtures.realtime import bearer, encode_jpeg
from tests.fixtures.waiting import read_topic_to_end

PROBLEM = "application/problem+json"
NO_LIVENESS = {"liveness_required": False}  # an exam that waives the selfie burst


def _card(face_image: np.ndarray, name: str, number: str, seed: int) -> np.ndarray:
    face = detect_and_embed(face_image)[0]
    return photograph_card(render_id_card(face_crop(face_image, face.box), name, number), seed)


def _verified_events(settings, session_id: str) -> list[dict]:
    """The session's ``verified`` events: the API acknowledged them before it answered, so the
    topic read to its end offsets holds every one (no guess of how long to poll)."""
    events = []
    for record in read_topic_to_end(settings.kafka_bootstrap, SESSIONS.name, SESSIONS.partitions):
        if record.key.decode() != session_id:
            continue
        assert not record.value.startswith(b"{")  # sealed: it names the student
        event = sealed_topics.decode(settings, record).model_dump(mode="json")
        if event["event"] == "verified":
            events.append(event)
    return events


def _post(client, session: dict, files: list, token: str | None = None, **form):
    return client.post(
        f"/sessions/{session['session_id']}/verify-identity",
        files=files,
        data=form,
        headers=bearer(token or session["token"]),
    )


@pytest.mark.slow
def test_live_matching_student_is_verified_with_a_signed_record(realtime_api) -> None:
    api = realtime_api
    session = api.create_session(
        "inst-a", student_id="stu-7", exam_id="exam-3", student_name="adam  CARPHONE"
    )
    frames = [cv2.resize(f, None, fx=3, fy=3) for f in carphone_frames()]
    card = _card(frames[20], "Adam Carphone", "C7781204", seed=4)
    files = [
        ("id_photo", ("card.jpg", encode_jpeg(card, 92), "image/jpeg")),
        (
            "selfie_photo",
            ("selfie.png", cv2.imencode(".png", frames[100][:, :, ::-1])[1].tobytes(), "image/png"),
        ),
    ] + [
        ("burst", (f"b{i}.jpg", encode_jpeg(frame), "image/jpeg"))
        for i, frame in enumerate(carphone_frames()[::3])
    ]
    with api.client() as client:
        response = _post(client, session, files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] is True and body["review_required"] is False, body
    assert body["similarity_score"] > 0.54
    assert body["ocr"] == {"name": "Adam Carphone", "id_number": "C7781204"}
    assert body["name_matches"] is True
    assert body["liveness"]["passed"] is True

    rows = lake.read_table(api.settings, "identity_verifications").to_pylist()
    assert [r["record_id"] for r in rows] == [body["record_id"]]
    row = rows[0]
    assert (row["institution_id"], row["exam_id"], row["student_id"]) == (
        "inst-a",
        "exam-3",
        "stu-7",
    )
    assert verify_record(public_key_pem(api.settings), signed_payload(row), row["signature"])
    assert not verify_record(
        api.settings, signed_payload(row | {"verified": False}), row["signature"]
    )

    store = open_object_store(api.settings)
    for name in ("id_photo", "selfie"):
        stored = store.get_bytes(identity_object_key(session["session_id"], name))
        assert stored[:3] == b"\xff\xd8\xff"
    events = _verified_events(api.settings, session["session_id"])
    assert [e["verified"] for e in events] == [True]


@pytest.mark.slow
def test_mismatch_opens_review_and_bad_input_loses_nothing(realtime_api) -> None:
    api = realtime_api
    session = api.create_session(
        "inst-a", student_id="stu-8", student_name="Grace Hopper", policy=NO_LIVENESS
    )
    card = encode_jpeg(_card(grace_hopper(), "Grace Hopper", "G19061209", seed=2), 92)
    selfie = encode_jpeg(astronaut())
    with api.client() as client:
        first = _post(
            client,
            session,
            [
                ("id_photo", ("c.jpg", card, "image/jpeg")),
                ("selfie_photo", ("s.jpg", selfie, "image/jpeg")),
            ],
        )
        assert first.status_code == 200, first.text
        result = first.json()
        assert result["verified"] is False and result["review_required"] is True
        assert result["name_matches"] is True  # the card is Grace's; the selfie is not
        assert any("does not match the ID photo" in r for r in result["reasons"])

        store = open_object_store(api.settings)
        stored_card = store.get_bytes(identity_object_key(session["session_id"], "id_photo"))
        rng = np.random.default_rng(0)
        no_face = encode_jpeg(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
        two_faces = encode_jpeg(np.concatenate([astronaut(), grace_hopper()[:512, :512]], axis=1))
        huge = b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024)
        cases = [
            (
                {"selfie_photo": ("s.txt", b"%PDF-1.4 not an image", "application/pdf")},
                415,
                "not an image",
            ),
            (
                {"selfie_photo": ("s.jpg", no_face, "image/jpeg")},
                422,
                "no face found in the selfie",
            ),
            (
                {"selfie_photo": ("s.jpg", two_faces, "image/jpeg")},
                422,
                "2 faces found in the selfie",
            ),
            ({"id_photo": ("c.jpg", huge, "image/jpeg")}, 413, "limit"),
        ]
        for override, status, words in cases:
            parts = {
                "id_photo": ("c.jpg", card, "image/jpeg"),
                "selfie_photo": ("s.jpg", selfie, "image/jpeg"),
            }
            parts |= override
            response = _post(client, session, list(parts.items()))
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith(PROBLEM)
            assert words in response.json()["detail"]

        other = issue_token(api.settings, "stu-x", "student", "inst-a", session_id="s-other")
        parts = [
            ("id_photo", ("c.jpg", card, "image/jpeg")),
            ("selfie_photo", ("s.jpg", selfie, "image/jpeg")),
        ]
        assert _post(client, session, parts, token=other).status_code == 403

    # Nothing the refused requests carried replaced what the first check stored.
    assert store.get_bytes(identity_object_key(session["session_id"], "id_photo")) == stored_card
    rows = lake.read_table(api.settings, "identity_verifications").to_pylist()
    assert [r["record_id"] for r in rows] == [result["record_id"]]
    events = _verified_events(api.settings, session["session_id"])
    assert len(events) == 1 and events[0]["review_required"] is True


def _grace_pair() -> tuple[bytes, bytes]:
    """Grace Hopper's ID card and a separate selfie of her (another light, no card)."""
    card = encode_jpeg(_card(grace_hopper(), "Grace Hopper", "G19061209", seed=2), 92)
    selfie = encode_jpeg(vary(grace_hopper(), "light", np.random.default_rng(3)))
    return card, selfie


@pytest.mark.slow
def test_finding_3_the_name_to_match_comes_from_the_roster_not_the_request(realtime_api) -> None:
    api = realtime_api
    session = api.create_session(
        "inst-a", student_id="stu-9", student_name="Sally Ride", policy=NO_LIVENESS
    )
    card, selfie = _grace_pair()
    parts = [
        ("id_photo", ("c.jpg", card, "image/jpeg")),
        ("selfie_photo", ("s.jpg", selfie, "image/jpeg")),
    ]
    with api.client() as client:
        response = _post(
            client, session, parts, expected_name="Grace Hopper", expected_id_number="G19061209"
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["similarity_score"] > 0.54  # the same person on card and selfie ...
    assert body["name_matches"] is False  # ... but not the student the roster names
    assert body["verified"] is False and body["review_required"] is True
    assert "the name on the ID card does not match the registered name" in body["reasons"]


@pytest.mark.slow
def test_finding_3_liveness_is_required_and_one_capture_cannot_be_both_photos(
    realtime_api,
) -> None:
    api = realtime_api
    card, selfie = _grace_pair()
    default = api.create_session("inst-a", student_id="stu-10", student_name="Grace Hopper")
    waived = api.create_session(
        "inst-a", student_id="stu-11", student_name="Grace Hopper", policy=NO_LIVENESS
    )
    copy = encode_jpeg(cv2.resize(grace_hopper(), None, fx=0.8, fy=0.8), 70)
    with api.client() as client:
        no_burst = _post(
            client,
            default,
            [("id_photo", ("c.jpg", card, "image/jpeg")), ("selfie_photo", ("s.jpg", selfie))],
        )
        assert no_burst.status_code == 422, no_burst.text
        assert no_burst.headers["content-type"].startswith(PROBLEM)
        assert "requires a liveness check" in no_burst.json()["detail"]

        cases = [
            (selfie, selfie, "the ID photo and the selfie are the same image"),
            (copy, encode_jpeg(grace_hopper()), "the ID photo is a copy of the selfie"),
        ]
        for id_photo, selfie_photo, words in cases:
            response = _post(
                client,
                waived,
                [
                    ("id_photo", ("c.jpg", id_photo, "image/jpeg")),
                    ("selfie_photo", ("s.jpg", selfie_photo, "image/jpeg")),
                ],
            )
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith(PROBLEM)
            assert words in response.json()["detail"]

        genuine = _post(
            client,
            waived,
            [("id_photo", ("c.jpg", card, "image/jpeg")), ("selfie_photo", ("s.jpg", selfie))],
        )
        assert genuine.status_code == 200 and genuine.json()["verified"] is True, genuine.text
    rows = lake.read_table(api.settings, "identity_verifications").to_pylist()
    assert [r["session_id"] for r in rows] == [waived["session_id"]]  # refusals left nothing
