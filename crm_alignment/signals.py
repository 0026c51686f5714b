"""Signals the domain apps send; the alignment app listens (domain apps never import it)."""

from django.dispatch import Signal

# Sent after a write that may change alignment; kwargs: subjects=[(subject_type, id), ...].
portfolio_changed = Signal()
