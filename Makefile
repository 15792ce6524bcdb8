# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv, installs the Python package, the pinned Node tooling (package-lock.json)
# and, when run as root, the Debian packages the tests need.

VENV  ?= .venv
PY    := $(VENV)/bin/python
PYSTAMP   := $(VENV)/.installed
NODESTAMP := node_modules/.installed

.PHONY: demo test install system-deps clean

install: $(PYSTAMP) $(NODESTAMP)

$(PYSTAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

$(NODESTAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-deps:
	bash scripts/system-deps.sh

demo: install system-deps
	$(VENV)/bin/gpuflow-bot demo

test: install system-deps
	bash scripts/run-tests.sh

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
