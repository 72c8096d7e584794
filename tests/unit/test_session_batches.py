"""Which sessions one Dagster run may carry: consecutive partitions, at most N at a time."""

import pytest

from dagster_project.runs import consecutive_batches

ORDER = ["a", "b", "c", "d", "e", "f", "g"]


def test_consecutive_partitions_are_cut_into_batches_of_n() -> None:
    assert list(consecutive_batches(ORDER, ORDER, 3)) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]


def test_a_gap_in_the_partition_order_ends_a_batch() -> None:
    # "c" is a partition between them that was not asked for: a range over b..d would run it
    assert list(consecutive_batches(["d", "b", "a", "e"], ORDER, 8)) == [["a", "b"], ["d", "e"]]


def test_one_per_run_and_duplicates() -> None:
    assert list(consecutive_batches(["b", "a", "b"], ORDER, 1)) == [["a"], ["b"]]


def test_the_sensor_asks_range_runs_for_new_sessions_and_a_plain_run_for_a_lone_one() -> None:
    from dagster_project.partitions import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
    from dagster_project.sensors import batch_run_requests

    requests = batch_run_requests(["c", "d", "e", "f"], ["a", "b"], 3)
    assert [r.run_key for r in requests] == ["analyze-c..e", "analyze-f"]
    assert requests[0].partition_key is None
    assert requests[0].tags[PARTITION_RANGE_START_TAG] == "c"
    assert requests[0].tags[PARTITION_RANGE_END_TAG] == "e"
    assert requests[0].tags["proctorlake/sessions"] == "c,d,e"
    assert requests[1].partition_key == "f" and PARTITION_RANGE_START_TAG not in requests[1].tags


def test_a_failed_batch_is_split_into_the_sessions_it_covered() -> None:
    from dagster_project.partitions import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
    from dagster_project.sensors import BATCH_SESSIONS_TAG, sessions_of_batch

    ranged = {PARTITION_RANGE_START_TAG: "b", PARTITION_RANGE_END_TAG: "d"}
    assert sessions_of_batch(ranged, ORDER) == ["b", "c", "d"]
    # the sensor's own batches name their sessions: an end erased since is no loss
    tagged = ranged | {BATCH_SESSIONS_TAG: "b,c,d"}
    assert sessions_of_batch(tagged, ["a", "c", "d"]) == ["c", "d"]
    assert (
        sessions_of_batch({PARTITION_RANGE_START_TAG: "b", PARTITION_RANGE_END_TAG: "b"}, ORDER)
        == []
    )
    assert sessions_of_batch({"dagster/partition": "b"}, ORDER) == []
    with pytest.raises(LookupError, match="no partition"):
        sessions_of_batch(ranged, ["a", "c", "d"])
