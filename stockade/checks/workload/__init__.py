"""Workload checks on every pod spec: images, resources, GPUs, service accounts."""
