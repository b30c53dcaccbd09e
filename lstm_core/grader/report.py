"""The verdict: :class:`ArrayVerdict` per array, :class:`Finding` per diagnosis, and the
:class:`Report` that holds them, as a paragraph (``str``), Markdown or an HTML table."""
from __future__ import annotations

import html
from dataclasses import dataclass

from .battery import T
from .compare import gate_blocks


@dataclass(frozen=True)
class ArrayVerdict:
    """What the grader found for one gradient array.

    ok          True (right on every problem), False (wrong on some), None (not returned)
    error       largest relative error over the problems
    blocks      the wrong gate blocks, when only some are wrong (empty: all, or no blocks)
    factor      k when the wrong part is k times the right one on every problem, else None
    steps       the steps t (0 .. T-1) whose per-step contribution is wrong
    first_step  the first of them the backward pass reaches (it runs from T-1 down to 0)
    """

    name: str
    ok: bool | None
    error: float = 0.0
    blocks: tuple = ()
    factor: float | None = None
    steps: tuple = ()

    @property
    def first_step(self):
        return max(self.steps) if self.steps else None


@dataclass(frozen=True)
class Finding:
    """One diagnosis: ``bug`` is a key of :data:`KNOWN_BUGS` or None for a plain description."""

    bug: str | None
    text: str


@dataclass(frozen=True)
class Report:
    """The grader's verdict; ``str(report)`` is a paragraph, notebooks show a table."""

    fn_name: str
    model: str
    options: dict
    arrays: dict            # name -> ArrayVerdict (empty when fn could not be graded)
    findings: tuple         # Finding
    failure: str | None     # what fn did that could not be graded, or None
    battery: str            # the problems, in words

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.wrong and any(
            v.ok for v in self.arrays.values())

    @property
    def wrong(self) -> set:
        return {k for k, v in self.arrays.items() if v.ok is False}

    @property
    def unchecked(self) -> set:
        return {k for k, v in self.arrays.items() if v.ok is None}

    @property
    def bugs(self) -> tuple:
        """The known bugs whose pattern matched (keys of :data:`KNOWN_BUGS`)."""
        return tuple(f.bug for f in self.findings if f.bug is not None)

    def _call(self):
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"check_backward({self.fn_name}, model={self.model!r}{opts})"

    def __str__(self):
        if self.failure is not None:
            return f"{self._call()}: could not grade: {self.fn_name} {self.failure}."
        right = [k for k, v in self.arrays.items() if v.ok]
        if self.ok:
            text = f"{self._call()}: all right. {self._right_names(right)} agree with the reference"
            if self.unchecked:
                text += f" ({join(sorted(self.unchecked, key=list(self.arrays).index))} " \
                        f"not returned, so not checked)"
            return text + f" on {self.battery}."
        text = f"{self._call()}: WRONG. {self._wrong_text(right)}"
        if self.unchecked:
            text += f" Not returned: {join(sorted(self.unchecked, key=list(self.arrays).index))}."
        for f in self.findings:
            text += f" {f.text}"
        return text

    def _wrong_text(self, right):
        groups = {}   # arrays with the same blocks, factor and steps are described together
        for v in self.arrays.values():
            if v.ok is False:
                groups.setdefault((v.blocks, v.factor, v.steps), []).append(v.name)
        text = "; ".join(_describe(names, *key) for key, names in groups.items()) + "."
        if any(v.steps for v in self.arrays.values()):
            text += f" (Steps are 0-{T - 1}; the backward pass meets step {T - 1} first.)"
        return text + (f" Right: {join(right)}." if right else "")

    def _right_names(self, right):
        return join(right)

    def _label(self, name):
        """How a row's first cell is written in Markdown: array names as code."""
        return f"`{name}`"

    def _rows(self):
        """(array, verdict, wrong blocks, first wrong step) per array; only two columns if ok."""
        for v in self.arrays.values():
            if v.ok is None:
                row = (v.name, "not returned", "", "")
            elif v.ok:
                row = (v.name, "ok", "", "")
            else:
                blocks = "-" if list(gate_blocks(self.model, v.name)) == [""] else \
                    ", ".join(v.blocks) or "all"
                factor = f" (x{v.factor:.3g})" if v.factor is not None else ""
                first = "" if v.first_step is None else str(v.first_step)
                row = (v.name, "wrong" + factor, blocks, first)
            yield row[:2] if self.ok else row

    def _headers(self):
        return ("array", "verdict") if self.ok else \
            ("array", "verdict", "wrong blocks", "first wrong step")

    def _title(self):
        return "All right" if self.ok else "Could not grade" if self.failure else "Wrong"

    def _steps_note(self):
        if any(v.steps for v in self.arrays.values()):
            return f" Steps are numbered 0-{T - 1}; the backward pass reaches step {T - 1} first."
        return ""

    def _repr_markdown_(self):
        head = f"**{self._title()}**: `{self._call()}`\n\n"
        if self.failure is not None:
            return head + f"{self.fn_name} {self.failure}.\n"
        cols = self._headers()
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join((self._label(row[0]),) + row[1:]) + " |"
                  for row in self._rows()]
        notes = "".join(f"\n\n{f.text}" for f in self.findings)
        return head + "\n".join(lines) + notes + \
            f"\n\nProblems: {self.battery}.{self._steps_note()}\n"

    def _repr_html_(self):
        e = html.escape
        color = "#1a7f37" if self.ok else "#cf222e"
        out = [f'<div class="lstm-core-grader"><p><strong style="color:{color}">'
               f"{self._title()}</strong>: <code>{e(self._call())}</code></p>"]
        if self.failure is not None:
            out.append(f"<p>{e(self.fn_name)} {e(self.failure)}.</p></div>")
            return "".join(out)
        out.append('<table class="table"><thead><tr>'
                   + "".join(f"<th>{c}</th>" for c in self._headers()) + "</tr></thead><tbody>")
        for row in self._rows():
            v = row[1]
            c = "#1a7f37" if v == "ok" else "#cf222e" if v.startswith("wrong") else "inherit"
            label = self._label(row[0]).replace("`", "")
            label = f"<code>{e(label)}</code>" if self._label(row[0]) != row[0] else e(label)
            out.append(f"<tr><td>{label}</td><td style=\"color:{c}\">{e(v)}</td>"
                       + "".join(f"<td>{e(x)}</td>" for x in row[2:]) + "</tr>")
        out.append("</tbody></table>")
        out += [f"<p>{e(f.text)}</p>" for f in self.findings]
        out.append(f"<p><small>Problems: {e(self.battery)}.{e(self._steps_note())}</small></p>"
                   "</div>")
        return "".join(out)


