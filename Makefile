# Two commands do everything on a fresh Debian machine: `make demo` and `make test`.
PYTHON ?= python3
# The Pulp line to install, test and demo: newest (default), katello-current or oldest; each is a
# constraints file in devtools/pulp_lines/ and gets a virtualenv of its own.
PULP_LINE ?= newest
CONSTRAINTS := devtools/pulp_lines/$(PULP_LINE).txt
VENV ?= $(if $(filter newest,$(PULP_LINE)),.venv,.venv-$(PULP_LINE))
PY := $(VENV)/bin/python

.PHONY: test lint demo demo-stop bench docs system-deps

system-deps:
	@bash devtools/system-deps.sh

$(VENV)/.installed: pyproject.toml setup.py requirements.txt pulp-cli-katello-gateway/pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e '.[test]' -e ./pulp-cli-katello-gateway
	touch $@

# ruff (its banned-api: Pulp's internals only through app/pulp_internals.py), a module map
# that matches the tree (docs/admin/learn/architecture.md), a changelog fragment for each
# product change (CHANGES/README.md) and the next release's notes rendered.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m devtools.check_module_map
	$(PY) -m devtools.check_fragments
	$(VENV)/bin/towncrier build --draft --version next >/dev/null

# Lint, then unit and functional tests against a throwaway PostgreSQL and a real Pulp stack.
# Extra pytest arguments: make test PYTEST_ARGS="-k token -x"; another line: PULP_LINE=oldest
test: system-deps $(VENV)/.installed lint
	$(PY) -m devtools.run_tests $(PYTEST_ARGS)

# sdist and wheel in dist/: twine's metadata check, and no module of the wheel importing what it
# neither ships nor declares.
.PHONY: dist
dist: $(VENV)/.installed
	rm -rf dist
	$(PY) -m build --quiet --outdir dist .
	$(VENV)/bin/twine check --strict dist/*
	$(PY) -m devtools.check_wheel_imports dist/*.whl

# The wheel installed as an admin installs it, next to PULP_LINE's Pulp in a clean virtualenv,
# then migrated and checked (check --deploy) with install.md's settings on a throwaway PostgreSQL.
.PHONY: wheel-check
wheel-check: system-deps dist
	$(PY) -m devtools.wheel_check --line $(PULP_LINE) dist/*.whl

# Pulp + plugin + Katello stand-in on loopback, with a sample image; runs until Ctrl-C.
# Each Pulp line keeps its demo state apart (.demo, .demo-<line>).
DEMO_DIR ?= $(if $(filter newest,$(PULP_LINE)),.demo,.demo-$(PULP_LINE))
demo: system-deps $(VENV)/.installed
	DEMO_DIR=$(DEMO_DIR) $(PY) -m devtools.demo start

demo-stop:
	DEMO_DIR=$(DEMO_DIR) $(PY) -m devtools.demo stop

# Every benchmark next to stock pulp_container (about 175 min on 2 CPUs: 70 of them bench.herd,
# 50 bench.herd_turns, 25 bench.herd_cpu); writes docs/admin/learn/performance.md.
bench: system-deps $(VENV)/.installed
	$(PY) -m bench.report

# The documentation site (mkdocs.yml) into site/, strict: a page left out of the nav, a link or an
# anchor that resolves to nothing, any warning fails the build.
docs: $(VENV)/.docs-installed
	$(VENV)/bin/mkdocs build --strict

$(VENV)/.docs-installed: doc_requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -r doc_requirements.txt
	touch $@
