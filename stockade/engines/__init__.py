"""Reusable evaluators. Engines return answers, never findings."""
