"""Review one session: timeline, video at each incident, frames, actions, identity; decide."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, lakehouse, media, queries, sign_in
from dashboards.formatting import video_clock
from proctorlake.core.settings import load_settings
from proctorlake.services import reviews

admin = sign_in.require_admin()
settings = load_settings()
connection = lakehouse.institution_connection(settings, admin.institution_id)


def decide(incident_id: str, resolution: str) -> None:
    """Button callback: runs before the page re-renders, so the page shows the new state."""
    try:
        reviews.record_review(
            settings, admin.institution_id, incident_id, resolution, reviewer=admin.user
        )
    except reviews.ReviewError as exc:
        st.session_state["review_error"] = str(exc)
    else:
        st.session_state["review_notice"] = f"Incident {incident_id} {resolution}."


def jump_to(incident_id: str) -> None:
    st.session_state["selected_incident"] = incident_id


st.title("Session review")
sessions = queries.sessions_for_review(connection)
if sessions.empty:
    st.info("No exam sessions recorded for this institution yet.")
    st.stop()

session_ids = sessions["session_id"].tolist()
labels = {
    row.session_id: f"{row.session_id} · {row.student_name or row.student_id} · {row.exam_id}"
    f" · {row.pending} pending"
    for row in sessions.itertuples()
}
requested = st.query_params.get("session")
session_id = st.selectbox(
    "Session",
    session_ids,
    index=session_ids.index(requested) if requested in session_ids else 0,
    format_func=labels.__getitem__,
    key="session",
)
st.query_params["session"] = session_id

if notice := st.session_state.pop("review_notice", None):
    st.success(notice)
if error := st.session_state.pop("review_error", None):
    st.error(error)

detail = queries.session_detail(connection, session_id)
incidents = queries.session_incidents(connection, session_id)
chunks = queries.session_chunks(connection, session_id)

suppressed = queries.session_suppressed(connection, session_id)

facts = st.columns(6)
facts[0].metric("Student", detail["student_id"])
facts[1].metric("Exam", detail["exam_id"])
facts[2].metric("Status", detail["status"] or "–")
facts[3].metric("Incidents", len(incidents))
facts[4].metric("Pending", int(incidents["resolution"].isna().sum()))
facts[5].metric(
    "Suppressed",
    int(suppressed["flags"].sum()) if not suppressed.empty else 0,
    help="Flags the student's accommodations suppressed: counted, never raised.",
)
who = " · ".join(str(v) for v in (detail.get("student_name"), detail.get("student_email")) if v)
st.caption(
    f"{who} · exam on {detail['session_date']}" if who else f"Exam on {detail['session_date']}"
)

if not suppressed.empty:
    st.caption(
        "Suppressed by accommodations: "
        + ", ".join(
            f"{r.incident_type} ×{r.flags} ({r.reason}, {video_clock(r.seconds)})"
            for r in suppressed.itertuples()
        )
    )

st.subheader("Identity record")
identity = queries.session_identity(connection, session_id)
if identity.empty:
    st.info("No identity verification on record for this session.")
else:
    st.dataframe(identity, hide_index=True)

if incidents.empty:
    st.info("No incidents in this session.")
else:
    st.subheader("Incident timeline")
    st.altair_chart(charts.incident_timeline(incidents), width="stretch")

    ids = incidents["incident_id"].tolist()
    if st.session_state.get("selected_incident") not in ids:
        st.session_state["selected_incident"] = ids[0]
    selected = incidents.set_index("incident_id").loc[st.session_state["selected_incident"]]

    player, frames = st.columns([3, 2])
    with player:
        st.subheader(f"Video at {video_clock(selected['start_s'])}")
        moment = media.locate(chunks, float(selected["start_s"]))
        video = (
            None if moment is None else media.local_video(settings, session_id, moment.analysis_key)
        )
        if video is None:
            st.info(f"No stored recording covers {video_clock(selected['start_s'])}.")
        else:
            st.video(str(video), start_time=int(moment.offset_s))
            st.caption(
                f"Chunk from {video_clock(moment.chunk_start_s)}, "
                f"playing from {video_clock(moment.offset_s)} into it."
            )
    with frames:
        st.subheader("Sampled frames")
        timestamps = selected["frame_timestamps"]
        times = media.frame_times(
            None if timestamps is None or len(timestamps) == 0 else list(timestamps),
            float(selected["start_s"]),
            float(selected["end_s"]),
        )
        shots = media.thumbnails(settings, session_id, chunks, times)
        if shots:
            st.image(
                [str(path) for _, path in shots],
                caption=[video_clock(t) for t, _ in shots],
                width=150,
            )
        else:
            st.info("No frames available for this incident.")

    st.subheader("Incidents")
    for row in incidents.itertuples():
        status = row.resolution if isinstance(row.resolution, str) else "pending"
        with st.container(border=True):
            about, actions = st.columns([3, 2])
            about.markdown(
                f"**{row.incident_type}** · {row.severity} · confidence {row.confidence:.2f} · "
                f"{video_clock(row.start_s)}–{video_clock(row.end_s)} · **{status}**"
            )
            if status != "pending":
                reviewed_at = pd.Timestamp(row.reviewed_at).strftime("%Y-%m-%d %H:%M UTC")
                about.caption(f"Reviewed by {row.reviewed_by} at {reviewed_at}")
            jump, confirm, dismiss = actions.columns(3)
            jump.button(
                f"▶ {video_clock(row.start_s)}",
                key=f"jump_{row.incident_id}",
                on_click=jump_to,
                args=(row.incident_id,),
            )
            confirm.button(
                "Confirm",
                key=f"confirm_{row.incident_id}",
                on_click=decide,
                args=(row.incident_id, "confirmed"),
                disabled=status == "confirmed",
            )
            dismiss.button(
                "Dismiss",
                key=f"dismiss_{row.incident_id}",
                on_click=decide,
                args=(row.incident_id, "dismissed"),
                disabled=status == "dismissed",
            )

st.subheader("Proctor actions")
actions_on_record = queries.session_actions(connection, session_id)
if actions_on_record.empty:
    st.info("No proctor actions on record for this session.")
else:
    st.dataframe(actions_on_record, hide_index=True)
