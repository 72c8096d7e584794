"""JVM jars from Maven Central, resolved with ``mvn`` from ``jars/pom.xml`` into ``jars_dir``.

One folder per classpath, so they never meet: ``<jars_dir>/spark`` (handed to Spark with
``spark.jars``, on top of pyspark's own jars), ``<jars_dir>/s3`` (hadoop-aws and the AWS SDK
bundle, added to ``spark.jars`` only for S3 storage: Spark copies every jar of ``spark.jars``
into each session's temp folder, and the bundle alone is 650 MiB) and ``<jars_dir>/kafka`` (a
runnable Kafka broker).
A stamp file records the hash of the poms and the jars they produced, so a second call with
unchanged poms returns at once without starting Maven.

Run ``python -m proctorlake.storage.jars`` to resolve by hand (``--force`` to resolve again).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from proctorlake.core.settings import REPO_ROOT, Settings, load_settings
from proctorlake.storage.file_lock import exclusive_lock

POM_DIR = REPO_ROOT / "jars"
JAR_SETS = ("spark", "s3", "kafka")
STAMP_NAME = "resolved.json"
MVN_TIMEOUT_S = 1800

# "spark-sql-kafka-0-10_2.13-4.2.0.jar" -> "spark-sql-kafka-0-10_2.13": the version is the
# first dash-separated part that starts with digits and a dot.
_VERSION_PART = re.compile(r"^\d+(\.\d+)+")
_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


class JarResolutionError(RuntimeError):
    """Maven is missing, or a jar did not resolve; the message says which."""


@dataclass(frozen=True)
class JarSets:
    """The resolved jars, sorted by file name, and whether Maven ran for this call."""

    spark: tuple[Path, ...]
    s3: tuple[Path, ...]
    kafka: tuple[Path, ...]
    resolved_now: bool


def pom_digest(pom_dir: Path = POM_DIR) -> str:
    """SHA-256 over every pom: any edit to them means the jars must be resolved again."""
    digest = hashlib.sha256()
    for pom in (pom_dir / "pom.xml", *(pom_dir / name / "pom.xml" for name in JAR_SETS)):
        digest.update(pom.relative_to(pom_dir).as_posix().encode())
        digest.update(pom.read_bytes())
    return digest.hexdigest()


def artifact_name(jar_file_name: str) -> str:
    """The artifact id of a jar file named ``<artifact>-<version>[-classifier].jar``."""
    parts = jar_file_name.removesuffix(".jar").split("-")
    for index, part in enumerate(parts[1:], start=1):
        if _VERSION_PART.match(part):
            return "-".join(parts[:index])
    return "-".join(parts)


def pyspark_jars_dir() -> Path | None:
    """The jars folder of the installed pyspark, found without importing pyspark."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return None
    jars = Path(next(iter(spec.submodule_search_locations))) / "jars"
    return jars if jars.is_dir() else None


def resolve_jars(settings: Settings, force: bool = False, pom_dir: Path = POM_DIR) -> JarSets:
    """Resolve both jar sets into ``settings.jars_dir``; fast when the stamp is current.

    Maven writes into a staging folder first, so an interrupted or failed run never leaves a
    half-filled ``spark`` or ``kafka`` folder behind. A file lock serialises concurrent callers.
    """
    jars_dir = settings.jars_dir
    jars_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(jars_dir / ".lock"):
        digest = pom_digest(pom_dir)
        if not force:
            current = _read_stamp(jars_dir, digest)
            if current is not None:
                return current
        _run_maven(pom_dir, jars_dir, digest)
        stamped = _read_stamp(jars_dir, digest)
        if stamped is None:
            raise JarResolutionError(f"jars resolved but the stamp in {jars_dir} is unreadable")
        return JarSets(stamped.spark, stamped.s3, stamped.kafka, resolved_now=True)


def spark_jars(settings: Settings, include_s3: bool | None = None) -> list[Path]:
    """The jars to hand to Spark's ``spark.jars``: Delta and the Kafka connector, plus
    hadoop-aws with the AWS SDK when ``include_s3`` (default: when the storage backend is S3)."""
    jar_sets = resolve_jars(settings)
    if include_s3 is None:
        include_s3 = settings.storage_backend == "s3"
    return [*jar_sets.spark, *(jar_sets.s3 if include_s3 else ())]


