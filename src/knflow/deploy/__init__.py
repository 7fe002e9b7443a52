"""Putting knflow on a cluster: generated objects, offline checks, applying."""
