"""A student's accommodations for one exam: set them, see every change (the audit trail)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import lakehouse, queries, sign_in
from proctorlake.core.accommodations import MAX_BREAKS, Accommodation, AccommodationError, describe
from proctorlake.core.ids import InvalidId, is_valid_id
from proctorlake.core.settings import load_settings
from proctorlake.core.vocabulary import DETECTED_INCIDENT_TYPES
from proctorlake.services import accommodations

admin = sign_in.require_admin()
settings = load_settings()
connection = lakehouse.institution_connection(settings, admin.institution_id)
TYPES = [t.value for t in DETECTED_INCIDENT_TYPES]

st.title("Accommodations")
st.caption(
    "Per student and exam. A flag an accommodation suppresses is counted on the session's "
    "review page, never raised; breaks are taken from the exam page."
)
known_exams = queries.exam_ids(connection)
exam_id = st.selectbox("Exam", known_exams, accept_new_options=True, key="acc_exam")
student_id = st.text_input("Student id", key="acc_student").strip()
if not exam_id or not student_id:
    st.info("Choose an exam and enter a student id.")
    st.stop()
if not (is_valid_id(exam_id) and is_valid_id(student_id)):
    st.error("Exam and student ids use letters, digits, '.', '_' or '-'.")
    st.stop()

history = accommodations.accommodation_history(settings, admin.institution_id, exam_id, student_id)
current = history[-1].accommodation if history else Accommodation()
st.markdown(f"**Current:** {describe(current)}")

with st.form("accommodation"):
    exempt = st.multiselect("Exempt detectors", TYPES, default=list(current.exempt_incident_types))
    breaks_allowed = st.number_input(
        "Breaks allowed", 0, MAX_BREAKS, current.breaks_allowed, step=1
    )
    break_minutes = st.number_input(
        "Minutes per break", 1, 60, max(1, round(current.break_max_s / 60)), step=1
    )
    st.markdown("Per-detector thresholds: flags shorter than this are not raised (0 = off).")
    thresholds = {
        t: st.number_input(
            f"{t} (seconds)", 0, 3600, int(current.min_duration_s.get(t, 0)), key=f"thr_{t}"
        )
        for t in TYPES
    }
    saved = st.form_submit_button("Save accommodations")

if saved:
    try:
        accommodation = Accommodation(
            tuple(exempt),
            int(breaks_allowed),
            float(break_minutes) * 60,
            {t: float(s) for t, s in thresholds.items() if s},
        )
        accommodations.set_accommodation(
            settings, admin.institution_id, exam_id, student_id, accommodation, admin.user
        )
    except (AccommodationError, InvalidId, ValueError) as exc:
        st.error(str(exc))
    else:
        st.success(f"Saved for {student_id} in {exam_id}: {describe(accommodation)}.")
        history = accommodations.accommodation_history(
            settings, admin.institution_id, exam_id, student_id
        )

st.subheader("Changes")
if not history:
    st.info("No accommodations set for this student and exam.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {"set_at": c.set_at, "set_by": c.set_by, "accommodation": describe(c.accommodation)}
                for c in reversed(history)
            ]
        ),
        hide_index=True,
    )
