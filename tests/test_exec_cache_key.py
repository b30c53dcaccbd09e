"""The book's execution cache is dropped when lstm_core (or another input) changes."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("exec_cache_key", ROOT / "book" / "_ext" / "exec_cache_key.py")
exec_cache_key = importlib.util.module_from_spec(spec)
spec.loader.exec_module(exec_cache_key)


def test_cache_is_dropped_only_when_the_digest_changes(tmp_path):
    cache = tmp_path / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)
    (cache / "executed.ipynb").write_text("{}")
    assert exec_cache_key.refresh_cache(cache, "abc") is True  # no key stored yet: dropped
    assert not cache.exists()
    cache.mkdir()
    (cache / "executed.ipynb").write_text("{}")
    assert exec_cache_key.refresh_cache(cache, "abc") is False  # same inputs: kept
    assert (cache / "executed.ipynb").exists()
    assert exec_cache_key.refresh_cache(cache, "abd") is True  # inputs changed: dropped
    assert not cache.exists()


def test_digest_covers_the_imported_lstm_core(tmp_path, monkeypatch):
    import lstm_core

    # a copy of the package with one byte changed must give another digest
    fake = tmp_path / "lstm_core"
    fake.mkdir()
    src = Path(lstm_core.__file__).resolve().parent
    for p in src.glob("*.py"):
        (fake / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(lstm_core, "__file__", str(fake / "__init__.py"))
    before = exec_cache_key.inputs_digest(ROOT)
    assert exec_cache_key.inputs_digest(ROOT) == before  # deterministic
    with open(fake / "rnn.py", "a") as f:
        f.write("\n# changed\n")
    assert exec_cache_key.inputs_digest(ROOT) != before
