"""Detector quality: precision per detector over time, from the incidents reviewers decided."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, lakehouse, queries, sign_in
from dashboards.formatting import share
from proctorlake.core.settings import load_settings

admin = sign_in.require_admin()
connection = lakehouse.institution_connection(load_settings(), admin.institution_id)

st.title("Detector quality")
st.caption(
    "Precision = confirmed / (confirmed + dismissed) among reviewed incidents; pending "
    "incidents do not count."
)

summary = queries.detector_summary(connection)
if summary.empty:
    st.info("No incidents recorded for this institution yet.")
    st.stop()

reviewed = int(summary["confirmed"].sum() + summary["dismissed"].sum())
overall = summary["confirmed"].sum() / reviewed if reviewed else None
totals = st.columns(3)
totals[0].metric("Reviewed incidents", reviewed)
totals[1].metric("Pending incidents", int(summary["pending"].sum()))
totals[2].metric("Overall precision", share(overall))

grain = st.selectbox("Period", ["day", "week", "month"], key="grain")
over_time = queries.detector_precision_over_time(connection, grain)
st.subheader("Precision over time")
if over_time.empty:
    st.info("No reviewed incidents yet: precision appears once reviewers decide.")
else:
    st.altair_chart(charts.precision_over_time(over_time), width="stretch")

st.subheader("Per detector")
percent = st.column_config.NumberColumn("precision", format="percent")
st.dataframe(summary, hide_index=True, column_config={"precision": percent})
with st.expander("Per detector and period (table)"):
    st.dataframe(over_time, hide_index=True, column_config={"precision": percent})
