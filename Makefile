# hsi_blind_fusion: `make demo` and `make test` install whatever a fresh Debian 12 machine lacks.
SHELL := /bin/bash
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
export PATH := $(VENV)/bin:$(PATH)
export QT_QPA_PLATFORM := offscreen
export QGIS_PLUGINPATH := $(ROOT)/.qgis/plugins
export QGIS_CUSTOM_CONFIG_PATH := $(ROOT)/.qgis/profile
export PYTHONPATH := $(ROOT)/.qgis/plugins
export PYTHONUNBUFFERED := 1
export OMP_NUM_THREADS ?= $(shell nproc)

.PHONY: setup test test-core demo benchmark zip screenshots translations clean

setup:
	@bash scripts/setup.sh

test: setup
	$(PY) -m pytest -q tests

test-core: setup
	$(PY) -m pytest -q tests -k "not qgis"

demo: setup
	$(PY) scripts/demo.py --out $(ROOT)/demo-output

benchmark: setup
	$(PY) benchmarks/quality.py

zip:
	python3 scripts/build_zip.py --out $(ROOT)/dist

screenshots: setup
	$(PY) scripts/screenshots.py

# i18n/hsi_blind_fusion.ts (the template) and the .qm of every translation; needs pylupdate5 and
# lrelease (Debian: apt install pyqt5-dev-tools qttools5-dev-tools)
translations:
	$(PY) scripts/translations.py

clean:
	rm -rf demo-output .pytest_cache
