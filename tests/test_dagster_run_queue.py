"""A 50-session exam window through the local-mode Dagster instance, run queue and all.

The services ``proctorlake up`` starts for Dagster (the webserver and the daemon, on the
instance config of ``dagster_project/instance.py``) run for real. Fifty ended sessions make
the daemon's sensor queue one analysis run per batch of eight consecutive sessions (a range
of partitions); a batch run that fails is split by the failure sensor into one run per
session. The queue never starts more than one Spark run at once (checked on every run
record's start and end times). A retry of a failed run and a back-fill of two partitions
are launched through the webserver's GraphQL API, the calls the UI's buttons make, and land
in the same queue.

The sessions have no recordings, so each analysis fails in its first step within seconds:
the queue, not the analysis, is what is measured here.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dagster_project.instance import SPARK_RUN_TAG
from dagster_project.partitions import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from dagster_project.sensors import SPLIT_FROM_TAG
from proctorlake.app import launchers
from proctorlake.core import schemas
from proctorlake.core.settings import Settings, load_settings
from proctorlake.storage import lake
from tests.fixtures.broker import free_port
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.slow

SESSIONS = [f"window-{i:03d}" for i in range(50)]
PER_RUN = 8
BATCHES = [SESSIONS[i : i + PER_RUN] for i in range(0, len(SESSIONS), PER_RUN)]
JOB = "analyze_session"
IN_FLIGHT = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)

REEXECUTE = """
mutation ($parent: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parent, strategy: FROM_FAILURE}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""

REPOSITORIES = """
{ repositoriesOrError { ... on RepositoryConnection {
    nodes { name location { name } partitionSets { name } } } } }
"""