def kafka_classpath(settings: Settings) -> str:
    """The ``java -cp`` value that runs the Kafka broker and its tools."""
    return os.pathsep.join(str(jar) for jar in resolve_jars(settings).kafka)


def _read_stamp(jars_dir: Path, digest: str) -> JarSets | None:
    stamp = jars_dir / STAMP_NAME
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if recorded.get("pom_sha256") != digest:
        return None
    sets = {
        name: tuple(jars_dir / name / jar for jar in recorded.get(name, [])) for name in JAR_SETS
    }
    if not all(sets.values()) or not all(jar.is_file() for jars in sets.values() for jar in jars):
        return None
    return JarSets(sets["spark"], sets["s3"], sets["kafka"], resolved_now=False)


def _run_maven(pom_dir: Path, jars_dir: Path, digest: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarResolutionError(
            "Maven ('mvn') is not on PATH; install it (Debian: apt-get install maven) "
            "and a JDK 17+, then run: python -m proctorlake.storage.jars"
        )
    staging = jars_dir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(pom_dir / "pom.xml"),
        "dependency:copy-dependencies",
        f"-Djars.dir={staging}",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=MVN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise JarResolutionError(f"mvn did not finish within {MVN_TIMEOUT_S} s") from error
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise JarResolutionError(
            f"mvn could not resolve the jars of {pom_dir / 'pom.xml'}:\n"
            + _maven_errors(done.stdout)
        )
    listing: dict[str, list[str]] = {}
    for name in JAR_SETS:
        folder = staging / name
        jars = sorted(path.name for path in folder.glob("*.jar")) if folder.is_dir() else []
        if not jars:
            raise JarResolutionError(f"mvn succeeded but copied no jar into {folder}")
        listing[name] = jars
    _refuse_pyspark_duplicates([*listing["spark"], *listing["s3"]])
    for name in JAR_SETS:
        target = jars_dir / name
        shutil.rmtree(target, ignore_errors=True)
        (staging / name).rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    stamp = {"pom_sha256": digest, **listing}
    (jars_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")


def _refuse_pyspark_duplicates(spark_jar_names: list[str]) -> None:
    """Two versions of one library on Spark's classpath fail late and obscurely: fail now."""
    pyspark_jars = pyspark_jars_dir()
    if pyspark_jars is None:
        return
    shipped = {artifact_name(jar.name) for jar in pyspark_jars.glob("*.jar")}
    clashes = sorted(name for name in spark_jar_names if artifact_name(name) in shipped)
    if clashes:
        raise JarResolutionError(
            "these jars duplicate libraries pyspark already ships in "
            f"{pyspark_jars}: {', '.join(clashes)}; exclude them in jars/spark/pom.xml "
            "or jars/s3/pom.xml"
        )


def _maven_errors(output: str) -> str:
    """Maven's own error lines, without its colour codes and its generic advice."""
    lines = [_ANSI_CODE.sub("", line).strip() for line in output.splitlines()]
    errors = [line for line in lines if line.startswith("[ERROR]")]
    # The cause comes first; an empty "[ERROR]" line separates it from the boilerplate.
    cause = errors[: errors.index("[ERROR]")] if "[ERROR]" in errors else errors[:8]
    return "\n".join(cause or lines[-20:])


def _folder_mib(jars: tuple[Path, ...]) -> float:
    return sum(jar.stat().st_size for jar in jars) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m proctorlake.storage.jars", description="Resolve ProctorLake's JVM jars."
    )
    parser.add_argument("--force", action="store_true", help="resolve again even if stamped")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    settings = load_settings()
    started = time.monotonic()
    try:
        jar_sets = resolve_jars(settings, force=args.force)
    except JarResolutionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    summary = {
        "jars_dir": str(settings.jars_dir),
        "resolved_now": jar_sets.resolved_now,
        "seconds": round(elapsed, 2),
        **{
            name: {"jars": len(jars), "mib": round(_folder_mib(jars), 1)}
            for name, jars in (
                ("spark", jar_sets.spark),
                ("s3", jar_sets.s3),
                ("kafka", jar_sets.kafka),
            )
        },
    }
    if args.json:
        print(json.dumps(summary))
    else:
        state = "resolved" if jar_sets.resolved_now else "already resolved"
        print(
            f"jars {state} in {elapsed:.1f} s under {settings.jars_dir}: "
            + ", ".join(
                f"{name} {summary[name]['jars']} jars ({summary[name]['mib']} MiB)"
                for name in JAR_SETS
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
