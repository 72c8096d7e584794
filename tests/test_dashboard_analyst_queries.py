"""The example queries in docs/analyst.md, taken from the document and run through the CLI.

Parsing the SQL out of the document means the doc and this test cannot drift apart; running
them through `proctorlake sql --json -c` checks the command analysts actually use. Expected
values follow from the rows listed in tests/fixtures/lakehouse.py (both institutions).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ANALYST_DOC = Path(__file__).resolve().parents[1] / "docs" / "analyst.md"


def documented_queries() -> dict[str, str]:
    """{section heading: SQL} for every ```sql block that follows a ### heading."""
    text = ANALYST_DOC.read_text(encoding="utf-8")
    return {
        heading.strip(): sql.strip()
        for heading, sql in re.findall(
            r"^### (.+?)\n(?:(?!^### ).)*?```sql\n(.*?)```", text, flags=re.S | re.M
        )
    }


def run_sql(query: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "proctorlake.app.cli", "sql", "--json", "-c", query],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


EXPECTED = {
    "Flags per exam": [
        {
            "institution_id": "uni-north",
            "exam_id": "calc-101",
            "sessions": 3,
            "flags": 7,
            "high_severity": 4,
            "flags_per_session": 2.33,
        },
        {
            "institution_id": "uni-south",
            "exam_id": "hist-110",
            "sessions": 3,
            "flags": 3,
            "high_severity": 2,
            "flags_per_session": 1.0,
        },
        {
            "institution_id": "uni-north",
            "exam_id": "phys-201",
            "sessions": 1,
            "flags": 2,
            "high_severity": 2,
            "flags_per_session": 2.0,
        },
    ],
    "Repeat offenders": [
        {
            "student_id": "s-ana",
            "institution_id": "uni-north",
            "sessions_with_confirmed_incidents": 2,
            "confirmed_incidents": 4,
            "exams": ["calc-101", "phys-201"],
        },
    ],
    "Detector precision": [
        {
            "detector": "face_not_visible",
            "confirmed": 2,
            "dismissed": 2,
            "pending": 0,
            "precision": 0.5,
        },
        {
            "detector": "gaze_away",
            "confirmed": 1,
            "dismissed": 1,
            "pending": 2,
            "precision": 0.5,
        },
        {
            "detector": "multiple_faces",
            "confirmed": 2,
            "dismissed": 0,
            "pending": 2,
            "precision": 1.0,
        },
    ],
    "Time to review": [
        {"exam_id": "calc-101", "reviewed": 4, "median_hours": 2.5, "slowest_hours": 24.0},
        {"exam_id": "hist-110", "reviewed": 2, "median_hours": 3.0, "slowest_hours": 5.0},
        {"exam_id": "phys-201", "reviewed": 2, "median_hours": 14.0, "slowest_hours": 24.0},
    ],
}


def test_the_document_has_exactly_the_tested_queries():
    assert sorted(documented_queries()) == sorted(EXPECTED)


@pytest.mark.parametrize("heading", sorted(EXPECTED))
def test_documented_query_answers(lakehouse, heading):
    assert run_sql(documented_queries()[heading]) == EXPECTED[heading]
