"""The script sandbox: conditions and scripts of the diagrams, compiled with RestrictedPython."""
