"""The realtime API (FastAPI): routers per resource, the session registry, frame intake,
recording uploads, live feeds and proctor actions. It owns each exam's policy: workers publish
facts, the API decides what alerts a proctor and what acts on a session."""
