# Binder's Jupyter Server settings, found through JUPYTER_CONFIG_PATH (set by binder/start): Voila
# as `qlearn serve` configures it (the qlearn template, a finite cell timeout, no tracebacks or
# sources, idle-kernel culling), and plotly's module served once as a static file.
import os

from qlearn import serve

c = get_config()  # noqa: F821
c.merge(serve.server_extension_config(serve.ServeOptions(plotly_module=os.environ.get(serve.BUNDLE_ENV))))
if os.environ.get(serve.STATIC_ENV):
    c.ServerApp.extra_static_paths = [os.environ[serve.STATIC_ENV]]
# Voila inside Jupyter Server loads MathJax from a CDN unless the server names a MathJax URL; None
# keeps the maths local (JupyterLab's bundled MathJax), as in standalone Voila.
c.ServerApp.tornado_settings = {"mathjax_url": None, "mathjax_config": None}
