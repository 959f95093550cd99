"""Task kinds: the generic machinery a family's tasks subclass (see kinds/base.py)."""
