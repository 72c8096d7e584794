"""Altair charts for the pages: things a person would rather look at than read."""

from __future__ import annotations

import altair as alt
import pandas as pd

RESOLUTION_COLORS = alt.Scale(
    domain=["pending", "confirmed", "dismissed"], range=["#f2a93b", "#d64545", "#8a9aa9"]
)


def flags_per_hour(hourly: pd.DataFrame) -> alt.Chart:
    """Stacked bars for the hours that had flags (an exam window is a few busy hours)."""
    data = hourly.assign(hour_utc=pd.to_datetime(hourly["hour"]).dt.strftime("%Y-%m-%d %H:00"))
    return (
        alt.Chart(data)
        .mark_bar(size=36)
        .encode(
            x=alt.X("hour_utc:O", title="Hour (UTC)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("flags:Q", title="Flags", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("incident_type:N", title="Type"),
            tooltip=["hour_utc:O", "incident_type:N", "flags:Q"],
        )
    )


def review_backlog(backlog: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(backlog)
        .mark_bar(size=36)
        .encode(
            x=alt.X("session_date:N", title="Session date", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("pending:Q", title="Pending incidents", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("incident_type:N", title="Type"),
            tooltip=["session_date:N", "incident_type:N", "pending:Q"],
        )
    )


def precision_over_time(precision: pd.DataFrame) -> alt.Chart:
    data = precision.assign(period=pd.to_datetime(precision["period"]).dt.strftime("%Y-%m-%d"))
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("period:O", title="Exam date (period start)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("precision:Q", title="Precision", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("detector:N", title="Detector"),
            tooltip=["detector:N", "period:O", "confirmed:Q", "dismissed:Q", "precision:Q"],
        )
    )


def incident_timeline(incidents: pd.DataFrame) -> alt.Chart:
    """One bar per incident from start to end (video seconds), coloured by its resolution."""
    # Incidents last seconds in an hour-long session: draw each at least 0.6% of the span wide.
    sliver = max(2.0, 0.006 * float(incidents["end_s"].max()))
    data = incidents.assign(
        status=incidents["resolution"].fillna("pending"),
        end_shown=incidents[["end_s", "start_s"]]
        .max(axis=1)
        .clip(lower=incidents["start_s"] + sliver),
    )
    return (
        alt.Chart(data)
        .mark_bar(height=14)
        .encode(
            x=alt.X("start_s:Q", title="Video time (s)"),
            x2="end_shown:Q",
            y=alt.Y("incident_type:N", title=None),
            color=alt.Color("status:N", title="Resolution", scale=RESOLUTION_COLORS),
            tooltip=["incident_type:N", "severity:N", "start_s:Q", "end_s:Q", "status:N"],
        )
    )
