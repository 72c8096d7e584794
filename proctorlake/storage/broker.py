"""The local Apache Kafka cluster in KRaft mode, run from the jars in ``<jars_dir>/kafka``.

``proctorlake up / down / status`` call :func:`start_broker`, :func:`stop_broker` and
:func:`broker_status`. The cluster is ``PROCTORLAKE_KAFKA_NODES`` JVMs (``kafka.Kafka``, one by
default), each both controller and broker, listening on 127.0.0.1 only: node ``i`` (ids from 1)
serves clients on ``kafka_port + i - 1`` and the quorum on ``kafka_controller_port + i - 1``;
every node is a voter of the static quorum. Everything they write stays under
``PROCTORLAKE_HOME``; one node keeps the single-node layout of earlier homes:

- ``<kafka_dir>/data``: the log directory (formatted with ``kafka.tools.StorageTool`` once);
- ``<kafka_dir>/config``: the generated ``server.properties`` and ``log4j2.xml``;
- ``<kafka_dir>/logs``: ``server.log`` (log4j2, rolled at 10 MiB) and ``broker.out`` (stdout and
  stderr of the JVM, where a crash before logging starts ends up);
- ``<run_dir>/kafka.pid``: the PID of the running broker.

With several nodes each has the same three folders under ``<kafka_dir>/node-<id>/`` and its PID
in ``<run_dir>/kafka-<id>.pid``; all are formatted with one cluster id. Topics get three
replicas on three or more nodes and ``min.insync.replicas=2``
(:func:`proctorlake.core.topics.replication_for`), so with producers on ``acks=all`` one node
may die without losing an acknowledged record or refusing a write. A dead node's leaderships
move after ``broker.session.timeout.ms`` (shortened here to a few seconds: loopback nodes on
one machine need no slack for a network). :func:`start_broker` on a cluster with a node down
starts that node again.

Retention: the raw frame topics keep records for 1 hour (and at most 512 MiB a partition),
in 10-minute segments so old ones are actually deleted. Frames are personal data and the
recording itself is kept in the object store, so the stream copy only needs to outlive the
realtime consumers. Event topics keep 7 days, enough to replay into Delta after an outage.

With ``PROCTORLAKE_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT`` and a SCRAM mechanism, the client
listener requires SCRAM authentication; the one user of the settings is added when the storage
is formatted (``--add-scram``), so such a home must be formatted with security on from the
start. TLS is for external clusters only.

When ``PROCTORLAKE_KAFKA_BOOTSTRAP`` points at another cluster, nothing is started or stopped
here: start and status only check that the cluster answers.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from proctorlake.core.settings import Settings
from proctorlake.core.topics import (
    ALL_TOPICS,
    FRAMES_SCREEN,
    FRAMES_WEBCAM,
    Replication,
    Topic,
    replication_for,
)
from proctorlake.storage.file_lock import exclusive_lock
from proctorlake.storage.jars import kafka_classpath
from proctorlake.storage.kafka_security import client_options, connection_options

BROKER_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
# Modest heap: the broker shares a 2-core machine with Spark, Dagster and the API.
JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    # Kafka logs its own shutdown; log4j must not close before it does.
    "-Dlog4j2.shutdownHookEnabled=false",
)
NODE_ID = 1
"""The node id of a single-node cluster (and the first node of any)."""
CLUSTER_SESSION_TIMEOUT_MS = 6000
"""How long a silent node keeps its leaderships in a multi-node cluster (Kafka's default is 9 s)."""
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

FRAME_TOPIC_CONFIG = {
    "retention.ms": str(60 * 60 * 1000),
    "retention.bytes": str(512 * 2**20),
    "segment.ms": str(10 * 60 * 1000),
    # A full-screen JPEG can pass Kafka's 1 MiB default.
    "max.message.bytes": str(8 * 2**20),
}
EVENT_TOPIC_CONFIG = {"retention.ms": str(7 * 24 * 60 * 60 * 1000)}


class BrokerError(RuntimeError):
    """The broker could not be started or reached; the message says where to look."""


@dataclass(frozen=True)
class NodeStatus:
    """One node of the local cluster: its id, client address and PID (None when down)."""

    node_id: int
    address: str
    pid: int | None

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass(frozen=True)
class BrokerStatus:
    """What ``proctorlake status`` shows about Kafka.

    ``managed`` is False when the bootstrap names an external cluster; then ``pid`` and
    ``log_path`` are None and ``running`` means the cluster answered a metadata request.
    For the local cluster ``running`` means every node runs; ``pid`` and ``log_path`` are the
    first node's, ``nodes`` has each node's.
    """

    running: bool
    pid: int | None
    bootstrap: str
    log_path: Path | None
    managed: bool = True
    nodes: tuple[NodeStatus, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "running": self.running,
            "pid": self.pid,
            "bootstrap": self.bootstrap,
            "log_path": str(self.log_path) if self.log_path else None,
            "managed": self.managed,
            "nodes": [
                {"node_id": n.node_id, "address": n.address, "pid": n.pid} for n in self.nodes
            ],
        }


@dataclass(frozen=True)
class BrokerPaths:
    """Where one PROCTORLAKE_HOME keeps its broker's files."""

    data_dir: Path
    config_dir: Path
    logs_dir: Path
    pid_file: Path
    lock_file: Path

    @property
    def server_properties(self) -> Path:
        return self.config_dir / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.config_dir / "log4j2.xml"

    @property
    def server_log(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "broker.out"


@dataclass(frozen=True)
class KafkaNode:
    """One node of the local cluster: combined controller and broker on two loopback ports."""

    node_id: int
    port: int
    controller_port: int
    paths: BrokerPaths

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def broker_paths(settings: Settings, node_id: int = NODE_ID) -> BrokerPaths:
    """The files of one node; a single node keeps the layout of earlier homes."""
    if settings.kafka_nodes == 1:
        root, pid_name = settings.kafka_dir, "kafka.pid"
    else:
        root, pid_name = settings.kafka_dir / f"node-{node_id}", f"kafka-{node_id}.pid"
    return BrokerPaths(
        data_dir=root / "data",
        config_dir=root / "config",
        logs_dir=root / "logs",
        pid_file=settings.run_dir / pid_name,
        lock_file=settings.run_dir / "kafka.lock",
    )


def cluster_nodes(settings: Settings) -> tuple[KafkaNode, ...]:
    """Every node of the local cluster, ids from 1."""
    return tuple(
        KafkaNode(
            node_id=NODE_ID + index,
            port=settings.kafka_port + index,
            controller_port=settings.kafka_controller_port + index,
            paths=broker_paths(settings, NODE_ID + index),
        )
        for index in range(settings.kafka_nodes)
    )


def cluster_replication(settings: Settings) -> Replication:
    """The replication of the local cluster's topics (one copy per node, up to three)."""
    return replication_for(settings.kafka_nodes)


def is_local_bootstrap(settings: Settings) -> bool:
    """True when the bootstrap names only nodes this module runs (loopback, their ports)."""
    servers = [server.strip() for server in settings.kafka_bootstrap.split(",") if server.strip()]
    ports = {str(node.port) for node in cluster_nodes(settings)}
    if not servers:
        return False
    for server in servers:
        host, _, port = server.rpartition(":")
        if host.strip("[]") not in LOCAL_HOSTS or port not in ports:
            return False
    return True


def topic_config(topic: Topic) -> dict[str, str]:
    """Per-topic settings: short retention for raw frames, a week for events."""
    if topic in (FRAMES_WEBCAM, FRAMES_SCREEN):
        return dict(FRAME_TOPIC_CONFIG)
    return dict(EVENT_TOPIC_CONFIG)


def scram_enabled(settings: Settings) -> bool:
    """True when the local broker's client listener requires SASL/SCRAM (else PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return False
    client_options(settings)  # a half-configured setting fails here with its name
    mechanism = settings.kafka_sasl_mechanism or ""
    if protocol != "SASL_PLAINTEXT" or not mechanism.startswith("SCRAM-"):
        raise BrokerError(
            f"the local broker runs PLAINTEXT or SASL_PLAINTEXT with SCRAM, not {protocol} "
            f"{mechanism}; for TLS point PROCTORLAKE_KAFKA_BOOTSTRAP at a cluster that has it"
        )
    for value in (settings.kafka_sasl_username, settings.kafka_sasl_password):
        if any(char in str(value) for char in ',="[]\\'):
            raise BrokerError("the local broker's SCRAM user and password may not hold ,=\"[]\\")
    return True


def _listener_properties(settings: Settings, node: KafkaNode) -> dict[str, str]:
    port, controller_port = node.port, node.controller_port
    client = "SASL_PLAINTEXT" if scram_enabled(settings) else "PLAINTEXT"
    lines = {
        "listeners": f"{client}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"{client}://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": client,
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{client}:{client}",
    }
    if client == "SASL_PLAINTEXT":
        mechanism = str(settings.kafka_sasl_mechanism)
        lines["sasl.enabled.mechanisms"] = mechanism
        lines["sasl.mechanism.inter.broker.protocol"] = mechanism
        # The broker closes a refused login's connection after this delay (Kafka's default is
        # 100 ms); one second slows password guessing. A busy client may see only the close,
        # not the refusal (seen here under load): kafka_security reports both as a refusal.
        lines["connection.failed.authentication.delay.ms"] = "1000"
        lines[f"listener.name.sasl_plaintext.{mechanism.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{settings.kafka_sasl_username}" '
            f'password="{settings.kafka_sasl_password}";'
        )
    return lines


def server_properties(settings: Settings, node_id: int = NODE_ID) -> str:
    """One node's configuration: a combined controller+broker on loopback, every node of the
    cluster a voter."""
    nodes = cluster_nodes(settings)
    node = nodes[node_id - NODE_ID]
    replication = cluster_replication(settings)
    factor, min_insync = str(replication.factor), str(replication.min_insync)
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        # Static voters: the controller address is not written into the metadata log, so a
        # home can be restarted on other ports.
        "controller.quorum.voters": ",".join(
            f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes
        ),
        **_listener_properties(settings, node),
        "log.dirs": str(node.paths.data_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "default.replication.factor": factor,
        "min.insync.replicas": min_insync,
        "offsets.topic.replication.factor": factor,
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": min_insync,
        "transaction.state.log.num.partitions": "6",
        "share.coordinator.state.topic.replication.factor": factor,
        "share.coordinator.state.topic.min.isr": min_insync,
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "log.retention.hours": "168",
        "log.retention.check.interval.ms": "60000",
    }
    if len(nodes) > 1:
        lines["broker.session.timeout.ms"] = str(CLUSTER_SESSION_TIMEOUT_MS)
        lines["broker.heartbeat.interval.ms"] = str(CLUSTER_SESSION_TIMEOUT_MS // 8)
    header = (
        "# Generated by proctorlake.storage.broker on every start; edit settings, not this file.\n"
    )
    return header + "".join(f"{key}={value}\n" for key, value in lines.items())


def log4j_config(settings: Settings, node_id: int = NODE_ID) -> str:
    """log4j2 configuration: everything to ``server.log``, rolled by size, nothing to stdout."""
    log = broker_paths(settings, node_id).server_log
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <RollingFile name="server" fileName="{log}" filePattern="{log}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="10 MB"/></Policies>
      <DefaultRolloverStrategy max="5"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="org.apache.kafka.controller" level="info"/>
    <Root level="info"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
"""


def broker_status(settings: Settings) -> BrokerStatus:
    """Whether this home's broker runs (by PID), or whether the external cluster answers."""
    if not is_local_bootstrap(settings):
        return BrokerStatus(
            running=_metadata_answers(settings, timeout_s=5.0),
            pid=None,
            bootstrap=settings.kafka_bootstrap,
            log_path=None,
            managed=False,
        )
    nodes = tuple(
        NodeStatus(node.node_id, node.address, _running_pid(node.paths))
        for node in cluster_nodes(settings)
    )
    return BrokerStatus(
        running=all(node.running for node in nodes),
        pid=nodes[0].pid,
        bootstrap=settings.kafka_bootstrap,
        log_path=broker_paths(settings).server_log,
        nodes=nodes,
    )


def start_broker(settings: Settings, timeout_s: float = START_TIMEOUT_S) -> BrokerStatus:
    """Start the broker if it is not running, wait until healthy, create the project's topics.

    Idempotent: a running broker of this home is reported, not started twice (its topics are
    still checked); of a cluster, only the nodes that are down are started. A PID file whose
    process is gone, or now belongs to another program, is removed. Storage is formatted on
    the first start only, every node with the cluster's one id.
    """
    if not is_local_bootstrap(settings):
        if not _metadata_answers(settings, timeout_s=min(timeout_s, 15.0)):
            raise BrokerError(f"the Kafka cluster at {settings.kafka_bootstrap} does not answer")
        return broker_status(settings)
    nodes = cluster_nodes(settings)
    for node in nodes:
        paths = node.paths
        for folder in (paths.data_dir, paths.config_dir, paths.logs_dir, paths.pid_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(nodes[0].paths.lock_file):
        down = [node for node in nodes if _running_pid(node.paths) is None]
        jvms = {node.node_id: _prepare(settings, node) for node in down}
        # Each format is a JVM start of several seconds: the nodes are formatted side by side.
        _format_storage(settings, [(node, jvms[node.node_id]) for node in down])
        launched: list[tuple[KafkaNode, int, int]] = []
        for node in down:
            log_offset = _file_size(node.paths.server_log)
            launched.append((node, _spawn(node, jvms[node.node_id]), log_offset))
        # A quorum forms only once most voters run: every node is launched before any wait.
        if launched:
            _wait_healthy(settings, launched, timeout_s)
        _ensure_topics_settled(settings, timeout_s)
    return broker_status(settings)


def _ensure_topics_settled(settings: Settings, timeout_s: float) -> None:
    """``ensure_topics``, asked again while a young cluster still settles: its metadata may
    name a controller that a client cannot reach yet (UnknownBrokerIdError, seen at start)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ensure_topics(settings)
            return
        except KafkaError:
            if settings.kafka_nodes == 1 or time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def stop_broker(settings: Settings, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop this home's broker: SIGTERM (controlled shutdown), SIGKILL after ``timeout_s``.

    Returns True when a broker was running and is now stopped, False when there was none (an
    external cluster is never stopped from here). The PID file is removed either way. The
    nodes of a cluster are signalled together: one stopped alone would wait for a quorum that
    the others, stopping next, no longer form.
    """
    if not is_local_bootstrap(settings):
        return False
    nodes = cluster_nodes(settings)
    if not nodes[0].paths.pid_file.parent.is_dir():
        return False
    with exclusive_lock(nodes[0].paths.lock_file):
        running = [(node, pid) for node in nodes if (pid := _running_pid(node.paths)) is not None]
        if not running:
            return False
        _terminate([pid for _, pid in running], timeout_s)
        for node, _ in running:
            node.paths.pid_file.unlink(missing_ok=True)
        return True


def ensure_topics(settings: Settings) -> None:
    """Create every topic of the contract that is missing; add partitions to short ones."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="proctorlake-broker",
        **connection_options(settings),
    )
    try:
        existing = _partition_counts(admin)
        replication = cluster_replication(settings)
        missing = [
            NewTopic(
                topic.name,
                topic.partitions,
                replication.factor,
                topic_configs=topic_config(topic)
                | {"min.insync.replicas": str(replication.min_insync)},
            )
            for topic in ALL_TOPICS
            if topic.name not in existing
        ]
        if missing:
            # Another caller may create them in between: the goal is reached all the same.
            with suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, timeout_ms=30_000, wait_for_metadata=True)
        short = {
            topic.name: NewPartitions(topic.partitions)
            for topic in ALL_TOPICS
            if topic.name in existing and existing[topic.name] < topic.partitions
        }
        if short:
            admin.create_partitions(short, timeout_ms=30_000)
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient) -> dict[str, int]:
    names = [name for name in admin.list_topics() if not name.startswith("__")]
    if not names:
        return {}
    return {item["name"]: len(item["partitions"]) for item in admin.describe_topics(names)}


def _prepare(settings: Settings, node: KafkaNode) -> list[str]:
    """Write the node's configuration; the JVM command line to run its tools with."""
    paths = node.paths
    _refuse_busy_port(node.port)
    _refuse_busy_port(node.controller_port)
    # It may hold the SCRAM password: readable by this user only.
    paths.server_properties.touch(mode=0o600)
    paths.server_properties.chmod(0o600)
    paths.server_properties.write_text(server_properties(settings, node.node_id))
    paths.log4j_config.write_text(log4j_config(settings, node.node_id))
    java = _java()
    classpath = kafka_classpath(settings)
    jvm = [
        java,
        *JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={paths.log4j_config}",
        f"-Dkafka.logs.dir={paths.logs_dir}",
        "-cp",
        classpath,
    ]
    formatted = (paths.data_dir / "meta.properties").exists()
    if formatted and scram_enabled(settings) and _scram_user(paths) != settings.kafka_sasl_username:
        raise BrokerError(
            f"the broker storage in {paths.data_dir} was formatted without SCRAM credentials "
            f"for {settings.kafka_sasl_username!r}; start from a fresh PROCTORLAKE_HOME"
        )
    return jvm


def _spawn(node: KafkaNode, jvm: list[str]) -> int:
    """Start the node's JVM, detached, and record its PID."""
    paths = node.paths
    with paths.console_log.open("ab") as console:
        process = subprocess.Popen(
            [*jvm, BROKER_MAIN_CLASS, str(paths.server_properties)],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            cwd=paths.logs_dir,
            start_new_session=True,
        )
    paths.pid_file.write_text(f"{process.pid}\n")
    return process.pid


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, as Kafka's own tool makes them.

    Redrawn while it starts with '-': one id in 64 does, and the storage tool's argument
    parser then reads it as an option ("--cluster-id: expected one argument").
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _scram_user_file(paths: BrokerPaths) -> Path:
    return paths.config_dir / "scram-user"


def _scram_user(paths: BrokerPaths) -> str | None:
    try:
        return _scram_user_file(paths).read_text().strip()
    except OSError:
        return None


def _cluster_id(settings: Settings) -> str:
    """The id a node is formatted with: the one an already formatted node has, else new."""
    for node in cluster_nodes(settings):
        try:
            text = (node.paths.data_dir / "meta.properties").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id" and value.strip():
                return value.strip()
    return new_cluster_id()


def _format_storage(settings: Settings, nodes: list[tuple[KafkaNode, list[str]]]) -> None:
    """Format every node of ``nodes`` not formatted yet, all at once, with one cluster id."""
    unformatted = [
        (node, jvm) for node, jvm in nodes if not (node.paths.data_dir / "meta.properties").exists()
    ]
    if not unformatted:
        return
    cluster_id = _cluster_id(settings)
    scram = []
    if scram_enabled(settings):
        user, password = settings.kafka_sasl_username, settings.kafka_sasl_password
        scram = [
            "--add-scram",
            f"{settings.kafka_sasl_mechanism}=[name={user},password={password}]",
        ]
    running = [
        (
            node,
            subprocess.Popen(
                [
                    *jvm,
                    STORAGE_TOOL_CLASS,
                    "format",
                    "--config",
                    str(node.paths.server_properties),
                    f"--cluster-id={cluster_id}",
                    "--ignore-formatted",
                    *scram,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
        for node, jvm in unformatted
    ]
    failures = []
    for node, process in running:
        try:
            output, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if process.returncode != 0:
            output = output.replace(str(settings.kafka_sasl_password), "***")
            failures.append(
                f"formatting Kafka storage in {node.paths.data_dir} failed:\n"
                f"{output.strip()[-2000:]}"
            )
        elif scram:
            _scram_user_file(node.paths).write_text(f"{settings.kafka_sasl_username}\n")
    if failures:
        raise BrokerError("\n".join(failures))


def _wait_healthy(
    settings: Settings, launched: list[tuple[KafkaNode, int, int]], timeout_s: float
) -> None:
    """Wait until every node of the cluster is registered as a broker (one answering is not
    enough: a topic with three replicas cannot be created on two)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for node, pid, log_offset in launched:
            if not _pid_alive(pid):
                paths = node.paths
                paths.pid_file.unlink(missing_ok=True)
                _terminate([other for _, other, _ in launched if other != pid], STOP_TIMEOUT_S)
                raise BrokerError(
                    f"Kafka node {node.node_id} exited during start; see {paths.server_log} and "
                    f"{paths.console_log}:\n{_tail(paths.console_log)}"
                    f"{_start_errors(paths.server_log, log_offset)}"
                )
        if _metadata_answers(settings, timeout_s=5.0, brokers=settings.kafka_nodes):
            return
        time.sleep(0.5)
    _terminate([pid for _, pid, _ in launched], STOP_TIMEOUT_S)
    errors = ""
    for node, _, log_offset in launched:
        node.paths.pid_file.unlink(missing_ok=True)
        errors += f"{node.paths.server_log}:\n{_start_errors(node.paths.server_log, log_offset)}"
    raise BrokerError(
        f"the Kafka cluster did not answer on {settings.kafka_bootstrap} with "
        f"{settings.kafka_nodes} broker(s) within {timeout_s:.0f} s and was stopped; see {errors}"
    )


def _metadata_answers(settings: Settings, timeout_s: float, brokers: int = 1) -> bool:
    """True when the cluster answers a metadata request listing at least ``brokers`` brokers
    (a cheap TCP probe of the bootstrap servers goes first: one of them must accept)."""
    bootstrap = settings.kafka_bootstrap
    if not any(_accepts(server.strip(), timeout_s) for server in bootstrap.split(",")):
        return False
    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="proctorlake-health",
            request_timeout_ms=timeout_ms,
            **connection_options(settings),
        )
    except KafkaError:
        return False
    try:
        return len(admin.describe_cluster().get("brokers") or ()) >= brokers
    except KafkaError:
        return False
    finally:
        admin.close()


def _accepts(server: str, timeout_s: float) -> bool:
    host, _, port = server.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _running_pid(paths: BrokerPaths) -> int | None:
    """The PID in the PID file if it is this home's broker; a stale file is removed."""
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        paths.pid_file.unlink(missing_ok=True)
        return None
    if _pid_alive(pid) and _is_our_broker(pid, paths):
        return pid
    paths.pid_file.unlink(missing_ok=True)
    return None


def _is_our_broker(pid: int, paths: BrokerPaths) -> bool:
    """A reused PID belongs to another program: only trust a kafka.Kafka on our config."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        done = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        )
        command_line = done.stdout
        return BROKER_MAIN_CLASS in command_line and str(paths.server_properties) in command_line
    decoded = [argument.decode(errors="replace") for argument in arguments]
    return BROKER_MAIN_CLASS in decoded and str(paths.server_properties) in decoded


def _pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _terminate(pids: list[int], timeout_s: float) -> None:
    """SIGTERM every process at once, then SIGKILL those still alive after ``timeout_s``."""
    alive = list(pids)
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
        for pid in alive:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _pid_alive(pid)]
            if alive:
                time.sleep(0.2)
        if not alive:
            return
    raise BrokerError(f"Kafka broker pid(s) {alive} did not stop, even after SIGKILL")


def _refuse_busy_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise BrokerError(
                f"port {port} on 127.0.0.1 is already in use by another program; choose "
                "other ports with PROCTORLAKE_KAFKA_PORT / PROCTORLAKE_KAFKA_CONTROLLER_PORT"
            ) from error


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise BrokerError(
            "no 'java' on PATH: Kafka needs a JDK 17+ (apt-get install openjdk-17-jdk)"
        )
    return found


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "".join(f"  {line}\n" for line in text)


def _start_errors(log: Path, offset: int, limit: int = 10) -> str:
    """The ERROR/FATAL lines this start wrote (the cause), else the log's last lines."""
    try:
        with log.open("rb") as handle:
            handle.seek(offset if offset <= _file_size(log) else 0)
            written = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    errors: list[str] = []
    for index, line in enumerate(written):
        if " ERROR " in line or " FATAL " in line:
            # The exception message follows on its own line(s), before the "\tat" frames.
            cause = [text for text in written[index + 1 : index + 4] if text[:1] not in "[\t"]
            errors.extend(text[:400] for text in (line, *cause))
    return "".join(f"  {line}\n" for line in errors[:limit]) if errors else _tail(log)
