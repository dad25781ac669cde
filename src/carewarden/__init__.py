from carewarden.arrow_runtime import remember_missing

__version__ = "0.1.0"

remember_missing()  # pyarrow's probe for python-dateutil, see arrow_runtime
