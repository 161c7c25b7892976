# genoffload — make demo | make test | make bench | make lint
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint install clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev,embedded,server,openai,ollama,drl,torchllm]"
	touch $(STAMP)

install: $(STAMP)

# the demo study (studies/demo.toml: Fig. 5 and the optimality gap, small) and its report;
# a second `make demo` resumes (finished cells are kept). `genoffload demo` still evaluates
# every policy on one scenario.
demo: $(STAMP)
	$(VENV)/bin/genoffload study run demo -o runs/demo --workers 2
	$(VENV)/bin/genoffload report runs/demo -o runs/demo/report.html

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PIP) install --quiet -e ".[bench]"
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy toolkit models studies
	$(PY) .ci/lint_imports.py  # the layers and no cycles (pyproject.toml [tool.importlinter])

clean:
	rm -rf $(VENV) build *.egg-info
