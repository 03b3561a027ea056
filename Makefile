# Every target creates .venv on first use with the Python it finds, so a fresh clone needs nothing else.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench screenshots clean agents

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "lockgate: no python3 (>= 3.11) found on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lockgate needs Python >= 3.11, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lockgate demo

lint: $(STAMP)
	$(BIN)/ruff check app sandbox themes tests bench
	$(BIN)/ruff format --check app sandbox themes tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench  # the benches' stand-ins must keep up with the interfaces they stand in for
	$(BIN)/lint-imports

# Third-party agents the end-to-end tests drive, pinned, from npm into the git-ignored .agents/
# (one package per line; a failed install only makes those tests skip, with the reason).
AGENT_PKGS := \
	@anthropic-ai/claude-code@2.1.332 \
	@zed-industries/codex-acp@0.16.0 \
	@openai/codex@0.171.0 \
	@google/gemini-cli@0.61.0

agents:
	@command -v npm >/dev/null 2>&1 || { echo "agents: npm not found; agent end-to-end tests will be skipped" >&2; exit 0; }; \
	test "$$(cat .agents/.installed 2>/dev/null)" = "$(strip $(AGENT_PKGS))" && exit 0; \
	npm install --no-audit --no-fund --loglevel=error --prefix .agents $(AGENT_PKGS) \
	&& echo "$(strip $(AGENT_PKGS))" > .agents/.installed \
	|| echo "agents: npm install failed; agent end-to-end tests will be skipped" >&2

unit: $(STAMP) agents
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider -n auto

test: lint unit

bench: $(STAMP)
	@command -v bwrap >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && (apt-get install -y -q bubblewrap >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1)); } || echo "bench: bubblewrap not installed; the sandbox baseline is skipped" >&2
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

screenshots: $(STAMP)
	$(BIN)/python -m app.ui.screenshots screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
