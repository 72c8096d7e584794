"""ProctorLake's shared package, in layers (each imports only the layers below it; see
``[tool.importlinter]`` in pyproject.toml): ``core`` (settings, ids, schemas, topics, messages),
``storage`` (object store, Delta lake, Kafka, Maven jars, Spark session, video files),
``governance`` (keys, signing, retention, legal holds, erasure), ``services`` (ingest, reports,
analysis and the other operations the API, the CLI and the dashboard share) and ``app`` (the
``proctorlake`` command, the demo, the service launchers).
"""
