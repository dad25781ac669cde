"""The web console and REST API (`carewarden serve`): a thin FastAPI layer over services/."""
