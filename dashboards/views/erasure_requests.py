"""Erasure requests of the institution and their signed certificates."""

from __future__ import annotations

import json

import streamlit as st

from dashboards import lakehouse, queries, sign_in
from proctorlake.core.settings import Settings, load_settings
from proctorlake.governance.erasure.certificate import Certificate, verify_certificate

admin = sign_in.require_admin()
settings = load_settings()
connection = lakehouse.institution_connection(settings, admin.institution_id)


def certificate_check(
    settings: Settings, certificate_json: str | None, signature: str | None
) -> str:
    """valid | INVALID | none | unverifiable (no signing key in this installation)."""
    if not certificate_json or not signature:
        return "none"
    if not settings.signing_key_path.exists():
        return "unverifiable"  # verifying must never mint a new key as a side effect
    try:
        certificate = Certificate(json.loads(certificate_json), signature, public_key="")
    except ValueError:
        return "INVALID"
    return "valid" if verify_certificate(certificate, settings) else "INVALID"


st.title("Erasure requests")
requests = queries.erasure_requests(connection)
if requests.empty:
    st.info("No erasure requests for this institution.")
    st.stop()

requests["certificate"] = [
    certificate_check(settings, row.certificate_json, row.signature)
    for row in requests.itertuples()
]
counts = st.columns(4)
counts[0].metric("Requests", len(requests))
counts[1].metric("Completed", int((requests["status"] == "completed").sum()))
counts[2].metric("Pending", int((requests["status"] == "pending").sum()))
counts[3].metric("Invalid certificates", int((requests["certificate"] == "INVALID").sum()))

st.dataframe(
    requests[
        [
            "request_id",
            "session_id",
            "student_id_hash",
            "requested_at",
            "completed_at",
            "status",
            "certificate",
        ]
    ],
    hide_index=True,
)

st.subheader("Certificate")
request_id = st.selectbox("Request", requests["request_id"].tolist(), key="request")
chosen = requests.set_index("request_id").loc[request_id]
if not chosen["certificate_json"]:
    st.info("No certificate yet: the erasure has not completed.")
else:
    verdict = chosen["certificate"]
    if verdict == "valid":
        st.success("Signature valid for this installation's signing key.")
    elif verdict == "INVALID":
        st.error("Signature does NOT match the certificate: it was altered or signed elsewhere.")
    else:
        st.warning("No signing key here to check the signature against.")
    try:
        st.json(json.loads(chosen["certificate_json"]))
    except ValueError:
        st.code(chosen["certificate_json"])
    st.caption(f"Signature: `{chosen['signature']}`")
    st.download_button(
        "Download certificate",
        chosen["certificate_json"],
        file_name=f"erasure-certificate-{request_id}.json",
        mime="application/json",
    )
