# JupyterHub for a class: every student gets their own server, which opens on the course's
# landing page rendered by Voila (same settings as `qlearn serve`: qlearn.serve.voila_cli_args).
#
#   npm install --prefix deploy          # the proxy, configurable-http-proxy (once)
#   QLEARN_HUB_PASSWORD='a class password' .venv/bin/jupyterhub -f deploy/jupyterhub_config.py
#
# then students open http://<host>:8000/, type any user name and the class password, and land on
# /user/<name>/voila/render/00_index.ipynb. Settings come from the environment:
#
#   QLEARN_HUB_IP        address the hub listens on (default 127.0.0.1; 0.0.0.0 for a classroom LAN)
#   QLEARN_HUB_PORT      public port (default 8000)
#   QLEARN_HUB_API_PORT  internal port of the hub's API (default 8081); the proxy's API port is this + 1
#   QLEARN_HUB_AUTH      "shared-password" (default: any name + QLEARN_HUB_PASSWORD, at least 8 characters)
#                        or "dummy" (any name, any password: tests and a trusted room only)
#   QLEARN_HUB_SPAWNER   "simple" (default: every server runs as the hub's own Unix user, homes in
#                        /tmp/<name>; no Unix accounts needed) or "local" (one Unix account per student)
#   QLEARN_NOTEBOOKS     the lessons directory (default: notebooks/ next to this deploy/ directory)
#   QLEARN_HUB_DATA      where the hub keeps its database and cookie secret (default: current directory)
#
# Kubernetes (Zero to JupyterHub): see docs/hosting.md, "A class server on Kubernetes".
import os
import shutil
import sys
from pathlib import Path

from qlearn import serve

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
env = os.environ.get

notebooks = Path(env("QLEARN_NOTEBOOKS", str(REPO / "notebooks"))).resolve()
if not notebooks.is_dir():
    raise SystemExit(f"QLEARN_NOTEBOOKS must be an existing directory, got {str(notebooks)!r}")
data_dir = Path(env("QLEARN_HUB_DATA", os.getcwd())).resolve()

# ----------------------------------------------------------------------------- network
c.JupyterHub.ip = env("QLEARN_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("QLEARN_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("QLEARN_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{c.JupyterHub.hub_port + 1}"
chp = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
if chp.exists():
    c.ConfigurableHTTPProxy.command = [str(chp)]
elif not shutil.which("configurable-http-proxy"):
    raise SystemExit("configurable-http-proxy not found: run `npm install --prefix deploy`")
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

c.JupyterHub.db_url = f"sqlite:///{data_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(data_dir / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(data_dir / "jupyterhub-proxy.pid")

# ----------------------------------------------------------------------------- who may log in
auth = env("QLEARN_HUB_AUTH", "shared-password")
if auth == "dummy":
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.allow_all = True
elif auth == "shared-password":
    password = env("QLEARN_HUB_PASSWORD", "")
    if len(password) < 8:
        raise SystemExit("set QLEARN_HUB_PASSWORD (at least 8 characters) for the class, "
                         "or QLEARN_HUB_AUTH=dummy on a trusted machine")
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = password
    c.Authenticator.allow_all = True
else:
    raise SystemExit(f"QLEARN_HUB_AUTH must be 'shared-password' or 'dummy', got {auth!r}")

# ----------------------------------------------------------------------------- each student's server
spawner = env("QLEARN_HUB_SPAWNER", "simple")
if spawner not in ("simple", "local"):
    raise SystemExit(f"QLEARN_HUB_SPAWNER must be 'simple' or 'local', got {spawner!r}")
c.JupyterHub.spawner_class = spawner
if spawner == "simple":
    c.SimpleLocalProcessSpawner.home_dir_template = str(data_dir / "homes" / "{username}")

bin_dir = Path(sys.executable).parent  # the environment JupyterHub runs from has qlearn installed
c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = str(notebooks)  # read by Voila; students do not need to write there
c.Spawner.default_url = "/voila/render/" + serve.LANDING
# The Voila server extension with qlearn's settings (template, timeout, no tracebacks) and kernel
# culling; pre-heated kernels exist only in standalone Voila, so they are not used here.
c.Spawner.args = [
    *serve.voila_cli_args(server_extension=True),
    "--LabApp.news_url=None",
    f"--config={HERE / 'singleuser_config.py'}",
]
if spawner == "simple" and hasattr(os, "geteuid") and os.geteuid() == 0:
    # The simple spawner runs every server as the hub's user; Jupyter Server refuses root unless told.
    # Run the hub as an unprivileged user for a real class.
    c.Spawner.args.append("--allow-root")
# plotly.js once per browser instead of 5 MB inside every figure (see docs/hosting.md): the module
# is a static file of each student's server, and the kernels' IPython startup file makes
# FigureWidgets import it by URL.
static_dir, bundle_path = serve.bundle_static_dir(data_dir / "static")
c.Spawner.args.append(f"--ServerApp.extra_static_paths={static_dir}")
c.Spawner.environment = {
    "JUPYTER_PATH": serve.jupyter_path_with_template(os.environ.get("JUPYTER_PATH")),
    "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    "IPYTHONDIR": str(serve.kernel_startup_dir(data_dir / "ipython")),
    serve.BUNDLE_ENV: bundle_path,
}
c.Spawner.start_timeout = 120  # 30 first logins on 2 cores take a while
c.Spawner.http_timeout = 120
# Idle kernels inside a student's server are culled (MappingKernelManager settings above); to stop
# whole idle servers too, add the jupyterhub-idle-culler service (docs/hosting.md).
