# decoding-gpt-autograder: `make build` builds every unit, `make test` runs the suite.
# Both create the virtual environment (.venv) on first use.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
UNITS  ?=  # empty: every unit in autograder/units/

.DEFAULT_GOAL := help
.PHONY: help venv build notebooks test grade audit bench clean lock

help:  ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  Variables: UNIT=<unit> SUBMISSIONS='<files, folders or Gradescope exports>' OUT=<dir> JOBS=<n> FORCE=1 (for grade)"

$(VENV)/.installed: requirements.txt requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	touch $@

venv: $(VENV)/.installed  ## Create .venv with every pinned dependency.

build: venv  ## Build every unit (or UNITS=...): gradescope/dist/<unit>/{autograder.zip,student.zip}.
	$(PY) -m autograder build $(UNITS)

notebooks: venv  ## Regenerate every stub notebook (assignments/<unit>/<unit>.ipynb) from its make_notebook.py.
	$(PY) -m autograder notebooks $(UNITS)

test: venv  ## Run the whole test suite.
	$(PY) -m pytest

grade: venv  ## Grade a class locally: make grade UNIT=softmax SUBMISSIONS="export.zip a.ipynb" [OUT=grades] [JOBS=2] [FORCE=1]
	@test -n "$(UNIT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade UNIT=<unit> SUBMISSIONS='<files>' [OUT=<dir>] [JOBS=N] [FORCE=1]"; exit 2; }
	$(PY) -m autograder grade $(UNIT) $(SUBMISSIONS) --out $(or $(OUT),grades/$(UNIT)) --jobs $(or $(JOBS),1) $(if $(FORCE),--force)

audit: venv  ## Mutation-test every unit's hidden checks (or UNITS=...): reports in audit-report/.
	$(PY) -m autograder audit $(UNITS) --out $(or $(OUT),audit-report)

bench: venv build  ## Benchmarks: grading time and memory, against `otter run`.
	$(PY) -m autograder.bench
	$(PY) -m autograder.bench --class
	$(PY) -m autograder.bench --gradescope

clean:  ## Remove build output, caches and .venv.
	rm -rf $(VENV) gradescope/dist gradescope/build grades audit-report .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

lock: venv  ## Re-pin requirements.lock from the current .venv.
	{ echo '# Every package of .venv, pinned (pip freeze). Regenerate with `make lock`.'; \
	  $(PY) -m pip freeze | sed 's/+cpu//'; } > requirements.lock
