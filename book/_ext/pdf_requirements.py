"""What `make pdf` needs from TeX Live, and the Debian packages that provide it.

    python3 book/_ext/pdf_requirements.py             # exit 1 + one line naming what to install
    python3 book/_ext/pdf_requirements.py --packages  # the Debian packages (for .ci/run)

Used by the Makefile (`make pdf` stops before building when something is missing), by
`.ci/run` (installs the packages when root) and by tests/test_pdf.py (its skip reason).
Only the standard library: it runs before the virtual environment exists.

The list is kept minimal (about 350 MB installed with --no-install-recommends): LaTeX with
xelatex, the packages Sphinx and Jupyter Book's LaTeX class load, and two fonts (one of
them for the Chinese gate names of the notation glossary; no xeCJK, which would need the
100 MB texlive-lang-chinese). `bbm.sty`, which Jupyter Book's class
loads but this book does not use, would pull in texlive-fonts-extra (1.4 GB); the build
ships a stand-in instead (book/_latex/bbm.sty).
"""
from __future__ import annotations

import shutil
import subprocess
import sys

# Debian package -> (commands, TeX files, font families) it provides that the build uses
REQUIREMENTS = {
    "texlive-xetex": (["xelatex"], ["ucharclasses.sty"], []),
    "latexmk": (["latexmk"], [], []),
    "texlive-latex-recommended": ([], ["fontspec.sty", "unicode-math.sty", "mathrsfs.sty"], []),
    "texlive-latex-extra": ([], ["fncychap.sty", "tabulary.sty", "changepage.sty", "upquote.sty",
                                 "titlesec.sty", "wrapfig.sty"], []),
    "texlive-pictures": ([], ["pgfplots.sty", "tikz.sty"], []),
    "texlive-fonts-recommended": ([], ["ptmr8t.tfm"], []),
    "fonts-freefont-otf": ([], [], ["FreeSerif", "FreeSans", "FreeMono"]),
    "fonts-wqy-microhei": ([], [], ["WenQuanYi Micro Hei"]),
}
#: The font of Chinese text in the PDF (book/_ext/pdf_book.py).
CJK_FONT = "WenQuanYi Micro Hei"


def _tex_files_found(names: list[str]) -> set[str]:
    if not names or shutil.which("kpsewhich") is None:
        return set()
    out = subprocess.run(["kpsewhich", *names], capture_output=True, text=True).stdout
    return {line.rsplit("/", 1)[-1] for line in out.split()}


def _fonts_found() -> set[str]:
    if shutil.which("fc-list") is None:
        return set()
    out = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    return {name.strip() for line in out.splitlines() for name in line.split(",")}


def missing() -> dict[str, list[str]]:
    """Debian package -> the pieces of it that are missing here (empty when all is there)."""
    tex = _tex_files_found([f for _, files, _ in REQUIREMENTS.values() for f in files])
    fonts = _fonts_found()
    out = {}
    for package, (commands, files, families) in REQUIREMENTS.items():
        gone = ([c for c in commands if shutil.which(c) is None]
                + [f for f in files if f not in tex] + [f for f in families if f not in fonts])
        if gone:
            out[package] = gone
    return out


def missing_message() -> str | None:
    """One line naming what is missing and the apt command that installs it, or None."""
    gone = missing()
    if not gone:
        return None
    pieces = ", ".join(p for parts in gone.values() for p in parts)
    return (f"make pdf needs TeX Live: missing {pieces}; install with: apt-get install "
            f"--no-install-recommends {' '.join(gone)}")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--packages"]:
        print(" ".join(REQUIREMENTS))
        return 0
    message = missing_message()
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
