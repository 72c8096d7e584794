"""Every setting ProctorLake reads, in one place.

All values come from environment variables prefixed ``PROCTORLAKE_``; local defaults need no
configuration. Pointing the same code at a Kafka cluster, a Spark cluster and S3 is a matter of
setting these variables only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "PROCTORLAKE_"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """A snapshot of the configuration; build one with :func:`load_settings`."""

    home: Path
    storage_backend: str  # "local" or "s3"
    s3_endpoint: str | None
    s3_bucket: str
    s3_region: str
    s3_access_key: str | None
    s3_secret_key: str | None
    kafka_bootstrap: str
    kafka_port: int
    kafka_controller_port: int
    # Local KRaft nodes `proctorlake up` runs: node i listens on kafka_port + i (clients) and
    # kafka_controller_port + i (the quorum), i = 0 .. kafka_nodes - 1.
    kafka_nodes: int
    spark_master: str
    spark_shuffle_partitions: int
    api_host: str
    api_port: int
    dagster_port: int
    dashboard_port: int
    jars_dir: Path
    # MediaPipe's face models (.tflite), unpacked from the mediapipe wheel by scripts/setup.sh.
    models_dir: Path
    chunk_seconds: int
    retention_days: int
    signing_key_path: Path
    # JSON file of LTI 1.3 platform registrations (see proctorlake/services/lti.py); None = no LMS.
    lti_platforms_path: Path | None = None
    # A Spark Connect server to attach to ("sc://host:port"); empty = Spark in this process.
    spark_remote: str = ""
    # The port of the local Connect server `proctorlake up` starts.
    spark_connect_port: int = 15002
    # Torch device override ("cuda", "cuda:1", "cpu"); empty = a GPU when present, else CPU.
    torch_device: str = ""
    # JSON file of dashboard admins: {user: {"password_hash": ..., "institution_id": ...}}.
    admin_users_path: Path | None = None
    # JSON file of per-institution retention: {"institutions": {id: {"retention_days": N}}}.
    retention_policy_path: Path | None = None
    # Realtime API limits (security review #7, #11); defaults sit well above what the demo and
    # the bench send: ~1.1 frames/s per session plus a segment every few seconds.
    student_requests_per_s: float = 5.0  # sustained rate per session token
    staff_requests_per_s: float = 50.0  # per proctor/admin token (the live page polls thumbnails)
    request_burst: int = 40  # requests a token may send at once above its rate
    sse_streams_per_token: int = 4  # concurrent event streams one token may hold open
    max_segment_bytes: int = 64 * 1024 * 1024  # one recording upload, checked while streaming
    session_chunk_quota_bytes: int = 8 * 1024**3  # all stored recording of one session
    session_idle_timeout_s: int = 2 * 3600  # an open session with no upload this long ends
    session_max_duration_s: int = 12 * 3600  # an open session older than this ends
    ended_session_grace_s: int = 300  # ended sessions' cached state is kept this long
    session_cache_cap: int = 10_000  # cached ended sessions / per-session entries (LRU)
    stream_ticket_ttl_s: int = 30  # a single-use ticket for opening one event stream
    # Kafka client security (see proctorlake/storage/kafka_security.py); PLAINTEXT = none.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    # How long a Kafka client tries to reach the cluster when it starts before it gives up
    # ("Unable to bootstrap", or a refused login explained by kafka_security).
    kafka_bootstrap_timeout_s: float = 30.0
    # Media gateway (Janus, see proctorlake/storage/gateway.py): HTTP API port, the first of
    # 1,000 RTP ports, and the interfaces ICE gathers on (Janus never gathers on loopback: "lo"
    # matches nothing, and libnice then gathers on every interface; see gateway.py).
    # Not 8088: a Debian host with systemd runs the packaged janus.service there.
    gateway_port: int = 8090
    gateway_rtp_port_low: int = 20000
    gateway_ice_interfaces: str = "lo"
    # Where Spark writes its event log (a folder or an s3a:// prefix; empty = none): the
    # history server and the cluster test read which executor ran each task from it.
    spark_event_log_dir: str = ""
    # Dagster's run queue (dagster_project/instance.py): runs at once, and of those the runs
    # that hold a Spark driver (one local[2] analysis fills this 2-core machine).
    dagster_max_concurrent_runs: int = 4
    dagster_spark_runs: int = 1
    # Sessions analysed together in one run by ``analyze_in_dagster`` (the demo's window,
    # benches): one Spark job over all their chunks, the fixed cost of a run paid once.
    dagster_sessions_per_run: int = 8

    @property
    def lake_root(self) -> str:
        """Root URI of the Delta tables: a local folder or an ``s3a://`` prefix."""
        if self.storage_backend == "s3":
            return f"s3a://{self.s3_bucket}/lake"
        return str(self.home / "lake")

    @property
    def objects_root(self) -> Path:
        """Local object store root (used when the backend is ``local``)."""
        return self.home / "objects"

    @property
    def upload_tmp_dir(self) -> Path:
        """Where uploads are streamed to disk before they are stored (not the system temp)."""
        return self.home / "tmp" / "uploads"

    @property
    def run_dir(self) -> Path:
        """PID files, logs and other run state of locally started services."""
        return self.home / "run"

    @property
    def lti_tool_key_path(self) -> Path:
        """The LTI tool's RSA private key (its public half is served at ``/lti/jwks``)."""
        return self.home / "keys" / "lti_tool_rsa.pem"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    def table_uri(self, table: str) -> str:
        return f"{self.lake_root}/{table}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (default: the process environment); call again
    after changing it (tests do)."""
    environ = os.environ if environ is None else environ

    def _env(name: str, default: str) -> str:
        return environ.get(PREFIX + name, default)

    home = Path(_env("HOME", str(Path.cwd() / ".proctorlake"))).resolve()
    kafka_port = int(_env("KAFKA_PORT", "9092"))
    kafka_nodes = int(_env("KAFKA_NODES", "1"))
    if kafka_nodes < 1:
        raise ValueError(f"PROCTORLAKE_KAFKA_NODES must be 1 or more, not {kafka_nodes}")
    local_bootstrap = ",".join(f"127.0.0.1:{kafka_port + i}" for i in range(kafka_nodes))
    return Settings(
        home=home,
        storage_backend=_env("STORAGE", "local"),
        s3_endpoint=environ.get(PREFIX + "S3_ENDPOINT"),
        s3_bucket=_env("S3_BUCKET", "proctorlake"),
        s3_region=_env("S3_REGION", "us-east-1"),
        s3_access_key=environ.get(PREFIX + "S3_ACCESS_KEY"),
        s3_secret_key=environ.get(PREFIX + "S3_SECRET_KEY"),
        kafka_bootstrap=_env("KAFKA_BOOTSTRAP", local_bootstrap),
        kafka_port=kafka_port,
        kafka_controller_port=int(_env("KAFKA_CONTROLLER_PORT", str(kafka_port + kafka_nodes))),
        kafka_nodes=kafka_nodes,
        spark_master=_env("SPARK_MASTER", "local[2]"),
        spark_shuffle_partitions=int(_env("SPARK_SHUFFLE_PARTITIONS", "4")),
        api_host=_env("API_HOST", "127.0.0.1"),
        api_port=int(_env("API_PORT", "8000")),
        dagster_port=int(_env("DAGSTER_PORT", "3000")),
        dashboard_port=int(_env("DASHBOARD_PORT", "8501")),
        jars_dir=Path(_env("JARS_DIR", str(REPO_ROOT / ".jars"))).resolve(),
        models_dir=Path(_env("MODELS_DIR", str(REPO_ROOT / ".models"))).resolve(),
        chunk_seconds=int(_env("CHUNK_SECONDS", "300")),
        retention_days=int(_env("RETENTION_DAYS", str(2 * 365))),
        signing_key_path=Path(_env("SIGNING_KEY", str(home / "keys" / "signing_ed25519.pem"))),
        lti_platforms_path=Path(lti) if (lti := _env("LTI_PLATFORMS", "")) else None,
        spark_remote=_env("SPARK_REMOTE", ""),
        spark_connect_port=int(_env("SPARK_CONNECT_PORT", "15002")),
        torch_device=_env("TORCH_DEVICE", ""),
        admin_users_path=Path(_env("ADMIN_USERS", str(home / "admin_users.json"))),
        retention_policy_path=Path(_env("RETENTION_POLICY", str(home / "retention_policy.json"))),
        student_requests_per_s=float(_env("STUDENT_REQUESTS_PER_S", "5")),
        staff_requests_per_s=float(_env("STAFF_REQUESTS_PER_S", "50")),
        request_burst=int(_env("REQUEST_BURST", "40")),
        sse_streams_per_token=int(_env("SSE_STREAMS_PER_TOKEN", "4")),
        max_segment_bytes=int(_env("MAX_SEGMENT_BYTES", str(64 * 1024 * 1024))),
        session_chunk_quota_bytes=int(_env("SESSION_CHUNK_QUOTA_BYTES", str(8 * 1024**3))),
        session_idle_timeout_s=int(_env("SESSION_IDLE_TIMEOUT_S", str(2 * 3600))),
        session_max_duration_s=int(_env("SESSION_MAX_DURATION_S", str(12 * 3600))),
        ended_session_grace_s=int(_env("ENDED_SESSION_GRACE_S", "300")),
        session_cache_cap=int(_env("SESSION_CACHE_CAP", "10000")),
        stream_ticket_ttl_s=int(_env("STREAM_TICKET_TTL_S", "30")),
        kafka_security_protocol=_env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
        kafka_sasl_mechanism=_env("KAFKA_SASL_MECHANISM", "").upper() or None,
        kafka_sasl_username=_env("KAFKA_SASL_USERNAME", "") or None,
        kafka_sasl_password=_env("KAFKA_SASL_PASSWORD", "") or None,
        kafka_ssl_cafile=Path(cafile) if (cafile := _env("KAFKA_SSL_CAFILE", "")) else None,
        kafka_ssl_certfile=Path(cert) if (cert := _env("KAFKA_SSL_CERTFILE", "")) else None,
        kafka_ssl_keyfile=Path(key) if (key := _env("KAFKA_SSL_KEYFILE", "")) else None,
        kafka_bootstrap_timeout_s=float(_env("KAFKA_BOOTSTRAP_TIMEOUT_S", "30")),
        gateway_port=int(_env("GATEWAY_PORT", "8090")),
        gateway_rtp_port_low=int(_env("GATEWAY_RTP_PORT_LOW", "20000")),
        gateway_ice_interfaces=_env("GATEWAY_ICE_INTERFACES", "lo"),
        spark_event_log_dir=_env("SPARK_EVENT_LOG_DIR", ""),
        dagster_max_concurrent_runs=int(_env("DAGSTER_MAX_CONCURRENT_RUNS", "4")),
        dagster_spark_runs=int(_env("DAGSTER_SPARK_RUNS", "1")),
        dagster_sessions_per_run=max(1, int(_env("DAGSTER_SESSIONS_PER_RUN", "8"))),
    )
