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
book: $(STAMP)
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going
	@echo "Book built: open $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest -W error tests

live: $(STAMP)
	$(BIN)/jupyter lab book/

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf _build
