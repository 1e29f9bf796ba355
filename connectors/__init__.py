"""Connectors: department files and messages in, canonical facts and rejections out."""