BACKFILL = """
mutation ($partitions: [String!]!, $repository: String!, $location: String!) {
  launchPartitionBackfill(backfillParams: {
    selector: {
      partitionSetName: "analyze_session_partition_set",
      repositorySelector: {repositoryName: $repository, repositoryLocationName: $location}
    },
    partitionNames: $partitions
  }) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def ended_sessions(settings: Settings, session_ids: list[str]) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "session_id": sid,
            "institution_id": "uni-a",
            "student_id": f"stu-{sid}",
            "exam_id": "exam-1",
            "tier": "ai",
            "status": "ended",
            "created_at": now,
            "started_at": now,
            "ended_at": now,
            "session_date": now.date().isoformat(),
        }
        for sid in session_ids
    ]
    lake.merge_rows(settings, schemas.EXAM_SESSIONS, rows, ["session_id"])


@pytest.fixture
def dagster_services(
    proctorlake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, DagsterInstance]]:
    monkeypatch.setenv("PROCTORLAKE_DAGSTER_PORT", str(free_port()))
    monkeypatch.setenv("PROCTORLAKE_DAGSTER_MAX_CONCURRENT_RUNS", "2")
    monkeypatch.setenv("PROCTORLAKE_DAGSTER_SPARK_RUNS", "1")
    monkeypatch.setenv("PROCTORLAKE_DAGSTER_SESSIONS_PER_RUN", str(PER_RUN))
    settings = load_settings()
    lake.ensure_all_tables(settings)
    ended_sessions(settings, SESSIONS)
    specs = [s for s in launchers.service_specs(settings) if s.name.startswith("dagster")]
    assert [s.name for s in specs] == ["dagster", "dagster-daemon"]
    try:
        for spec in specs:
            launchers.start(settings, spec, timeout_s=300)
        with DagsterInstance.from_config(str(launchers.dagster_home(settings))) as instance:
            yield settings, instance
    finally:
        for spec in reversed(specs):
            launchers.stop(settings, spec)


def graphql(settings: Settings, query: str, **variables: object) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.dagster_port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


def most_at_once(instance: DagsterInstance) -> int:
    """The most Spark-tagged runs that were in flight at one moment, from the run records."""
    now = time.time()
    edges = []
    for record in instance.get_run_records(RunsFilter(tags={SPARK_RUN_TAG: "driver"})):
        if record.start_time is not None:
            edges += [(record.start_time, 1), (record.end_time or now, -1)]
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # an end before a start
        running += step
        peak = max(peak, running)
    return peak


def test_window_of_50_sessions_queues_batched_runs_and_splits_a_failed_one(
    dagster_services,
) -> None:
    settings, instance = dagster_services
    by_sensor = RunsFilter(job_name=JOB, tags={"dagster/sensor_name": "ended_sessions_sensor"})

    runs = wait_until(
        lambda: (found := instance.get_runs(by_sensor)) and len(found) >= len(BATCHES) and found,
        300,
        lambda: f"{len(BATCHES)} sensor runs on the instance (have {len(instance.get_runs())})",
        interval_s=1,
    )
    ranges = sorted(
        (r.tags[PARTITION_RANGE_START_TAG], r.tags[PARTITION_RANGE_END_TAG]) for r in runs
    )
    assert ranges == [(batch[0], batch[-1]) for batch in BATCHES]
    assert all(r.tags[SPARK_RUN_TAG] == "driver" for r in runs)

    failed = wait_until(
        lambda: instance.get_runs(
            RunsFilter(run_ids=[r.run_id for r in runs], statuses=[DagsterRunStatus.FAILURE])
        ),
        300,
        "a batch run of the window finished (it fails: no recordings)",
        interval_s=1,
    )
    in_flight = instance.get_runs(RunsFilter(statuses=list(IN_FLIGHT)))
    assert len(in_flight) <= 1, [r.run_id for r in in_flight]
    assert instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.QUEUED])), "none waits"

    batch = next(b for b in BATCHES if b[0] == failed[0].tags[PARTITION_RANGE_START_TAG])
    alone = wait_until(
        lambda: (
            (found := instance.get_runs(RunsFilter(tags={SPLIT_FROM_TAG: failed[0].run_id})))
            and len(found) == len(batch)
            and found
        ),
        300,
        "the failure sensor's one-session runs for the failed batch",
        interval_s=1,
    )
    assert sorted(r.tags["dagster/partition"] for r in alone) == batch
    assert all(r.tags[SPARK_RUN_TAG] == "driver" for r in alone)  # the same queue limit
    assert all(PARTITION_RANGE_START_TAG not in r.tags for r in alone)

    retry = graphql(settings, REEXECUTE, parent=failed[0].run_id)["launchRunReexecution"]
    assert retry["__typename"] == "LaunchRunSuccess", retry
    retried = instance.get_run_by_id(retry["run"]["runId"])
    assert retried.parent_run_id == failed[0].run_id
    assert retried.tags[SPARK_RUN_TAG] == "driver"  # queued under the same limit

    (repository,) = graphql(settings, REPOSITORIES)["repositoriesOrError"]["nodes"]
    assert "analyze_session_partition_set" in {p["name"] for p in repository["partitionSets"]}
    backfill = graphql(
        settings,
        BACKFILL,
        partitions=SESSIONS[:2],
        repository=repository["name"],
        location=repository["location"]["name"],
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    backfilled = wait_until(
        lambda: (
            (
                found := instance.get_runs(
                    RunsFilter(tags={"dagster/backfill": backfill["backfillId"]})
                )
            )
            and len(found) == 2
            and found
        ),
        300,
        "the back-fill's two runs on the instance",
        interval_s=1,
    )
    assert sorted(r.tags["dagster/partition"] for r in backfilled) == SESSIONS[:2]

    wait_until(
        lambda: (
            len(instance.get_runs(RunsFilter(job_name=JOB, statuses=[DagsterRunStatus.FAILURE])))
            >= 2
        ),
        300,
        "two runs of the window finished one after the other",
        interval_s=1,
    )
    assert most_at_once(instance) == 1
