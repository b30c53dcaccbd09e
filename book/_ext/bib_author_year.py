"""Local Sphinx extension: the bibliography's labels read "Author, year", like the citations.

The text cites author-year (``bibtex_reference_style: author_year``), but the bibliography's
labels come from the pybtex formatting style, whose default ("alpha") prints keys such as
``[CvMerrienboerG+14]`` that appear nowhere in the text. This registers a pybtex formatting
style, ``author_year_labels``: pybtex's "plain" entries, sorted by author, year and title, with
labels built the way the citations are written: "Werbos, 1990", "Hochreiter and Schmidhuber,
1997", "Cho et al., 2014", with a, b, ... appended to the year when two labels would coincide.
Select it with ``bibtex_default_style: author_year_labels``.
"""
from __future__ import annotations

from collections import Counter
from string import ascii_lowercase

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle

STYLE = "author_year_labels"


def last_name(person) -> str:
    """A person's von and last parts as plain text ("van Merriënboer", "TensorFlow developers")."""
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_part(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    if not people:
        return entry.key
    if len(people) == 1:
        return last_name(people[0])
    if len(people) == 2:
        return f"{last_name(people[0])} and {last_name(people[1])}"
    return f"{last_name(people[0])} et al."


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [f"{author_part(e)}, {e.fields.get('year', 'n.d.')}" for e in entries]
        repeated = {label for label, n in Counter(labels).items() if n > 1}
        seen: Counter = Counter()
        for label in labels:
            if label in repeated:
                seen[label] += 1
                label = f"{label}{ascii_lowercase[seen[label] - 1]}"
            yield label


class AuthorYearSorting(SortingStyle):
    """pybtex's author-year-title order, on the names as printed: "{TensorFlow developers}"
    sorts under T, not after Z (the brace would)."""

    def person_key(self, person):
        return Text.from_latex(super().person_key(person)).render_as("text")


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = AuthorYearSorting


def setup(app):
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
