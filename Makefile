# Two commands do all set-up on a fresh machine (Python >= 3.10 and make):
#   make book   build the rendered book into _build/html
#   make test   run every test (lint, library, chapters, rendered book; the PDF when TeX is there)
#   make pdf    the whole book as one PDF, _build/pdf/book.pdf (needs TeX Live: see `pdf-only`)
# and `make live` opens the chapters as notebooks in JupyterLab.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Where the build goes: $(BOOK_OUT)/_build/html.
BOOK_OUT ?= .
# Jupyter refuses to start as root unless told (Docker, CI boxes).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: book book-only pdf pdf-only test lint live edit bench clean venv
.DELETE_ON_ERROR:

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The one book build command. `make book`, the build fixture of tests/conftest.py and
# bench/bench_build.py all run `make book-only` (which skips the venv step; they pass BIN= for
# the interpreter they run in, and BOOK_OUT= for a scratch output).
# Every chapter is executed from a fresh kernel; a cell error or a Sphinx warning fails the build.
# --all re-reads every page, so warnings of unchanged pages are reported again (and fail -W).
book: $(STAMP)
	@$(MAKE) --no-print-directory book-only
	@echo "Book built: open $(abspath $(BOOK_OUT))/_build/html/index.html"

book-only:
	$(BIN)/jupyter-book build . --path-output $(BOOK_OUT) --all -W -n --keep-going

# The printed book: Jupyter Book's LaTeX builder with xelatex, into _build/pdf/book.pdf.
# Chapters are executed (or taken from the execution cache) as for the web book; explorers
# print their default setting as a captioned figure. Without TeX Live it stops at once with one
# line naming the Debian packages to install (book/_ext/pdf_requirements.py). --all because the
# web and the LaTeX build share _build/.doctrees and pick different outputs of a cell.
# tests/test_pdf.py runs `make pdf-only`; a `make book` after it links the PDF from every page.
pdf: $(STAMP)
	@$(MAKE) --no-print-directory pdf-only
	@echo "PDF built: $(abspath $(BOOK_OUT))/_build/pdf/book.pdf"

pdf-only:
	@$(BIN)/python book/_ext/pdf_requirements.py
	$(BIN)/jupyter-book build . --path-output $(BOOK_OUT) --builder pdflatex --all -W -n --keep-going
	mkdir -p $(BOOK_OUT)/_build/pdf
	cp $(BOOK_OUT)/_build/latex/book.pdf $(BOOK_OUT)/_build/pdf/book.pdf

# ruff on the .py files, then on the chapters' code cells (book/*.md through jupytext, with the
# same configuration; findings at the chapter's line numbers: book/_ext/lint_chapters.py)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python book/_ext/lint_chapters.py

# Everything, including a full build of the book (tests/test_book.py, marker "book").
# For a quick run without the book: $(BIN)/python -m pytest -W error -m "not book" tests
test: lint
	$(BIN)/python -m pytest -W error tests

# `make live`: JupyterLab on the reader's notebooks of the book build (MyST converted to plain
# Markdown, references, citations and computed numbers resolved, package source listed; see
# book/_ext/reader_notebooks.py), copied to _build/live/ (each run refreshes the copies there).
# The book is rebuilt first when a chapter, the package or the build changed since the last one.
# LAB_ARGS passes options to JupyterLab (e.g. LAB_ARGS="--no-browser --port=8899").
LIVE_DIR      := _build/live
READER_ZIP    := $(BOOK_OUT)/_build/html/notebooks/lstm-by-hand-notebooks.zip
BOOK_INPUTS   := $(wildcard _config.yml _toc.yml book/*.md book/*.bib book/_ext/*.py \
                   lstm_core/*.py lstm_core/*/*)
LAB_SETTINGS   = $(shell $(BIN)/python -c "import sys; print(sys.prefix)")/share/jupyter/lab/settings
LAB_ARGS      ?=

$(READER_ZIP): $(BOOK_INPUTS)
	@$(MAKE) --no-print-directory book-only

live: $(STAMP) $(READER_ZIP)
	mkdir -p "$(LAB_SETTINGS)" $(LIVE_DIR)
	cp jupyterlab-settings/overrides.json "$(LAB_SETTINGS)/overrides.json"
	cp $(dir $(READER_ZIP))*.ipynb $(LIVE_DIR)/
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS) $(LIVE_DIR)

# `make edit`: the chapters' sources (book/*.md) opened as notebooks through jupytext, for
# authors: what you save is the MyST source the book is built from.
edit: $(STAMP)
	mkdir -p "$(LAB_SETTINGS)"
	cp jupyterlab-settings/overrides.json "$(LAB_SETTINGS)/overrides.json"
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS) book/

# `make bench`: lstm_core against PyTorch and against the GEMM floor (the same matrix products
# alone), one thread, interleaved, with the page faults, system CPU time and context switches of
# every round and the load and CPU steal over the run (what explains a noisy run); peak memory;
# every explorer's callback latency; the goals of issue 18 with a verdict each,
# _build/bench/results.json and _build/bench/scaling.svg (bench/run_all.py).
# BENCH_ARGS="--quick" for a short smoke run, "--build" to time the book build as well.
# PyTorch and threadpoolctl come from the optional `bench` extra of pyproject.toml, installed
# here when missing and nowhere else (`make test` and CI never need them); if they cannot be
# installed the bench runs without them and says what it skipped.
BENCH_ARGS ?=
bench: $(STAMP)
	@$(BIN)/python -c "import torch, threadpoolctl" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet -e ".[bench]" || \
	  echo "bench: the bench extra (torch, threadpoolctl) could not be installed"
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf _build
