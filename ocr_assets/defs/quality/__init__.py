"""Accuracy against ground truth."""
