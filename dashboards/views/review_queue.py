"""Sessions to review, most urgent first, each with the reasons its score adds up from."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import lakehouse, queries, sign_in
from proctorlake.core.settings import load_settings
from proctorlake.services.review_queue import rank_sessions

admin = sign_in.require_admin()
settings = load_settings()
connection = lakehouse.institution_connection(settings, admin.institution_id)

st.title("Review queue")
st.caption(
    "Score = severity weight (high 30, medium 15, low 5) × confidence, summed over the "
    "session's unreviewed incidents. It only orders the queue and never acts: decide on the "
    "Session review page; decisions leave the queue and feed the false-flag share."
)
pending = queries.pending_incidents(connection)
if pending.empty:
    st.success("Nothing waits for review.")
    st.stop()

if len(pending) >= queries.QUEUE_MAX_INCIDENTS:
    st.warning(
        f"More than {queries.QUEUE_MAX_INCIDENTS} unreviewed incidents: the queue ranks the "
        "most recent sessions' only."
    )
entries = rank_sessions(pending.to_dict("records"))
sessions = pending.drop_duplicates("session_id").set_index("session_id")
queue = pd.DataFrame(
    [
        {
            "rank": rank,
            "session": e.session_id,
            "student": sessions.loc[e.session_id, "student_name"]
            or sessions.loc[e.session_id, "student_id"],
            "exam": sessions.loc[e.session_id, "exam_id"],
            "score": e.score,
            "pending": e.pending,
            "reasons": e.reasons,
            "open": f"session_review?session={e.session_id}",
        }
        for rank, e in enumerate(entries, start=1)
    ]
)
st.dataframe(
    queue,
    hide_index=True,
    column_config={
        "score": st.column_config.NumberColumn(format="%.1f"),
        "open": st.column_config.LinkColumn("open", display_text="Review"),
    },
)
