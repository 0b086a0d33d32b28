"""The on-call's HTML pages, rendered from Jinja2 templates in ``templates/``."""
