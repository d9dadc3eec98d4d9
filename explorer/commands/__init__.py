"""Headless subcommands of ``latent-explorer``; each imports no Qt."""
