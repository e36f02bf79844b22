"""`archive serve`: the editors' review workspace, a server-rendered Flask app.

Needs the ``serve`` extra (Flask, waitress). Modules: ``guard`` (pure safety decisions:
binding, tokens, CSRF comparison, sign-in limits), ``session`` (who is signed in),
``app`` (the Flask factory and security headers), ``pages`` (the routes), ``replay``
(pywb beside the app, sandboxed), ``server`` (`archive serve` itself).
"""
