# Fresh Debian 12 machine -> everything. `make test` and `make demo` run `setup` first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export RAY_AUTH_MODE := disabled
export RAY_USAGE_STATS_ENABLED := 0
export RAY_ENABLE_UV_RUN_RUNTIME_ENV := 0
export TOKENIZERS_PARALLELISM := false

# (gcc, libc6-dev: uv compiles the renderer's C kernels when it builds the package)
APT_PACKAGES := libpango-1.0-0 libpangocairo-1.0-0 libcairo2 fontconfig \
                fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji gcc libc6-dev
UV_VERSION := 0.13.9
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: help setup test test-cluster demo bench lint format
help:
	@echo "make setup | test | test-cluster | demo | bench | lint | format"

setup:  ## apt packages, uv, and the locked venv; quick when already done
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install -q "uv==$(UV_VERSION)"
	@$(UV) sync --locked --quiet

test: setup
	$(UV) run pytest

test-cluster: setup  # two hosts as network namespaces: Ray and Composer across them (root)
	$(UV) run pytest -m netns tests/cluster

demo: setup
	$(UV) run python pipelines/demo.py

bench: setup
	$(UV) run python bench/renderer.py
	$(UV) run python bench/model.py
	$(UV) run python bench/pipeline.py
	$(UV) run python bench/train.py
	$(UV) run python bench/efficiency.py
	$(UV) run python bench/finetune.py

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: setup
	$(UV) run ruff check --fix .
	$(UV) run ruff format .