def join(names):
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _steps_text(steps):
    steps = sorted(steps)
    if steps == list(range(steps[0], steps[-1] + 1)) and len(steps) > 2:
        return f"steps {steps[0]}-{steps[-1]}"
    return ("step " if len(steps) == 1 else "steps ") + ", ".join(map(str, steps))


def _describe(names, blocks, factor, steps):
    text = f"{join(names)} {'is' if len(names) == 1 else 'are'} wrong"
    if steps:
        text += f" at {_steps_text(steps)}"
    where = []
    if blocks:
        where.append(f"only in block{'s' if len(blocks) > 1 else ''} {', '.join(blocks)}")
    if factor is not None:
        where.append(factor_words(factor))
    if where and steps:
        text += f"; at step {max(steps)}, the first the backward pass reaches, " + ", ".join(where)
    elif where:
        text += " " + ", ".join(where)
    return text


def factor_words(k):
    if abs(k) < 1e-12:
        return "zero"
    if abs(k + 1) < 1e-9:
        return "negated (sign flipped)"
    return f"{k:.3g} times the right value"


def unit(name):
    """The layer and direction an array name of a stack belongs to ("input" for dx)."""
    if "." not in name:
        return "input"
    layer, direction, _ = name.split(".")
    return f"layer {layer[1:]}, {direction}"


@dataclass(frozen=True)
class StackReport(Report):
    """The verdict on a stack's backward pass, per layer and direction, in the order the
    backward pass produces them (the top layer first, forward before reverse; dx last)."""

    @property
    def first_wrong(self):
        """"layer l, direction" of the first wrong array the backward pass produces, or None."""
        return next((unit(k) for k, v in self.arrays.items() if v.ok is False), None)

    def _units(self):
        units = {}
        for k, v in self.arrays.items():
            units.setdefault(unit(k), []).append(v)
        return units

    def _wrong_text(self, right):
        parts, right_units = [], []
        for u, vs in self._units().items():
            bad = [v.name.rsplit(".", 1)[-1] for v in vs if v.ok is False]
            if bad:
                parts.append(f"{u}: {join(bad)} {'is' if len(bad) == 1 else 'are'} wrong")
            elif any(v.ok for v in vs):
                right_units.append(u)
        text = "; ".join(parts) + (f". The backward pass runs from the top layer down and goes "
                                   f"wrong first at {self.first_wrong}.")
        return text + (f" Right: {join(right_units)}." if right_units else "")

    def _label(self, name):
        return name

    def _right_names(self, right):
        return "The gradients of " + join(u for u in self._units() if u != "input") + " and dx"

    def _rows(self):
        """(layer and direction, verdict, wrong arrays); only two columns if ok."""
        for u, vs in self._units().items():
            bad = [v.name.rsplit(".", 1)[-1] for v in vs if v.ok is False]
            verdict = "wrong" if bad else "not returned" if all(v.ok is None for v in vs) \
                else "ok"
            row = (u, verdict, ", ".join(bad))
            yield row[:2] if self.ok else row

    def _headers(self):
        return ("layer, direction", "verdict") + (() if self.ok else ("wrong arrays",))

