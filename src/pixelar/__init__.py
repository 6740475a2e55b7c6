"""pixelar: autoregressive image density models with exact bits/dim."""
__version__ = "0.1.0"
