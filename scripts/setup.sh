#!/usr/bin/env bash
# All set-up a fresh machine needs: system packages, the virtualenv, the JVM jars.
# Idempotent and quick when nothing changed (stamps keyed by the files that drive each step).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. System packages: a JDK + Maven (jars, Kafka, Spark) and Debian's chromium (browser tests).
need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v chromium >/dev/null || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  say "installing system packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 2. Python virtualenv with every dependency (torch is large: installed once, then stamped).
stamp=.venv/.proctorlake-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv with $PY"
  "$PY" -m venv .venv
fi
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  say "installing Python dependencies into .venv (first time takes a few minutes)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]'
  # rapidocr pulls opencv-python beside opencv-python-headless; both own cv2/. Keep one.
  if .venv/bin/pip show -q opencv-python >/dev/null 2>&1; then
    ver=$(.venv/bin/pip show opencv-python-headless | awk '/^Version/{print $2}')
    .venv/bin/pip uninstall -q -y opencv-python opencv-python-headless
    .venv/bin/pip install -q --no-deps "opencv-python-headless==$ver"
  fi
  echo "$want" > "$stamp"
fi

# 3. JVM jars from Maven Central into .jars/ (Delta, Spark-Kafka, hadoop-aws, Kafka broker).
say "resolving JVM jars"
.venv/bin/python -m proctorlake.storage.jars >/dev/null
# 4. MediaPipe's face models (Apache-2.0): the .tflite files inside the mediapipe==0.10.21 wheel
#    (later wheels ship none). Only the wheel is fetched, from PyPI; mediapipe itself is never
#    installed (it pins numpy<2). models/face_mesh.py runs them on torch.
say "unpacking MediaPipe face models"
.venv/bin/python -m proctorlake.storage.face_models >/dev/null
say "ready: $ROOT/.venv, $ROOT/.jars, $ROOT/.models"
