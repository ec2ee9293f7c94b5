# Jupyter Server settings for each student's server (passed with --config by jupyterhub_config.py).
# Everything else comes as flags from qlearn.serve.voila_cli_args(server_extension=True).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qlearn_hub  # noqa: E402

from qlearn import serve  # noqa: E402

c = get_config()  # noqa: F821

# Voila only: read-only lessons, no terminals, no JupyterLab, kernels take widget messages only
# (no code from the browser). See qlearn_hub.configure_singleuser and docs/hosting.md.
qlearn_hub.configure_singleuser(c)

# Inside Jupyter Server, Voila's page config falls back to loading MathJax from a CDN unless the
# server's settings name a MathJax URL. None, as standalone Voila (`qlearn serve`) has, keeps the
# maths local: JupyterLab's bundled MathJax renders it. (A Dict with None cannot be a flag.)
c.ServerApp.tornado_settings.update({"mathjax_url": None, "mathjax_config": None})

# Read by the qlearn page template (a nested dict, so no flag either): lengthen anywidget's 2 s
# module deadline, and import plotly's module (a static file of this server, named in the
# environment by jupyterhub_config.py) from the page's head.
c.VoilaConfiguration.resources = serve.server_extension_config(
    serve.ServeOptions(plotly_module=os.environ.get(serve.BUNDLE_ENV))).VoilaConfiguration.resources
