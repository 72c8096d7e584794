"""Rules about the product's code itself, checked by reading it (no imports of the rooms)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("proctorlake", "realtime", "models", "spark_jobs", "dagster_project", "dashboards")
THE_PUBLISH_PATH = ROOT / "proctorlake" / "governance" / "sealed_topics.py"


def product_modules() -> list[Path]:
    return sorted(p for room in PRODUCT for p in (ROOT / room).rglob("*.py"))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_only_the_contracts_module_sends_to_kafka():
    """No payload dict is built for Kafka outside the contracts: every ``send(...)`` call in
    the product is in sealed_topics, which accepts typed messages only."""
    senders = []
    for path in product_modules():
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "send"
                and (len(node.args) >= 2 or any(k.arg == "value" for k in node.keywords))
            ):
                senders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert senders and all(
        s.startswith(str(THE_PUBLISH_PATH.relative_to(ROOT))) for s in senders
    ), senders


def test_kafka_clients_are_built_in_one_place():
    allowed = {"proctorlake/storage/kafka_io.py", "proctorlake/storage/kafka_readiness.py"}
    allowed |= {"proctorlake/storage/broker.py"}
    builders = []
    for path in product_modules():
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {
                "KafkaProducer",
                "KafkaConsumer",
            }:
                builders.append(str(path.relative_to(ROOT)))
    assert set(builders) <= allowed, builders


def test_no_two_public_classes_share_a_name():
    where = defaultdict(list)
    for path in product_modules():
        for node in parsed(path).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where[node.name].append(str(path.relative_to(ROOT)))
    clashes = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not clashes, clashes
