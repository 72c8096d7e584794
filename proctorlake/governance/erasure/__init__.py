"""GDPR erasure: remove a student's exam data from every store and sign a certificate.

Entry points: :func:`erase` (CLI ``proctorlake erase``), :func:`erase_session` (API
``DELETE /sessions/{session_id}/data``), :func:`verify_certificate_file` (CLI
``proctorlake verify-certificate``), and :func:`plan_erasure` / :func:`execute_plan` for the
Dagster job. See ``runner`` for the order of steps and ``delta_tables`` for the Delta details.
"""

from proctorlake.governance.erasure.certificate import (
    Certificate,
    load_certificate_file,
    verify_certificate,
)
from proctorlake.governance.erasure.commands import verify_certificate_file
from proctorlake.governance.erasure.ids import (
    ErasureError,
    ErasureSessionUnknown,
    MalformedId,
    SessionNotOfStudent,
    UnknownStudent,
)
from proctorlake.governance.erasure.runner import erase, erase_session, execute_plan, plan_erasure

__all__ = [
    "Certificate",
    "ErasureError",
    "MalformedId",
    "SessionNotOfStudent",
    "ErasureSessionUnknown",
    "UnknownStudent",
    "erase",
    "erase_session",
    "execute_plan",
    "load_certificate_file",
    "plan_erasure",
    "verify_certificate",
    "verify_certificate_file",
]
