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

.PHONY: help setup test test-long demo bench lint format
help:
	@echo "make setup | test | test-long | demo | bench | lint | format"

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

test-long: setup  # end-to-end runs of minutes: two hosts as network namespaces (root), S3 kill-and-resume, ray.sh
	$(UV) run pytest -m long

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
