# Two commands do all set-up on a fresh machine (Python >= 3.10 and make):
#   make book   build the rendered book into _build/html
#   make test   run every test (library, chapters, rendered book)
# and `make live` opens the chapters as notebooks in JupyterLab.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test live bench clean venv
.DELETE_ON_ERROR:

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Execute every chapter from a fresh kernel; a cell error or a Sphinx warning fails the build.
# --all re-reads every page, so warnings of unchanged pages are reported again (and fail -W).
book: $(STAMP)
	$(BIN)/jupyter-book build . --path-output . --all -W -n --keep-going
	@echo "Book built: open $(CURDIR)/_build/html/index.html"

# Everything, including a full build of the book (tests/test_book.py, marker "book").
# For a quick run without the book: $(BIN)/python -m pytest -W error -m "not book" tests
test: $(STAMP)
	$(BIN)/python -m pytest -W error tests

# JupyterLab opens book/*.md as notebooks via jupytext (settings in jupyterlab-settings/).
live: $(STAMP)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyterlab-settings/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab book/

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf _build
