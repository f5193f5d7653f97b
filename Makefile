# The two commands of the README: `make run` and `make test`.
# Both create the pinned environment in .venv first if it is absent or stale.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-from-lock
CONFIG ?= config/config.yaml
CORES ?= all
LA := $(shell sed -n 's/^la: *//p' $(CONFIG))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: run test lint format lock dry-run

$(STAMP): requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip==26.3
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@# LightGBM's wheel loads the system's OpenMP runtime, which a minimal Debian lacks.
	@$(VENV)/bin/python -c "import lightgbm" 2>/dev/null || { echo "LightGBM cannot load the OpenMP runtime: install the Debian package libgomp1 (sudo apt-get install libgomp1), then run make again." >&2; exit 1; }
	touch $(STAMP)

run: $(STAMP)
	snakemake --cores $(CORES) --configfile $(CONFIG)
	snakemake --cores 1 --configfile $(CONFIG) --report results/$(LA)/snakemake_report.html

dry-run: $(STAMP)
	snakemake --cores $(CORES) --configfile $(CONFIG) --dry-run

test: $(STAMP)
	pytest

lint: $(STAMP)
	ruff check .
	ruff format --check .
	snakefmt --check .
	snakemake --lint

format: $(STAMP)
	ruff format .
	snakefmt .

lock: $(STAMP)
	$(VENV)/bin/python -m pip freeze --exclude-editable | grep -v -E '^(pip|setuptools)==' > requirements.lock.new
	mv requirements.lock.new requirements.lock
