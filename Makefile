# Fieldtrace — `make run` serves the system, `make test` runs the whole suite.
# Both install what is missing on a fresh Debian machine (root): venv, pip and npm packages,
# Debian ffmpeg, nginx, chromium (with its translations, so a Chinese browser's own date and
# file controls read in Chinese, as on a phone set to Chinese) and a CJK font.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APT_PKGS := ffmpeg nginx-light chromium chromium-l10n fonts-noto-cjk
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
	$(BIN)/python -m pytest -n 2 --dist loadfile $(addprefix --deselect ,$(DATE_TESTS)) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$rc
	$(MAKE) --no-print-directory test-dates

# The tests whose answers depend on the local date (credential validity, deadlines, publication
# and take-down dates, document-number years, the yearly report's year). `make test` runs them
# at the three instants of test-dates instead of at whatever hour CI happens to start.
DATE_TESTS := tests/test_clock.py tests/test_credentials.py tests/test_offline_credential.py \
	tests/test_uploads.py::test_no_credential_no_upload \
	tests/test_uploads.py::test_valid_credential_uploads_and_expired_refuses \
	tests/test_uploads.py::test_suspension_and_revocation_do_not_reach_back \
	tests/test_random_inspections.py tests/test_disclosure.py tests/test_report.py \
	tests/test_followups_workflow.py tests/test_workflow.py tests/test_document_numbers.py

test-dates: deps ## the date-sensitive tests with the clock at 15:59:30Z, 16:00:30Z (Beijing midnight) and New Year, host in UTC and in Asia/Shanghai
	TZ=UTC $(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not browser" --clock before-midnight $(DATE_TESTS)
	TZ=Asia/Shanghai $(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not browser" --clock after-midnight $(DATE_TESTS)
	TZ=Asia/Shanghai $(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not browser" --clock new-year $(DATE_TESTS)

lint: venv ## ruff
	$(BIN)/ruff check server media_pipeline tests bench
	$(BIN)/ruff format --check server media_pipeline tests bench

.PHONY: help system-deps venv node-deps pwa deps run test test-dates lint
