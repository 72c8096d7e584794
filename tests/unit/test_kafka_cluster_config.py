"""The local Kafka cluster's configuration, as pure functions of the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctorlake.core.settings import load_settings
from proctorlake.core.topics import Replication, replication_for
from proctorlake.storage.broker import (
    broker_paths,
    cluster_nodes,
    is_local_bootstrap,
    server_properties,
)


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return dict(pairs)


@pytest.mark.parametrize(
    ("brokers", "expected"),
    [
        (1, Replication(1, 1)),
        (2, Replication(2, 1)),
        (3, Replication(3, 2)),
        (5, Replication(3, 2)),
    ],
)
def test_three_copies_two_in_sync_from_three_brokers(brokers: int, expected: Replication):
    assert replication_for(brokers) == expected


def test_each_node_has_its_ports_its_folders_and_every_voter(tmp_path: Path):
    settings = load_settings(
        {
            "PROCTORLAKE_HOME": str(tmp_path),
            "PROCTORLAKE_KAFKA_PORT": "19092",
            "PROCTORLAKE_KAFKA_NODES": "3",
        }
    )
    assert settings.kafka_bootstrap == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    assert [(n.port, n.controller_port) for n in cluster_nodes(settings)] == [
        (19092, 19095),
        (19093, 19096),
        (19094, 19097),
    ]
    second = _properties(server_properties(settings, node_id=2))
    assert second["node.id"] == "2"
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:19093,CONTROLLER://127.0.0.1:19096"
    assert second["controller.quorum.voters"] == (
        "1@127.0.0.1:19095,2@127.0.0.1:19096,3@127.0.0.1:19097"
    )
    assert second["log.dirs"] == str(tmp_path / "kafka" / "node-2" / "data")
    assert (second["default.replication.factor"], second["min.insync.replicas"]) == ("3", "2")
    assert second["offsets.topic.replication.factor"] == "3"
    assert broker_paths(settings, 2).pid_file == tmp_path / "run" / "kafka-2.pid"
    assert is_local_bootstrap(settings)
    assert not is_local_bootstrap(
        load_settings({"PROCTORLAKE_KAFKA_NODES": "3", "PROCTORLAKE_KAFKA_BOOTSTRAP": "kafka:9092"})
    )


def test_one_node_keeps_the_layout_of_earlier_homes(tmp_path: Path):
    settings = load_settings({"PROCTORLAKE_HOME": str(tmp_path), "PROCTORLAKE_KAFKA_PORT": "19092"})
    only = _properties(server_properties(settings))
    assert only["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert only["log.dirs"] == str(tmp_path / "kafka" / "data")
    assert (only["default.replication.factor"], only["min.insync.replicas"]) == ("1", "1")
    assert "broker.session.timeout.ms" not in only
    assert broker_paths(settings).pid_file == tmp_path / "run" / "kafka.pid"
