"""Question families: each sub-package is one family, discovered by scanning this folder
(see qa4d.engine.registry and docs/engine.md, "Writing a family")."""
