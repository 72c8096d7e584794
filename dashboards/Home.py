"""ProctorLake admin dashboard: ``streamlit run dashboards/Home.py``.

Signed-out visitors see only the sign-in page; a signed-in admin sees the pages below, each
showing only their institution's sessions.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import sign_in
from proctorlake.core.settings import load_settings

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="ProctorLake", page_icon=":material/school:", layout="wide")

admin = sign_in.current_admin(load_settings())
if admin is None:
    pages = [st.Page(sign_in.sign_in_page, title="Sign in", url_path="sign-in")]
else:
    pages = [
        st.Page(
            VIEWS / "overview.py", title="Overview", icon=":material/monitoring:", default=True
        ),
        st.Page(VIEWS / "review_queue.py", title="Review queue", icon=":material/low_priority:"),
        st.Page(
            VIEWS / "session_review.py", title="Session review", icon=":material/video_library:"
        ),
        st.Page(VIEWS / "detector_quality.py", title="Detector quality", icon=":material/target:"),
        st.Page(VIEWS / "accommodations.py", title="Accommodations", icon=":material/accessible:"),
        st.Page(
            VIEWS / "erasure_requests.py",
            title="Erasure requests",
            icon=":material/delete_forever:",
        ),
    ]
    with st.sidebar:
        st.markdown(f"**{admin.user}**  \n{admin.institution_id}")
        if st.button("Sign out"):
            sign_in.sign_out()
            st.rerun()

st.navigation(pages).run()
