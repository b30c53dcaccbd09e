"""Local Sphinx extension: the reader's notebooks, which run and read well anywhere.

After an HTML build, every chapter (a MyST notebook) is written to
``_build/html/notebooks/<chapter>.ipynb`` for Colab, a bare Jupyter and ``make live``:

* the first cell installs ``lstm_core[book]`` from the wheel this build publishes under
  ``<site>/_static/wheels/`` (only when the site's address is known; see public_urls.py);
* the Markdown is converted from MyST to what Jupyter and Colab render, with everything the
  Sphinx build resolved: cross-references become links to the site's pages (or, without a
  site address, to the sibling notebook) with their numbers and titles, equations keep their
  numbers (``\\tag``), citations read "(Hochreiter and Schmidhuber, 1997)" as on the site,
  with a reference list at the end, ``{glue:text}`` becomes the value the build computed, exercises are numbered and
  their solutions are collapsed ``<details>`` blocks, literalincludes become the code they show;
* code cells carry no outputs, except the ones that show package source (``show_source``),
  so the listings the prose walks through are there before anything runs.

A zip of all chapter notebooks is written beside them. The Binder button (shown when the
repository is on GitHub, see public_urls.py) opens the chapter's reader notebook in a Binder
image whose postBuild ran the same build. Anything the converter cannot resolve
(an unknown label, role or directive) fails the build, so no raw MyST reaches a reader.
"""
from __future__ import annotations

import ast
import copy
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

NOTEBOOK_DIR = "notebooks"
WHEEL_DIR = "_static/wheels"
ZIP_NAME = "lstm-by-hand-notebooks.zip"
# where the reader's notebooks are, relative to the repository, after the default build
# (`make book-only`, BOOK_OUT=.), the one postBuild runs in a Binder image
LAUNCH_DIR = f"_build/html/{NOTEBOOK_DIR}"
SHOWS_SOURCE = re.compile(r"\bshow_source\(")


class ConversionError(RuntimeError):
    pass


# ------------------------------------------------------------------------- what the build knows

class BuildFacts:
    """Numbers, titles, citations and glued values of one Sphinx build, for one chapter."""

    def __init__(self, env, docname: str, site: str, notebooks: set[str], glued: dict):
        self.env, self.docname, self.site, self.notebooks = env, docname, site, notebooks
        self.labels = env.domaindata["std"]["labels"]
        self.anonlabels = env.domaindata["std"]["anonlabels"]
        self.equations = env.domaindata["math"]["objects"]
        self.citations = {c.key: c for c in env.domaindata["cite"]["citations"]}
        self.glued = glued
        self.cited: list[str] = []

    def url(self, docname: str, anchor: str = "") -> str | None:
        """Where a reference to ``docname#anchor`` should point from a reader's notebook."""
        if self.site:
            return f"{self.site}{docname}.html" + (f"#{anchor}" if anchor else "")
        if docname != self.docname and docname in self.notebooks:
            return f"{Path(docname).name}.ipynb"
        return None

    def _number(self, docname: str, kind: str, node_id: str) -> str | None:
        found = self.env.toc_fignumbers.get(docname, {}).get(kind, {}).get(node_id)
        return ".".join(map(str, found)) if found else None

    def equation(self, label: str) -> tuple[str, str | None]:
        if label not in self.equations:
            raise ConversionError(f"{self.docname}: unknown equation label {label!r}")
        docname, number = self.equations[label]
        shown = self._number(docname, "displaymath", f"equation-{label}") or str(number)
        return f"({shown})", self.url(docname, f"equation-{label}")

    def exercise_number(self, label: str) -> str:
        for docname in self.env.toc_fignumbers:
            number = self._number(docname, "exercise", label)
            if number:
                return number
        raise ConversionError(f"{self.docname}: unknown exercise label {label!r}")

    def reference(self, label: str) -> tuple[str, str | None]:
        """(text, url) of ``{ref}`label```, as the site shows it."""
        key = label.lower()
        if key not in self.anonlabels:
            raise ConversionError(f"{self.docname}: unknown reference label {label!r}")
        docname, anchor = self.anonlabels[key]
        title = self.labels.get(key, (None, None, ""))[2]
        kinds = self.env.toc_fignumbers.get(docname, {})
        if anchor in kinds.get("exercise", {}):
            title = f"Exercise {self._number(docname, 'exercise', anchor)}"
        if not title:
            raise ConversionError(f"{self.docname}: {{ref}} to {label!r} needs explicit text")
        return title, self.url(docname, anchor)

    def cite(self, keys: list[str], textual: bool) -> str:
        parts = []
        for key in keys:
            if key not in self.citations:
                raise ConversionError(f"{self.docname}: unknown citation {key!r}")
            if key not in self.cited:
                self.cited.append(key)
            names, year = _author_year(self.citations[key].entry)
            link = self._bib_url(key)
            if textual:
                parts.append(f"{names} ({_link(year, link)})")
            else:
                parts.append(_link(f"{names}, {year}", link))
        return "; ".join(parts) if textual else "(" + "; ".join(parts) + ")"

    def _bib_url(self, key: str) -> str | None:
        citation = self.citations[key]
        return self.url(citation.bibliography_key.docname, citation.citation_id)

    def references_cell(self) -> str | None:
        if not self.cited:
            return None
        lines = ["## References", ""]
        for key in sorted(self.cited, key=lambda k: _author_year(self.citations[k].entry)):
            text = self.citations[key].formatted_entry.text.render_as("markdown")
            lines.append("- " + " ".join(text.split()))
        return "\n".join(lines)

    def glue(self, key: str, spec: str = "", mime: str = "text/plain") -> str:
        if key not in self.glued:
            raise ConversionError(f"{self.docname}: no glued value {key!r} in the executed notebook")
        data = self.glued[key]
        if mime != "text/plain":
            if mime not in data:
                raise ConversionError(f"{self.docname}: glued value {key!r} has no {mime} view")
            return data[mime].strip()
        from myst_nb.core.variables import format_plain_text

        return format_plain_text(data["text/plain"], spec)


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _author_year(entry) -> tuple[str, str]:
    """("Hochreiter and Schmidhuber", "1997"): the names as the site's citations print them."""
    from bib_author_year import author_part

    return author_part(entry), str(entry.fields.get("year", "n.d."))


