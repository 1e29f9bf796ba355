# welfare-watch: `make demo` to see it work, `make test` to check it. Both begin with `make setup`.
PYTHON ?= python3
VENV := .venv
WW := $(VENV)/bin/welfare-watch
export WW_DATA_DIR ?= $(CURDIR)/.data

.PHONY: setup demo test lint unit stop clean

# Installs everything (virtual environment, Kafka jars, redis-server, and chromium with CJK
# fonts for the browser tests) and starts nothing.
setup: $(VENV)/.installed
	@$(WW) stack install
	@bash scripts/browser.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy welfare_watch streams alerts connectors stack simulate web bench tests

# The whole suite: unit tests, then integration tests on a real Kafka and Redis that the
# tests start once (on their own ports) and stop at the end. No test ran = failure. Two pytest
# processes (pytest-xdist), each with a stack of its own, each taking whole files (a file's
# tests share its fixtures): most of a test is waiting on a worker, Kafka or a browser. Then the
# samples, restart, inbox API and scale-out tests again on a three-master Redis Cluster (its
# own ports): the CLI, connectors, worker and web app on a cluster, and a master losing its last
# writes alone. The samples in one order there (the first pass shows the order makes no
# difference; the cluster is about where keys live).
CLUSTER_TESTS = tests/integration/test_samples.py tests/integration/test_restart.py \
	tests/integration/test_inbox_api.py tests/integration/test_scale_out.py \
	tests/integration/test_node_lost_last_writes.py
test: setup lint
	@$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=25; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	echo "make test: again on Redis Cluster"; \
	WW_TEST_REDIS_CLUSTER=1 WW_TEST_KAFKA=127.0.0.1:29192 \
	WW_TEST_REDIS=redis://127.0.0.1:27379/0 WW_TEST_DATA_DIR=$(CURDIR)/.data/test-cluster \
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=10 -k "not reversed and not payments" \
	$(CLUSTER_TESTS)

unit: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/unit

# The embedded stack, the worker in the background, the sample city loaded, alerts printed.
demo: setup
	@bash scripts/demo.sh

# Stops the demo's worker and the embedded stack.
stop:
	@if [ -f $(WW_DATA_DIR)/worker.pid ]; then \
	  pid=$$(cat $(WW_DATA_DIR)/worker.pid); kill $$pid 2>/dev/null || true; \
	  for i in $$(seq 60); do ps -o stat= -p $$pid 2>/dev/null | grep -qv '^Z' || break; sleep 0.5; done; \
	  rm -f $(WW_DATA_DIR)/worker.pid; fi
	@$(WW) stack down

clean: stop
	rm -rf $(WW_DATA_DIR)
