"""Workload checks on every pod spec: images, resources, GPUs, service accounts."""

from stockade.checks.workload import gpu, images, resources, serviceaccount

__all__ = ["gpu", "images", "resources", "serviceaccount"]
