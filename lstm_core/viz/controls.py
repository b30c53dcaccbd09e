"""The knobs of an explorer: :class:`Control` and the grid of their settings."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

__all__ = ["Control", "check_grid", "describe_values", "normalise_controls"]


def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, (bool, np.bool_))


def _label_of(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


@dataclass(frozen=True)
class Control:
    """One knob of an explorer.

    ``values`` is the list of allowed settings (numbers give a slider, anything
    else a drop-down / toggle buttons); ``default`` (first value if omitted)
    is the initial setting; ``label`` is the text shown next to the control
    (the name if omitted).
    """

    name: str
    values: Sequence[Any]
    default: Any = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"controls: a control name must be a non-empty str, got {self.name!r}")
        vals = self.values
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Iterable):
            raise TypeError(
                f"controls: control {self.name!r} needs a list of allowed values, "
                f"got {type(vals).__name__} {vals!r}"
            )
        vals = tuple(vals)
        if not vals:
            raise ValueError(f"controls: control {self.name!r} has no values")
        labels = [_label_of(v) for v in vals]
        if len(set(labels)) != len(labels):
            raise ValueError(f"controls: control {self.name!r} has repeated values {labels}")
        object.__setattr__(self, "values", vals)
        default = vals[0] if self.default is None else self.default
        object.__setattr__(self, "default", default)
        self.index(default)  # raises if the default is not allowed
        if self.label is None:
            object.__setattr__(self, "label", self.name)

    @property
    def labels(self) -> list[str]:
        return [_label_of(v) for v in self.values]

    @property
    def numeric(self) -> bool:
        return all(_is_number(v) for v in self.values)

    def index(self, value: Any) -> int:
        for i, v in enumerate(self.values):
            if type(v) is type(value) or (_is_number(v) and _is_number(value)):
                if v == value:
                    return i
        raise ValueError(
            f"controls: {value!r} is not an allowed value of control {self.name!r} "
            f"(allowed: {self.labels})"
        )


def normalise_controls(controls: Any) -> list[Control]:
    """A dict ``{name: values or Control}`` or a list of :class:`Control` -> list of Control."""
    if isinstance(controls, Mapping):
        out = []
        for key, spec in controls.items():
            if isinstance(spec, Control):
                if spec.name != key:
                    raise ValueError(
                        f"controls: key {key!r} holds a Control named {spec.name!r}; they must match"
                    )
                out.append(spec)
            else:
                out.append(Control(key, spec))
    elif isinstance(controls, Sequence) and not isinstance(controls, (str, bytes)):
        out = list(controls)
        for c in out:
            if not isinstance(c, Control):
                raise TypeError(
                    "controls: a list of controls must hold Control objects, "
                    f"got {type(c).__name__}"
                )
    else:
        raise TypeError(
            "controls must be a dict {name: allowed values} or a list of Control, "
            f"got {type(controls).__name__}"
        )
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"controls: repeated control names {names}")
    return out


def check_grid(ctrls: Sequence[Control], max_frames: int | None) -> None:
    """Raise ValueError naming the controls when their grid has more than ``max_frames`` points."""
    n = math.prod(len(c.values) for c in ctrls)
    if max_frames is not None and n > max_frames:
        sizes = " x ".join(f"{len(c.values)} ({c.name})" for c in ctrls)
        raise ValueError(
            f"controls: the grid has {sizes} = {n} combinations, more than max_frames={max_frames}; "
            "use fewer values per control or pass a larger max_frames"
        )


def describe_values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())
