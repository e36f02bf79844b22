"""archiver — keep the web pages that citations depend on."""

__version__ = "0.1.0"
SOFTWARE = f"archiver/{__version__}"
