"""Routers, one per area, composed in :func:`carewarden.web.app.create_app`."""
