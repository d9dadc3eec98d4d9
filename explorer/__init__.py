"""Latent Explorer: the desktop app (Qt) and the command line."""
__version__ = "0.1.0"
