"""Clearleaf: clear-print patient handouts from Markdown leaflets."""

__version__ = "0.1.0"
