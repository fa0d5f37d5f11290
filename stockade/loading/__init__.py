"""Loading: manifests, multi-document YAML, JSON, lists, kustomize output -> an indexed inventory."""

from stockade.loading.objects import Inventory, K8sObject, SourceDoc
from stockade.loading.podspecs import PodSpecRef, find_pod_specs
from stockade.loading.sources import LoadResult, load_paths

__all__ = ["Inventory", "K8sObject", "LoadResult", "PodSpecRef", "SourceDoc", "find_pod_specs", "load_paths"]
