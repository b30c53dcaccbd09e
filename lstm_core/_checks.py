"""Input validation shared by every module.

Each check raises an error that names the argument, the shape (or value) it
received and what was expected, so a reader who passes ``(B, T, D)`` instead
of ``(T, B, D)`` is told so at once instead of meeting silent broadcasting.
"""
from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_array(name: str, value, dtype=None) -> np.ndarray:
    """Return ``value`` as a floating numpy array without copying when possible.

    Integer and boolean input is cast to ``dtype`` (float64 if None). Float32 is
    kept as float32 unless ``dtype`` says otherwise; another float dtype
    (float16, longdouble) is refused because the package promises float32 or
    float64 only.
    """
    arr = np.asarray(value)
    if arr.dtype.kind in "biu":
        return arr.astype(dtype or np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a real floating array, got dtype {arr.dtype}")
    if arr.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {arr.dtype} but the parameters are {np.dtype(dtype)}; "
            f"cast one of them explicitly (no silent up- or down-casting)"
        )
    return arr


def check_shape(name: str, arr: np.ndarray, expected: tuple, letters: str) -> None:
    """Check ``arr.shape`` against ``expected`` (ints, or None for 'any').

    ``letters`` names the dimensions, e.g. ``"T, B, D"``, and is quoted in the
    error message together with the expected sizes.
    """
    ok = arr.ndim == len(expected) and all(
        e is None or s == e for s, e in zip(arr.shape, expected)
    )
    if not ok:
        want = ", ".join("?" if e is None else str(e) for e in expected)
        raise ValueError(
            f"{name} must have shape ({letters}) = ({want}), got shape {arr.shape}"
        )


def check_finite(name: str, arr: np.ndarray) -> None:
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (nan or inf)")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def check_params(params, spec: dict, model: str) -> np.dtype:
    """Check a params dict against ``spec``: key -> (shape tuple, letters).

    Returns the common dtype of the parameters. Extra or missing keys,
    wrong shapes, mixed dtypes and non-finite values are errors.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays for {model}, got {type(params).__name__}")
    missing = set(spec) - set(params)
    extra = set(params) - set(spec)
    if missing or extra:
        raise ValueError(
            f"params for {model} must have keys {sorted(spec)}; "
            f"missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    dtype = None
    for key, (shape, letters) in spec.items():
        arr = as_float_array(f"params[{key!r}]", params[key], dtype)
        dtype = arr.dtype if dtype is None else dtype
        check_shape(f"params[{key!r}]", arr, shape, letters)
        check_finite(f"params[{key!r}]", arr)
    return dtype


def check_sequence(x, D: int, dtype) -> np.ndarray:
    """Validate the input sequence ``x`` of shape (T, B, D)."""
    x = as_float_array("x", x, dtype)
    if x.ndim != 3:
        raise ValueError(
            f"x must be time-major with shape (T, B, D) = (?, ?, {D}), got shape {x.shape}"
        )
    check_shape("x", x, (None, None, D), "T, B, D")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must have T >= 1 and B >= 1, got shape {x.shape}")
    check_finite("x", x)
    return x


def check_state(name: str, value, B: int, H: int, dtype) -> np.ndarray:
    """Validate an initial state of shape (B, H); None means zeros."""
    if value is None:
        return np.zeros((B, H), dtype=dtype)
    arr = as_float_array(name, value, dtype)
    check_shape(name, arr, (B, H), "B, H")
    check_finite(name, arr)
    return arr


def check_upstream(name: str, value, shape: tuple, letters: str, dtype) -> np.ndarray:
    """Validate an upstream gradient; None means zeros."""
    if value is None:
        return np.zeros(shape, dtype=dtype)
    arr = as_float_array(name, value, dtype)
    check_shape(name, arr, shape, letters)
    check_finite(name, arr)
    return arr


def check_model_params(params, spec_fn, model: str):
    """Infer (D, H) from W_x (D, G) and W_h (H, G), then check every key.

    ``spec_fn(D, H)`` gives the expected key -> (shape, letters) table.
    Returns (D, H, dtype).
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays for {model}, got {type(params).__name__}")
    for key in ("W_x", "W_h"):
        if key not in params:
            raise ValueError(f"params for {model} must have keys {sorted(spec_fn(0, 0))}; missing {key!r}")
        if np.ndim(params[key]) != 2:
            raise ValueError(f"params[{key!r}] must be a matrix, got shape {np.shape(params[key])}")
    D = np.shape(params["W_x"])[0]
    H = np.shape(params["W_h"])[0]
    return D, H, check_params(params, spec_fn(D, H), model)
