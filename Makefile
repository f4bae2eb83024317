# Fieldtrace — `make run` serves the system, `make test` runs the whole suite.
# Both install what is missing on a fresh Debian machine (root): venv, pip and npm packages,
# Debian ffmpeg, nginx, chromium and a CJK font.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APT_PKGS := ffmpeg nginx-light chromium fonts-noto-cjk
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

system-deps: ## install Debian packages that are missing (ffmpeg, nginx, chromium, CJK font)
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the Python packages

PWA_SRC := $(shell find pwa/src pwa/public -type f 2>/dev/null) pwa/index.html pwa/vite.config.ts \
           pwa/tsconfig.json pwa/tsconfig.sw.json

pwa/node_modules/.package-lock.json: pwa/package-lock.json
	npm ci --prefix pwa --no-audit --no-fund

tests/js/node_modules/.package-lock.json: tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund

node-deps: pwa/node_modules/.package-lock.json tests/js/node_modules/.package-lock.json ## npm ci (lock files committed)

pwa/dist/index.html: pwa/node_modules/.package-lock.json $(PWA_SRC)
	npm run build --prefix pwa

pwa: pwa/dist/index.html ## build the officer PWA into pwa/dist

deps: system-deps venv node-deps pwa ## everything the system and its tests need

run: deps ## run on the embedded default: SQLite + local SeaweedFS + in-process worker
	FIELDTRACE_DATA_DIR=$${FIELDTRACE_DATA_DIR:-$(CURDIR)/instance} $(BIN)/fieldtrace serve

test: deps ## run the whole test suite (SQLite, embedded SeaweedFS, real ffmpeg/nginx/chromium)
	npm test --prefix pwa
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$rc

lint: venv ## ruff
	$(BIN)/ruff check server media_pipeline tests bench
	$(BIN)/ruff format --check server media_pipeline tests bench

.PHONY: help system-deps venv node-deps pwa deps run test lint
