"""Local Sphinx extension: the site's public address and its repository, in one place.

``_config.yml`` holds them (``html.baseurl``, ``repository.url``; empty by default). At build
time the environment variables ``LSTM_BOOK_URL`` and ``LSTM_BOOK_REPO`` win over the file, so
CI can publish with the real addresses and a test can build against a local server.

When an address is not known, nothing that needs it is rendered: without a repository there is
no repository button and no Binder/JupyterHub launch button (and Binder is offered only for a
GitHub repository, the only kind its button here can launch); without a site address the
downloadable notebooks get no install line (``book/_ext/reader_notebooks.py``).
"""
from __future__ import annotations

import os

URL_ENV, REPO_ENV = "LSTM_BOOK_URL", "LSTM_BOOK_REPO"
LAUNCHERS = ("binderhub_url", "jupyterhub_url", "colab_url", "jupyterlite_url")


def site_url(config) -> str:
    """The public address of the built site, ending in '/', or '' when not set."""
    url = (os.environ.get(URL_ENV) or config.html_baseurl or "").strip()
    return url if not url or url.endswith("/") else url + "/"


def repo_url(config) -> str:
    """The repository's address, or '' when not set."""
    url = os.environ.get(REPO_ENV) or config.html_theme_options.get("repository_url") or ""
    return url.strip().rstrip("/")


def _on_config_inited(app, config) -> None:
    config.html_baseurl = site_url(config)
    options = config.html_theme_options
    repo = repo_url(config)
    launch = dict(options.get("launch_buttons") or {})
    if repo:
        options["repository_url"] = repo
        options["use_repository_button"] = True
        if "github.com/" not in repo:
            launch.pop("binderhub_url", None)
    else:
        options.pop("repository_url", None)
        options["use_repository_button"] = False
        for key in LAUNCHERS:
            launch.pop(key, None)
    options["launch_buttons"] = launch


def setup(app):
    # before the other local extensions read the addresses
    app.connect("config-inited", _on_config_inited, priority=100)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
