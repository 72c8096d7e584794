"""Overview of one institution's exam window: sessions, flags, identity failures, backlog."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, lakehouse, queries, sign_in
from dashboards.formatting import share
from proctorlake.core.settings import load_settings

ALL_EXAMS = "All exams"

admin = sign_in.require_admin()
connection = lakehouse.institution_connection(load_settings(), admin.institution_id)

st.title("Overview")
st.caption(f"Institution {admin.institution_id}")

bounds = queries.session_date_bounds(connection)
if bounds is None:
    st.info("No exam sessions recorded for this institution yet.")
    st.stop()

pick_exam, pick_dates = st.columns(2)
exam = pick_exam.selectbox("Exam", [ALL_EXAMS, *queries.exam_ids(connection)], key="exam")
dates = pick_dates.date_input("Session dates", value=bounds, key="dates")
if not isinstance(dates, tuple) or len(dates) != 2:
    st.info("Pick the last day of the window.")
    st.stop()
window = queries.ExamWindow(dates[0], dates[1], None if exam == ALL_EXAMS else exam)

figures = queries.overview_figures(connection, window)
columns = st.columns(5)
columns[0].metric("Sessions", figures["sessions"])
columns[1].metric("Flags", figures["flags"])
columns[2].metric("Failed identity checks", figures["verification_failures"])
columns[3].metric("Review backlog", figures["review_backlog"])
columns[4].metric(
    "False-flag share",
    share(figures["false_flag_share"]),
    help=f"Dismissed among reviewed incidents ({figures['dismissed']} of {figures['reviewed']}).",
)

hourly = queries.flags_per_hour(connection, window)
backlog = queries.review_backlog(connection, window)
left, right = st.columns(2)
with left:
    st.subheader("Flags per hour by type")
    if hourly.empty:
        st.info("No flags in this window.")
    else:
        st.altair_chart(charts.flags_per_hour(hourly), width="stretch")
with right:
    st.subheader("Review backlog")
    if backlog.empty:
        st.success("Every incident in this window has been reviewed.")
    else:
        st.altair_chart(charts.review_backlog(backlog), width="stretch")

st.subheader("Per exam")
st.dataframe(
    queries.per_exam(connection, window),
    hide_index=True,
    column_config={
        "false_flag_share": st.column_config.NumberColumn("false-flag share", format="percent")
    },
)
with st.expander("Flags per hour (table)"):
    st.dataframe(hourly, hide_index=True)
