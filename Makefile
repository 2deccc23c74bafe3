# Two commands do everything on a fresh Debian machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: test lint demo demo-stop bench system-deps

system-deps:
	@bash devtools/system-deps.sh

$(VENV)/.installed: setup.py requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# Lint, then unit and functional tests against a throwaway PostgreSQL and a real Pulp stack.
# Extra pytest arguments: make test PYTEST_ARGS="-k token -x"
test: system-deps $(VENV)/.installed lint
	$(PY) -m devtools.run_tests $(PYTEST_ARGS)

# Pulp + plugin + Katello stand-in on loopback, with a sample image; runs until Ctrl-C.
demo: system-deps $(VENV)/.installed
	$(PY) -m devtools.demo start

demo-stop:
	$(PY) -m devtools.demo stop

# Every benchmark next to stock pulp_container (about 10 min); writes docs/performance.md.
bench: system-deps $(VENV)/.installed
	$(PY) -m bench.report
