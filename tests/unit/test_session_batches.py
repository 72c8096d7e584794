"""Which sessions one Dagster run may carry: consecutive partitions, at most N at a time."""

from dagster_project.runs import consecutive_batches

ORDER = ["a", "b", "c", "d", "e", "f", "g"]


def test_consecutive_partitions_are_cut_into_batches_of_n() -> None:
    assert list(consecutive_batches(ORDER, ORDER, 3)) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]


def test_a_gap_in_the_partition_order_ends_a_batch() -> None:
    # "c" is a partition between them that was not asked for: a range over b..d would run it
    assert list(consecutive_batches(["d", "b", "a", "e"], ORDER, 8)) == [["a", "b"], ["d", "e"]]


def test_one_per_run_and_duplicates() -> None:
    assert list(consecutive_batches(["b", "a", "b"], ORDER, 1)) == [["a"], ["b"]]
