"""Unauthorized apps: OCR of rendered desktops, titles only, fuzzy banned/allowed matching."""

from __future__ import annotations

import pytest

from models.screen_apps import analyze_screen_frames, banned_in_title, fuzzy_contains
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
