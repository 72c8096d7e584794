"""The `lti` router (owned by the identity/LTI work; routes are added there)."""

from fastapi import APIRouter

router = APIRouter()
