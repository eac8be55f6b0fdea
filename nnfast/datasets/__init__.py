"""Data files shipped with nnfast (read through :func:`nnfast.data.load_digits`)."""
