"""Operations shared by the API routers, the CLI and the dashboard (ingest, recording quality,
reports, file analysis): one implementation each, whoever calls it."""
