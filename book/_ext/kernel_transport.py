"""Local Sphinx extension: the build's kernels talk to the builder over IPC sockets, not TCP.

ipykernel (7.x) logs "Kernel is running over TCP without encryption ..." at start-up whenever
its connection uses TCP without CurveZMQ keys, and every chapter's kernel printed it into the
build log. Its advice is to use the IPC transport. MyST-NB executes chapters through nbclient,
which creates its kernel manager with an empty configuration, so no config file or environment
variable reaches ``KernelManager.transport``; this extension makes nbclient's default kernel
manager one whose transport defaults to ``ipc``. The sockets are files in Jupyter's runtime
directory (mode 0700), removed when the kernel shuts down. ZeroMQ has no IPC transport on
Windows, so there the build keeps TCP (and the message).
"""
from __future__ import annotations

import os
import uuid


def ipc_kernel_manager():
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        """An AsyncKernelManager whose sockets are local IPC files instead of TCP ports."""

        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("ip")
        def _ip_default(self):
            runtime = jupyter_runtime_dir()
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            # a short, unique prefix: a socket path must stay under ~100 characters
            return os.path.join(runtime, f"kernel-{uuid.uuid4().hex[:12]}-ipc")

    return IPCKernelManager


def setup(app):
    if os.name == "posix":
        from nbclient import NotebookClient

        manager = ipc_kernel_manager()
        # traitlets looks a dynamic default up in the class __dict__ first
        NotebookClient._kernel_manager_class_default = lambda self: manager
    return {"parallel_read_safe": True, "parallel_write_safe": True}
