"""The printed book: `make pdf-only` builds _build/pdf/book.pdf; check what its reader sees.

Skipped, with the apt line to run, where TeX Live is missing (book/_ext/pdf_requirements.py
says what is missing); `.ci/run` installs TeX when it runs as root, so CI runs these tests.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "pdf" / "book.pdf"
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import pdf_requirements  # noqa: E402

pytestmark = pytest.mark.pdf  # deselect with -m "not pdf"


def _config_baseurl() -> str:
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return (config.get("html") or {}).get("baseurl") or ""


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def pdf() -> Path:
    reason = pdf_requirements.missing_message()
    if reason:
        pytest.skip(reason)
    for tool in ("pdftotext", "pdfimages", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found (Debian: apt-get install poppler-utils)")
    cmd = [shutil.which("make"), "--no-print-directory", "-C", str(ROOT), "pdf-only",
           f"BIN={Path(sys.executable).parent}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600,
                          env=dict(os.environ))
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        pytest.fail(f"make pdf-only failed (exit {proc.returncode}) after {seconds:.0f} s:\n{tail}",
                    pytrace=False)
    print(f"PDF built in {seconds:.1f} s")
    assert PDF.is_file()
    return PDF


@pytest.fixture(scope="session")
def pages(pdf) -> list[str]:
    """The text of every page (pdftotext, layout kept)."""
    return _run("pdftotext", "-layout", str(pdf), "-").split("\f")


def _explorers_in_chapters() -> int:
    """How many explorers the chapters display: calls of gradient_explorer in their code."""
    n = 0
    for md in (ROOT / "book").glob("*.md"):
        n += len(re.findall(r"^(?:\w+ = )?gradient_explorer\(", md.read_text(encoding="utf-8"),
                            flags=re.M))
    return n


def test_more_than_120_pages(pdf):
    info = _run("pdfinfo", str(pdf))
    n = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert n > 120, n


def test_contents_number_chapters_as_the_web_book(pages):
    start = next(i for i, p in enumerate(pages) if re.search(r"^\s*Contents\s*$", p, re.M | re.I))
    toc = "\n".join(pages[start:start + 6])
    entries = [m.group(1) for m in re.finditer(r"^\s*((?:\d+|[A-Z])\s+\S.*?)\s*\.?[\s.]*\d+\s*$",
                                               toc, re.M)]
    chapters = [e for e in entries if re.match(r"(\d+|[A-Z]) ", e) and not re.match(r"\d+\.\d", e)]
    assert chapters[0].startswith("1 Staged backpropagation"), entries[:5]
    assert "Notation" in toc.split("1 Staged backpropagation")[0]  # unnumbered front matter
    assert not any(re.match(r"\d+ Notation", e) for e in entries)
    letters = [e[0] for e in chapters if re.match(r"[A-Z] ", e)]
    assert letters[:3] == ["A", "B", "C"], chapters  # appendices are lettered


def test_no_unresolved_reference_and_no_object_repr(pages):
    text = "\n".join(pages)
    assert "??" not in text
    for repr_text in ("<StaticExplorer", "object at 0x", "VBox(", "<IPython.core", "<Figure size",
                      "<lstm_core"):
        assert repr_text not in text, repr_text


def test_every_explorer_prints_as_an_image_with_a_caption(pdf, pages):
    expected = _explorers_in_chapters()
    assert expected >= 9
    caption_pages = [i + 1 for i, p in enumerate(pages) if "Interactive figure" in p]
    captions = sum(p.count("Interactive figure") for p in pages)
    assert captions == expected, (captions, expected)
    listing = _run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    image_pages = {int(line.split()[0]) for line in listing if line.split()[2] == "image"}
    for page in caption_pages:  # the image sits on the caption's page
        assert page in image_pages, page
    text = re.sub(r"\s+", " ", "\n".join(pages))
    assert text.count("In the web version of the book, controls set") == expected
    # the explorer's web page, when the site's address is known (LSTM_BOOK_URL or _config.yml)
    published = bool(os.environ.get("LSTM_BOOK_URL") or _config_baseurl())
    assert text.count("Interactive version: http") == (expected if published else 0)


def test_equations_exercises_and_bibliography(pages):
    text = "\n".join(pages)
    assert re.search(r"\(1\.1\)", text) and re.search(r"\(4\.1\)", text)
    assert re.search(r"Exercise 1\.1", text) and "Solution to" in text
    for needle in ("Long Short-Term Memory", "Learning to Forget", "difficulty of training"):
        assert needle.lower() in re.sub(r"\s+", " ", text).lower(), needle
    assert "遗忘门" in text  # the Chinese gate names of the notation glossary are typeset


def test_without_tex_one_line_names_the_debian_packages(monkeypatch):
    """What `make pdf` prints on a machine without TeX Live (no TeX needed for this test)."""
    monkeypatch.setattr(pdf_requirements.shutil, "which", lambda name: None)  # no tool at all
    message = pdf_requirements.missing_message()
    assert message is not None and "\n" not in message
    assert "xelatex" in message and "WenQuanYi Micro Hei" in message
    apt = message.split("install with: ", 1)[1]
    assert apt.split()[:3] == ["apt-get", "install", "--no-install-recommends"]
    assert set(apt.split()[3:]) == set(pdf_requirements.REQUIREMENTS)
    proc = subprocess.run([sys.executable, str(ROOT / "book/_ext/pdf_requirements.py"),
                           "--packages"], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == list(pdf_requirements.REQUIREMENTS)
