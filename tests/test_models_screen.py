"""Unauthorized apps: OCR of rendered desktops, titles only, fuzzy banned/allowed matching."""

from __future__ import annotations

import pytest

from models.screen_apps import analyze_screen_frames, banned_in_title, fuzzy_contains
from models.screen_changes import ScreenChangeGate, analyze_screen_frames_gated
from proctorlake.samples.screen import ScreenSegment, render_screen


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("ChatGPT - Mozilla Firefox", "ChatGPT"),
        ("Chat GPT", "ChatGPT"),
        ("ChatGPl — Chromium", "ChatGPT"),  # an OCR slip
        ("whatsapp web", "WhatsApp"),
        ("Discord I #exam-help", "Discord"),
        ("derivativeofx~2sinx-GoogleSearch", "Google Search"),
        ("Exam — ProctorLake", None),
        ("Calculator", None),
        ("Climbing routes near Bergen", None),  # "Bing" only as a whole word
        ("Notes", None),
    ],
)
def test_title_matching(title, expected):
    assert banned_in_title(title) == expected


def test_allowed_list_wins_and_lists_are_per_exam():
    assert banned_in_title("ChatGPT — ProctorLake practice") is None
    assert banned_in_title("Calculator", banned=["Calculator"], allowed=[]) == "Calculator"
    assert not fuzzy_contains("Discord", "")


def test_ocr_flags_banned_windows_and_not_a_page_that_mentions_one():
    frames = [
        render_screen(ScreenSegment(1, "news", "exam"), (1280, 720), seed=1),
        render_screen(ScreenSegment(1, "chatgpt", "exam"), (1280, 720), seed=2),
        render_screen(ScreenSegment(1, "calculator", "whatsapp"), (1280, 720), seed=3),
    ]
    news, chatgpt, whatsapp = analyze_screen_frames(frames, [0.0, 10.0, 20.0])
    assert any("Herald" in t for t in news.titles)  # the title is read...
    assert news.banned_titles == ()  # ...and "ChatGPT" in the body text is not a title
    assert [banned_in_title(t) for t in chatgpt.banned_titles] == ["ChatGPT"]
    assert any("ProctorLake" in t for t in chatgpt.titles)
    assert [banned_in_title(t) for t in whatsapp.banned_titles] == ["WhatsApp"]
    assert whatsapp.confidence > 0.5 and news.confidence == 0.0


def test_an_unchanged_screen_is_read_once_until_it_changes_or_the_safety_net_reads_it():
    exam = render_screen(ScreenSegment(1, "exam"), (1280, 720), seed=4)
    pointer = exam.copy()
    pointer[300:314, 600:603] = 255  # the mouse pointer moved: not a change
    chatgpt = render_screen(ScreenSegment(1, "chatgpt", "exam"), (1280, 720), seed=4)
    frames = [exam, pointer, exam, exam, chatgpt, chatgpt]
    gate = ScreenChangeGate(recheck_every=3)
    observations = analyze_screen_frames_gated(frames, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0], gate)
    assert (gate.read, gate.reused) == (3, 3)  # 0 s, 30 s (safety net), 40 s (new window)
    assert [o.read_at_s for o in observations] == [None, 0.0, 0.0, None, None, 40.0]
    assert [o.reused for o in observations] == [False, True, True, False, False, True]
    assert observations[1].titles == observations[0].titles == observations[3].titles
    assert observations[1].frame_ts == 10.0
    assert observations[5].banned_titles == observations[4].banned_titles != ()
    assert observations[2].banned_titles == ()