# --------------------------------------------------------------------------------- MyST -> Markdown

_ROLE = r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)"
_CODE = r"(?P<code>(?P<cticks>`+).+?(?P=cticks))"
INLINE = re.compile(f"{_ROLE}|{_CODE}")
DIRECTIVE = re.compile(r"^(?P<indent>\s*)(?P<mark>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*?)\s*$")
FENCE = re.compile(r"^\s*(?P<mark>`{3,}|~{3,})")
OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
TARGET = re.compile(r"^\s*\((?P<label>[\w-]+)\)=\s*$")
MATH_END = re.compile(r"^(?P<body>.*?)\$\$\s*(?:\((?P<label>[\w-]+)\))?\s*$")
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
               "error", "seealso"}
OPEN, CLOSE = "\0solution-open:", "\0solution-close"


class Converter:
    """Turns one chapter's MyST Markdown cells into plain Jupyter Markdown."""

    def __init__(self, facts: BuildFacts, source_dir: Path):
        self.facts, self.source_dir = facts, source_dir

    # inline -----------------------------------------------------------------------------------
    def inline(self, text: str) -> str:
        return INLINE.sub(self._inline_match, text)

    def _inline_match(self, m: re.Match) -> str:
        if m.group("code"):
            return m.group("code")
        role, content = m.group("role"), m.group("content")
        explicit = EXPLICIT.match(content)
        text, target = (explicit["text"], explicit["target"]) if explicit else (None, content)
        if role == "eq":
            shown, url = self.facts.equation(target)
            return _link(shown, url)
        if role == "ref":
            title, url = self.facts.reference(target)
            return _link(self.inline(text) if text else title, url)
        if role in ("cite:p", "cite:t", "cite"):
            keys = [k.strip() for k in content.split(",") if k.strip()]
            return self.facts.cite(keys, textual=role == "cite:t")
        if role in ("glue:text", "glue"):
            key, _, spec = content.partition(":")
            return self.facts.glue(key, spec)
        if role == "glue:md":
            return self.facts.glue(content, mime="text/markdown")
        if role == "math":
            return f"${content}$"
        raise ConversionError(f"{self.facts.docname}: no conversion for the role {{{role}}}")

    # blocks -----------------------------------------------------------------------------------
    def block(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            m = DIRECTIVE.match(line)
            if m:
                i, rendered = self._directive(lines, i, m)
                out.extend(rendered)
                continue
            f = FENCE.match(line)
            if f:  # a plain code block: copied as it is
                end = _closing(lines, i + 1, f["mark"])
                out.extend(lines[i:end + 1])
                i = end + 1
                continue
            t = TARGET.match(line)
            if t:
                out.extend([f'<a id="{t["label"]}"></a>', ""])
                i += 1
                continue
            if line.lstrip().startswith("$$"):
                i, rendered = self._math(lines, i)
                out.extend(rendered)
                continue
            if re.match(r"^#\s", line) and self.facts.docname:
                out.append(self._chapter_heading(line))
                i += 1
                continue
            out.append(self.inline(line))
            i += 1
        return out

    def _chapter_heading(self, line: str) -> str:
        number = self.facts.env.toc_secnumbers.get(self.facts.docname, {}).get("")
        text = self.inline(line[2:].strip())
        return f"# {'.'.join(map(str, number))}. {text}" if number else f"# {text}"

    def _math(self, lines: list[str], i: int) -> tuple[int, list[str]]:
        """A ``$$ ... $$ (label)`` block: kept, with the equation's number as a ``\\tag``."""
        rest = lines[i].lstrip()[2:]
        k, body = i, []
        closing = MATH_END.match(rest) if "$$" in rest else None
        if closing is None:
            body = [rest] if rest.strip() else []
            k = i + 1
            while k < len(lines) and not MATH_END.match(lines[k]):
                body.append(lines[k])
                k += 1
            if k == len(lines):
                raise ConversionError(f"{self.facts.docname}: unclosed $$ block")
            closing = MATH_END.match(lines[k])
        if closing["body"].strip():
            body.append(closing["body"])
        tag = []
        if closing["label"]:
            tag = [f"\\tag{{{self.facts.equation(closing['label'])[0].strip('()')}}}"]
        return k + 1, ["$$", *body, *tag, "$$"]

    def _directive(self, lines: list[str], i: int, m: re.Match) -> tuple[int, list[str]]:
        name, arg, mark = m["name"], m["arg"], m["mark"]
        end = _closing(lines, i + 1, mark)
        j, options = i + 1, {}
        while j < end and OPTION.match(lines[j]):
            o = OPTION.match(lines[j])
            options[o["key"]] = o["value"]
            j += 1
        body = _trim(lines[j:end])
        nxt = end + 1
        if name == "exercise":
            label = options.get("label")
            number = self.facts.exercise_number(label) if label else ""
            title = f"**Exercise {number}**" + (f" ({self.inline(arg)})" if arg else "")
            anchor = [f'<a id="{label}"></a>'] if label else []
            return nxt, [*anchor, title, "", *_quote(self.block(body)), ""]
        if name == "solution":
            return nxt, [*self._details(arg), *self.block(body), "", "</details>", ""]
        if name == "solution-start":
            return nxt, [OPEN + arg]
        if name == "solution-end":
            return nxt, [CLOSE]
        if name == "admonition" or name in ADMONITIONS:
            title = self.inline(arg) if name == "admonition" else name.capitalize()
            return nxt, [*_quote([f"**{title}**", "", *self.block(body)]), ""]
        if name == "literalinclude":
            return nxt, self._literalinclude(arg, options)
        if name == "math":
            label = options.get("label")
            tag = f"\\tag{{{self.facts.equation(label)[0].strip('()')}}}" if label else ""
            return nxt, ["$$", *body, *([tag] if tag else []), "$$"]
        raise ConversionError(f"{self.facts.docname}: no conversion for the directive {{{name}}}")

    def _details(self, label: str, continued: bool = False) -> list[str]:
        number = self.facts.exercise_number(label.strip())
        more = " (continued)" if continued else ""
        return ["<details>", f"<summary>Solution to Exercise {number}{more}</summary>", ""]

    def _literalinclude(self, arg: str, options: dict) -> list[str]:
        path = (self.source_dir / arg).resolve()
        text = path.read_text(encoding="utf-8")
        if "pyobject" in options:
            text = _pyobject_source(text, options["pyobject"], path)
        language = options.get("language", "python")
        return [f"```{language}", *text.rstrip("\n").splitlines(), "```"]


def _closing(lines: list[str], start: int, mark: str) -> int:
    """Index of the line that closes a fence opened with ``mark`` (CommonMark rule)."""
    for k in range(start, len(lines)):
        s = lines[k].strip()
        if s and set(s) == {mark[0]} and len(s) >= len(mark):
            return k
    raise ConversionError(f"unclosed block opened with {mark!r}")


def _trim(lines: list[str]) -> list[str]:
    """Without leading and trailing blank lines."""
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _quote(lines: list[str]) -> list[str]:
    return [f"> {ln}" if ln.strip() else ">" for ln in lines]


def _pyobject_source(text: str, dotted: str, path: Path) -> str:
    tree = ast.parse(text)
    node = tree
    for part in dotted.split("."):
        node = next((n for n in getattr(node, "body", [])
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise ConversionError(f"{path}: no object {dotted!r}")
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "\n".join(text.splitlines()[first - 1:node.end_lineno])


# ------------------------------------------------------------------------------- notebooks

def _setup_cell_source(site: str, wheel: str | None) -> str:
    if not site or not wheel:
        return ("# This notebook needs the book's numpy package `lstm_core` with its `book` extra:\n"
                "# in a clone of the book's repository, pip install \".[book]\"\n"
                "import lstm_core\n")
    return (
        "# Run this first outside the book's repository (Colab, a bare Jupyter): it installs the\n"
        "# book's numpy package `lstm_core` with what this chapter imports (matplotlib,\n"
        "# ipywidgets, sympy), from the wheel the book's site publishes.\n"
        "try:\n"
        "    import lstm_core\n"
        "except ImportError:\n"
        f"    %pip install --quiet \"lstm_core[book] @ {site}{WHEEL_DIR}/{wheel}\"\n"
        "try:  # Colab draws ipywidgets 8 only with its custom widget manager\n"
        "    from google.colab import output\n"
        "    output.enable_custom_widget_manager()\n"
        "except ImportError:\n"
        "    pass\n"
    )


def glued_values(executed) -> dict[str, dict]:
    """name -> display data (MIME type -> value) of every value glued in an executed notebook
    (myst_nb's format: ``metadata.scrapbook``, MIME types prefixed when not displayed)."""
    values = {}
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            prefix = meta.get("mime_prefix", "")
            values[meta["name"]] = {k[len(prefix):]: v for k, v in output.get("data", {}).items()
                                    if k.startswith(prefix)}
    return values


def reader_notebook(executed, facts: BuildFacts, source_dir: Path, wheel: str | None):
    """The reader's copy of one chapter, from the notebook the build executed."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    conv = Converter(facts, source_dir)
    cells = [new_code_cell(_setup_cell_source(facts.site, wheel), metadata={"tags": ["setup"]})]
    solution: dict | None = None  # a gated solution (solution-start ... solution-end) still open
    for cell in executed.cells:
        if cell.cell_type == "markdown":
            lines = conv.block(cell.source.splitlines())
            text, solution = _gate(conv, lines, solution)
            if text.strip():
                cells.append(new_markdown_cell(text))
        elif cell.cell_type == "code":
            meta = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
            tags = set(meta.get("tags", []))
            if solution or tags & {"hide-input", "remove-input", "remove-cell"}:
                meta["jupyter"] = {"source_hidden": True}
            new = new_code_cell(cell.source, metadata=meta)
            if SHOWS_SOURCE.search(cell.source):  # the listing is there before anything runs
                new.outputs = [_without_count(o) for o in cell.get("outputs", [])]
            cells.append(new)
        else:
            cells.append(copy.deepcopy(cell))
    if solution:
        raise ConversionError(f"{facts.docname}: solution-start {solution['label']!r} is never closed")
    refs = facts.references_cell()
    if refs:
        cells.append(new_markdown_cell(refs))
    nb = new_notebook(cells=cells)
    for key in ("kernelspec", "language_info"):
        if key in executed.metadata:
            nb.metadata[key] = copy.deepcopy(executed.metadata[key])
    if "kernelspec" in nb.metadata:
        nb.metadata.kernelspec = installed_kernelspec(nb.metadata.kernelspec)
    return nb


def installed_kernelspec(kernelspec: dict) -> dict:
    """The notebook's kernelspec as Jupyter's installed kernel of that name describes it.

    JupyterLab rewrites a notebook's kernelspec to the running kernel's (``display_name``
    "Python 3 (ipykernel)", where the chapters' jupytext headers say "Python 3") and so marks
    the notebook modified as soon as it opens; with the installed kernel's own values (the
    kernel of `make live` and of the Binder image, ipykernel's default elsewhere) it stays clean.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernelspec["name"])
    except NoSuchKernel:
        return dict(kernelspec)
    return {"display_name": spec.display_name, "language": spec.language,
            "name": kernelspec["name"]}


def _without_count(output):
    output = copy.deepcopy(output)
    if "execution_count" in output:
        output["execution_count"] = None
    return output


def _gate(conv: Converter, lines: list[str], solution: dict | None):
    """Wrap the parts of a cell inside a gated solution in <details>.

    ``solution`` is the gated solution still open from earlier cells ({"label", "shown"}: has
    its first <details> been written), or None. Returns the text and the solution still open
    at the end of this cell.
    """
    out: list[str] = []
    inside: list[str] = []

    def flush():
        if "\n".join(inside).strip():
            out.extend([*conv._details(solution["label"], solution["shown"]), *_trim(inside),
                        "", "</details>", ""])
            solution["shown"] = True
        inside.clear()

    for line in lines:
        if line.startswith(OPEN):
            solution = {"label": line[len(OPEN):].strip(), "shown": False}
        elif line == CLOSE:
            flush()
            solution = None
        elif solution:
            inside.append(line)
        else:
            out.append(line)
    if solution:
        flush()
    return "\n".join(out).strip("\n") + "\n", solution


# ------------------------------------------------------------------------- wheel, zip, hooks

def build_wheel(repo_root: Path, dest: Path) -> str:
    """Build the lstm_core wheel from the package sources into ``dest``; return its file name."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (repo_root / name).exists():
                shutil.copy2(repo_root / name, src / name)
        shutil.copytree(repo_root / "lstm_core", src / "lstm_core",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                               "--no-build-isolation", "--wheel-dir", str(dest), str(src)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"building the lstm_core wheel failed:\n{proc.stdout}{proc.stderr}")
    (wheel,) = [p.name for p in dest.glob("lstm_core-*.whl")]
    return wheel


def _is_notebook(app, docname: str) -> bool:
    return "kernelspec" in app.env.metadata.get(docname, {})


def _executed_notebook(app, docname: str):
    """The executed notebook of a chapter, with its cached outputs merged in."""
    import nbformat

    path = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cache_path = app.config.nb_execution_cache_path
    if app.config.nb_execution_mode == "cache" and cache_path and Path(cache_path).exists():
        from jupyter_cache import get_cache

        try:
            _, nb = get_cache(str(cache_path)).merge_match_into_notebook(nb)
        except KeyError:
            pass
    return nb


def write_reader_notebooks(app, exception) -> None:
    """``build-finished``: wheel, reader notebooks, zip."""
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    from public_urls import site_url

    outdir = Path(app.outdir)
    site = site_url(app.config)
    wheel = build_wheel(Path(app.confdir), outdir / WHEEL_DIR)
    chapters = sorted(d for d in app.env.found_docs if _is_notebook(app, d))
    names = [Path(d).name for d in chapters]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two chapters share a file name: {names}")
    nb_dir = outdir / NOTEBOOK_DIR
    nb_dir.mkdir(parents=True, exist_ok=True)
    for docname in chapters:
        executed = _executed_notebook(app, docname)
        facts = BuildFacts(app.env, docname, site, set(chapters), glued_values(executed))
        source_dir = Path(app.env.doc2path(docname)).parent
        nb = reader_notebook(executed, facts, source_dir, wheel)
        nbformat.validate(nb)
        nbformat.write(nb, nb_dir / f"{Path(docname).name}.ipynb")
    with zipfile.ZipFile(nb_dir / ZIP_NAME, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            zf.write(nb_dir / f"{name}.ipynb", f"lstm-by-hand/{name}.ipynb")


def add_download_links(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` (after the theme's buttons): the reader's notebook and the zip."""
    if not _is_notebook(app, pagename):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"][1:1] = [
                {"type": "link", "icon": "fas fa-book", "label": "download-reader-notebook-button",
                 "url": context["pathto"](f"{NOTEBOOK_DIR}/{Path(pagename).name}.ipynb", 1),
                 "text": ".ipynb (for Colab, Jupyter)",
                 "tooltip": "This chapter as a notebook that installs what it needs"},
                {"type": "link", "icon": "fas fa-file-archive",
                 "label": "download-all-notebooks-button",
                 "url": context["pathto"](f"{NOTEBOOK_DIR}/{ZIP_NAME}", 1),
                 "text": "all chapters (.zip)",
                 "tooltip": "Every chapter as a notebook, in one zip"},
            ]


def launch_reader_notebook(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` (after the theme's launch buttons): the Binder button opens the
    reader's notebook of the chapter, which postBuild builds in the Binder image, instead of
    the MyST source (which JupyterLab would show with its roles and directives unresolved)."""
    if not _is_notebook(app, pagename):
        return
    options = app.config.html_theme_options.get("launch_buttons") or {}
    ui = {"classic": "tree", "jupyterlab": "lab/tree"}[options.get("notebook_interface", "classic")]
    target = f"{ui}/{LAUNCH_DIR}/{Path(pagename).name}.ipynb"
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if button.get("text") == "Binder":
                base, _, _ = button["url"].partition("?urlpath=")
                button["url"] = f"{base}?urlpath={target}"
                button["tooltip"] = ("Launch on Binder: this chapter as a notebook (the first "
                                     "launch of a new version builds the book, some minutes)")


def setup(app):
    # after exec_cache_key (400) has merged the cached outputs into jupyter_execute/
    app.connect("build-finished", write_reader_notebooks, priority=600)
    app.connect("html-page-context", add_download_links, priority=600)
    app.connect("html-page-context", launch_reader_notebook, priority=600)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
