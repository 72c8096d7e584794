# The two commands: `make demo` runs a sample exam window end to end; `make test` runs the tests.
# Both do every set-up step themselves (scripts/setup.sh is idempotent).
.PHONY: setup demo test test-fast test-unit test-cluster lint up down ui

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/proctorlake demo $(DEMO_ARGS)

test: setup
	bash scripts/test.sh

test-fast: setup
	.venv/bin/python -m pytest -m "not slow" -q

# Pure functions and tiny inputs only (no broker, no servers; one local[1] Spark session).
test-unit:
	.venv/bin/python -m pytest tests/unit -q -p no:cacheprovider

# Off one machine: a Spark standalone cluster (master + 2 workers) and Dagster's run queue with
# its daemon (both also run in `make test`).
test-cluster: setup
	.venv/bin/python -m pytest tests/test_spark_cluster.py tests/test_dagster_run_queue.py -q -p no:cacheprovider

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

up: setup
	.venv/bin/proctorlake up

down:
	.venv/bin/proctorlake down

ui: setup
	DAGSTER_HOME=$${PROCTORLAKE_HOME:-$$PWD/.proctorlake}/dagster .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000
