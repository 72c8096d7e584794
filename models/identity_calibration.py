"""Calibrate the same-person distance threshold and report FAR/FRR on held-out people.

Run ``python -m models.identity_calibration [--json]``. People are split into two halves;
the threshold is chosen on one half (minimising FAR + FRR) and its error rates are reported
on the other half, then the halves swap, so no reported figure comes from the data that
chose its threshold. The final threshold is the one chosen on all pairs.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

import numpy as np

from models.embeddings import detect_and_embed, paired_distances, pairwise_distances
from models.identity_pairs import FacePhoto, build_photos


@dataclass(frozen=True)
class Embedded:
    person: str
    photo: str
    vector: np.ndarray


@dataclass(frozen=True)
class ErrorRates:
    threshold: float
    same_pairs: int
    different_pairs: int
    false_rejects: int
    false_accepts: int

    @property
    def frr(self) -> float:
        return self.false_rejects / self.same_pairs if self.same_pairs else 0.0

    @property
    def far(self) -> float:
        return self.false_accepts / self.different_pairs if self.different_pairs else 0.0


def embed_photos(photos: list[FacePhoto]) -> tuple[list[Embedded], list[str]]:
    """The best face of each photo; photos where no face is found are listed, not hidden."""
    embedded, missed = [], []
    for photo in photos:
        faces = detect_and_embed(photo.image)
        if faces:
            embedded.append(Embedded(photo.person, photo.photo, faces[0].vector))
        else:
            missed.append(f"{photo.person}/{photo.photo}")
    return embedded, missed


def pair_distances(items: list[Embedded]) -> tuple[np.ndarray, np.ndarray]:
    """Distances of all same-person pairs and all different-person pairs among ``items``."""
    i, j = np.triu_indices(len(items), k=1)
    vectors = np.stack([item.vector for item in items])
    distances = paired_distances(vectors[i], vectors[j])
    people = np.array([item.person for item in items])
    same = people[i] == people[j]
    return distances[same], distances[~same]


def error_rates(same: np.ndarray, different: np.ndarray, threshold: float) -> ErrorRates:
    return ErrorRates(
        threshold=float(threshold),
        same_pairs=len(same),
        different_pairs=len(different),
        false_rejects=int((same > threshold).sum()),
        false_accepts=int((different <= threshold).sum()),
    )


# A false accept lets someone else sit the exam; a false reject only sends the student to a
# human reviewer (verification never blocks outright). So the threshold is the most lenient
# one whose false accept rate stays within this target on the tuning pairs.
MAX_FALSE_ACCEPT_RATE = 0.001


def choose_threshold(
    same: np.ndarray, different: np.ndarray, max_far: float = MAX_FALSE_ACCEPT_RATE
) -> float:
    """The largest threshold on a 0.01 grid whose FAR is at most ``max_far``."""
    grid = np.round(np.arange(0.30, 0.80, 0.01), 2)
    allowed = [float(t) for t in grid if error_rates(same, different, float(t)).far <= max_far]
    if not allowed:
        raise ValueError(f"no threshold keeps FAR within {max_far}")
    return max(allowed)


def split_people(items: list[Embedded]) -> tuple[list[Embedded], list[Embedded]]:
    """Two disjoint halves of people (the carphone clip is split by time, not by person)."""
    first, second = [], []
    for item in items:
        if item.person == "carphone":
            half = int(item.photo.removeprefix("frame")) < 60
        elif item.person.startswith("lfw"):
            half = int(item.person[3:]) % 2 == 0
        else:
            half = item.person == "astronaut"
        (first if half else second).append(item)
    return first, second


def calibrate(seed: int = 7, lfw_count: int = 100) -> dict:
    items, missed = embed_photos(build_photos(seed=seed, lfw_count=lfw_count))
    halves = split_people(items)
    held_out = []
    for name, (tune, test) in {
        "second_half": halves,
        "first_half": halves[::-1],
    }.items():
        threshold = choose_threshold(*pair_distances(tune))
        rates = error_rates(*pair_distances(test), threshold)
        held_out.append({"tested_on": name, **asdict(rates), "far": rates.far, "frr": rates.frr})
    same, different = pair_distances(items)
    threshold = choose_threshold(same, different)
    overall = error_rates(same, different, threshold)
    table = [
        {**asdict(rates), "far": rates.far, "frr": rates.frr}
        for t in (0.35, 0.40, 0.45, 0.50, 0.55, 0.60)
        for rates in [error_rates(same, different, t)]
    ]
    full_resolution = [i for i in items if not i.person.startswith("lfw")]
    lfw_vectors = [i for i in items if i.person.startswith("lfw")]
    cross = pairwise_distances(
        np.stack([i.vector for i in full_resolution]), np.stack([i.vector for i in lfw_vectors])
    ).ravel()
    among_full = pair_distances(full_resolution)[1]
    return {
        "photos_embedded": len(items),
        "photos_without_face": missed,
        "people": len({item.person for item in items}),
        "threshold": threshold,
        "held_out": held_out,
        "all_pairs": {**asdict(overall), "far": overall.far, "frr": overall.frr},
        "table": table,
        "closest_different_full_resolution": float(among_full.min()),
        "closest_full_resolution_to_lfw": float(cross.min()),
        "same_distance_range": [float(same.min()), float(same.max())],
        "different_distance_range": [float(different.min()), float(different.max())],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lfw", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(calibrate(args.seed, args.lfw), indent=2))


if __name__ == "__main__":
    main()
