# JupyterHub for a class: every student gets their own single-user server, which opens on the
# course's landing page rendered by Voila (the same settings as `qlearn serve`), and nothing else.
# The settings, their checks and the classes they use are in deploy/qlearn_hub.py; why they are what
# they are is in docs/hosting.md ("A class server for one machine").
#
#   npm install --prefix deploy                      # the proxy, configurable-http-proxy (once)
#   sudo .venv/bin/python deploy/qlearn_hub.py passwords names.txt --admin teacher > handout.txt
#   sudo .venv/bin/jupyterhub -f deploy/jupyterhub_config.py
#
# Students open https://<host>:8000/, log in with their name and their own password from the
# handout, and land on /user/<name>/voila/render/00_index.ipynb. As root (the default for a class)
# the hub creates one Unix account per listed student (group qlearn-students) and runs each
# student's server as that account. Settings come from the environment:
#
#   QLEARN_HUB_IP          address the hub listens on (default 127.0.0.1; 0.0.0.0 for a classroom LAN)
#   QLEARN_HUB_PORT        public port (default 8000)
#   QLEARN_HUB_API_PORT    internal port of the hub's API (default 8081); the proxy's API port is this + 1
#   QLEARN_HUB_SSL_CERT    TLS certificate and key files (without them on a non-loopback IP: a loud
#   QLEARN_HUB_SSL_KEY     warning, passwords cross the network in clear text)
#   QLEARN_HUB_STATE       the hub's files: database, cookie secret, the lessons' read-only copy,
#                          students file (default /var/lib/qlearn-hub as root, else
#                          ~/.local/state/qlearn-hub; never inside the repository)
#   QLEARN_HUB_STUDENTS    the students file (default $QLEARN_HUB_STATE/students.tsv)
#   QLEARN_HUB_AUTH        "passwords" (default: each student's own) or "dummy" (any password; 127.0.0.1 only)
#   QLEARN_HUB_SPAWNER     "local" (default as root: one Unix account per student) or "simple" (default
#                          otherwise: every server as the hub's own account; 127.0.0.1 only, never as root)
#   QLEARN_HUB_MEM_LIMIT   address-space limit of each process of a student (default 3G)
#   QLEARN_HUB_NPROC_LIMIT processes and threads of one student account (default 512)
#   QLEARN_HUB_CULL_IDLE   seconds after which an idle student's server is stopped (default 3600; 0: never)
#   QLEARN_NOTEBOOKS       the lessons directory (default: notebooks/ next to this deploy/ directory)
#
# Kubernetes (Zero to JupyterHub): see docs/hosting.md, "A class server on Kubernetes".
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qlearn_hub  # noqa: E402

qlearn_hub.configure(get_config())  # noqa: F821  (get_config: provided by JupyterHub)
